import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { BUILD_ENV_FILE, buildEnvOf } from './buildEnv.js'
import { parseSkipSpaBuild } from './envConfig'
import type { Logger } from './logger'

export { BUILD_ENV_FILE, buildEnvOf }

/** What the SPA build reads (relative to the project root): a change to any of them makes `dist/` stale. */
export const SPA_SOURCES = ['src', 'index.html', 'public', 'vite.config.ts'] as const

export type SpaBuildDecision =
  | { build: true; reason: 'missing' | 'stale' | 'env' }
  | { build: false; reason: 'skipped' | 'fresh' | 'no-source' }

export interface SpaState {
  /** SKIP_SPA_BUILD=1: serve `dist/` as it is (or the API only). */
  skip: boolean
  /** Whether there is an SPA to build (`src/main.tsx`). */
  hasSource: boolean
  /** mtime of `dist/index.html` in ms, undefined when there is no build. */
  builtAtMs: number | undefined
  /** Newest mtime among the SPA's sources in ms, undefined when none exist. */
  newestSourceMs: number | undefined
  /** The build's stamp (`BUILD_ENV_FILE`), undefined when it has none; compared with `env` when given. */
  builtEnv?: string | undefined
  /** The build-time variables now (`buildEnvOf(process.env)`). */
  env?: string
}

/**
 * Whether `npm start` must (re)build the SPA: when there is no build, or when a source is newer than the build (a
 * `git pull` or an edit since). Without sources, whatever is built is served as it is.
 *
 * @example spaBuildDecision({ skip: false, hasSource: true, builtAtMs: 1, newestSourceMs: 2 }) // { build: true, reason: 'stale' }
 */
export function spaBuildDecision({
  skip,
  hasSource,
  builtAtMs,
  newestSourceMs,
  builtEnv,
  env,
}: SpaState): SpaBuildDecision {
  if (skip) return { build: false, reason: 'skipped' }
  if (!hasSource) return { build: false, reason: 'no-source' }
  if (builtAtMs === undefined) return { build: true, reason: 'missing' }
  if (newestSourceMs !== undefined && newestSourceMs > builtAtMs) return { build: true, reason: 'stale' }
  // A build without a stamp (made before there was one) is made again once: what it baked in cannot be told.
  if (env !== undefined && builtEnv !== env) return { build: true, reason: 'env' }
  return { build: false, reason: 'fresh' }
}

/** The newest mtime (ms) of the files at `paths`, folders walked recursively; undefined when there are none. */
export function newestMtime(paths: readonly string[]): number | undefined {
  let newest: number | undefined
  const visit = (path: string) => {
    let stat
    try {
      stat = statSync(path)
    } catch {
      return // missing (or vanished meanwhile)
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry))
    } else if (newest === undefined || stat.mtimeMs > newest) {
      newest = stat.mtimeMs
    }
  }
  for (const path of paths) visit(path)
  return newest
}

/** The current state of `root`'s SPA build (reads the file system). */
export function spaState(root: string, distDir: string, env: NodeJS.ProcessEnv = process.env): SpaState {
  let builtEnv: string | undefined
  try {
    builtEnv = readFileSync(join(distDir, BUILD_ENV_FILE), 'utf8')
  } catch {
    builtEnv = undefined // no stamp: a build from before there was one
  }
  return {
    skip: parseSkipSpaBuild(env.SKIP_SPA_BUILD),
    hasSource: existsSync(join(root, 'src', 'main.tsx')),
    builtAtMs: builtAt(distDir),
    newestSourceMs: newestMtime(SPA_SOURCES.map((path) => join(root, path))),
    builtEnv,
    env: buildEnvOf(env),
  }
}

/** When the build in `distDir` was made (mtime of its `index.html`, ms); undefined when there is none. */
export function builtAt(distDir: string): number | undefined {
  const index = join(distDir, 'index.html')
  return existsSync(index) ? statSync(index).mtimeMs : undefined
}

/**
 * What `npm start`'s "open <url>" line says after a failed build: Vite's error has scrolled up under the start's logs
 * by then, and the page served is not the sources just edited (the previous build, or no page at all).
 *
 * @example failedBuildNote(Date.UTC(2026, 11, 7, 8, 12))
 * // 'the SPA build failed (see the error above): the page is the previous build, of 2026-12-07 08:12 UTC, out of date'
 */
