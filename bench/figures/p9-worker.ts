/**
 * P9's client process: `tokens.length` bare socket.io-clients through the balancer (WebSocket only), each resuming
 * by offset (`auth: { token, offset, epoch }`), reconnecting by `policy`:
 *
 * - `ours`: what the realtime layer does (Socket.IO's reconnection off; after a drop, a wait of
 *   `backoffDelay(attempt, DEFAULT_BACKOFF, Math.random)` — full jitter, 500 ms · 2^(attempt-1) capped at 30 s —
 *   then the handshake; a failed handshake waits the next attempt's backoff);
 * - `default`: Socket.IO's built-in reconnection with its defaults (reconnectionDelay 1000, reconnectionDelayMax 5000,
 *   randomizationFactor 0.5).
 *
 * Tells the bench (IPC) when all are caught up, and each client's first `sync:caughtUp` after its drop (the time, on
 * the monotonic clock the processes share); answers `report` with how many received their storm message.
 */
import { io, type Socket } from 'socket.io-client'
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/realtime'

export interface P9WorkerOptions {
  url: string
  /** The clients' tokens and the storm message each must receive (its content). */
  clients: Array<{ token: string; expect: string }>
  policy: 'ours' | 'default'
}

export type P9WorkerMessage =
  | { type: 'ready' }
  | { type: 'resumed'; at: number }
  | { type: 'report'; received: number; trouble: string[] }

const options = JSON.parse(process.env.BENCH_P9_OPTIONS ?? '{}') as P9WorkerOptions
const send = (message: P9WorkerMessage) => process.send?.(message)
const nowMs = () => Number(process.hrtime.bigint()) / 1e6
const trouble: string[] = []
let received = 0
let synced = 0

function client(token: string, expect: string): Socket {
  let offset: number | undefined
  let epoch: string | undefined
  let dropped = false
  let attempt = 0
  let got = false
  /** Counted once per client: one that drops twice during the storm must not count twice towards "99 % resumed". */
  let resumed = false
  const socket = io(options.url, {
    transports: ['websocket'],
    forceNew: true,
    autoConnect: false,
    reconnection: options.policy === 'default',
    auth: (cb) => cb(offset === undefined ? { token } : { token, offset, epoch }),
  })
  let waiting = false
  const retry = () => {
    // One timer at a time: a drop and a failed handshake must not both schedule an attempt.
    if (waiting || socket.connected) return
    waiting = true
    attempt++
    setTimeout(
      () => {
        waiting = false
        socket.connect()
      },
      backoffDelay(attempt, DEFAULT_BACKOFF, Math.random),
    )
  }
  socket.on('disconnect', (reason) => {
    dropped = true
    if (options.policy === 'ours' && reason !== 'io client disconnect') retry()
  })
  socket.on('connect_error', () => {
    if (options.policy === 'ours') retry()
  })
  socket.on('connect', () => void (attempt = 0))
  socket.on('sync:caughtUp', (sync: { offset: number; epoch: string }) => {
    if (offset === undefined) {
      offset = sync.offset
      synced++
      if (synced === options.clients.length) send({ type: 'ready' })
    } else if (dropped) {
      dropped = false
      if (sync.offset !== offset) trouble.push(`caught up at ${sync.offset}, applied ${offset}`)
      if (!resumed) send({ type: 'resumed', at: nowMs() })
      resumed = true
    }
    epoch = sync.epoch
  })
  socket.on('sync:gap', (sync: { offset: number }) => void trouble.push(`gap at ${sync.offset}`))
  socket.onAny((event: string, ...args: unknown[]) => {
    const meta = args.at(-1) as { offset?: number } | undefined
    if (typeof meta?.offset === 'number' && offset !== undefined) {
      if (meta.offset === offset + 1) offset = meta.offset
      else if (meta.offset > offset + 1) trouble.push(`${event} at offset ${meta.offset} after ${offset}`)
    }
    if (event === 'message:new' && !got && (args[0] as { content?: string }).content === expect) {
      got = true
      received++
    }
  })
  return socket
}

async function main(): Promise<void> {
  const sockets: Socket[] = []
  // Connected in batches, so the first connections do not storm the node before the storm.
  for (let i = 0; i < options.clients.length; i += 25) {
    const batch = options.clients.slice(i, i + 25).map(({ token, expect }) => client(token, expect))
    await Promise.all(
      batch.map(
        (socket) =>
          new Promise<void>((resolve) => {
            socket.once('sync:caughtUp', () => resolve())
            socket.connect()
          }),
      ),
    )
    sockets.push(...batch)
  }
  process.on('message', (raw) => {
    const { type } = raw as { type: 'report' | 'exit' }
    if (type === 'report') send({ type: 'report', received, trouble: trouble.slice(0, 10) })
    else {
      for (const socket of sockets) socket.close()
      process.exit(0)
    }
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
