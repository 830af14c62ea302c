/**
 * P7's client process: connects two bare socket.io-clients per pair (WebSocket transport), then, on "go", sends its
 * share of the load over its pairs round-robin (alternating direction) on a fixed schedule (its i-th message is due at
 * the start + i / rate), and times every message from the moment it was due to the partner's `message:new` (both
 * sockets live in this process: one clock). Waits for every send's answer (ack or the 10 s ack timeout), then
 * `graceMs` more for deliveries, and reports, with when each message was due and when it was emitted. Forked by
 * p7-load.ts.
 */
import { randomUUID } from 'node:crypto'
import { io, type Socket } from 'socket.io-client'
import type { Ack, Message } from '../../src/contract'
import type { SeededPair } from '../lib/hostProtocol'
import { type Stalls, watchStalls } from '../lib/stalls'

export interface WorkerSetup {
  url: string
  pairs: SeededPair[]
  /** Messages per second this worker sends, in total over its pairs. */
  rate: number
  durationMs: number
  /** How long to wait for stragglers after the last send. */
  graceMs: number
  workerId: number
}

export interface WorkerReport {
  sockets: number
  connectErrors: number
  sent: number
  acked: number
  /** Sends answered with an error, by code; `TIMEOUT`: no answer within the ack timeout. */
  refused: Record<string, number>
  received: number
  duplicates: number
  /** Sent but never received by the partner (by the end: every send answered or timed out, then `graceMs`). */
  lost: number
  /** Of the lost: acknowledged as stored, yet never delivered. */
  ackedNotReceived: number
  /** Due → received by the partner, in ms. */
  latencies: number[]
  /** When each of `latencies`' messages was due, in ms on the schedule's clock. */
  latencyDueMs: number[]
  /** This worker's schedule on the monotonic clock (ms), shared by every process of the machine: [start, end). */
  schedule: { startMs: number; endMs: number }
  /** The i-th message's due moment and the moment it was emitted, in ms on the same clock. */
  dueMs: number[]
  emittedMs: number[]
  /** What held this client process's loop from "go" to its report. */
  stalls: Stalls
}

const now = () => Number(process.hrtime.bigint())

/**
 * A socket counts as connected once the server has served its connection: `sync:caughtUp` (or `sync:gap`) and
 * `presence:snapshot`, what the layer's `syncing` flag waits for. At `connect` the server's work for it (the resume
 * read, presence) is still queued: sending would start while the tail of the connect storm is still being served.
 */
function connect(url: string, token: string): Promise<Socket | null> {
  const socket = io(url, { auth: { token }, transports: ['websocket'], forceNew: true })
  const served = Promise.all([
    new Promise<void>((resolve) => {
      socket.once('sync:caughtUp', () => resolve())
      socket.once('sync:gap', () => resolve())
    }),
    new Promise<void>((resolve) => socket.once('presence:snapshot', () => resolve())),
  ])
  return new Promise((resolve) => {
    const refused = () => {
      clearTimeout(timer)
      socket.close()
      resolve(null)
    }
    // Never served (the server failed its presence read, or dropped the socket for good): a connect error, counted.
    const timer = setTimeout(refused, SERVED_WITHIN_MS)
    socket.once(
      'connect',
      () =>
        void served.then(() => {
          clearTimeout(timer)
          resolve(socket)
        }),
    )
    socket.once('connect_error', refused)
  })
}

/** How long a connection may take to be served before it counts as refused. */
const SERVED_WITHIN_MS = 60_000

