import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'

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
 * Connects to `url` (three connections) and checks it answers, or throws a message that says where it tried.
 *
 * @example const redis = await connectRedis('redis://127.0.0.1:6379', 'talemy:')
 */
export async function connectRedis(url: string, prefix = 'talemy:'): Promise<RedisLink> {
  // Fail fast at start rather than queue commands forever; once up, ioredis reconnects by itself.
  const open = () => new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true })
  const client = open()
  const pub = open()
  const sub = open()
  const all = [client, pub, sub]
  // An error event without a listener would crash the process; a lost connection is retried and logged by the caller.
  for (const connection of all) connection.on('error', () => undefined)
  try {
    await Promise.all(all.map((connection) => connection.connect()))
    await client.ping()
  } catch (error) {
    for (const connection of all) connection.disconnect()
    throw new Error(`cannot reach Redis at ${redactedUrl(url)}: ${(error as Error).message}`)
  }
  return {
    client,
    pub,
    sub,
    prefix,
    nodeId: randomUUID(),
    async close() {
      await Promise.all(all.map((connection) => connection.quit().catch(() => connection.disconnect())))
    },
  }
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
