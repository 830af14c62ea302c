import { createAdapter } from '@socket.io/redis-adapter'
import { RateLimiterMemory, RateLimiterRedis, RLWrapperTimeouts } from 'rate-limiter-flexible'
import type { Command, Redis } from 'ioredis'
import { noteRedisFailure } from '../errors'
import { failureStreak, type Logger } from '../logger'
import type { CounterFactory } from '../loginThrottle'
import type { TalemyServer } from '../realtime'
import { sessionRoom } from '../realtime/rooms'
import type { SessionStore } from '../sessions'
import { ENTRY_TTL_MS, NodeEntries } from './entries'
import type { RedisLink } from './redis'
import { SharedSocketSlots, SharedViewers } from './shared'
import { probeConnections } from './connectionProbe'

const REVOKED = 'talemy:revoked'
/** How long a login throttle's counter waits for Redis before counting in memory (as a read waits for its budget). */
const LOGIN_COUNTER_WAIT_MS = 500
/** A node's word that its publisher connection is back: what it published before may have been lost, or come late. */
const PUBLISHER_BACK = 'talemy:publisherBack'

/**
 * The adapter publishes without waiting for Redis's answer: a publish refused (Redis away past its retries, or a
 * denied command) would be an unhandled rejection, which ends a process that embeds `startServer` without a handler
 * of its own. The event has reached this node's sockets; the other nodes' get the logged ones at their log check.
 * Said once per streak of refusals.
 */
function watchPublishes(pub: Redis, logger: Logger) {
  const publish = pub.publish.bind(pub) as (channel: string, message: string) => Promise<number>
  const refusals = failureStreak((error) =>
    logger.warn({ err: error }, 'Redis refused a publish: other nodes get logged events at their log check'),
  )
  pub.publish = ((channel: string, message: string) => {
    const answer = publish(channel, message)
    answer.then(refusals.succeeded, refusals.failed)
    return answer
  }) as Redis['publish']
}

/**
 * Notes each failure of a command on `client` (`noteRedisFailure`) and says, once per streak of them, that Redis does
 * not answer, and once that it answers again: the requests that fail meanwhile (sends, joins, typing, handshakes:
 * INTERNAL, retried by the clients) are not each logged, which buried the outage under a stack per try per user.
 * A refusal Redis answers (a `ReplyError`: NOPERM, READONLY, OOM, a script's error) is an answer, not an outage:
 * the request that met it logs it as before, with what it was doing.
 */
function watchCommands(client: Redis, logger: Logger) {
  const send = client.sendCommand.bind(client)
  const failures = failureStreak(
    (error) =>
      logger.warn(
        { err: error },
        'Redis does not answer: sends, joins, typing and handshakes through this node are answered INTERNAL (the clients retry them) until it does',
      ),
    () => logger.info('Redis answers again'),
  )
  client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
    // Before the caller's own handlers: the failure is noted by the time the caller sees it.
    command.promise.then(failures.succeeded, (error: unknown) => {
      if ((error as { name?: unknown } | null)?.name === 'ReplyError') return failures.succeeded()
      noteRedisFailure(error)
      failures.failed(error)
    })
    return send(command, stream)
  }
}

/**
 * Keeps what `sub` is asked to (p)subscribe to (by the adapter, and by ioredis again at each `ready`), and returns a
 * function that asks Redis for all of it again and resolves once Redis has answered, i.e. once the subscriptions hold.
 * ioredis says `ready` once it has sent its SUBSCRIBEs again, not once Redis has confirmed them, and the adapter's
 * first ones are not awaited: a read of the log or the sessions made before then would miss what another node
 * publishes in between (until the log-tail check). Nor is ioredis's resubscribe sure to be sent: it resubscribes to what
 * Redis had confirmed on the last connection, so a resubscribe dropped with its connection before its answer and then
 * flushed by `maxRetriesPerRequest` (its reconnections refused meanwhile) is forgotten, and the connection comes back
 * subscribed to nothing, its PING answered all the same. Asking again is harmless (a channel already held is not held
 * twice), and its answer is the confirmation.
 * Each call's rejection is handled here (neither the adapter nor ioredis handles it: a connection lost past its retries
 * would end the process); a connection lost before its answer asks again at its next `ready`.
 */