async function main(setup: WorkerSetup): Promise<void> {
  const sockets: Socket[] = []
  let connectErrors = 0
  const pending = new Map<string, number>() // content → t0
  const ackedOk = new Set<string>()
  const seen = new Set<string>()
  const latencies: number[] = []
  const latencyDueMs: number[] = []
  const refused: Record<string, number> = {}
  let duplicates = 0

  const onMessage = (message: Message) => {
    const t1 = now()
    if (seen.has(message.content)) {
      duplicates++
      return
    }
    const t0 = pending.get(message.content)
    if (t0 === undefined) return
    seen.add(message.content)
    latencies.push((t1 - t0) / 1e6)
    latencyDueMs.push(t0 / 1e6)
  }

  const pairs: { conversationId: string; a: Socket; b: Socket }[] = []
  // Connect in batches of 25 pairs, as users arrive, not all in one instant.
  for (let i = 0; i < setup.pairs.length; i += 25) {
    const batch = setup.pairs.slice(i, i + 25)
    const connected = await Promise.all(
      batch.map(async (pair) => {
        const [a, b] = await Promise.all([connect(setup.url, pair.a.token), connect(setup.url, pair.b.token)])
        return { pair, a, b }
      }),
    )
    for (const { pair, a, b } of connected) {
      if (a) sockets.push(a)
      else connectErrors++
      if (b) sockets.push(b)
      else connectErrors++
      if (!a || !b) continue
      a.on('message:new', onMessage)
      b.on('message:new', onMessage)
      pairs.push({ conversationId: pair.conversationId, a, b })
    }
  }
  process.send?.({ type: 'ready', sockets: sockets.length, connectErrors })

  await new Promise<void>((resolve) => process.once('message', () => resolve()))

  const watch = watchStalls()
  let sent = 0
  let next = 0
  const start = now()
  const total = Math.round((setup.rate * setup.durationMs) / 1000)
  const dueAt = (i: number) => start + (i * 1e9) / setup.rate
  const dueMs: number[] = []
  const emittedMs: number[] = []
  await new Promise<void>((resolve) => {
    const tick = () => {
      // Open loop, as independent users are: a late tick sends every message already due at once and times each from
      // when it was due, so a stall here shows in the latencies and in the rate of the seconds it hit, not hidden by
      // the catch-up.
      while (sent < total && pairs.length > 0 && dueAt(sent) <= now()) {
        const pair = pairs[next % pairs.length]!
        const fromA = Math.floor(next / pairs.length) % 2 === 0
        next++
        const content = `p7 ${setup.workerId} ${sent}`
        const socket = fromA ? pair.a : pair.b
        const due = dueAt(sent)
        pending.set(content, due)
        dueMs.push(due / 1e6)
        emittedMs.push(now() / 1e6)
        socket
          .timeout(10_000)
          .emit(
            'message:send',
            { conversationId: pair.conversationId, content, clientId: randomUUID() },
            (error: unknown, ack: Ack<Message>) => {
              if (error) refused.TIMEOUT = (refused.TIMEOUT ?? 0) + 1
              else if (ack.ok) ackedOk.add(content)
              else refused[ack.error.code] = (refused[ack.error.code] ?? 0) + 1
            },
          )
        sent++
      }
      if (sent >= total || pairs.length === 0) resolve()
      // Woken for the next due message rather than on a fixed step, so a step's length does not add to every latency.
      else setTimeout(tick, Math.max(0, (dueAt(sent) - now()) / 1e6))
    }
    tick()
  })
  // Every send gets its answer (ack or the 10 s timeout), then stragglers get `graceMs` to arrive.
  const answered = () => ackedOk.size + Object.values(refused).reduce((a, b) => a + b, 0)
  while (answered() < sent) await new Promise((resolve) => setTimeout(resolve, 50))
  await new Promise((resolve) => setTimeout(resolve, setup.graceMs))

  let ackedNotReceived = 0
  for (const content of ackedOk) if (!seen.has(content)) ackedNotReceived++
  const lost = sent - seen.size
  const report: WorkerReport = {
    sockets: sockets.length,
    connectErrors,
    sent,
    acked: ackedOk.size,
    refused,
    received: seen.size,
    duplicates,
    lost,
    ackedNotReceived,
    latencies,
    latencyDueMs,
    schedule: { startMs: start / 1e6, endMs: start / 1e6 + setup.durationMs },
    dueMs,
    emittedMs,
    stalls: watch.stop(),
  }
  // The sockets stay open until the bench has read the server's stalls: a thousand disconnects are not the load.
  process.on('message', (message) => {
    if (message !== 'close') return
    for (const socket of sockets) socket.close()
    setTimeout(() => process.exit(0), 50)
  })
  process.send?.({ type: 'report', report })
}

process.once('message', (setup) => {
  main(setup as WorkerSetup).catch((error: unknown) => {
    console.error('P7 worker failed:', error)
    process.exit(1)
  })
})
process.on('disconnect', () => process.exit(0))
