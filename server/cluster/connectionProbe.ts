import type { Redis } from 'ioredis'
import { failureStreak, type Logger } from '../logger'
import { within } from '../within'
import { REDIS_COMMAND_TIMEOUT_MS, type RedisLink } from './redis'

/** How often each Redis connection is sent a PING, unless `startServer`'s `redisPingMs` says otherwise. */
export const DEFAULT_REDIS_PING_MS = 5_000

/** Silent PINGs in a row that make a connection dead (see `probeConnection`). */
const SILENT_PINGS_TO_DROP = 2

/** Each connection of a node, by name, and what the node loses while it is silent. */
const CONNECTIONS = {
  commands: { of: (link: RedisLink) => link.client, loses: 'sends and handshakes through this node fail' },
  publisher: { of: (link: RedisLink) => link.pub, loses: 'the other nodes hear nothing from this one' },
  subscriber: { of: (link: RedisLink) => link.sub, loses: 'this node hears no other node' },
} as const

/**
 * PINGs each of the node's Redis connections every `periodMs` and drops one that answers two PINGs in a row with
 * nothing within `REDIS_COMMAND_TIMEOUT_MS`, so that ioredis connects it again (and the subscriber subscribes again:
 * `keepSubscriptions`, at `ready`). A connection that a NAT or a load balancer forgot without a reset stays open and
 * silent: no error, no close. ioredis keeps it for as long as the kernel does (hours): each command on it times out,
 * the subscriber hears nothing and asks nothing, and the node would stay broken without a word (typing and presence
 * notices, which no log brings back, lost meanwhile). Said once per streak of a connection's silences, and once when
 * it answers again. Returns the function that stops it.
 *
 * @example const stop = probeConnections(redis, 5_000, logger); …; stop()
 */
export function probeConnections(link: RedisLink, periodMs: number, logger: Logger): () => void {
  const stops = Object.entries(CONNECTIONS).map(([name, { of, loses }]) =>
    probeConnection(of(link), periodMs, name, loses, logger),
  )
  return () => {
    for (const stop of stops) stop()
  }
}

function probeConnection(connection: Redis, periodMs: number, name: string, loses: string, logger: Logger) {
  const silences = failureStreak(
    () =>
      logger.warn(
        `Redis ${name} connection answered ${SILENT_PINGS_TO_DROP} PINGs in a row with nothing within ${REDIS_COMMAND_TIMEOUT_MS / 1000} s: reconnecting it (until then ${loses})`,
      ),
    () => logger.info(`Redis ${name} connection answers again`),
  )
  let probing = false
  // Silent PINGs in a row on this connection. One is not enough: a Redis answering in 5.1 s, or this process's own
  // pause (its timers run before the answer waiting in the socket is read), would drop a live connection, and with it
  // the commands ioredis sends again on the next one and the notices the subscriber misses meanwhile.
  let silentInARow = 0
  const probe = async () => {
    // A connection ioredis knows to be down (connecting, reconnecting, closed) is its own to bring back.
    if (probing || connection.status !== 'ready') return
    probing = true
    try {
      const outcome = await answerWithin(connection.ping(), REDIS_COMMAND_TIMEOUT_MS)
      if (outcome !== 'silent') silentInARow = 0
      if (outcome === 'answered') silences.succeeded()
      // Gone meanwhile: ioredis saw it go.
      if (outcome !== 'silent' || connection.status !== 'ready') return
      if (++silentInARow < SILENT_PINGS_TO_DROP) return
      silentInARow = 0
      silences.failed(undefined)
      // ioredis ends the connection and destroys it `disconnectTimeout` later (2 s) when, as here, nothing answers
      // the end; not probed again before then: the next connection is the one to probe.
      const closed = new Promise((resolve) => connection.once('close', resolve))
      connection.disconnect(true)
      await closed
    } finally {
      probing = false
    }
  }
  const timer = setInterval(() => void probe(), periodMs)
  timer.unref()
  return () => clearInterval(timer)
}

/**
 * `silent`: no answer within `ms`, or the connection's own command bound said so first; `lost`: the command failed
 * otherwise (ioredis saw the connection go, and reconnects).
 */
function answerWithin(command: Promise<unknown>, ms: number): Promise<'answered' | 'lost' | 'silent'> {
  const answer = command.then(
    () => 'answered' as const,
    (error: unknown) =>
      (/timed out/i.test((error as Error | null)?.message ?? '') ? 'silent' : 'lost') as 'silent' | 'lost',
  )
  return within(answer, ms, 'silent' as const)
}
