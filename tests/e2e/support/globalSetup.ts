import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build } from 'vite'
import type { TestProject } from 'vitest/node'
import { checkBrowser, discardSparticuz, resolveE2EBrowser, type CheckedBrowser } from './chromium'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The production build of the SPA, which the e2e servers serve (`startServer({ staticDir })`). */
    e2eSpaDir: string
    /** A development build of the same SPA: the store connects to Redux DevTools only in development. */
    e2eSpaDevDir: string
    /** The Chromium every e2e file launches (resolved and, for the npm one, unpacked once per run). */
    e2eBrowser: CheckedBrowser | { error: string }
  }
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const ENV_KEYS = ['NODE_ENV', 'VITE_API_URL', 'NEXT_PUBLIC_API_URL'] as const

/**
 * The e2e suite's setup, once per run: which Chromium every test file launches (checked and announced here, so files
 * starting at once never unpack it concurrently), and the SPA builds they serve.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // A browser that cannot be had fails the e2e files (in their beforeAll), not the unit tests of the same run.
  const browser = await checkedBrowser().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    process.stdout.write(`e2e: no browser for the end-to-end tests: ${message}\n`)
    return { error: message }
  })
  project.provide('e2eBrowser', browser)
  return buildSpa(project)
}

/** The browser for this run, checked (see `checkBrowser`), said once in the run's output. */
async function checkedBrowser(): Promise<CheckedBrowser> {
  const checked = await checkBrowser({
    resolve: () => resolveE2EBrowser(),
    versionOf: async ({ executablePath, args }) => {
      const browser = await chromium.launch({ executablePath, args, headless: true })
      try {
        return browser.version()
      } finally {
        await browser.close()
      }
    },
    discard: discardSparticuz,
  })
  process.stdout.write(`e2e: Chromium ${checked.version} from ${checked.source} (${checked.executablePath})\n`)
  return checked
}

/**
 * Builds the SPA once per test run, into temporary folders (not `dist/`, which `npm start` may be serving): the
 * production build for the tests, and a development build for the DevTools test. The pages talk to the server they
 * were loaded from, so the builds ignore any `VITE_API_URL` / `NEXT_PUBLIC_API_URL` of the shell and read no `.env`
 * file. `NODE_ENV` is set for each build: Vitest runs with `NODE_ENV=test`, which Vite would otherwise bake in.
 */
async function buildSpa(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now()
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]))
  const dirs: string[] = []
  try {
    delete process.env.VITE_API_URL
    delete process.env.NEXT_PUBLIC_API_URL
    for (const mode of ['production', 'development'] as const) {
      const outDir = await mkdtemp(path.join(os.tmpdir(), `talemy-e2e-spa-${mode}-`))
      dirs.push(outDir)
      process.env.NODE_ENV = mode
      await build({
        root,
        configFile: path.join(root, 'vite.config.ts'),
        mode,
        logLevel: 'warn',
        envDir: path.join(root, 'tests/e2e/support/env'),
        build: { outDir, emptyOutDir: true, sourcemap: false, minify: mode === 'production' },
      })
    }
  } finally {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  }
  process.stdout.write(
    `e2e: built the SPA (production and development) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  )
  project.provide('e2eSpaDir', dirs[0]!)
  project.provide('e2eSpaDevDir', dirs[1]!)
  return async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  }
}
