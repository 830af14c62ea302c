import { within } from './within'
import type { AddressInfo } from 'node:net'
import { TokenService, loadSigningKey } from './auth'
import { openDatabase, seedIfNew, shouldSeedDemo, type Db, type OpenDatabaseOptions, type PostgresTimeouts } from './db'
import { demoAccountsOpen, isLoopbackHost } from './db/seed'
import {
  DEFAULT_REFRESH_IDLE_SECONDS,
  DEFAULT_SESSION_MAX_SECONDS,
  DEFAULT_SESSION_RECHECK_MS,
  pruneEndedSessions,
  SessionStore,
} from './sessions'
import { createLogger, type LogLevel, type Logger } from './logger'
import { configureHttpApp, createHttpApp } from './http'
import { LoginThrottle, type LoginLimitOptions } from './loginThrottle'
import { KeyedMutex } from './mutex'
import { OriginPolicy } from './origins'
import { PasswordHasher, type PasswordHashing } from './passwords'
import {
  DEFAULT_HANDSHAKE_RATE_LIMIT,
  DEFAULT_JOIN_RATE_LIMIT,
  DEFAULT_REPLAY_LOOKUP_LIMIT,
  DEFAULT_RENEW_RATE_LIMIT,
  DEFAULT_RATE_LIMIT,
  DEFAULT_READ_RATE_LIMIT,
  DEFAULT_REFRESH_RATE_LIMIT,
  DEFAULT_LOGIN_RATE_LIMIT,
  DEFAULT_SOCKET_EVENT_RATE_LIMIT,
  RateLimiter,
  TYPING_RATE_LIMIT,
  type Limiter,
  type RateLimitOptions,
} from './rateLimit'
import { checkJwtSecret } from './secrets'
import { startRefusal } from './errors'
import { addressKey, requestAddress } from './clientAddress'
import {
  DEFAULT_MAX_SOCKETS_PER_USER,
  DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
  LiveDelivery,
  Notices,
  attachHandlers,
  createNotifier,
  createPresence,
  createSocketServer,
  DEFAULT_PRESENCE_GRACE_SECONDS,
  MemoryPresenceStore,
  PresenceTracker,
  type HandshakeGuard,
  type TalemyServer,
} from './realtime'
import { DEFAULT_LOG_TAIL_CHECK_MS, LogTailCheck } from './realtime/logTail'
import { SocketSlots } from './realtime/socketSlots'
import { healthProbe } from './health'
import { checkPortFree, explainListenError, urlFor } from './port'
import { createServices } from './services'
import { warmUpSends } from './services/warmUp'
import { connectRedis, holdsRedisPattern, REDIS_PATTERN_REFUSAL, type RedisLink } from './cluster/redis'
import { joinCluster } from './cluster'
import { RedisPresenceStore } from './cluster/shared'
import { DEFAULT_REDIS_PING_MS } from './cluster/connectionProbe'
import { RedisRateLimiter } from './cluster/tokenBucket'
import { EventLog } from './services/eventLog'
import { pruneIdempotencyKeys } from './services/idempotency'
import { ConversationMembers } from './services/members'

/**
 * How often logged events past their retention, idempotency keys past theirs, and ended sessions past theirs are
 * deleted (also once at start).
 */
const PRUNE_INTERVAL_MS = 10 * 60_000

