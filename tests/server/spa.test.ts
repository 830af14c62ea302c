import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  buildEnvOf,
  buildSpaIfNeeded,
  failedBuildNote,
  newestMtime,
  spaBuildDecision,
  spaState,
  viteCommand,
} from '../../server/spa'
import { freshDataDir, repoRoot, spawnStart } from './support/server'

// `npm start` rebuilds the SPA when the build is missing or older than its sources (server/spa.ts).

describe('spaBuildDecision', () => {
  const base = { skip: false, hasSource: true, builtAtMs: 1_000, newestSourceMs: 500 }

  it.each([
    ['no build yet', { builtAtMs: undefined }, { build: true, reason: 'missing' }],
    [
      'a source newer than the build (a git pull, an edit)',
      { newestSourceMs: 1_001 },
      { build: true, reason: 'stale' },
    ],
    ['every source older than the build', {}, { build: false, reason: 'fresh' }],
    ['a source exactly as old as the build', { newestSourceMs: 1_000 }, { build: false, reason: 'fresh' }],
    ['no sources found at all', { newestSourceMs: undefined }, { build: false, reason: 'fresh' }],
    ['SKIP_SPA_BUILD=1 with a stale build', { skip: true, newestSourceMs: 5_000 }, { build: false, reason: 'skipped' }],
    ['SKIP_SPA_BUILD=1 with no build', { skip: true, builtAtMs: undefined }, { build: false, reason: 'skipped' }],
    [
      'no SPA source to build (src/main.tsx absent)',
      { hasSource: false, newestSourceMs: 5_000 },
      { build: false, reason: 'no-source' },
    ],
  ] as const)('%s', (_name, change, expected) => {
    expect(spaBuildDecision({ ...base, ...change })).toEqual(expected)
  })
})

describe('the file system side', () => {
  let root: string
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  const touch = (path: string, seconds: number) => {
    mkdirSync(join(path, '..'), { recursive: true })
    writeFileSync(path, 'x')
    utimesSync(path, seconds, seconds)
  }

  it('newestMtime walks folders, and ignores missing paths', () => {
    root = mkdtempSync(join(tmpdir(), 'talemy-spa-'))
    touch(join(root, 'src', 'a.ts'), 1_000)
    touch(join(root, 'src', 'deep', 'er', 'b.tsx'), 3_000)
    touch(join(root, 'index.html'), 2_000)
    expect(newestMtime([join(root, 'src'), join(root, 'index.html'), join(root, 'nope')])).toBe(3_000_000)
    expect(newestMtime([join(root, 'nope')])).toBeUndefined()
  })

  it('spaState reads the build time and the newest of src/, public/, index.html and vite.config.ts', () => {
    root = mkdtempSync(join(tmpdir(), 'talemy-spa-'))
    const dist = join(root, 'dist')
    touch(join(root, 'src', 'main.tsx'), 1_000)
    expect(spaState(root, dist, {})).toEqual({
      skip: false,
      hasSource: true,
      builtAtMs: undefined,
      newestSourceMs: 1_000_000,
      builtEnv: undefined,
      env: '{}',
    })
    touch(join(dist, 'index.html'), 2_000)
    // A build without the stamp its Vite leaves (made before there was one): what it baked in cannot be told.
    expect(spaBuildDecision(spaState(root, dist, {}))).toEqual({ build: true, reason: 'env' })
    writeFileSync(join(dist, '.build-env.json'), '{}')
    expect(spaBuildDecision(spaState(root, dist, {}))).toEqual({ build: false, reason: 'fresh' })
    for (const [file, at] of [
      ['public/favicon.svg', 3_000],
      ['vite.config.ts', 4_000],
      ['index.html', 5_000],
      ['src/app/App.tsx', 6_000],
    ] as const) {
      touch(join(root, file), at)
      expect(spaState(root, dist, {}).newestSourceMs).toBe(at * 1000)
      expect(spaBuildDecision(spaState(root, dist, {}))).toEqual({ build: true, reason: 'stale' })
    }
    // Other files (tests, the server, docs) do not make the SPA stale.
    touch(join(root, 'tests', 'x.test.ts'), 9_000)
    touch(join(root, 'server', 'main.ts'), 9_000)
    expect(spaState(root, dist, {}).newestSourceMs).toBe(6_000_000)
    expect(spaState(root, dist, { SKIP_SPA_BUILD: '1' }).skip).toBe(true)
    // As SEED_DEMO reads it: `true` was taken for "build".
    expect(spaState(root, dist, { SKIP_SPA_BUILD: 'true' }).skip).toBe(true)
    expect(spaState(root, dist, { SKIP_SPA_BUILD: '0' }).skip).toBe(false)
  })
})

