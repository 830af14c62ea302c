/**
 * `npm start`: builds the SPA when `dist/index.html` is missing or older than any file under `src/`, `public/`,
 * `index.html` or `vite.config.ts`, or was built with other VITE_/NEXT_PUBLIC_ variables, then serves it with the API
 * and Socket.IO on one port.
 * Environment: PORT (3000), HOST (127.0.0.1), DATA_DIR (.data), DATABASE_URL, REDIS_URL (several nodes; needs
 * DATABASE_URL), REDIS_PREFIX (talemy:), REDIS_PING_MS (5000), JWT_SECRET (at least 32 bytes when set),
 * ALLOWED_ORIGINS (comma-separated), SEED_DEMO (1/0; default: on only for the embedded database on a loopback host),
 * TRUST_PROXY, LOG_LEVEL (info), LOG_FORMAT (pretty on a terminal, json otherwise); SKIP_SPA_BUILD=1 (or true)
 * serves `dist/` as it is (or the API only) without building.
 */
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { REDIS_NEEDS_DATABASE, startServer, type RunningServer } from './index'
import { createLogger, defaultLogLevel, logFormatFor, type Logger } from './logger'
import {
  parseDatabaseUrl,
  parseHost,
  parsePort,
  parseSeedDemo,
  parseRedisPingMs,
  parseRedisPrefix,
  parseRedisUrl,
  parseSkipSpaBuild,
  parseTrustProxy,
} from './envConfig'
import { parseOriginList } from './origins'
import { buildSpaIfNeeded, builtAt, failedBuildNote } from './spa'
import { makeDataFolder } from './db/dataFolder'
import { lockFolder } from './db/lock'
import { checkPortFree, runningMessage } from './port'
import { checkJwtSecret } from './secrets'
import { isStartRefusal } from './errors'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const logger = mainLogger()

