import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { stablePort } from '../../support/ports'
import { hangBound } from '../../support/hangBound'

/** A throwaway Redis (`redis-server --save ''`, nothing on disk) for one test file. */
export interface RedisServer {
  url: string
  /** The redis-server process. */
  pid: number
  /** Holds it (SIGSTOP): a Redis that keeps its connections open and answers nothing, as a partition would. */
  stall(): void
  /** Lets a stalled Redis go on (SIGCONT); nothing when it is not stalled. */
  resume(): void
  /** Ends it (a stalled one resumed first, to hear its SIGTERM). */
  stop(): Promise<void>
  /** Kills it (SIGKILL), as a crash: its data goes with it. */
  crash(): Promise<void>
}

export function redisRunnable(): { ok: boolean; reason?: string } {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  return found.status === 0 && found.stdout.trim()
    ? { ok: true }
    : { ok: false, reason: 'no redis-server on PATH (apt-get install redis-server)' }
}

/**
 * `args`: more of redis-server's options (`['--rename-command', 'SMISMEMBER', '']`: a Redis without that command);
 * `port`: where (a Redis started again where one crashed), by default a free one.
 */
export async function startRedis(args: string[] = [], port?: number): Promise<RedisServer> {
  port ??= await stablePort()
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout?.on('data', (chunk) => (output += chunk))
  child.stderr?.on('data', (chunk) => (output += chunk))
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + hangBound()
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => undefined)
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      break
    } catch {
      probe.disconnect()
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`redis-server did not start: ${output.slice(-2000)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  let stalled = false
  const resume = () => {
    if (stalled && child.exitCode === null) child.kill('SIGCONT')
    stalled = false
  }
  return {
    url,
    pid: child.pid!,
    stall() {
      child.kill('SIGSTOP')
      stalled = true
    },
    resume,
    stop: () =>
      new Promise<void>((resolve) => {
        resume()
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
    crash: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
  }
}

/**
 * Which real parts a test file needs and has: missing ones make it skip (saying why), except under `CI=true`, where a
 * missing one fails the run instead.
 */
export function requireParts(file: string, parts: { ok: boolean; reason?: string }[]): boolean {
  const missing = parts.filter((part) => !part.ok).map((part) => part.reason)
  if (missing.length === 0) return true
  const message = `${file} needs ${missing.join('; ')}`
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing part fails the run)`)
  console.warn(`${file} skipped: ${message}`)
  return false
}

/**
 * Drops `io`'s Redis subscriber connection (`CLIENT KILL`) and keeps it away until `meanwhile` has finished and at
 * least `awayMs` have passed: runs `meanwhile` while it is away (what is published then never reaches that node:
 * pub/sub is at most once), and resolves once it is back and its subscriptions hold again (the node has then started
 * acting on its loss). Not back on a timer alone: on a busy machine `meanwhile` may outlast any delay, and what it
 * publishes after the subscriber is back would reach the node after all.
 *
 * @example await whileSubscriberAway(nodeB.io, redis.url, 300, () => sendOnNodeA())
 */
/** Longer than any test: the subscriber stays away until `whileSubscriberAway` brings it back. */
const HELD_AWAY_MS = 10 * 60_000

export async function whileSubscriberAway(
  io: { of(namespace: string): { adapter: unknown } },
  redisUrl: string,
  awayMs: number,
  meanwhile: () => Promise<unknown>,
): Promise<void> {
  const subscriber = (io.of('/').adapter as { subClient: Redis }).subClient
  const retry = subscriber.options.retryStrategy
  // ioredis would come back after this; the test brings it back sooner, once `meanwhile` is done.
  subscriber.options.retryStrategy = () => HELD_AWAY_MS
  const killedAt = Date.now()
  try {
    const away = new Promise((resolve) => subscriber.once('reconnecting', resolve))
    const back = new Promise((resolve) => subscriber.once('ready', resolve))
    const admin = new Redis(redisUrl)
    try {
      const port = (subscriber as unknown as { stream: { localPort: number } }).stream.localPort
      if ((await admin.client('KILL', 'ADDR', `127.0.0.1:${port}`)) !== 1)
        throw new Error('the subscriber connection was not found')
    } finally {
      admin.disconnect()
    }
    await away
    await meanwhile()
    const left = awayMs - (Date.now() - killedAt)
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left))
    // ioredis's own reconnect, due in HELD_AWAY_MS, goes: this connect brings it back now (its subscriptions too).
    const pending = subscriber as unknown as { reconnectTimeout: ReturnType<typeof setTimeout> | null }
    if (pending.reconnectTimeout) clearTimeout(pending.reconnectTimeout)
    pending.reconnectTimeout = null
    subscriber.connect().catch(() => {
      // already connecting: `back` comes all the same
    })
    await back
    // The node acts on its loss once Redis has answered the (p)subscribes it sends again at `ready` (one connection's
    // commands are answered in order): this PING, sent after them, is answered after them.
    await subscriber.ping()
  } finally {
    subscriber.options.retryStrategy = retry
  }
}