describe('buildSpaIfNeeded with no build to serve', () => {
  afterEach(() => vi.unstubAllEnvs())

  // SKIP_SPA_BUILD=1 where dist/ was never built (an image that did not copy it): the page answers a JSON 404 while
  // npm start prints "open <url>"; the log says why.
  it('says the API only is served when SKIP_SPA_BUILD=1 finds no dist/index.html', async () => {
    const root = mkdtempSync(join(tmpdir(), 'talemy-spa-'))
    try {
      mkdirSync(join(root, 'src'))
      writeFileSync(join(root, 'src', 'main.tsx'), 'x')
      vi.stubEnv('SKIP_SPA_BUILD', '1')
      const warned: unknown[][] = []
      await buildSpaIfNeeded(root, join(root, 'dist'), { warn: (...args: unknown[]) => warned.push(args) } as never)
      expect(warned).toEqual([
        [{ dist: join(root, 'dist') }, expect.stringMatching(/^no built SPA \(no index\.html\): serving the API only/)],
      ])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

// A Ctrl-C during a first `npm start` reaches the whole process group: Vite ends by the signal while `npm start`,
// blocked in the build, has yet to hear it. It went on to make the database for 15 s and said the build failed.
describe('a build ended by a signal', () => {
  let root: string
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  /** A project whose Vite ends itself by `signal`, and what the build logs at each level. */
  const buildEndedBy = async (signal: NodeJS.Signals) => {
    root = mkdtempSync(join(tmpdir(), 'talemy-spa-'))
    mkdirSync(join(root, 'src'))
    writeFileSync(join(root, 'src', 'main.tsx'), 'x')
    mkdirSync(join(root, 'node_modules', 'vite', 'bin'), { recursive: true })
    writeFileSync(join(root, 'node_modules', 'vite', 'bin', 'vite.js'), `process.kill(process.pid, '${signal}')\n`)
    const logged: Record<'info' | 'warn' | 'error', string[]> = { info: [], warn: [], error: [] }
    const at = (level: keyof typeof logged) => (_fields: unknown, message: string) => logged[level].push(message)
    const outcome = await buildSpaIfNeeded(root, join(root, 'dist'), {
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
    } as never)
    return { outcome, logged }
  }

  it.each(['SIGINT', 'SIGTERM'] as const)('%s: a stop, said as one, and the start is called off', async (signal) => {
    const { outcome, logged } = await buildEndedBy(signal)
    expect(outcome).toBe('stopped')
    expect(logged.info.at(-1)).toBe('stop asked during the SPA build: not starting')
    expect(logged.warn).toEqual([])
    expect(logged.error).toEqual([])
  })

  it('SIGKILL (the kernel out of memory, say): a failed build, and the API alone is served', async () => {
    const { outcome, logged } = await buildEndedBy('SIGKILL')
    expect(outcome).toBe('failed')
    expect(logged.error).toEqual(['vite build failed: serving what is built, if anything'])
    expect(logged.warn).toEqual([expect.stringMatching(/^no built SPA \(no index\.html\): serving the API only/)])
  })
})

// `docker stop` or `systemctl stop` during a first start: the supervisor signals `npm start` alone, not Vite. Blocked in
// the build, it heard the SIGTERM only once the build was done, then made and seeded the database before closing: a
// stop that took the whole build and more (Docker's 10 s ran out, and it was SIGKILLed).
describe('npm start stopped during its SPA build', () => {
  it('ends the build and does not start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'talemy-spa-stop-'))
    // Its own group, for the cleanup below: the signal under test goes to `npm start` alone.
    const child = spawnStart({ DATA_DIR: dataDir }, { freshBuild: true, detached: true })
    let output = ''
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString()
          if (/building the SPA/.test(output)) resolve()
        }
        child.stdout.on('data', onData)
        child.stderr.on('data', onData)
        void exit.then(() => reject(new Error(`exited before building:\n${output}`)))
      })
      child.kill('SIGTERM')
      expect(await exit, output).toBe(0)
      // Its last line, written as it exits, may still be in its pipes at its 'exit' ('close' would wait for Vite's
      // processes too, which share them): waited for.
      await vi.waitFor(() => expect(output).toContain('stop asked during the SPA build: not starting'), {
        timeout: 10_000,
      })
      expect(output).not.toMatch(/database ready|server listening/)
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // gone already
      }
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)
})

// A failed SPA build (a syntax error in src/) does not stop `npm start`: it serves the previous dist/, or none. Its
// line "Talemy is running: open http://…" said nothing of it, the error having scrolled up under the start's logs: the
// user opened an out-of-date page (or a 404) and took it for the sources they had just edited.
describe('npm start after a failed SPA build', () => {
  it('failedBuildNote names the previous build by its date (UTC), or says there is none', () => {
    const failed = 'the SPA build failed (see the error above)'
    expect(failedBuildNote(Date.UTC(2026, 11, 7, 8, 12, 59))).toBe(
      `${failed}: the page is the previous build, of 2026-12-07 08:12 UTC, out of date`,
    )
    expect(failedBuildNote(undefined)).toBe(
      `${failed} and there is no previous build: the API alone, the page answers 404`,
    )
  })

  it('its "open" line says the build failed, and which SPA the page is (the previous build, or none)', async () => {
    const dataDir = freshDataDir()
    const index = join(repoRoot, 'dist', 'index.html')
    const previous = existsSync(index) ? statSync(index).mtimeMs : undefined
    // Built whatever `dist/` holds, and the build fails.
    const child = spawnStart(
      { DATA_DIR: dataDir, NODE_OPTIONS: `--import ${join(repoRoot, 'tests/server/support/failViteBuild.mjs')}` },
      { freshBuild: true },
    )
    let output = ''
    const exit = new Promise<string>((resolve) => child.once('close', (code, signal) => resolve(`${code} ${signal}`)))
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString()
          const found = /^.*open http:\/\/.*$/m.exec(output)
          if (found) resolve(found[0])
        }
        child.stdout.on('data', onData)
        child.stderr.on('data', onData)
        void exit.then(() => reject(new Error(`exited before serving:\n${output}`)))
      })
      expect(output).toContain('vite build failed')
      expect(line).toMatch(
        /^\s*Talemy is running: open http:\/\/127\.0\.0\.1:\d+, but the SPA build failed \(see the error above\)/,
      )
      // Whichever `dist/` this checkout has: the test leaves it as it is (and so does the build that fails).
      expect(line).toContain(`, but ${failedBuildNote(previous)}`)
      child.kill('SIGTERM')
      expect(await exit, output).toBe('0 null')
    } finally {
      child.kill('SIGKILL')
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)
})

