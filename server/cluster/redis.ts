import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { within } from '../within'
import { startRefusal } from '../errors'

/**
 * How long a command may wait for Redis's answer. Without a bound, a Redis that holds its connections and answers
 * nothing would hold every send (in its conversation's queue, some with their recipients' log counters), every
 * handshake (the socket cap) and the heartbeat for as long as it lasts, and the node would say nothing while the other
 * nodes stop counting its sockets. Past it the command fails as with Redis away: a send is answered `INTERNAL` (the
 * client retries it), the heartbeat's failure is logged. Below `IDLE_IN_TRANSACTION_TIMEOUT_MS` (a send reads the
 * viewers inside its transaction), above a pause of a few seconds.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000

/** The Redis connections of one node, and the names it uses there. */
export interface RedisLink {
  /** Commands (limits, caps, viewers). */
  client: Redis
  /** The adapter's publisher and subscriber (a subscribed connection can run no other command). */
  pub: Redis
  sub: Redis
  /** Every key starts with it, so two deployments can share one Redis. Default `talemy:`. */
  prefix: string
  /** This process, in the entries it keeps alive with its heartbeat. */
  nodeId: string
  close(): Promise<void>
}

/**
 * Whether a key prefix holds Redis's pattern characters. The nodes hear each other's broadcasts through a pattern
 * subscription that starts with the prefix (Socket.IO's Redis adapter): `[1]` in it matched nothing of its own (no
 * broadcast crossed nodes), and `*` or `?` another deployment's channels too (its events went to these sockets).
 */
export function holdsRedisPattern(prefix: string): boolean {
  return /[*?[\]\\]/.test(prefix)
}

/** What a refusal of such a prefix says after the prefix's name. */
export const REDIS_PATTERN_REFUSAL =
  'must not hold *, ?, [, ] or \\ (Redis reads them as a pattern where the nodes subscribe)'

/**
 * Connects to `url` (three connections) and checks it answers, or throws a message that says where it tried.
 *
 * @example const redis = await connectRedis('redis://127.0.0.1:6379', 'talemy:')
 */
export async function connectRedis(url: string, prefix = 'talemy:'): Promise<RedisLink> {
  // Fail fast at start rather than queue commands forever; once up, ioredis reconnects by itself.
  const open = (commandTimeout?: number) => {
    try {
      return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true, commandTimeout })
    } catch (error) {
      // Node's URL error says neither which variable nor how, and carries the whole URL, password included, into the
      // log as its `input`: only its message goes on.
      throw startRefusal(
        new Error(
          `REDIS_URL is not a URL (${(error as Error).message}): give redis://[user:password@]host[:port][/db], rediss:// for TLS`,
        ),
      )
    }
  }
  // A Redis that keeps the connection and answers nothing (stopped, a partition that drops packets) raises no error:
  // commands are bounded instead. The subscriber's (p)subscribes are not: their answer, however late, is what tells
  // that the subscriptions hold (`keepSubscriptions`), and a connection lost before it asks again at its next `ready`.
  // A connection gone silent without closing is noticed by its PINGs (`probeConnections`).
  const client = open(REDIS_COMMAND_TIMEOUT_MS)
  const pub = open(REDIS_COMMAND_TIMEOUT_MS)
  const sub = open()
  const all = [client, pub, sub]
  // An error event without a listener would crash the process; a lost connection is retried and logged by the caller.
  // The first one at start is kept: it says why (ECONNREFUSED, ENOTFOUND, NOAUTH, WRONGPASS), where the rejection of
  // `connect` says only "Connection is closed." for each.
  let why: Error | undefined
  for (const connection of all) connection.on('error', (error: Error) => (why ??= error))
  try {
    await Promise.all(all.map((connection) => connection.connect()))
    await client.ping()
  } catch (error) {
    for (const connection of all) connection.disconnect()
    throw startRefusal(new Error(`cannot reach Redis at ${redisWhere(url)}: ${(why ?? (error as Error)).message}`))
  }
  return {
    client,
    pub,
    sub,
    prefix,
    nodeId: randomUUID(),
    async close() {
      // QUIT waits for Redis's answer: one that never comes (a silent connection) must not hold the shutdown.
      await Promise.all(all.map((connection) => quitWithin(connection, QUIT_WAIT_MS)))
    },
  }
}

/** How long a closing node waits for Redis to answer its QUIT before it drops the connection. */
const QUIT_WAIT_MS = 2_000

function quitWithin(connection: Redis, ms: number): Promise<void> {
  return (
    within(connection.quit(), ms, undefined)
      .catch(() => undefined)
      // Once QUIT is answered the connection is closed already; otherwise this ends it.
      .then(() => connection.disconnect())
  )
}

/** A scheme, as a URL starts with one (`redis://`, `http://`), in any case. */
export const URL_SCHEME = /^([a-z][a-z\d+.-]*):\/\//i

/**
 * A Redis address as ioredis reads it, with its scheme: a bare `[user:password@]host[:port]` or `//host:port` is
 * `redis://…` to it (Node's URL would read a bare `user:` as the scheme). A Unix socket's path (`/…`) is not a URL.
 *
 * @example withRedisScheme('user:secret@127.0.0.1:6379') // 'redis://user:secret@127.0.0.1:6379'
 */
export function withRedisScheme(url: string): string {
  return URL_SCHEME.test(url) ? url : url.startsWith('//') ? `redis:${url}` : `redis://${url}`
}

/**
 * Where `url` sends ioredis, for messages: a bare `user:password@host:port` is its `redis://…`, where Node's URL read
 * the scheme `user:` and no password to hide; the query is left out, as ioredis takes a `?password=` there too.
 */
function redisWhere(url: string): string {
  if (url.startsWith('/') && !url.startsWith('//')) return url.split('?')[0]!
  return redactedUrl(withRedisScheme(url)).split('?')[0]!
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparseable URL)'
  }
}