function keepSubscriptions(sub: Redis): () => Promise<unknown> {
  const asked = { subscribe: new Set<string>(), psubscribe: new Set<string>() }
  const names = ['subscribe', 'psubscribe'] as const
  type Subscribe = (this: Redis, ...args: unknown[]) => Promise<unknown>
  for (const name of names) {
    const own = function (this: Redis, ...args: unknown[]) {
      for (const channel of args.flat()) if (typeof channel === 'string') asked[name].add(channel)
      // The client's own method, looked up at each call.
      const answer = (Object.getPrototypeOf(this) as Record<typeof name, Subscribe>)[name].apply(this, args)
      answer.catch(() => undefined)
      return answer
    }
    ;(sub as unknown as Record<typeof name, Subscribe>)[name] = own
  }
  return () => Promise.all(names.filter((name) => asked[name].size > 0).map((name) => sub[name](...asked[name])))
}

/**
 * The login throttle's counters, in `redis` for every node. While Redis is away, not ready or silent past
 * `LOGIN_COUNTER_WAIT_MS`, failed logins are counted in this node's memory: every login failed INTERNAL otherwise,
 * right password or not (a stalled Redis held it for the command bound at each of its counters, past the request
 * timeout), while the login budget said they went through. Each node then throttles alone.
 */
export const sharedLoginCounters =
  (redis: RedisLink): CounterFactory =>
  (spec) => {
    const shared = new RateLimiterRedis({
      storeClient: redis.client,
      ...spec,
      keyPrefix: `${redis.prefix}${spec.keyPrefix}`,
      rejectIfRedisNotReady: true,
    })
    const local = new RateLimiterMemory(spec)
    const counter = new RLWrapperTimeouts({
      limiter: shared,
      insuranceLimiter: local,
      timeoutMs: LOGIN_COUNTER_WAIT_MS,
    })
    // A success forgives in each (what Redis was sent as it stalled runs there once it answers).
    const evaluate = (script: string, keys: string[], args: (string | number)[]) =>
      redis.client.eval(script, keys.length, ...keys, ...args)
    return Object.assign(counter, { stores: { shared, local, waitMs: LOGIN_COUNTER_WAIT_MS, evaluate } })
  }

/**
 * Makes this node one of several sharing `redis`:
 * - Socket.IO's Redis adapter (`@socket.io/redis-adapter`, classic pub/sub): any node can emit to any socket, and
 *   `serverSideEmit` carries the logged events to every node's sockets. Connection-state recovery is off (we resume
 *   from our own log), so the Streams adapter's advantage (recovery) would buy nothing;
 * - the socket cap and the conversation viewers as heartbeated entries (a killed node's expire within seconds);
 * - login throttling through `RateLimiterRedis`, in this node's memory while Redis is away (the send, join and typing budgets are `RedisRateLimiter`s on Redis's clock, made by the caller);
 * - revocations: a session revoked on one node is forgotten as live on every node, and each node checks its own
 *   sockets' sessions every `sessionRecheckMs` for a revocation whose broadcast it missed;
 * - its three Redis connections PINGed every `pingMs`, each connected again when it goes silent (`probeConnections`).
 *
 * @example const cluster = joinCluster(io, redis, sessions, 20, 5_000, 5_000, logger); …; await cluster.leave()
 */
