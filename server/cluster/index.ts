import { createAdapter } from '@socket.io/redis-adapter'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import type { Logger } from '../logger'
import type { CounterFactory } from '../loginThrottle'
import type { TalemyServer, TalemySocket } from '../realtime'
import { sessionRoom } from '../realtime/rooms'
import type { SessionStore } from '../sessions'
import { NodeEntries } from './entries'
import type { RedisLink } from './redis'
import { RedisPresenceStore, SharedSocketSlots, SharedViewers } from './shared'

const REVOKED = 'talemy:revoked'

/**
 * Makes this node one of several sharing `redis`:
 * - Socket.IO's Redis adapter (`@socket.io/redis-adapter`, classic pub/sub): any node can emit to any socket, and
 *   `serverSideEmit` carries the logged events to every node's sockets. Connection-state recovery is off (we resume
 *   from our own log), so the Streams adapter's advantage (recovery) would buy nothing;
 * - the socket cap and the conversation viewers as heartbeated entries (a killed node's expire within seconds);
 * - login throttling through `RateLimiterRedis` (the send and join budgets are `RedisRateLimiter`s, made by the caller);
 * - revocations: a session revoked on one node is forgotten as live on every node.
 *
 * @example const cluster = joinCluster(io, redis, sessions, 20, logger); …; await cluster.leave()
 */
export function joinCluster(
  io: TalemyServer,
  redis: RedisLink,
  sessions: SessionStore,
  maxSocketsPerUser: number,
  logger: Logger,
) {
  io.adapter(createAdapter(redis.pub, redis.sub, { key: `${redis.prefix}socket.io` }))
  const entries = new NodeEntries(redis.client, (error) => logger.warn({ err: error }, 'heartbeat failed'))
  entries.start()
  const loginCounters: CounterFactory = (spec) =>
    new RateLimiterRedis({ storeClient: redis.client, ...spec, keyPrefix: `${redis.prefix}${spec.keyPrefix}` })
  io.on(REVOKED, (sessionId: string) => {
    sessions.noteRevokedElsewhere(sessionId)
    // The revoking node's disconnect has passed by now; a socket of that session whose handshake was finishing here
    // meanwhile (joining its session's room after it) is closed by this.
    io.local.in(sessionRoom(sessionId)).disconnectSockets(true)
  })
  const stopListening = sessions.onRevoked((sessionId) => io.serverSideEmit(REVOKED, sessionId))
  // Pub/sub is at most once: what was published while the subscriber was reconnecting never comes. So a subscriber
  // back (ioredis says `ready` at every connection after the first) forgets which sessions are live and checks this
  // node's sockets against the database, and tells whoever else lost notifications (the sockets' replay).
  const notificationsLost = new Set<() => void>()
  const resubscribed = () => {
    sessions.forgetLive()
    const bySession = new Map<string, TalemySocket[]>()
    for (const socket of io.of('/').sockets.values()) {
      const list = bySession.get(socket.data.sessionId) ?? []
      list.push(socket)
      bySession.set(socket.data.sessionId, list)
    }
    for (const [sessionId, sockets] of bySession)
      sessions.isLive(sessionId).then(
        (live) => {
          if (!live) for (const socket of sockets) socket.disconnect(true)
        },
        (error: unknown) => logger.warn({ err: error }, 'session recheck failed'),
      )
    for (const listener of notificationsLost) listener()
  }
  redis.sub.on('ready', resubscribed)
  return {
    slots: new SharedSocketSlots(redis, entries, maxSocketsPerUser),
    viewers: new SharedViewers(redis, entries),
    presence: new RedisPresenceStore(redis),
    /** `listener` runs whenever this node's subscriber is back: what the other nodes published meanwhile was lost. */
    onNotificationsLost(listener: () => void) {
      notificationsLost.add(listener)
    },
    loginCounters,
    async leave() {
      stopListening()
      redis.sub.off('ready', resubscribed)
      await entries.stop()
    },
  }
}
