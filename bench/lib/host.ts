/**
 * Child process: the reference server (with the bench's raised limits), a plain Socket.IO echo relay (P1's floor),
 * and the server-side instruments the figures need, driven over IPC from the bench process. Keeping the server out
 * of the bench process means clients are timed on an event loop of their own, as in a browser.
 *
 * Started by `startHost` in `./server.ts`; not run by hand.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server, type Socket } from 'socket.io'
import type { Lesson, Message } from '../../src/contract'
import { startServer, type RunningServer } from '../../server/index'
import { userRoom } from '../../server/realtime/rooms'
import { stablePort } from '../../tests/support/ports'
import type { HostCommands, HostOptions, HostReply, HostRequest } from './hostProtocol'
import { seedPairs } from './seed'
import { watchStalls } from './stalls'

const options = JSON.parse(process.env.BENCH_HOST_OPTIONS ?? '{}') as HostOptions
const now = (): string => process.hrtime.bigint().toString()

async function main(): Promise<void> {
  const seeded = options.seedPairs
    ? await seedPairs({ dataDir: options.dataDir }, options.seedPairs, options.jwtSecret)
    : []

  const start = (port: number) =>
    startServer({
      port,
      dataDir: options.dataDir,
      jwtSecret: options.jwtSecret,
      logLevel: 'silent',
      // Raised for the bench (documented in bench/README.md): sends are not throttled, tokens outlive the run.
      rateLimit: { perSecond: 1e9, burst: 1e9 },
      // P6 joins and leaves a conversation on every reconnect cycle, faster than a person would.
      joinRateLimit: { perSecond: 1e9, burst: 1e9 },
      // P2 opens fresh clients of one user round after round, each reading its thread.
      readRateLimit: { perSecond: 1e9, burst: 1e9 },
      // P6 reconnects one user's socket every few milliseconds, P9 and P12 reconnect many at once.
      handshakeRateLimit: { perSecond: 1e9, burst: 1e9 },
      loginRateLimit: { perSecond: 1e9, burst: 1e9 },
      // P1 and P7 send thousands of events on one socket, far faster than a person would.
      socketEventRateLimit: { perSecond: 1e9, burst: 1e9 },
      // P9 and P12 open many sockets at once, every one from 127.0.0.1.
      maxUnauthenticatedPerAddress: 1e9,
      tokenTtlSeconds: 24 * 3600,
    })

  // Requests counted at the server, before routing: the first 'request' listener sees every HTTP request. Socket.IO
  // connections counted per user (P12: handshakes after a restart). Both survive a restart (`instrument` again).
  const requests = new Map<string, number>()
  const handshakes = new Map<string, number>()
  const instrument = (running: RunningServer) => {
    running.io.httpServer.prependListener('request', (req: IncomingMessage) => {
      const key = `${req.method} ${(req.url ?? '').split('?')[0]}`
      requests.set(key, (requests.get(key) ?? 0) + 1)
    })
    running.io.on('connection', (socket) => {
      const userId = String(socket.data.userId)
      handshakes.set(userId, (handshakes.get(userId) ?? 0) + 1)
    })
  }
  // P12 restarts it on this port: one the kernel does not hand out meanwhile (tests/support/ports.ts).
  let server = await start(await stablePort())
  instrument(server)

  // P1's floor: a bare relay, no auth, no validation, no storage.
  const relayHttp = createServer()
  const relay = new Server(relayHttp, { serveClient: false })
  relay.on('connection', (socket) => {
    socket.on('relay', (payload: unknown) => {
      socket.broadcast.emit('relayed', payload)
    })
  })
  await new Promise<void>((resolve) => relayHttp.listen(0, '127.0.0.1', resolve))
  const relayUrl = `http://127.0.0.1:${(relayHttp.address() as AddressInfo).port}`

  const socketsOf = (userId: string): number => {
    let count = 0
    for (const socket of server.io.of('/').sockets.values()) if (socket.data.userId === userId) count++
    return count
  }

  let watching: ReturnType<typeof watchStalls> | null = null
  const commands: HostCommands = {
    async info() {
      return { url: server.url, relayUrl, pid: process.pid, seeded }
    },
    async requests({ key }) {
      return requests.get(key) ?? 0
    },
    async socketsOf({ userId }) {
      return socketsOf(userId)
    },
    untilSocketsOf({ userId, count, timeoutMs }) {
      const nsp = server.io.of('/')
      return new Promise<null>((resolve, reject) => {
        const watched = new Set<Socket>()
        // Socket.IO takes a socket out of `nsp.sockets` before it emits 'disconnect': the count is current here.
        const check = () => {
          if (socketsOf(userId) !== count) return
          done()
          resolve(null)
        }
        const watch = (socket: Socket) => {
          if (socket.data.userId !== userId || watched.has(socket)) return
          watched.add(socket)
          socket.on('disconnect', check)
        }
        const onConnection = (socket: Socket) => {
          watch(socket)
          check()
        }
        const timer = setTimeout(() => {
          done()
          reject(
            new Error(
              `${userId} holds ${socketsOf(userId)} sockets at the server, not ${count}, after ${timeoutMs} ms`,
            ),
          )
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          nsp.off('connection', onConnection)
          for (const socket of watched) socket.off('disconnect', check)
        }
        nsp.on('connection', onConnection)
        for (const socket of nsp.sockets.values()) watch(socket)
        check()
      })
    },
    /**
     * `count` message:new to every socket of `userId`, in one synchronous loop, each with its trailing `{ offset }`, as
     * the server's notifier sends logged events (nothing is written to the log).
     */
    async burst({ userId, conversationId, senderId, firstSeq, firstOffset, count, idPrefix }) {
      const createdAt = new Date().toISOString()
      const startedAt = now()
      const to = server.io.to(userRoom(userId))
      for (let i = 0; i < count; i++) {
        const message: Message = {
          id: `${idPrefix}-${i}`,
          conversationId,
          seq: firstSeq + i,
          senderId,
          content: `burst ${i}`,
          createdAt,
          clientId: null,
        }
        to.emit('message:new', message, { offset: firstOffset + i })
      }
      return { startedAt, emittedAt: now() }
    },
    /**
     * `count` lesson:statusUpdated to the student's sockets, for lessons nobody has cached, spread evenly over
     * `durationMs` in 10 ms steps, each with its trailing `{ offset }` as the server's notifier sends logged events
     * (nothing is written to the log).
     */
    async lessonStorm({ studentId, tutorId, firstOffset, count, durationMs, idPrefix }) {
      const steps = Math.max(1, Math.round(durationMs / 10))
      const startedAt = now()
      const startMs = performance.now()
      let sent = 0
      for (let step = 0; step < steps; step++) {
        const target = Math.round(((step + 1) * count) / steps)
        const at = new Date().toISOString()
        for (; sent < target; sent++) {
          const lesson: Lesson = {
            id: `${idPrefix}-${sent}`,
            tutorId,
            studentId,
            subject: 'bench lesson',
            startsAt: at,
            durationMinutes: 60,
            status: 'confirmed',
            updatedAt: at,
          }
          // Offsets are per user's log and these are the student's (whose client P3 measures): the tutor's sockets,
          // which would read them against the tutor's log, get none (P3 opens no socket of the tutor's).
          server.io.to(userRoom(studentId)).emit('lesson:statusUpdated', lesson, { offset: firstOffset + sent })
        }
        // Paced against the start, not step by step: timers firing late on a busy machine do not stretch the storm
        // beyond its duration (the last step leaves at durationMs × (steps − 1) / steps).
        const nextAt = startMs + ((step + 1) * durationMs) / steps
        if (step < steps - 1)
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextAt - performance.now())))
      }
      return { startedAt, endedAt: now(), sent }
    },
    async handshakesOf({ userId }) {
      return handshakes.get(userId) ?? 0
    },
    async restart() {
      const port = Number(new URL(server.url).port)
      const t0 = performance.now()
      await server.close()
      server = await start(port)
      instrument(server)
      return { downMs: performance.now() - t0 }
    },
    async cpu() {
      const usage = process.cpuUsage()
      return { cpuMicros: usage.user + usage.system, at: now() }
    },
    async watchStalls() {
      watching = watchStalls()
      return null
    },
    async stalls() {
      if (!watching) throw new Error('stalls asked for before watchStalls')
      const stalls = watching.stop()
      watching = null
      return stalls
    },
    async close() {
      relay.close()
      await server.close()
      setTimeout(() => process.exit(0), 10)
      return null
    },
  }

  process.on('message', (raw) => {
    const request = raw as HostRequest
    const command = commands[request.cmd] as (args: unknown) => Promise<unknown>
    command(request.args).then(
      (result) => process.send?.({ id: request.id, ok: true, result } satisfies HostReply),
      (error: unknown) => process.send?.({ id: request.id, ok: false, error: String(error) } satisfies HostReply),
    )
  })
  process.send?.({ id: 0, ok: true, result: 'ready' } satisfies HostReply)
}

// The bench process going away takes the server with it.
process.on('disconnect', () => process.exit(0))

main().catch((error: unknown) => {
  console.error('bench host failed:', error)
  process.exit(1)
})
