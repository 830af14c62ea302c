import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { describeProcess, holdsLock, isServerCommandLine, lockFolder, parseHolder } from '../../server/db/lock'
import { ALICE, exited, freshDataDir, http, login, startTestServer } from './support/server'

// The data folder's lock (server/db/lock.ts): a live server holds it; a file left by a SIGKILL does not block the next
// start, even when its pid has since been given to an unrelated live process.

const linux = process.platform === 'linux'
let dir: string
let sleeper: ChildProcess
const cleanup: string[] = []

beforeAll(async () => {
  // An unrelated live process (not node, not our server).
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' })
  await new Promise((resolve, reject) => {
    sleeper.once('spawn', resolve)
    sleeper.once('error', reject)
  })
})
afterAll(async () => {
  sleeper.kill('SIGKILL')
  await exited(sleeper)
  for (const path of cleanup) rmSync(path, { recursive: true, force: true })
})
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})
const freshDir = () => (dir = mkdtempSync(join(tmpdir(), 'talemy-lock-')))

describe('lockFolder', () => {
  it('takes a free folder, writes who holds it and removes the file on release', () => {
    const file = join(freshDir(), 'server.pid')
    const release = lockFolder(file)
    expect(parseHolder(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid })
    release()
    expect(existsSync(file)).toBe(false)
  })

  it('refuses while the holder named in the file is alive and is the process that wrote it', () => {
    const file = join(freshDir(), 'server.pid')
    writeFileSync(file, JSON.stringify(describeProcess(sleeper.pid!)))
    expect(() => lockFolder(file)).toThrow(`in use by another server (pid ${sleeper.pid})`)
    expect(parseHolder(readFileSync(file, 'utf8'))?.pid).toBe(sleeper.pid)
  })

  it('takes over a file naming a pid that is no longer running', async () => {
    const gone = spawn('true', { stdio: 'ignore' })
    await exited(gone)
    const file = join(freshDir(), 'server.pid')
    writeFileSync(file, JSON.stringify({ pid: gone.pid, start: '1' }))
    lockFolder(file)()
    writeFileSync(file, String(gone.pid))
    lockFolder(file)()
  })

  it.runIf(linux)('takes over a stale file whose pid now belongs to an unrelated live process (another start time)', () => {
    const file = join(freshDir(), 'server.pid')
    const now = describeProcess(sleeper.pid!)!
    // What a killed server wrote, its pid since reused by `sleep`: same pid, another start.
    writeFileSync(file, JSON.stringify({ ...now, start: String(Number(now.start) - 1) }))
    const release = lockFolder(file)
    expect(parseHolder(readFileSync(file, 'utf8'))?.pid).toBe(process.pid)
    release()
    // The same process in an earlier boot is not this one either.
    writeFileSync(file, JSON.stringify({ ...now, boot: 'another-boot' }))
    lockFolder(file)()
  })

  it.runIf(linux)('takes over a bare pid (older format) naming a live process that is not our server', () => {
    const file = join(freshDir(), 'server.pid')
    for (const pid of [sleeper.pid!, process.ppid]) {
      writeFileSync(file, String(pid))
      lockFolder(file)()
      expect(existsSync(file)).toBe(false)
    }
  })

  it('is refused everywhere a live pid is all there is to go by (no /proc): the previous behaviour', () => {
    expect(holdsLock({ pid: sleeper.pid! }, null)).toBe(true)
    expect(holdsLock({ pid: sleeper.pid!, start: 'whatever' }, null)).toBe(true)
  })

  it('release leaves a file that is no longer ours alone', () => {
    const file = join(freshDir(), 'server.pid')
    const release = lockFolder(file)
    writeFileSync(file, JSON.stringify(describeProcess(sleeper.pid!)))
    release()
    expect(existsSync(file)).toBe(true)
  })

  it('recognises the server entry on a node command line', () => {
    const line = (...argv: string[]) => argv.join('\u0000') + '\u0000'
    expect(isServerCommandLine(line('/usr/bin/node', '--import', 'tsx', '/work/main/server/main.ts'))).toBe(true)
    expect(isServerCommandLine(line('node', 'dist-server/server/main.js'))).toBe(true)
    expect(isServerCommandLine(line('/usr/bin/node', '/x/node_modules/vitest/vitest.mjs', 'run'))).toBe(false)
    expect(isServerCommandLine(line('sleep', '600'))).toBe(false)
    expect(isServerCommandLine(line('python3', 'server/main.ts'))).toBe(false)
    expect(isServerCommandLine(undefined)).toBe(false)
  })
})

describe.runIf(linux)('the server starts on a data folder whose lock file is stale', () => {
  it('after a SIGKILL whose pid now belongs to a live unrelated process', async () => {
    const dataDir = freshDataDir()
    cleanup.push(dataDir)
    for (const content of [String(sleeper.pid), JSON.stringify({ ...describeProcess(sleeper.pid!), start: '1' })]) {
      writeFileSync(join(dataDir, 'server.pid'), content)
      const server = await startTestServer({ dataDir })
      try {
        const { token } = await login(server.url, ALICE)
        expect((await http(server.url, 'GET', '/api/me', { token })).status).toBe(200)
        // And it holds the folder now: a second open is refused.
        await expect(startTestServer({ dataDir: dataDir })).rejects.toThrow(/in use by another server/)
      } finally {
        await server.close()
      }
    }
  })
})
