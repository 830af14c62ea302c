import { randomUUID } from 'node:crypto'
import { Server as NetServer, connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startServer } from '../../server/index'
import { EventLog } from '../../server/services/eventLog'
import { SessionStore } from '../../server/sessions'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { BOB, login, type ClientSocket } from '../server/support/server'
import { openStream } from '../server/support/stream'
import { listenOn, stablePort } from '../support/ports'
import { redisRunnable, requireParts, startRedis, whileSubscriberAway, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// ioredis says `ready` once it has sent its SUBSCRIBEs, not once Redis has confirmed them. A node that reads its
// sockets' logs (or its sockets' sessions) before then can miss what another node publishes in between, until its
// log-tail check. So a node listens only once its subscriptions hold, and after its subscriber comes back it reads
// only once they hold again. Watched here through ioredis's own commands: every (p)subscribe sent has been answered.
const ready = requireParts('tests/cluster/resubscribe.test.ts', [postgresRunnable(), redisRunnable()])

type Subscribe = (...args: unknown[]) => Promise<unknown>

/** Counts the (p)subscribe commands `target` (an ioredis client, or its prototype) sends, and those not answered yet. */
function watchSubscribes(target: object) {
  let sent = 0
  let unanswered = 0
  const spies = (['subscribe', 'psubscribe'] as const).map((name) => {
    const original = (target as Record<string, Subscribe>)[name]!
    return vi.spyOn(target as Record<string, Subscribe>, name).mockImplementation(function (this: unknown, ...args) {
      sent++
      unanswered++
      const answer = original.apply(this, args)
      answer.then(
        () => unanswered--,
        () => unanswered--,
      )
      return answer
    })
  })
  return {
    sent: () => sent,
    unanswered: () => unanswered,
    restore: () => {
      for (const spy of spies) spy.mockRestore()
    },
  }
}

/** Runs `watch` at each call of `target[name]`, then the method itself. */
function before(target: object, name: string, watch: (...args: unknown[]) => void) {
  const methods = target as Record<string, (...args: unknown[]) => unknown>
  const original = methods[name]!
  return vi.spyOn(methods, name).mockImplementation(function (this: unknown, ...args: unknown[]) {
    watch(...args)
    return original.apply(this, args)
  })
}

describe.runIf(ready)("a node's reads after its Redis subscriptions hold", () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let node: Awaited<ReturnType<typeof startServer>>
  let databaseUrl: string
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    databaseUrl = postgres.createDatabase('talemy_resubscribe')
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await node?.close()
    await redis?.stop()
    postgres?.stop()
  })

  const options = () => ({
    port: 0,
    databaseUrl,
    redisUrl: redis.url,
    redisPrefix: `s${randomUUID().slice(0, 8)}:`,
    dataDir: tmpdir(),
    seedDemo: true,
    logTailCheckMs: 3_600_000,
    sessionRecheckMs: 3_600_000,
  })

  it('listens only once Redis has answered every subscription the adapter asked for', async () => {
    const subscribes = watchSubscribes(Redis.prototype)
    const unansweredAtListen: number[] = []
    const listen = before(NetServer.prototype, 'listen', () => unansweredAtListen.push(subscribes.unanswered()))
    try {
      node = await startServer(options())
    } finally {
      listen.mockRestore()
      subscribes.restore()
    }
    expect(subscribes.sent()).toBeGreaterThan(0)
    // The last listen is the server's; one before it checks PORT and HOST before anything opens (3c141f8).
    expect(unansweredAtListen.length).toBeGreaterThan(0)
    expect(unansweredAtListen.at(-1)).toBe(0)
  })

  it("reads a live socket's log and its sessions again only once its subscriptions hold again", async () => {
    const bob = (await login(node.url, BOB)).token
    const stream = await openStream(node.url, bob)
    sockets.push(stream.socket)
    await stream.synced()

    const subscriber = (node.io.of('/').adapter as unknown as { subClient: Redis }).subClient
    const subscribes = watchSubscribes(subscriber)
    const unansweredAtRead = { log: [] as number[], sessions: [] as number[] }
    const resume = before(EventLog.prototype, 'resume', (userId) => {
      if (userId === 'user-bob') unansweredAtRead.log.push(subscribes.unanswered())
    })
    const endedAmong = before(SessionStore.prototype, 'endedAmong', () =>
      unansweredAtRead.sessions.push(subscribes.unanswered()),
    )
    try {
      await whileSubscriberAway(node.io, redis.url, 100, async () => undefined)
      await vi.waitFor(
        () => {
          expect(unansweredAtRead.log).toHaveLength(1)
          expect(unansweredAtRead.sessions).toHaveLength(1)
        },
        { timeout: hangBound(), interval: 10 },
      )
    } finally {
      resume.mockRestore()
      endedAmong.mockRestore()
      subscribes.restore()
    }
    // ioredis sent them again itself (`autoResubscribe`), through the watched methods.
    expect(subscribes.sent()).toBeGreaterThan(0)
    expect(unansweredAtRead).toEqual({ log: [0], sessions: [0] })
  })

  // ioredis resubscribes at `ready` to what Redis had confirmed on the last connection (or resends what was pending):
  // a resubscribe dropped with its connection before its answer, then flushed by `maxRetriesPerRequest` while the
  // reconnections are refused, is forgotten, and the connection comes back subscribed to nothing (its PING answered).
  it('holds its subscriptions again after a resubscribe lost with its connection and flushed by the retry limit', async () => {
    const redisPort = Number(new URL(redis.url).port)
    const links = new Set<Socket>()
    let dropAtSubscribe = false
    const proxy = createServer((client) => {
      const upstream = connect(redisPort, '127.0.0.1')
      const dropping = dropAtSubscribe
      dropAtSubscribe = false
      links.add(client)
      client.on('close', () => {
        links.delete(client)
        upstream.destroy()
      })
      upstream.on('close', () => client.destroy())
      client.on('error', () => undefined)
      upstream.on('error', () => undefined)
      upstream.on('data', (chunk) => client.write(chunk))
      client.on('data', (chunk) => {
        // The resubscribe: the connection goes before Redis sees it, and the proxy stops listening.
        if (dropping && /subscribe/i.test(chunk.toString())) {
          proxy.close()
          client.destroy()
          return
        }
        upstream.write(chunk)
      })
    })
    // Listened on again below, on the same port: one the kernel does not hand out meanwhile.
    const proxyPort = await stablePort()
    await listenOn(proxy, proxyPort)
    const prefix = `l${randomUUID().slice(0, 8)}:`
    const own = await startServer({ ...options(), redisUrl: `redis://127.0.0.1:${proxyPort}`, redisPrefix: prefix })
    const admin = new Redis(redis.url)
    try {
      const requests = `${prefix}socket.io-request#/#`
      expect(await admin.pubsub('NUMSUB', requests)).toEqual([requests, 1])
      const subscriber = (own.io.of('/').adapter as unknown as { subClient: Redis }).subClient
      const retry = subscriber.options.retryStrategy
      subscriber.options.retryStrategy = () => 10
      // Refused reconnections counted from the drop: the queue is flushed at the 4th (maxRetriesPerRequest 3), and the
      // proxy listens again after the 5th.
      let refused = 0
      const listening = new Promise<void>((resolve, reject) => {
        const onReconnecting = () => {
          if (proxy.listening || ++refused < 5) return
          subscriber.off('reconnecting', onReconnecting)
          listenOn(proxy, proxyPort).then(resolve, reject)
        }
        subscriber.on('reconnecting', onReconnecting)
      })
      const port = (subscriber as unknown as { stream: { localPort: number } }).stream.localPort
      const link = [...links].find((socket) => socket.remotePort === port)
      if (!link) throw new Error("the subscriber's connection was not found")
      dropAtSubscribe = true
      link.destroy()
      await listening
      await new Promise((resolve) => subscriber.once('ready', resolve))
      subscriber.options.retryStrategy = retry
      await vi.waitFor(async () => expect(await admin.pubsub('NUMSUB', requests)).toEqual([requests, 1]), {
        timeout: hangBound(),
        interval: 20,
      })
    } finally {
      admin.disconnect()
      await own.close()
      proxy.close()
      for (const link of links) link.destroy()
    }
  })
})
