import type { AddressInfo } from 'node:net'
import type { Id } from '../src/contract'
import { TokenService, loadSigningKey } from './auth'
import { openDatabase, type Db } from './db'
import { createLogger, type LogLevel, type Logger } from './logger'
import { configureHttpApp, createHttpApp } from './http'
import { KeyedMutex } from './mutex'
import { OriginPolicy } from './origins'
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rateLimit'
import {
  SocketBlocks,
  attachHandlers,
  blockUserSockets,
  createNotifier,
  createPresence,
  createSocketServer,
  type TalemyServer,
} from './realtime'
import { createServices } from './services'

export interface StartServerOptions {
  /** 0 = any free port. Default 3000. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Where the embedded database (PGlite) keeps its files. Default `.data`. */
  dataDir?: string
  /** Use this PostgreSQL server instead of the embedded database. */
  databaseUrl?: string
  /** Browser origins allowed for HTTP and the socket; default: this server's port on localhost and 127.0.0.1, and Vite's. */
  allowedOrigins?: string[]
  /** Token lifetime. Default 3600. */
  tokenTtlSeconds?: number
  /** Per-user budget for sends and other writes, socket and HTTP together. Default 10/s, bursts of 20. */
  rateLimit?: RateLimitOptions
  // --- extras beyond the contract ---
  /** Signing secret; default `JWT_SECRET`, else one generated once and kept in the database. */
  jwtSecret?: string
  /** How long after expiry a token may still be refreshed. Default 7 days. */
  refreshGraceSeconds?: number
  /** The built SPA to serve (with an SPA fallback); none when absent or without index.html. */
  staticDir?: string
  /**
   * The clock, in ms since the epoch (default `Date.now`): what the rate limiter refills by and what stored
   * timestamps say. Tests pass one they move themselves, so a limit or a window never depends on how fast the machine is.
   *
   * @example let t = Date.now(); startServer({ now: () => t }); …; t += 60_000
   */
  now?: () => number
  /** pino level; default silent under tests, else `LOG_LEVEL` or info. */
  logLevel?: LogLevel
  logger?: Logger
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:41234` */
  url: string
  /** The Socket.IO server, for tests. */
  io: TalemyServer
  close(): Promise<void>
  // --- test hooks ---
  /**
   * Closes every socket of `userId` (clients see a transport drop and reconnect) and refuses their handshakes with
   * `connect_error` "UNAVAILABLE" for `ms`. HTTP keeps working. `blockSockets(userId, 0)` (any `ms <= 0`) lifts the
   * block at once and drops nothing: tests can block for far longer than they need and lift it when they are done,
   * instead of betting on how long a step takes.
   *
   * @example server.blockSockets(userId, 10 * 60_000); …; server.blockSockets(userId, 0)
   */
  blockSockets(userId: Id, ms: number): void
  /** The port actually bound (useful with `port: 0`). */
  port: number
  /** The browser origins allowed, as resolved after listening. */
  allowedOrigins: string[]
}

/**
 * Starts the Talemy API and Socket.IO server on one port.
 *
 * @example const server = await startServer({ port: 0, dataDir: tmp }); …; await server.close()
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(options.logLevel)
  const db = await openDatabase({
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir ?? '.data',
    logger,
  })
  try {
    return await startOn(db, options, logger)
  } catch (error) {
    await db.close().catch(() => undefined)
    throw error
  }
}

async function startOn(db: Db, options: StartServerOptions, logger: Logger): Promise<RunningServer> {
  const tokens = new TokenService(await loadSigningKey(db, options.jwtSecret ?? process.env.JWT_SECRET), {
    ttlSeconds: options.tokenTtlSeconds,
    refreshGraceSeconds: options.refreshGraceSeconds,
  })
  const origins = new OriginPolicy(options.allowedOrigins)
  const now = options.now ?? Date.now
  const limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT, now)
  const sweep = setInterval(() => limiter.sweep(), 60_000)
  sweep.unref()

  // The HTTP app owns the Node server; Socket.IO attaches to it, and the services notify through Socket.IO.
  const app = createHttpApp(logger)
  const io = createSocketServer(app.server, origins)
  const services = createServices({
    db,
    tokens,
    limiter,
    notifier: createNotifier(io),
    presence: createPresence(io),
    conversationLocks: new KeyedMutex(),
    now: () => new Date(now()),
  })
  configureHttpApp(app, { services, tokens, origins, staticDir: options.staticDir })
  const blocks = new SocketBlocks()
  attachHandlers(io, { services, tokens, blocks, logger })

  await app.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  origins.useDefaultsFor(port)
  const host = options.host ?? '127.0.0.1'
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  const url = `http://${urlHost}:${port}`
  logger.info({ url, origins: origins.list(), database: db.kind }, 'server listening')

  let closing: Promise<void> | undefined
  return {
    url,
    io,
    port,
    allowedOrigins: origins.list(),
    blockSockets: (userId, ms) => blockUserSockets(io, blocks, userId, ms),
    close() {
      closing ??= (async () => {
        clearInterval(sweep)
        // Close the transports, not the Socket.IO sessions: clients see "transport close" (a network drop) and come
        // back with their own jittered backoff. A server-side disconnect ("io server disconnect") would read as a kick
        // to every client at once (the browser layer refreshes its token before reconnecting after one).
        io.engine.close()
        await app.close()
        await db.close()
        logger.info('server closed')
      })()
      return closing
    },
  }
}