/** Readable on a terminal, JSON when piped or collected; a bad LOG_FORMAT stops the start with a sentence saying why. */
function mainLogger(): Logger {
  try {
    return createLogger(defaultLogLevel(), logFormatFor({ isTTY: process.stdout.isTTY, env: process.env }))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`)
    process.exit(1)
  }
}

/**
 * Read first: a typo in PORT or ALLOWED_ORIGINS is said at once, not after a whole SPA build. A wrong value is the
 * operator's to fix, so it is one sentence naming the variable and no stack trace of this file.
 */
function readOptions(distDir: string) {
  try {
    const options = {
      port: parsePort(process.env.PORT),
      host: parseHost(process.env.HOST),
      dataDir: process.env.DATA_DIR || join(root, '.data'),
      databaseUrl: parseDatabaseUrl(process.env.DATABASE_URL),
      redisUrl: parseRedisUrl(process.env.REDIS_URL),
      redisPrefix: parseRedisPrefix(process.env.REDIS_PREFIX),
      redisPingMs: parseRedisPingMs(process.env.REDIS_PING_MS),
      jwtSecret: checkJwtSecret(process.env.JWT_SECRET),
      allowedOrigins: parseOriginList(process.env.ALLOWED_ORIGINS),
      seedDemo: parseSeedDemo(process.env.SEED_DEMO),
      trustProxy: parseTrustProxy(process.env.TRUST_PROXY),
      staticDir: distDir,
      logger,
    }
    parseSkipSpaBuild(process.env.SKIP_SPA_BUILD)
    // `startServer` says these too, but only after the SPA build.
    if (options.redisUrl && !options.databaseUrl) throw new Error(REDIS_NEEDS_DATABASE)
    // The embedded database's folder, made once the values are read: one that cannot be is said with their mistakes.
    if (!options.databaseUrl) makeDataFolder(options.dataDir)
    return options
  } catch (error) {
    refuse(error)
  }
}

/** A start refused for what the operator is to fix: one sentence, no stack trace. */
function refuse(error: unknown): never {
  process.stderr.write(`\nTalemy could not start: ${(error as Error).message}\n\n`)
  process.exit(1)
}

async function main(): Promise<void> {
  const distDir = join(root, 'dist')
  const options = readOptions(distDir)
  let server: RunningServer | null = null
  let stopping = false
  let phase: 'building' | 'starting' = 'building'
  const building = new AbortController()
  const starting = new AbortController()
  let waitingForFolder = false
  const close = (running: RunningServer) => {
    // Each part of the close has its own bound (server/index.ts); what is left (the database's or Redis's goodbye) may
    // still never answer. The exit is then forced, and said: a bare exit code 1 read as a crash.
    const force = setTimeout(() => {
      logger.error(
        'the close took over 10 s: exiting without finishing it (the lines above say what it was waiting for)',
      )
      process.exit(1)
    }, 10_000)
    force.unref()
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  const stop = (signal: NodeJS.Signals | 'disconnect' | 'orphaned') => {
    if (stopping) {
      // A hangup reaches the foreground group, and the shell that dies of it sends its jobs another: not a person asking
      // again to exit at once.
      if (signal === 'SIGHUP') return
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    // During the SPA build, Vite is ended (a supervisor's signal reaches this process alone), and nothing starts.
    if (phase === 'building') return building.abort()
    // A first start can take seconds (the embedded database is made, the demo seeded): cut off there, it left no word.
    // It is said, and the start is let finish so that what it opened is closed, not abandoned half made (a start that
    // hangs is ended by a second signal, or by the supervisor's kill after its grace period).
    if (!server) {
      // Waiting (up to 10 s) for another server's data folder: nothing is opened yet, so the wait ends, nothing starts.
      starting.abort()
      if (waitingForFolder) return
      return logger.info({ signal }, 'stop asked during the start: the start finishes, then the server closes')
    }
    logger.info({ signal }, 'shutting down')
    close(server)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // The terminal closed (an ssh session dropped): Node's default for SIGHUP killed the server on the spot.
  process.on('SIGHUP', stop)
  // Started with an IPC channel (`npm run cluster`'s nodes, in sessions of their own): it closes when the parent ends,
  // however it ended (a SIGKILL too), and the node closes as on SIGTERM rather than run on with nobody to stop it.
  if (process.channel) {
    process.channel.unref()
    process.once('disconnect', () => {
      if (stopping) return
      logger.warn('the parent process is gone (its IPC channel closed)')
      stop('disconnect')
    })
  }
  // Under `npm start`, a shell stands between npm and this process: a SIGTERM to npm alone (a supervisor that signals
  // the pid it started, a `kill` of npm's pid) is passed to that shell, which ends at once, and npm with it; this
  // process ran on, reparented, holding the port and the data folder, with nothing left to stop it. Its parent gone, it
  // closes as on SIGTERM. (Only under npm: a server started from a shell that then exits is meant to run on.)
  if (process.env.npm_lifecycle_event) {
    const parent = process.ppid
    const watch = setInterval(() => {
      if (process.ppid === parent) return
      clearInterval(watch)
      if (stopping) return
      logger.warn({ parent }, 'the npm process that started this server is gone')
      stop('orphaned')
    }, 1_000)
    watch.unref()
  }
  logger.info({ node: process.version, pid: process.pid }, 'starting')

  // A port in use (another server still running) is said before the build too, which would rebuild `dist/` under it.
  await checkPortFree(options.port, options.host).catch(refuse)
  // So is the data folder held by another server (one on another PORT): taken and let go, as the port is, after the
  // same wait for a server that is stopping; a stop ends that wait.
  if (!options.databaseUrl) {
    const release = await lockFolder(options.dataDir, {
      signal: building.signal,
      onWait: (holder) =>
        logger.warn(
          { dataDir: options.dataDir, pid: holder?.pid },
          'the data folder is in use by another server: waiting up to 10 s for it to stop',
        ),
    }).catch((error: unknown) => {
      if (!(stopping && (error as Error | null)?.name === 'AbortError')) return refuse(error)
      logger.info('stop asked while waiting for the data folder: not starting')
      process.exit(0)
    })
    release()
  }
  // Nothing is open yet, so nothing to close.
  const built = await buildSpaIfNeeded(root, distDir, logger, building.signal)
  if (built === 'stopped' || stopping) {
    // Asked as Vite was ending by itself (or with no build to make): said here, as Vite's end says it otherwise.
    if (built !== 'stopped') logger.info('stop asked during the SPA build: not starting')
    process.exit(0)
  }
  phase = 'starting'
  const folderWait = {
    signal: starting.signal,
    onWait: () => {
      waitingForFolder = true
    },
    onWaitEnd: () => {
      waitingForFolder = false
    },
  }
  server = await startServer({ ...options, folderWait }).catch((error: unknown) => {
    if (!(stopping && (error as Error | null)?.name === 'AbortError')) throw error
    logger.info('stop asked while waiting for the data folder: not starting')
    process.exit(0)
  })
  if (stopping) return close(server)

  logger.info({ url: server.url }, 'ready')
  const note = built === 'failed' ? `, but ${failedBuildNote(builtAt(distDir))}` : ''
  process.stdout.write(`\n  ${runningMessage(server.url)}${note}\n\n`)
}

// Nothing may take the process down silently: log, and keep serving (each handler already answers its own errors).
process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'))

main().catch((error: unknown) => {
  // A refusal the operator is to act on is said, not a failure of the code: no stack trace to read past.
  if (isStartRefusal(error)) logger.fatal({ reason: (error as Error).message }, 'server failed to start')
  else logger.fatal({ err: error }, 'server failed to start')
  process.stderr.write(`\nTalemy could not start: ${error instanceof Error ? error.message : String(error)}\n\n`)
  process.exit(1)
})