export function joinCluster(
  io: TalemyServer,
  redis: RedisLink,
  sessions: SessionStore,
  maxSocketsPerUser: number,
  /** How often this node reads its sockets' sessions again (the bound on a revocation whose broadcast it missed). */
  sessionRecheckMs: number,
  /** How often this node PINGs its Redis connections (the bound on a dead one going unnoticed, plus 5 s). */
  pingMs: number,
  logger: Logger,
  /** The clock tokens are checked against, in ms (a shared viewer counts until its token's end). */
  now: () => number = Date.now,
) {
  watchPublishes(redis.pub, logger)
  watchCommands(redis.client, logger)
  const subscriptionsHeld = keepSubscriptions(redis.sub)
  io.adapter(createAdapter(redis.pub, redis.sub, { key: `${redis.prefix}socket.io` }))
  const entries = new NodeEntries(
    redis.client,
    (error) =>
      logger.warn(
        { err: error },
        `heartbeat failed (Redis away?): the other nodes stop counting this node's sockets and viewers ${ENTRY_TTL_MS / 1000} s after its last renewal`,
      ),
    () => logger.info('heartbeat renewed again: this node counts again on every node'),
    `${redis.prefix}entries:intact`,
  )
  entries.start()
  // A marker not written (Redis away) costs only a wait of the first capped adds.
  const subscribed = Promise.all([subscriptionsHeld(), entries.markIntact().catch(() => undefined)]).then(
    () => undefined,
  )
  // Awaited by `startServer` only before it listens: a throw before then must not leave it an unhandled rejection.
  subscribed.catch(() => undefined)
  io.on(REVOKED, (sessionId: string) => {
    sessions.noteRevokedElsewhere(sessionId)
    // The revoking node's disconnect has passed by now; a socket of that session whose handshake was finishing here
    // meanwhile (joining its session's room after it) is closed by this.
    io.local.in(sessionRoom(sessionId)).disconnectSockets(true)
  })
  const stopListening = sessions.onRevoked((sessionId) => io.serverSideEmit(REVOKED, sessionId))
  // Pub/sub is at most once: a revocation's broadcast can be lost (this node's subscriber reconnecting, the revoking
  // node dying between its commit and its publish, or its publish dropped while its Redis was away). So every
  // `sessionRecheckMs`, and at once when the subscriber is back (ioredis says `ready` at every connection after the
  // first) and its subscriptions hold again, this node reads the sessions of its own sockets again, in one query, and
  // closes those that ended. A subscriber back also tells whoever else lost notifications (the sockets' replay).
  const notificationsLost = new Set<() => void>()
  let checking: Promise<void> | undefined
  let checkAgain = false
  const checkSockets = (): Promise<void> => {
    if (checking) {
      checkAgain = true
      return checking
    }
    checking = (async () => {
      do {
        checkAgain = false
        const sessionIds = [...new Set(Array.from(io.of('/').sockets.values(), (socket) => socket.data.sessionId))]
        try {
          for (const sessionId of await sessions.endedAmong(sessionIds))
            io.local.in(sessionRoom(sessionId)).disconnectSockets(true)
        } catch (error) {
          logger.warn({ err: error }, 'session recheck failed')
        }
      } while (checkAgain)
    })().finally(() => (checking = undefined))
    return checking
  }
  const recheck = setInterval(() => void checkSockets(), sessionRecheckMs)
  recheck.unref()
  const resubscribed = () => {
    subscriptionsHeld().then(
      () => {
        sessions.forgetLive()
        void checkSockets()
        for (const listener of notificationsLost) listener()
      },
      // Dropped again before it held: its next `ready` asks again, and reads then.
      () => undefined,
    )
  }
  redis.sub.on('ready', resubscribed)
  // The same loss seen from the other side: this node's publisher was away, and the other nodes' subscribers, which
  // never dropped, have no way to know. What it published meanwhile was lost, or (a silent connection dropped, whose
  // unanswered commands ioredis sends again) reaches them now, after what was told since: a stale "offline" or
  // "online" would be the last word their sockets keep. Said once it is back, after those (one connection, in order),
  // so the other nodes resync their sockets and send fresh presence snapshots, as when their own subscriber is back.
  // A revocation it published meanwhile was lost too: the sessions are read again, as when the subscriber is back.
  io.on(PUBLISHER_BACK, () => {
    sessions.forgetLive()
    void checkSockets()
    for (const listener of notificationsLost) listener()
  })
  const publisherBack = () => io.serverSideEmit(PUBLISHER_BACK)
  redis.pub.on('ready', publisherBack)
  const stopProbing = probeConnections(redis, pingMs, logger)
  return {
    /** Resolves once Redis has confirmed the adapter's subscriptions and the entries' marker: a node listens then. */
    subscribed,
    slots: new SharedSocketSlots(redis, entries, maxSocketsPerUser),
    viewers: new SharedViewers(redis, entries, now),
    /** Puts this node's sockets and viewers back in Redis now, as the next heartbeat would (Redis lost its data). */
    renewEntries: () => entries.renew(),
    /** `listener` runs whenever this node's subscriber is back: what the other nodes published meanwhile was lost. */
    onNotificationsLost(listener: () => void) {
      notificationsLost.add(listener)
    },
    loginCounters: sharedLoginCounters(redis),
    async leave() {
      clearInterval(recheck)
      stopProbing()
      stopListening()
      redis.sub.off('ready', resubscribed)
      redis.pub.off('ready', publisherBack)
      await entries.stop()
    },
  }
}