// The API's address is baked into the SPA at build time (VITE_API_URL / NEXT_PUBLIC_API_URL). `npm start` looked at the
// build's age alone: started again with another VITE_API_URL, it served the SPA built with the old one (or none), while
// its CSP already named the new one, so the page connected to the old address or was refused by its own CSP.
describe('a build made with other build-time variables', () => {
  let root: string
  afterEach(() => {
    vi.unstubAllEnvs()
    rmSync(root, { recursive: true, force: true })
  })

  /** A project built after its sources with `builtWith` (the stamp Vite leaves beside it), whose Vite notes each run. */
  const builtProject = (builtWith: Record<string, string>) => {
    root = mkdtempSync(join(tmpdir(), 'talemy-spa-'))
    const touch = (path: string, seconds: number, text = 'x') => {
      mkdirSync(join(path, '..'), { recursive: true })
      writeFileSync(path, text)
      utimesSync(path, seconds, seconds)
    }
    touch(join(root, 'src', 'main.tsx'), 1_000)
    touch(join(root, 'dist', 'index.html'), 2_000)
    touch(join(root, 'dist', '.build-env.json'), 2_000, JSON.stringify(builtWith))
    touch(
      join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
      1_000,
      "require('node:fs').appendFileSync('ran', 'x')\n",
    )
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined } as never
    return async () => {
      await buildSpaIfNeeded(root, join(root, 'dist'), log)
      return existsSync(join(root, 'ran'))
    }
  }

  it('is rebuilt when VITE_API_URL now differs from the build, or is gone', async () => {
    vi.stubEnv('VITE_API_URL', 'http://api.example.test:4000')
    expect(await builtProject({})()).toBe(true)
    rmSync(root, { recursive: true, force: true })
    vi.stubEnv('VITE_API_URL', '')
    expect(await builtProject({ VITE_API_URL: 'http://api.example.test:4000' })()).toBe(true)
  })

  it('is served as it is when they are the same', async () => {
    vi.stubEnv('VITE_API_URL', 'http://api.example.test:4000')
    expect(await builtProject({ VITE_API_URL: 'http://api.example.test:4000' })()).toBe(false)
  })

  it("Vite's build leaves the stamp beside what it built, naming the variables it baked in", () => {
    root = mkdtempSync(join(tmpdir(), 'talemy-spa-'))
    const { command, args } = viteCommand(repoRoot)
    const out = join(root, 'dist')
    const env = { ...process.env, VITE_API_URL: 'http://api.example.test:4000' }
    const result = spawnSync(command, [...args, '--outDir', out, '--emptyOutDir', '--logLevel', 'error'], {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
    })
    expect(result.status, result.stderr).toBe(0)
    // What `npm start` compares it with: the same variables, read the same way.
    const stamp = readFileSync(join(out, '.build-env.json'), 'utf8')
    expect(stamp).toBe(buildEnvOf(env))
    expect(JSON.parse(stamp)).toMatchObject({ VITE_API_URL: 'http://api.example.test:4000' })
    const scripts = readdirSync(join(out, 'assets')).filter((name) => name.endsWith('.js'))
    expect(
      scripts.some((name) => readFileSync(join(out, 'assets', name), 'utf8').includes('api.example.test:4000')),
    ).toBe(true)
  })
})

