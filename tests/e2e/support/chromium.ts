import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { userTmpdir } from '../../support/userTmp'

/**
 * Which Chromium the end-to-end tests drive, resolved once per run by the e2e global setup and handed to every test
 * file (`inject('e2eBrowser')`), so test files never unpack or pick a browser themselves.
 */
export interface E2EBrowser {
  executablePath: string
  args: string[]
  /** Where it came from, for the log line: `@sparticuz/chromium 147.0.0` or `CHROME_PATH`. */
  source: string
  /** The Chromium major the source promises (the npm package's own major), or null when nothing is promised. */
  expectedMajor: number | null
}

/** The flags TOOLCHAIN.md found to work for a system Chromium here. */
export const SYSTEM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * True when a browser's version (`browser.version()`, e.g. `147.0.7727.0`) has the major a package version promises
 * (`@sparticuz/chromium` 147.0.0 ships Chromium 147).
 *
 * @example sameMajor('147.0.7727.0', 147) // true
 */
export function sameMajor(browserVersion: string, expectedMajor: number): boolean {
  return Number.parseInt(browserVersion.split('.')[0] ?? '', 10) === expectedMajor
}

/** The folder the npm Chromium of one package version lives in; another version never shares it. */
export function sparticuzDir(packageVersion: string, base = userTmpdir()): string {
  return join(base, `talemy-chromium-${packageVersion}`)
}

const require = createRequire(import.meta.url)

function sparticuzVersion(): string {
  const manifest = join(dirname(require.resolve('@sparticuz/chromium')), '../../package.json')
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
}

/**
 * The browser a fresh clone gets: the Chromium inside `@sparticuz/chromium`. `CHROME_PATH` is the explicit opt-in to
 * another one (a system Chromium or Chrome); nothing found on the machine is preferred silently.
 */
export async function resolveE2EBrowser(env: NodeJS.ProcessEnv = process.env): Promise<E2EBrowser> {
  if (env.CHROME_PATH)
    return { executablePath: env.CHROME_PATH, args: SYSTEM_ARGS, source: 'CHROME_PATH', expectedMajor: null }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `@sparticuz/chromium ships a Chromium for Linux x64 only (this is ${process.platform}/${process.arch}): ` +
        'set CHROME_PATH to a local Chrome or Chromium to run the end-to-end tests',
    )
  }
  const { default: sparticuz } = await import('@sparticuz/chromium')
  const version = sparticuzVersion()
  // Its flags are tuned for AWS Lambda; `--single-process` makes the browser die when a context closes and another
  // opens, and the tests open several contexts per browser, so that one goes.
  const args = sparticuz.args.filter((a) => a !== '--single-process')
  return {
    executablePath: await unpackSparticuz(version, sparticuz.executablePath.bind(sparticuz)),
    args,
    source: `@sparticuz/chromium ${version}`,
    expectedMajor: Number.parseInt(version.split('.')[0] ?? '', 10),
  }
}

const READY = 'READY'

/**
 * Unpacks the package's Chromium into a folder named after the package version, once per machine.
 *
 * The package itself unpacks into `os.tmpdir()` and reuses whatever `chromium` (and SwiftShader libraries) it finds
 * there, whichever version put them there, and two processes unpacking at once make each other fail (`ETXTBSY`).
 * So the unpack goes into a fresh staging folder (the package reads `TMPDIR` through `os.tmpdir()`), which is renamed
 * into place only when complete; a run that loses the rename race keeps the winner's copy.
 */
export async function unpackSparticuz(
  version: string,
  executablePath: () => Promise<string>,
  base = userTmpdir(),
): Promise<string> {
  mkdirSync(base, { recursive: true })
  const dir = sparticuzDir(version, base)
  if (existsSync(join(dir, READY))) return join(dir, 'chromium')
  rmSync(dir, { recursive: true, force: true })
  const staging = mkdtempSync(`${dir}-unpacking-`)
  const savedTmpdir = process.env.TMPDIR
  let unpacked: Promise<string>
  try {
    // The package computes every output path synchronously inside this call; the check below proves it did.
    process.env.TMPDIR = staging
    unpacked = executablePath()
  } finally {
    if (savedTmpdir === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = savedTmpdir
  }
  try {
    const path = await unpacked
    if (path !== join(staging, 'chromium'))
      throw new Error(`@sparticuz/chromium unpacked to ${path}, not into ${staging}`)
    writeFileSync(join(staging, READY), `${version}\n`)
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    throw error
  }
  try {
    renameSync(staging, dir)
  } catch {
    rmSync(staging, { recursive: true, force: true })
    if (!existsSync(join(dir, READY))) throw new Error(`could not move the unpacked Chromium into ${dir}`)
  }
  return join(dir, 'chromium')
}

/** Forgets an unpacked copy (it turned out to be another version), so the next `unpackSparticuz` starts over. */
export function discardSparticuz(executablePath: string): void {
  rmSync(dirname(executablePath), { recursive: true, force: true })
}

export interface CheckedBrowser extends E2EBrowser {
  /** What the browser said it is (`browser.version()`). */
  version: string
}

/**
 * The browser for a run, checked: the npm Chromium must be the major its package declares. A copy of another version
 * is discarded and unpacked again, once; a second mismatch is an error, never a silent run on another browser.
 *
 * @example await checkBrowser({ resolve: resolveE2EBrowser, versionOf: launchAndAskVersion, discard: discardSparticuz })
 */
export async function checkBrowser(edges: {
  resolve: () => Promise<E2EBrowser>
  versionOf: (browser: E2EBrowser) => Promise<string>
  discard: (executablePath: string) => void
}): Promise<CheckedBrowser> {
  for (let attempt = 1; ; attempt++) {
    const choice = await edges.resolve()
    const version = await edges.versionOf(choice)
    if (choice.expectedMajor === null || sameMajor(version, choice.expectedMajor)) return { ...choice, version }
    if (attempt === 2) {
      throw new Error(
        `${choice.source} should run Chromium ${choice.expectedMajor}, but ${choice.executablePath} is ${version}`,
      )
    }
    edges.discard(choice.executablePath)
  }
}