export interface StartServerOptions {
  /** 0 = any free port. Default 3000. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Where the embedded database (PGlite) keeps its files. Default `.data`. */
  dataDir?: string
  /** Use this PostgreSQL server instead of the embedded database. */
  databaseUrl?: string
  /**
   * With `databaseUrl`: how long to wait for a connection (5 s) and for a statement (PostgreSQL's limit 15 s; the
   * client's, for a server that cannot answer at all, 5 s more). The URL's `connect_timeout` (s), `statement_timeout`
   * and `query_timeout` (ms) override them.
   */
  postgresTimeouts?: PostgresTimeouts
  /**
   * Several nodes: a Socket.IO Redis adapter, and the limits, socket cap, viewers and revocations shared through this
   * Redis. Needs `databaseUrl` (the embedded database belongs to one process).
   */
  redisUrl?: string
  /** Browser origins allowed for HTTP and the socket; default: this server's port on localhost and 127.0.0.1, and Vite's. */
  allowedOrigins?: string[]
  /** Access token lifetime. Default 900. */
  tokenTtlSeconds?: number
  /** A session ends this long after its last refresh. Default 7 days. */
  refreshIdleSeconds?: number
  /** A session ends this long after its login. Default 30 days. */
  sessionMaxSeconds?: number
  /**
   * With `redisUrl`: how long a node trusts a session it has seen live before reading it again, in ms, should it miss
   * another node's word of its revocation. Default 5,000. (One node hears every revocation itself: no rereading.)
   */
  sessionRecheckMs?: number
  /**
   * With `redisUrl` or `databaseUrl`: how often a node reads its users' log heads for an event whose notification
   * never came (its node died between commit and publish, pub/sub dropped it, or the commit's reply was lost), in ms;
   * such an event reaches the sockets within two periods. Default 5,000.
   */
  logTailCheckMs?: number
  /**
   * With `redisUrl`: how often a node PINGs each of its Redis connections (commands, publisher, subscriber), in ms; one
   * that answers two in a row with nothing within 5 s (a NAT or load balancer forgot it without a reset) is connected again: ioredis
   * would keep it for hours, every command on it timing out and the subscriber hearing nothing. Default 5,000.
   */
  redisPingMs?: number
  /** The clock, in ms (tests of expiry). Default `Date.now`; with Redis, the shared budgets default to Redis's clock. */
  now?: () => number
  /** Per-user budget for sends and other writes, socket and HTTP together. Default 10/s, bursts of 20. */
  rateLimit?: RateLimitOptions
  /** Seed the demo accounts (known password) and data. Default: only for the embedded database on a loopback host. */
  seedDemo?: boolean
  /** Failed-login throttling. Default 5 failures per email (and per email + address), 50 unknown-email failures per address, in 15 minutes. */
  loginLimit?: Partial<LoginLimitOptions>
  /**
   * Take the client address from `X-Forwarded-For` (Fastify's `trustProxy`): the number of proxies in front, or their
   * addresses. Never every hop (`true`): a client could name its own address. Default: the socket's address.
   */
  trustProxy?: number | string | string[]
  /** Sockets one user may hold at once; the next handshake fails with `RATE_LIMITED`. Default 20. */
  maxSocketsPerUser?: number
  /**
   * Engine.IO sessions one client address may hold open before a socket authenticates on them (by `trustProxy`, its
   * /64 for IPv6); the next handshake is refused (HTTP 429 `RATE_LIMITED` with `Retry-After`) until one closes or
   * authenticates. On each node. Default 100.
   */
  maxUnauthenticatedPerAddress?: number
  /** How long logged events are kept for resuming clients; older ones are pruned (a client that far behind gets `sync:gap`). Default 7 days. */
  eventRetentionSeconds?: number
  /** How long a user's last socket may be gone before they are shown offline (a reload does not flicker). Default 5. */
  presenceGraceSeconds?: number
  /**
   * The socket heartbeat: a ping this often, in ms, and a connection closed when its pong has not come within
   * `socketPingTimeoutMs`. A connection that died silently still has its reader looking at the conversation he joined
   * (what is sent to him marked read) until then. Default 10,000 each (`SOCKET_PING_INTERVAL_MS`, `_TIMEOUT_MS`).
   */
  socketPingIntervalMs?: number
  socketPingTimeoutMs?: number
  // --- extras beyond the contract ---
  /** Signing secret; default `JWT_SECRET`, else one generated once and kept in the database. */
  jwtSecret?: string
  /** The built SPA to serve (with an SPA fallback); none when absent or without index.html. */
  staticDir?: string
  /**
   * The embedded database's folder held by another server: `signal` (a stop) ends the wait for it at once, the start
   * then rejecting with an `AbortError`; `onWait` and `onWaitEnd` hear the wait begin and end.
   */
  folderWait?: OpenDatabaseOptions['folderWait']
  /** Prefix of every Redis key and channel, so two deployments can share one Redis. Default `talemy:`. */
  redisPrefix?: string
  /** Most events replayed to one resuming socket; further behind, it gets `sync:gap`. Default 1,000. */
  maxReplay?: number
  /** Per-user budget for `conversation:join`. Default 20/s, bursts of 50. */
  joinRateLimit?: RateLimitOptions
  /** Per-user budget for reads (`GET /api/...` once authenticated). Default 20/s, bursts of 100. */
  readRateLimit?: RateLimitOptions
  /**
   * Per-client-address budget for refresh tokens presented (`POST /api/auth/refresh`, and logout with one). Default
   * 1/s, bursts of 60. Past it, a refresh or logout with a Bearer this server signed (expired too) of a live session
   * spends its user's at that address instead (one budget for all of a user's sessions behind it: a login is no new
   * budget, and a Bearer spending it elsewhere does not hold up the user's devices behind a busy NAT).
   */
  refreshRateLimit?: RateLimitOptions
  /** Per-client-address budget for logins, whatever their outcome (each hashes a password). Default 5/s, bursts of 100. */
  loginRateLimit?: RateLimitOptions
  /** Per-user budget for socket handshakes (each reads the user's log). Default 10/s, bursts of 100. */
  handshakeRateLimit?: RateLimitOptions
  /** Per-user budget, on each node, for looking up a send past `rateLimit` (a replay's stored message). Default 5/s, bursts of 10. */
  replayLookupLimit?: RateLimitOptions
  /**
   * Per-socket budget for every event it sends, known or not; past it the socket is disconnected. Default 100/s, bursts
   * of 1,000 (`DEFAULT_SOCKET_EVENT_RATE_LIMIT` says why).
   */
  socketEventRateLimit?: RateLimitOptions
  /** Argon2id cost. Default OWASP's minimum (m = 19 MiB, t = 2, p = 1); only tests lower it. */
  passwordHashing?: PasswordHashing
  /** How long a client may take to send a whole request (its headers within it, at most 10 s). Default 30,000. */
  requestTimeoutMs?: number
  /**
   * How long a close waits for the socket events under way (a burst of sends) before it closes the database under them.
   * Default 2,000 (within `npm start`'s 10 s for the whole close); tests on a busy machine give it longer.
   */
  closeGraceMs?: number
  /** pino level; default silent under tests, else `LOG_LEVEL` or info. */
  logLevel?: LogLevel
  logger?: Logger
  /** Refuses chosen handshakes after authentication (tests: "the server is unreachable for this user"). Default none. */
  handshakeGuard?: HandshakeGuard
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:41234` */
  url: string
  /** The Socket.IO server, for tests. */
  io: TalemyServer
  close(): Promise<void>
  /** The port actually bound (useful with `port: 0`). */
  port: number
  /** The browser origins allowed, as resolved after listening. */
  allowedOrigins: string[]
}

/** Why `redisUrl` is refused without `databaseUrl`. */
export const REDIS_NEEDS_DATABASE =
  'REDIS_URL needs DATABASE_URL: several nodes share one PostgreSQL, and the embedded database (PGlite) belongs to one process'

/** The options that count something, that last, and that may be 0; each checked when given. */
const COUNTS = ['maxSocketsPerUser', 'maxUnauthenticatedPerAddress', 'maxReplay'] as const
const DURATIONS = [
  'tokenTtlSeconds',
  'refreshIdleSeconds',
  'sessionMaxSeconds',
  'sessionRecheckMs',
  'logTailCheckMs',
  'redisPingMs',
  'eventRetentionSeconds',
  'requestTimeoutMs',
  'socketPingIntervalMs',
  'socketPingTimeoutMs',
] as const
const MAY_BE_NONE = ['presenceGraceSeconds', 'closeGraceMs'] as const
const BUDGETS = [
  'rateLimit',
  'joinRateLimit',
  'readRateLimit',
  'refreshRateLimit',
  'loginRateLimit',
  'handshakeRateLimit',
  'replayLookupLimit',
  'socketEventRateLimit',
] as const

/**
 * Refuses a number no one can mean (or a Redis prefix read as a pattern), naming it, before anything opens: taken as given, eventRetentionSeconds NaN started
 * a server whose every resume failed (an invalid date), and a maxReplay of 0 answered every resume with a gap.
 */
function checkOptions(options: StartServerOptions): void {
  const refuse = (name: string, what: string, value: number) => {
    throw new RangeError(`startServer: ${name} must be ${what}, got ${value}`)
  }
  for (const name of COUNTS) {
    const value = options[name]
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0))
      refuse(name, 'a whole number above 0', value)
  }
  for (const name of DURATIONS) {
    const value = options[name]
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) refuse(name, 'a number above 0', value)
  }
  for (const name of MAY_BE_NONE) {
    const value = options[name]
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) refuse(name, 'a number of 0 or more', value)
  }
  // A perSecond of 0 answered every refusal with retryAfterMs Infinity (null on the wire); a NaN refused everything.
  for (const name of BUDGETS) {
    const budget = options[name]
    if (budget === undefined) continue
    if (!(Number.isFinite(budget.perSecond) && budget.perSecond > 0))
      refuse(`${name}.perSecond`, 'a number above 0', budget.perSecond)
    if (!(Number.isFinite(budget.burst) && budget.burst >= 1))
      refuse(`${name}.burst`, 'a number of 1 or more', budget.burst)
  }
  if (options.redisPrefix !== undefined && holdsRedisPattern(options.redisPrefix))
    throw new Error(`startServer: redisPrefix ${REDIS_PATTERN_REFUSAL}, got ${JSON.stringify(options.redisPrefix)}`)
  const { perEmail, perAddressUnknown, windowSeconds } = options.loginLimit ?? {}
  for (const [name, value] of [
    ['perEmail', perEmail],
    ['perAddressUnknown', perAddressUnknown],
  ] as const)
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0))
      refuse(`loginLimit.${name}`, 'a whole number above 0', value)
  // 0: one window that never ends (the counters never expire).
  if (windowSeconds !== undefined && !(Number.isFinite(windowSeconds) && windowSeconds >= 0))
    refuse('loginLimit.windowSeconds', 'a number of 0 or more', windowSeconds)
}

/**
 * Starts the Talemy API and Socket.IO server on one port.
 *
 * @example const server = await startServer({ port: 0, dataDir: tmp }); …; await server.close()
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  checkOptions(options)
  const logger = options.logger ?? createLogger(options.logLevel)
  // Refuse a weak secret before touching the database.
  const jwtSecret = checkJwtSecret(options.jwtSecret ?? process.env.JWT_SECRET)
  if (options.redisUrl && !options.databaseUrl) {
    throw new Error(REDIS_NEEDS_DATABASE)
  }
  await checkPortFree(options.port ?? 3000, options.host ?? '127.0.0.1')
  const redis = options.redisUrl ? await connectRedis(options.redisUrl, options.redisPrefix) : undefined
  let db: Db | undefined
  try {
    db = await openDatabase({
      databaseUrl: options.databaseUrl,
      dataDir: options.dataDir ?? '.data',
      logger,
      postgresTimeouts: options.postgresTimeouts,
      folderWait: options.folderWait,
    })
    return await startOn(db, redis, { ...options, jwtSecret }, logger)
  } catch (error) {
    await db?.close().catch(() => undefined)
    await redis?.close().catch(() => undefined)
    throw error
  }
}

async function startOn(
  db: Db,
  redis: RedisLink | undefined,
  options: StartServerOptions,
  logger: Logger,
): Promise<RunningServer> {
  const clock = options.now ?? Date.now
  const host = options.host ?? '127.0.0.1'
  const passwords = new PasswordHasher(options.passwordHashing)
  if (shouldSeedDemo({ seedDemo: options.seedDemo, databaseUrl: options.databaseUrl, host })) {
    const seeded = await seedIfNew(db, passwords, new Date(clock()))
    if (seeded) logger.warn('seeded the demo accounts (password "talemy"); SEED_DEMO=0 to start without them')
  } else if (!isLoopbackHost(host)) {
    // Not seeding does not remove those seeded before (a first start on this machine, then HOST=0.0.0.0): reachable
    // from the network, the published password would open them.
    const open = await demoAccountsOpen(db, passwords)
    if (open.length > 0)
      throw startRefusal(
        new Error(
          `the database holds demo accounts whose password is still the published "talemy" (${open.join(', ')}), and HOST=${host} ` +
            'is reachable from the network: delete them or change their passwords, use a new DATA_DIR, or start with SEED_DEMO=1 to serve them on purpose',
        ),
      )
  }
  const signingKey = await loadSigningKey(db, options.jwtSecret)
  const tokens = new TokenService(signingKey, { ttlSeconds: options.tokenTtlSeconds, now: clock })
  const idleSeconds = options.refreshIdleSeconds ?? DEFAULT_REFRESH_IDLE_SECONDS
  const sessions = new SessionStore(
    db,
    tokens,
    signingKey,
    {
      idleSeconds,
      maxSeconds: options.sessionMaxSeconds ?? DEFAULT_SESSION_MAX_SECONDS,
      ...(redis ? { recheckLiveMs: options.sessionRecheckMs ?? DEFAULT_SESSION_RECHECK_MS } : {}),
    },
    clock,
  )
  const origins = new OriginPolicy(options.allowedOrigins)
  // With Redis the shared budgets follow Redis's clock, one for every node (an injected `now` only in tests).
  const sharedBudget = (name: string, budget: RateLimitOptions): Limiter =>
    redis
      ? new RedisRateLimiter(redis.client, `${redis.prefix}${name}:`, budget, options.now)
      : new RateLimiter(budget, clock)
  const limiter = sharedBudget('send', options.rateLimit ?? DEFAULT_RATE_LIMIT)
  const joinLimiter = sharedBudget('join', options.joinRateLimit ?? DEFAULT_JOIN_RATE_LIMIT)
  const readLimiter = sharedBudget('read', options.readRateLimit ?? DEFAULT_READ_RATE_LIMIT)
  const handshakeLimiter = sharedBudget('handshake', options.handshakeRateLimit ?? DEFAULT_HANDSHAKE_RATE_LIMIT)
  const typingLimiter = sharedBudget('typing', TYPING_RATE_LIMIT)
  const refreshLimiter = sharedBudget('refresh', options.refreshRateLimit ?? DEFAULT_REFRESH_RATE_LIMIT)
  const loginLimiter = sharedBudget('login', options.loginRateLimit ?? DEFAULT_LOGIN_RATE_LIMIT)
  // On each node on its own (in memory even with Redis): it bounds this node's database work for one user's flood.
  const replayLookups = new RateLimiter(options.replayLookupLimit ?? DEFAULT_REPLAY_LOOKUP_LIMIT, clock)
  // The same: the signatures a user's renewals make this node check.
  const renewLimiter = new RateLimiter(DEFAULT_RENEW_RATE_LIMIT, clock)
  const eventLog = await EventLog.open(db, {
    maxReplay: options.maxReplay,
    retentionSeconds: options.eventRetentionSeconds,
    now: clock,
  })
  const prune = () =>
    Promise.all([
      eventLog.prune().then(
        (count) => count > 0 && logger.info({ count }, 'pruned logged events past their retention'),
        (error: unknown) => logger.warn({ err: error }, 'pruning logged events failed'),
      ),
      pruneIdempotencyKeys(db, new Date(clock())).then(
        (count) => count > 0 && logger.info({ count }, 'pruned idempotency keys past their time'),
        (error: unknown) => logger.warn({ err: error }, 'pruning idempotency keys failed'),
      ),
    ])
  await prune()
  // Ended sessions: in the background, one round at a time, from the start: the first round after an upgrade finds
  // every session ever made, and must not hold the listen. The close stops it between two statements.
  const stopPruningSessions = new AbortController()
  let pruningSessions: Promise<unknown> | undefined
  const pruneSessions = () => {
    pruningSessions ??= pruneEndedSessions(db, { now: clock(), idleSeconds, signal: stopPruningSessions.signal })
      .then(
        (count) => count > 0 && logger.info({ count }, 'pruned ended sessions'),
        (error: unknown) => logger.warn({ err: error }, 'pruning ended sessions failed'),
      )
      .finally(() => {
        pruningSessions = undefined
      })
  }
  pruneSessions()
  const sweep = setInterval(() => {
    limiter.sweep()
    joinLimiter.sweep()
    readLimiter.sweep()
    handshakeLimiter.sweep()
    replayLookups.sweep()
    renewLimiter.sweep()
    typingLimiter.sweep()
    refreshLimiter.sweep()
    loginLimiter.sweep()
  }, 60_000)
  sweep.unref()
  const pruning = setInterval(() => {
    void prune()
    pruneSessions()
  }, PRUNE_INTERVAL_MS)
  pruning.unref()

  // The HTTP app owns the Node server; Socket.IO attaches to it, and the services notify through Socket.IO.
  const app = createHttpApp(logger, { trustProxy: options.trustProxy, requestTimeoutMs: options.requestTimeoutMs })
  const addressOf = requestAddress(options.trustProxy)
  const io = createSocketServer(
    app.server,
    origins,
    {
      addressOf: (req) => addressKey(addressOf(req)),
      maxPerAddress: options.maxUnauthenticatedPerAddress ?? DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
    },
    eventLog.maxReplay,
    { pingIntervalMs: options.socketPingIntervalMs, pingTimeoutMs: options.socketPingTimeoutMs },
  )
  const maxSocketsPerUser = options.maxSocketsPerUser ?? DEFAULT_MAX_SOCKETS_PER_USER
  const cluster = redis
    ? joinCluster(
        io,
        redis,
        sessions,
        maxSocketsPerUser,
        options.sessionRecheckMs ?? DEFAULT_SESSION_RECHECK_MS,
        options.redisPingMs ?? DEFAULT_REDIS_PING_MS,
        logger,
        clock,
      )
    : undefined
  const delivery = new LiveDelivery()
  const notices = new Notices(io, cluster !== undefined)
  const members = new ConversationMembers(db)
  const services = createServices({
    db,
    tokens,
    sessions,
    limiter,
    replayLookups,
    notifier: createNotifier(io, delivery, eventLog, cluster !== undefined, logger),
    presence: cluster?.viewers ?? createPresence(io, clock),
    conversationLocks: new KeyedMutex(),
    members,
    now: () => new Date(clock()),
    passwords,
    loginThrottle: new LoginThrottle(options.loginLimit, cluster?.loginCounters),
    logger,
  })
  const slots = cluster?.slots ?? new SocketSlots(maxSocketsPerUser)
  const presence = new PresenceTracker({
    notices,
    db,
    members,
    // With Redis, the grace runs on Redis's clock, one for every node (an injected `now` only in tests).
    store: redis ? new RedisPresenceStore(redis, options.now) : new MemoryPresenceStore(),
    socketCount: (userId) => slots.count(userId),
    socketCounts: (userIds) => slots.counts(userIds),
    localUsers: () => delivery.liveUsers(),
    restoreLocal: cluster?.renewEntries,
    graceSeconds: options.presenceGraceSeconds ?? DEFAULT_PRESENCE_GRACE_SECONDS,
    now: clock,
    logger,
    // Alone, this node's users all go with it, and a crash skips its close; with Redis the other nodes' sweeps see them
    // go, unless every node was down, and the first back must not take its start as when they were last seen.
    notesSeen: true,
    sharedStore: cluster !== undefined,
  })
  if (!cluster)
    await presence
      .recoverSeen()
      .catch((error: unknown) => logger.warn({ err: error }, 'recording who was online at the last crash failed'))
  presence.start()
  configureHttpApp(app, {
    services,
    sessions,
    origins,
    staticDir: options.staticDir,
    readLimiter,
    refreshLimiter,
    loginLimiter,
    presenceFor: (userId) => presence.forAsker(userId),
    health: healthProbe([
      { name: 'database', check: () => db.query('select 1') },
      // Every connection: a node whose subscriber is gone hears no other node, one whose publisher is gone is heard by
      // none (its sends' notices, presence changes and revocations reach no other node's sockets).
      ...(redis
        ? [{ name: 'redis', check: () => Promise.all([redis.client.ping(), redis.pub.ping(), redis.sub.ping()]) }]
        : []),
    ]),
  })
  const handlers = attachHandlers(io, {
    services,
    sessions,
    handshakeGuard: options.handshakeGuard,
    logger,
    now: clock,
    joinLimiter,
    typingLimiter,
    renewLimiter,
    handshakeLimiter,
    socketEventRateLimit: options.socketEventRateLimit ?? DEFAULT_SOCKET_EVENT_RATE_LIMIT,
    maxSocketsPerUser,
    eventLog,
    delivery,
    notices,
    slots,
    viewerRegistry: cluster?.viewers,
    presence,
    onNotificationsLost: cluster?.onNotificationsLost,
  })
  // A failover under this running node (its new connections reach another timeline): the log takes another epoch, and
  // the sockets here are dropped, as a network drop (no kick, which would cost each client a token refresh), so their
  // clients resume with the old epoch and refetch across a gap. Each node sees it in its own connections, so each
  // drops its own; only those already there, whose resume or live events may have counted in the old epoch (a later
  // one's resume waits for the renewal). Dropped even when the renewal fails: a socket kept would be sent offsets its
  // client already holds, and its resume tries the renewal again.
  const stopWatchingFiles = db.onFilesChange?.(() => {
    const before = [...io.of('/').sockets.values()]
    eventLog
      .renew()
      .then(
        () => logger.warn({ epoch: eventLog.epoch }, 'the database is on another timeline: new event log epoch'),
        (error: unknown) => logger.error({ err: error }, 'renewing the event log epoch failed'),
      )
      // Each transport closed, not `disconnectSockets`, whose DISCONNECT packet reads as a kick.
      .finally(() => {
        for (const socket of before) socket.conn.close()
      })
  })
  // An event can be committed and never announced: its node died between the commit and the publish, pub/sub dropped
  // the word, or, on PostgreSQL, the commit's reply was lost (the sender's retry gets the stored message, which tells
  // nobody again). The embedded database commits in this process: nothing comes between its commit and the word.
  const logTail =
    cluster || db.kind === 'postgres'
      ? new LogTailCheck({
          delivery,
          heads: (userIds) => eventLog.heads(userIds),
          resync: handlers.resync,
          periodMs: options.logTailCheckMs ?? DEFAULT_LOG_TAIL_CHECK_MS,
          logger,
        })
      : undefined
  logTail?.start()

  // What was started above, stopped: by `close`, or at once if this node never listens (Redis lost before its first
  // subscriptions held, the port taken): `startServer` then closes the database and Redis, and nothing may go on
  // using them (the presence sweep, the heartbeat, the log-tail check).
  const stop = async () => {
    stopWatchingFiles?.()
    clearInterval(sweep)
    clearInterval(pruning)
    stopPruningSessions.abort()
    presence.stop()
    // Alone, this node's users all go with it (with Redis, the other nodes' sweeps see them go and say when). Waited
    // for at most 2 s: a database that does not answer must not hold the close (`npm start` gives it 10 s in all).
    if (!cluster) {
      const closing = presence
        .closing()
        .catch((error: unknown) => logger.warn({ err: error }, 'recording who went at the close failed'))
      if ((await within(closing, 2_000, 'late' as const)) === 'late')
        logger.warn('recording who went at the close took over 2 s: closing without it')
    }
    logTail?.stop()
    // Close the transports, not the Socket.IO sessions: clients see "transport close" (a network drop) and come
    // back with their own jittered backoff. A server-side disconnect ("io server disconnect") would read as a kick
    // to every client at once (the browser layer refreshes its token before reconnecting after one).
    io.engine.close()
    // The requests under way are answered, for at most 3 s: one whose body never comes (a client gone silent mid-upload,
    // a trickle) held the close for the whole request timeout (30 s), past `npm start`'s 10 s for all of it.
    const closingHttp = app.close()
    if ((await within(closingHttp, 3_000, 'late' as const)) === 'late') {
      logger.warn('HTTP requests under way took over 3 s to finish: closing their connections')
      app.server.closeAllConnections()
      await closingHttp
    }
    // The client events already taken (a burst of sends) finish before the database closes, which failed each of them
    // at level error; their answers go nowhere (the client sends again, and gets what was stored). At most 2 s.
    const graceMs = options.closeGraceMs ?? 2_000
    if ((await within(handlers.settled(), graceMs, 'late' as const)) === 'late')
      logger.warn(`socket events under way took over ${graceMs / 1000} s to finish: closing without them`)
    await cluster?.leave().catch((error: unknown) => logger.warn({ err: error }, 'leaving the cluster failed'))
    // Its statement under way (stopped since), for at most 2 s: the database closes after it.
    if ((await within(pruningSessions ?? Promise.resolve(), 2_000, 'late' as const)) === 'late')
      logger.warn('pruning ended sessions took over 2 s to stop: closing without it')
  }
  // The embedded database's first sends are slow (`warmUpSends`); PostgreSQL's first-use costs are per connection of a
  // pool, and several nodes share them.
  if (db.kind === 'pglite')
    await warmUpSends(db, new Date(clock())).then(
      (ms) => logger.info({ ms: Math.round(ms) }, 'warmed up the send path'),
      (error: unknown) =>
        logger.warn({ err: error }, 'warming up the send path failed: the first sends will be slower'),
    )
  try {
    await cluster?.subscribed
    await app.listen({ port: options.port ?? 3000, host })
  } catch (error) {
    await stop().catch(() => undefined)
    throw explainListenError(error, options.port ?? 3000, host)
  }
  const { port } = app.server.address() as AddressInfo
  const url = urlFor(host, port)
  origins.useDefaultsFor(port, url)
  logger.info({ url, origins: origins.list(), database: db.kind }, 'server listening')

  let closing: Promise<void> | undefined
  return {
    url,
    io,
    port,
    allowedOrigins: origins.list(),
    close() {
      closing ??= (async () => {
        await stop()
        await db.close()
        await redis?.close()
        logger.info('server closed')
      })()
      return closing
    },
  }
}
