import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import type { Readable } from 'node:stream'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseHost } from '../../server/envConfig'
import { freshDataDir, killSpawned, repoRoot, spawnMain, spawnStart } from './support/server'

// Never reached: the start is refused before any connection.
const UNUSED_POSTGRES = 'postgres://talemy@127.0.0.1:1/talemy'
const REDIS_FORM = 'redis://[user:password@]host[:port][/db] (rediss:// for TLS) or host[:port]'

// A configuration mistake is the operator's to fix: one sentence naming the variable, not a stack trace of our code.
/** Another process holding `dataDir`'s lock, as a running server does (`tests/server/support/holdLock.ts`). */
function spawnLockHolder(dataDir: string): ChildProcessByStdio<null, Readable, null> {
  return spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'tests/server/support/holdLock.ts'), dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
}

/** Resolves once `holder` says it holds the lock; rejects if it exits first. */
function holding(holder: ChildProcessByStdio<null, Readable, null>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (chunk: Buffer) => /held/.test(chunk.toString()) && resolve())
    holder.once('exit', () => reject(new Error('the lock holder exited')))
  })
}

describe('a wrong environment variable through npm start (server/main.ts)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'talemy-config-'))
  afterAll(() => {
    killSpawned()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it.each([
    [{ PORT: 'abc' }, 'PORT must be a whole number from 0 to 65535, got "abc"'],
    [{ DATABASE_URL: 'notaurl' }, 'DATABASE_URL must be a postgres:// URL'],
    [{ SEED_DEMO: 'yes' }, 'SEED_DEMO must be 1 or 0, got yes'],
    // Was taken as it is: the embedded database was seeded first, then "getaddrinfo ENOTFOUND not a host".
    [{ HOST: 'not a host' }, 'HOST must be an IP address or a host name, got "not a host"'],
    // Was refused only after the database had been opened and seeded, as "invalid IP address: abc", never naming it.
    [{ TRUST_PROXY: 'abc' }, 'TRUST_PROXY: "abc" is not an IP address, a CIDR range or loopback/linklocal/uniquelocal'],
    // The nodes subscribe to each other's broadcasts by a pattern that starts with it: `[1]` never matched its own
    // channel (no word crossed nodes), `*` or `?` matched another deployment's (its events reached these sockets).
    // Anything but 1 was read as "build": SKIP_SPA_BUILD=yes ran a build the operator had asked to skip.
    [{ SKIP_SPA_BUILD: 'yes' }, 'SKIP_SPA_BUILD must be 1 or 0, got yes'],
    [{ REDIS_PREFIX: 'app[1]:' }, 'REDIS_PREFIX must not hold *, ?, [, ] or \\'],
    [{ REDIS_PREFIX: 'team?:' }, 'REDIS_PREFIX must not hold *, ?, [, ] or \\'],
    // ioredis reads another scheme's URL, or a path after a bare host:port, as a Unix socket's path: these failed only
    // after the SPA build, as "cannot reach Redis at http://…: connect ENOENT //host:6379" (or ENOENT /0).
    [
      { DATABASE_URL: UNUSED_POSTGRES, REDIS_URL: 'http://127.0.0.1:6379' },
      `REDIS_URL must be ${REDIS_FORM}, got a "http:" URL`,
    ],
    [
      { DATABASE_URL: UNUSED_POSTGRES, REDIS_URL: '127.0.0.1:6379/0' },
      `REDIS_URL must be ${REDIS_FORM}, got a host followed by a path`,
    ],
    // Only a lowercase rediss:// turns TLS on in ioredis: REDISS:// went to Redis in clear, password included.
    [
      { DATABASE_URL: UNUSED_POSTGRES, REDIS_URL: 'REDISS://127.0.0.1:6380' },
      `REDIS_URL must be ${REDIS_FORM}, got a "REDISS:" URL`,
    ],
  ])('%j: one line naming it, no stack', async (env, sentence) => {
    const started = spawnMain({ DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', LOG_FORMAT: 'json', ...env })
    const error: Error = await started.then(
      () => new Error('the server started'),
      (refused: Error) => refused,
    )
    expect(error.message).toContain(`Talemy could not start: ${sentence}`)
    expect(error.message).not.toMatch(/stack|envConfig\.ts|"level"/)
  })

  // Node's own words ("listen EADDRNOTAVAIL: address not available 192.0.2.1"), after the database had been made and
  // migrated, with a stack trace in the log at level fatal.
  it('a HOST that is no address of this machine: one line naming HOST, before the database, no stack', async () => {
    const own = join(dataDir, 'not-here')
    const started = spawnMain({ DATA_DIR: own, PORT: '0', HOST: '192.0.2.1', SKIP_SPA_BUILD: '1', LOG_FORMAT: 'json' })
    const error: Error = await started.then(
      () => new Error('the server started'),
      (refused: Error) => refused,
    )
    expect(error.message).toContain('Talemy could not start: HOST=192.0.2.1 is not an address of this machine')
    expect(error.message).not.toMatch(/stack|EADDRNOTAVAIL|"level"/)
    expect(existsSync(join(own, 'pglite'))).toBe(false)
  })

  // A data folder that cannot be made: a file in the way failed as "ENOTDIR: not a directory, mkdir '…/pglite'", never
  // naming DATA_DIR, and a folder the system refuses to make one in (/proc) spun for good in Node's recursive mkdir.
  it.each([
    ['a file', (file: string) => file, (file: string) => `${file} is a file, not a folder`],
    ['a folder inside a file', (file: string) => join(file, 'x'), (file: string) => `${file} is a file, not a folder`],
    ['a folder /proc will not make', () => '/proc/nope/x', () => 'nope cannot be made in /proc'],
  ])('DATA_DIR naming %s: one line naming DATA_DIR, at once', async (_what, dataDirOf, why) => {
    const file = join(dataDir, 'not-a-folder')
    writeFileSync(file, 'x')
    const started = spawnMain({ DATA_DIR: dataDirOf(file), PORT: '0', SKIP_SPA_BUILD: '1', LOG_FORMAT: 'json' })
    const error: Error = await started.then(
      () => new Error('the server started'),
      (refused: Error) => refused,
    )
    expect(error.message).toContain(`Talemy could not start: DATA_DIR=${dataDirOf(file)} cannot be used: ${why(file)}`)
    expect(error.message).not.toMatch(/stack|ENOTDIR|"level"/)
  })
  // A folder this account cannot write to (made by an earlier `sudo npm start`, or on a read-only mount) failed as
  // "EACCES: permission denied, open '…/server.lock-id.1234.0a1b2c3d'": a file nobody made, and neither DATA_DIR nor
  // what to do. Root writes anywhere: as root the server is started as nobody, on a folder root keeps.
  it('DATA_DIR naming a folder this account cannot write to: one line naming DATA_DIR and what to do', async () => {
    const base = mkdtempSync(join(tmpdir(), 'talemy-unwritable-'))
    try {
      const folder = join(base, 'data')
      // As a start before left it: the database's folder in it.
      mkdirSync(join(folder, 'pglite'), { recursive: true })
      const asRoot = process.getuid?.() === 0
      // Traversable, not writable, by the account the server runs as.
      chmodSync(base, 0o755)
      chmodSync(folder, 0o555)
      const started = spawnMain(
        { DATA_DIR: folder, PORT: '0', SKIP_SPA_BUILD: '1', LOG_FORMAT: 'json' },
        asRoot ? { uid: 65534, gid: 65534 } : {},
      )
      const error: Error = await started.then(
        () => new Error('the server started'),
        (refused: Error) => refused,
      )
      expect(error.message).toContain(
        `Talemy could not start: DATA_DIR=${folder} cannot be used: ${folder} cannot be written to (permission denied)`,
      )
      expect(error.message).not.toMatch(/stack|EACCES|lock-id|"level"/)
      expect(readdirSync(folder)).toEqual(['pglite'])
    } finally {
      chmodSync(base, 0o700)
      rmSync(base, { recursive: true, force: true })
    }
  })
})

// Refusals only found once the start is under way (the folder held by another server, a database folder that cannot
// be opened) were logged at level fatal with their stack trace (pretty on a terminal: a dozen lines of `at …` above
// the sentence) as if the code had failed; they are the operator's to act on, as the sentence says.
describe('a refusal found during the start', () => {
  const base = mkdtempSync(join(tmpdir(), 'talemy-refusal-'))
  afterAll(() => {
    killSpawned()
    rmSync(base, { recursive: true, force: true })
  })

  const refusalOf = async (env: Record<string, string>) =>
    spawnMain({ PORT: '0', SKIP_SPA_BUILD: '1', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env }).then(
      () => new Error('the server started'),
      (refused: Error) => refused,
    )

  it('a database folder that cannot be opened: the sentence, and no stack trace', async () => {
    const dataDir = join(base, 'torn')
    mkdirSync(join(dataDir, 'pglite'), { recursive: true })
    writeFileSync(join(dataDir, 'pglite', 'PG_VERSION'), '17\n')
    const error = await refusalOf({ DATA_DIR: dataDir })
    expect(error.message).toContain(
      `Talemy could not start: the database in ${join(dataDir, 'pglite')} cannot be opened`,
    )
    expect(error.message).toContain('"msg":"server failed to start"')
    expect(error.message).not.toMatch(/"stack"|\bat \S+ \(/)
  })

  it('demo accounts with the published password, on a HOST reachable from the network: the sentence, no stack', async () => {
    const error = await refusalOf({ DATA_DIR: freshDataDir(), HOST: '0.0.0.0' })
    expect(error.message).toContain('Talemy could not start: the database holds demo accounts whose password is still')
    expect(error.message).not.toMatch(/"stack"|\bat \S+ \(/)
  })

  it('a data folder held by another server: the sentence, and no stack trace', async () => {
    const dataDir = join(base, 'held')
    const holder = spawnLockHolder(dataDir)
    try {
      await holding(holder)
      const error = await refusalOf({ DATA_DIR: dataDir })
      expect(error.message).toContain(
        `Talemy could not start: ${dataDir} is in use by another server (pid ${holder.pid})`,
      )
      expect(error.message).not.toMatch(/"stack"|\bat \S+ \(/)
    } finally {
      holder.kill('SIGKILL')
    }
  })
})

// Checked in the start itself, so they were said only once a whole SPA build had run (a minute on a small machine).
describe('a wrong value said before the SPA build', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'talemy-config-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  /** `npm start` with `env`, told apart: refused (it exited), or the SPA build started first (then it is ended). */
  const start = async (env: Record<string, string>) => {
    // The SPA is to be built, whatever `dist/` holds; its own group: a build it started goes with it.
    const child = spawnStart({ DATA_DIR: dataDir, ...env }, { freshBuild: true, detached: true })
    let output = ''
    try {
      const outcome = await new Promise<string>((resolve) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString()
          if (/building the SPA/.test(output)) resolve('the SPA build started first')
        }
        child.stdout.on('data', onData)
        child.stderr.on('data', onData)
        // At 'close', once its output is all read ('exit' may come before the last of it: the sentence asserted).
        child.once('close', () => resolve('refused'))
      })
      return { outcome, output }
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  }

  it.each([
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET is 5 bytes; it must be at least 32'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379' }, 'REDIS_URL needs DATABASE_URL'],
  ])('%j', async (env, sentence) => {
    const { outcome, output } = await start(env)
    expect(outcome, output).toBe('refused')
    expect(output).toContain(`Talemy could not start: ${sentence}`)
  })

  // A second `npm start` after a `git pull`, the first still running: it rebuilt `dist/` under the running one first.
  it('a port in use', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as AddressInfo
    try {
      const { outcome, output } = await start({ PORT: String(port) })
      expect(outcome, output).toBe('refused')
      expect(output).toContain(`Talemy could not start: port ${port} on 127.0.0.1 is in use`)
    } finally {
      holder.close()
    }
  })

  // The same with the first on PORT=3000 and the second on another: the second rebuilt `dist/` under the running one
  // (its page's scripts gone while Vite wrote), then waited 10 s for the data folder and was refused.
  it('a data folder held by another server', async () => {
    const held = mkdtempSync(join(tmpdir(), 'talemy-config-held-'))
    const holder = spawnLockHolder(held)
    try {
      await holding(holder)
      const { outcome, output } = await start({ DATA_DIR: held })
      expect(outcome, output).toBe('refused')
      expect(output).toContain(`Talemy could not start: ${held} is in use by another server (pid ${holder.pid})`)
    } finally {
      holder.kill('SIGKILL')
      rmSync(held, { recursive: true, force: true })
    }
  })
})

describe('HOST', () => {
  it.each([
    [undefined, '127.0.0.1'],
    ['', '127.0.0.1'],
    ['localhost', 'localhost'],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['::1', '::1'],
    ['talemy-1.internal.example', 'talemy-1.internal.example'],
  ])('HOST=%j listens on %s', (value, expected) => {
    expect(parseHost(value)).toBe(expected)
  })

  it.each(['not a host', ' 127.0.0.1', 'http://localhost', 'localhost:3000', '-bad.example', 'a..b'])(
    'refuses HOST=%j, naming it',
    (value) => {
      expect(() => parseHost(value)).toThrow('HOST must be an IP address or a host name')
    },
  )
})