// A shell with NODE_ENV=development (or test) exported: Vite bakes it in, and `npm start` served React's development
// build with the Redux DevTools connection and RTK's dev checks on, a build its stamp then called fresh for every later
// start.
describe('the build npm start makes', () => {
  let root: string
  afterEach(() => {
    vi.unstubAllEnvs()
    rmSync(root, { recursive: true, force: true })
  })

  it.each(['development', 'test'])('is a production build whatever NODE_ENV says (%j)', async (nodeEnv) => {
    vi.stubEnv('NODE_ENV', nodeEnv)
    root = mkdtempSync(join(tmpdir(), 'talemy-spa-'))
    mkdirSync(join(root, 'src'))
    writeFileSync(join(root, 'src', 'main.tsx'), 'x')
    mkdirSync(join(root, 'node_modules', 'vite', 'bin'), { recursive: true })
    writeFileSync(
      join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
      "require('node:fs').writeFileSync('node-env', String(process.env.NODE_ENV))\n",
    )
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined } as never
    await buildSpaIfNeeded(root, join(root, 'dist'), log)
    expect(readFileSync(join(root, 'node-env'), 'utf8')).toBe('production')
  })
})

describe('viteCommand', () => {
  it('runs vite through node itself (no .bin shim, which is vite.cmd on Windows)', () => {
    const { command, args } = viteCommand(repoRoot)
    expect(command).toBe(process.execPath)
    expect(args).toEqual([join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'])
    expect(existsSync(args[0]!)).toBe(true)
  })
})