export function failedBuildNote(builtAtMs: number | undefined): string {
  const failed = 'the SPA build failed (see the error above)'
  if (builtAtMs === undefined) return `${failed} and there is no previous build: the API alone, the page answers 404`
  const when = new Date(builtAtMs).toISOString().slice(0, 16).replace('T', ' ')
  return `${failed}: the page is the previous build, of ${when} UTC, out of date`
}

/**
 * The command that runs Vite: node itself on `vite/bin/vite.js` (not `node_modules/.bin/vite`, a shell script on
 * POSIX and `vite.cmd` on Windows).
 */
export function viteCommand(root: string): { command: string; args: string[] } {
  return { command: process.execPath, args: [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'] }
}

/**
 * Builds the SPA into `distDir` when it is missing or older than its sources; says so when there is then still no
 * build to serve (skipped, failed, or no sources), as the page would answer a bare 404. `stopped`: Vite was ended by
 * a stop signal (a Ctrl-C, or `stop` aborted: Vite is then sent SIGTERM), and the start is to be called off. `failed`:
 * the build failed (or Vite is not installed), and what `distDir` held before is served, if anything.
 */
export async function buildSpaIfNeeded(
  root: string,
  distDir: string,
  logger: Logger,
  stop?: AbortSignal,
): Promise<'built' | 'stopped' | 'failed'> {
  const outcome = await build(root, distDir, logger, stop)
  if (outcome === 'stopped') return 'stopped'
  if (builtAt(distDir) === undefined) {
    logger.warn(
      { dist: distDir },
      'no built SPA (no index.html): serving the API only, the page answers 404 (npm run build, or start without SKIP_SPA_BUILD)',
    )
  }
  return outcome ?? 'built'
}

/** The signals by which a person or a supervisor asks to stop; Vite ended by another (an OOM kill) is a failed build. */
const STOP_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'])

async function build(
  root: string,
  distDir: string,
  logger: Logger,
  stop?: AbortSignal,
): Promise<'stopped' | 'failed' | undefined> {
  const decision = spaBuildDecision(spaState(root, distDir))
  if (!decision.build) return
  const { command, args } = viteCommand(root)
  if (!existsSync(args[0]!)) {
    logger.error({ vite: args[0] }, 'vite is not installed (npm install): serving what is built, if anything')
    return 'failed'
  }
  logger.info(
    { reason: decision.reason },
    decision.reason === 'stale'
      ? 'sources changed since the last build: rebuilding the SPA (vite build)…'
      : decision.reason === 'env'
        ? 'VITE_/NEXT_PUBLIC_ variables differ from the last build: rebuilding the SPA (vite build)…'
        : 'building the SPA (vite build)…',
  )
  // Not waited for synchronously: a supervisor's SIGTERM reaches this process alone (not Vite), which, blocked in the
  // build, heard it only once the build was done, and then made the database before closing. `stop` ends Vite now.
  const result = await new Promise<{ status: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      // Vite bakes NODE_ENV in: a shell's NODE_ENV=development made a development build (React's, the Redux DevTools
      // link, RTK's checks), served, and called fresh by later starts (the stamp does not hold NODE_ENV).
      const env = { ...process.env, NODE_ENV: 'production' }
      const vite = spawn(command, args, { cwd: root, stdio: 'inherit', env })
      const end = () => vite.kill('SIGTERM')
      stop?.addEventListener('abort', end, { once: true })
      vite.once('error', (error) => {
        stop?.removeEventListener('abort', end)
        resolve({ status: null, signal: null, error })
      })
      vite.once('exit', (status, signal) => {
        stop?.removeEventListener('abort', end)
        resolve({ status, signal })
      })
      if (stop?.aborted) end()
    },
  )
  // A Ctrl-C reaches the whole process group: Vite ends with it. The stop is taken from Vite's end.
  if (result.signal && STOP_SIGNALS.has(result.signal)) {
    logger.info({ signal: result.signal }, 'stop asked during the SPA build: not starting')
    return 'stopped'
  }
  if (result.status !== 0) {
    logger.error(
      { status: result.status, error: result.error?.message },
      'vite build failed: serving what is built, if anything',
    )
    return 'failed'
  }
}
