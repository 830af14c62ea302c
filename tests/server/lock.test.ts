import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { kernelLockName } from '../../server/db/kernelLock'
import { LOCK_FILE, lockFolder } from '../../server/db/lock'
import {
  describeSelf,
  isServerCommandLine,
  judgeHolder,
  observeWithProc,
  observeWithPs,
  parseHolder,
  parseProcStat,
  parsePsState,
  type HolderVerdict,
  type LockHolder,
  type ProcessObservation,
} from '../../server/db/lockHolder'
import { pgliteDir } from '../../server/db'
import {
  ALICE,
  exited,
  freshDataDir,
  http,
  isAlive,
  login,
  repoRoot,
  spawnStart,
  startTestServer,
} from './support/server'
import { procState, spawnUnreaped, type Unreaped } from './support/unreaped'

// The data folder's lock (server/db/lock.ts): a live server holds it; a dead or dying one never does, whether it is
// gone, a zombie nobody has reaped yet, or its pid now names another process. A live holder is waited for, then refused
// with a message that says what to do.

const linux = process.platform === 'linux'
const dirs: string[] = []
const unreaped: Unreaped[] = []
let sleeper: ChildProcess

beforeAll(async () => {
  // An unrelated live process (not node, not our server).
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' })
  await new Promise((resolve, reject) => {
    sleeper.once('spawn', resolve)
    sleeper.once('error', reject)
  })
})
afterEach(async () => {
  for (const child of unreaped.splice(0)) {
    const pid = await child.pid.catch(() => undefined)
    if (pid !== undefined && procState(pid) !== undefined) process.kill(pid, 'SIGKILL')
    child.reap()
    await exited(child.parent)
  }
})
afterAll(async () => {
  sleeper.kill('SIGKILL')
  await exited(sleeper)
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'talemy-lock-'))
  dirs.push(dir)
  return dir
}
const lockFileIn = (dir: string) => join(dir, LOCK_FILE)

/** A zombie: `sleep` killed under a parent that has not reaped it. */
async function zombie(): Promise<number> {
  const child = spawnUnreaped(['sleep', '600'])
  unreaped.push(child)
  const pid = await child.pid
  process.kill(pid, 'SIGKILL')
  await vi.waitFor(() => expect(procState(pid)).toBe('Z'), { timeout: 15_000, interval: 20 })
  return pid
}

/** Another process holding `dir`'s lock (support/holdLock.ts), under a parent that reaps it only when told. */
async function holderProcess(dir: string): Promise<{ pid: number; child: Unreaped }> {
  const child = spawnUnreaped(
    [process.execPath, '--import', 'tsx', join(repoRoot, 'tests/server/support/holdLock.ts'), dir],
    { cwd: repoRoot },
  )
  unreaped.push(child)
  const pid = await child.pid
  await vi.waitFor(() => expect(child.output()).toContain(`held ${pid}`), { timeout: 30_000, interval: 20 })
  return { pid, child }
}

describe('parseProcStat', () => {
  // Fields after the command name: state(3) ppid pgrp session tty tpgid flags(9) … starttime(22).
  const line = (comm: string, state: string, flags: number, start: number) =>
    `4242 (${comm}) ${state} 1 4242 4242 0 -1 ${flags} 120 0 0 0 5 3 0 0 20 0 11 0 ${start} 1234567 890 18446744073709551615\n`
  it.each([
    ['a running node', line('node', 'R', 0x400100, 9876), { state: 'R', flags: 0x400100, start: '9876' }],
    ['a zombie', line('node', 'Z', 0x400104, 9876), { state: 'Z', flags: 0x400104, start: '9876' }],
    ['a command name with spaces and parentheses', line('a) (b c', 'S', 0, 5), { state: 'S', flags: 0, start: '5' }],
    ['no parentheses', '4242 node R 1 2 3', undefined],
    ['truncated', '4242 (node) R 1 4242', undefined],
    ['empty', '', undefined],
  ])('%s', (_, text, expected) => {
    expect(parseProcStat(text)).toEqual(expected)
  })

  it.runIf(linux)('reads this process: running or sleeping, with a start time', () => {
    const stat = parseProcStat(readFileSync('/proc/self/stat', 'utf8'))
    expect(stat?.state).toMatch(/^[RS]$/)
    expect(stat?.start).toMatch(/^\d+$/)
  })
})

describe('parsePsState', () => {
  it.each([
    ['Ss', 'S'],
    ['Z+', 'Z'],
    ['  E\n', 'E'],
    ['R+s', 'R'],
    ['', undefined],
    ['\n', undefined],
  ])('%j → %s', (output, expected) => {
    expect(parsePsState(output)).toBe(expected)
  })
})

describe('judgeHolder', () => {
  const holder: LockHolder = { pid: 4242, start: '9876', boot: 'boot-a' }
  const alive: ProcessObservation = { alive: true, state: 'S', exiting: false, start: '9876', boot: 'boot-a' }
  const serverLine = ['node', '--import', 'tsx', '/srv/talemy/server/main.ts'].join('\u0000')
  const cases: [string, LockHolder, ProcessObservation, HolderVerdict][] = [
    ['no such process', holder, { alive: false }, 'gone'],
    ['a zombie (killed, not yet reaped)', holder, { ...alive, state: 'Z' }, 'dead'],
    ['dead (X)', holder, { ...alive, state: 'X' }, 'dead'],
    ['in the kernel exit path (PF_EXITING)', holder, { ...alive, state: 'R', exiting: true }, 'exiting'],
    ['exiting as ps shows it on macOS (E)', { pid: 4242 }, { alive: true, state: 'E' }, 'exiting'],
    ['a zombie as ps shows it (no start time)', { pid: 4242 }, { alive: true, state: 'Z' }, 'dead'],
    ['the process that wrote the file, running', holder, alive, 'holds'],
    ['the process that wrote the file, in uninterruptible sleep', holder, { ...alive, state: 'D' }, 'holds'],
    ['the pid, since reused (another start time)', holder, { ...alive, start: '10000' }, 'other'],
    ['the pid and start time, in another boot', holder, { ...alive, boot: 'boot-b' }, 'other'],
    ['no boot id on one side: the start time decides', { pid: 4242, start: '9876' }, alive, 'holds'],
    ['a bare pid (older file) of our server', { pid: 4242 }, { ...alive, cmdline: serverLine }, 'holds'],
    ['a bare pid (older file) of another program', { pid: 4242 }, { ...alive, cmdline: 'sleep\u0000600' }, 'other'],
    ['alive, and nothing more to go by (Windows, hidden /proc)', holder, { alive: true }, 'holds'],
    ['alive per ps, no start time to compare', holder, { alive: true, state: 'S' }, 'holds'],
  ]
  it.each(cases)('%s', (_, lockHolder, seen, verdict) => {
    expect(judgeHolder(lockHolder, seen)).toBe(verdict)
  })
})

describe('parseHolder', () => {
  it.each([
    ['{"pid":12,"start":"34","boot":"b"}', { pid: 12, start: '34', boot: 'b' }],
    ['{"pid":12}', { pid: 12 }],
    ['{"pid":12,"start":34}', { pid: 12 }],
    ['12\n', { pid: 12 }],
    ['0', undefined],
    ['{"pid":-42}', undefined],
    ['', undefined],
    ['{"pid":', undefined],
  ])('%j', (text, expected) => {
    expect(parseHolder(text)).toEqual(expected)
  })
})

describe('isServerCommandLine', () => {
  it('recognises the server entry on a node command line', () => {
    const line = (...argv: string[]) => `${argv.join('\u0000')}\u0000`
    expect(isServerCommandLine(line('/usr/bin/node', '--import', 'tsx', '/work/main/server/main.ts'))).toBe(true)
    expect(isServerCommandLine(line('node', 'dist-server/server/main.js'))).toBe(true)
    expect(isServerCommandLine(line('/usr/bin/node', '/x/node_modules/vitest/vitest.mjs', 'run'))).toBe(false)
    expect(isServerCommandLine(line('sleep', '600'))).toBe(false)
    expect(isServerCommandLine(line('python3', 'server/main.ts'))).toBe(false)
    expect(isServerCommandLine(undefined)).toBe(false)
  })
})

describe.runIf(linux)('observing real processes', () => {
  it('a zombie is dead, through /proc and through ps alike; a live process holds; a gone one is gone', async () => {
    const pid = await zombie()
    const viaProc = observeWithProc()(pid)
    expect(viaProc).toMatchObject({ alive: true, state: 'Z' })
    expect(judgeHolder({ pid, start: viaProc.start! }, viaProc)).toBe('dead')
    expect(judgeHolder({ pid }, observeWithPs(pid))).toBe('dead')

    const sleeping = observeWithProc()(sleeper.pid!)
    expect(sleeping).toMatchObject({ alive: true, state: 'S', exiting: false })
    expect(judgeHolder({ pid: sleeper.pid!, start: sleeping.start!, boot: sleeping.boot! }, sleeping)).toBe('holds')
    expect(judgeHolder({ pid: sleeper.pid! }, observeWithPs(sleeper.pid!))).toBe('holds')

    const gone = spawn('true', { stdio: 'ignore' })
    await exited(gone)
    expect(judgeHolder({ pid: gone.pid! }, observeWithProc()(gone.pid!))).toBe('gone')
    expect(judgeHolder({ pid: gone.pid! }, observeWithPs(gone.pid!))).toBe('gone')
  })
})

describe('kernelLockName', () => {
  it.runIf(linux)(
    'is stable for one folder, and new for a folder made again at the same path (inode numbers are reused)',
    () => {
      const dir = freshDir()
      const first = kernelLockName(dir)
      expect(kernelLockName(dir)).toBe(first)
      // A server left running on the deleted folder (an orphan) keeps its name bound: the new folder must not collide,
      // even when the file system hands it the same inode number.
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir)
      expect(kernelLockName(dir)).not.toBe(first)
    },
  )

  it.runIf(linux)('gives a copy of a folder (its id file included) a name of its own', () => {
    const dir = freshDir()
    const copy = freshDir()
    kernelLockName(dir)
    cpSync(dir, copy, { recursive: true })
    expect(kernelLockName(copy)).not.toBe(kernelLockName(dir))
  })
})

// Its tests start holder processes (tsx, several seconds on a busy machine) and wait on them: the test's timeout must
// outlast the waits it allows (up to 30 s for a holder, 60 s for the lock, 30 s for its line), not the suite's 30 s.
describe('lockFolder', { timeout: 150_000 }, () => {
  it('takes a free folder, names this process in server.pid, and on release lets the next one take it', async () => {
    const dir = freshDir()
    const release = await lockFolder(dir)
    expect(parseHolder(readFileSync(lockFileIn(dir), 'utf8'))).toEqual(describeSelf())
    release()
    expect(existsSync(lockFileIn(dir))).toBe(false)
    ;(await lockFolder(dir, { waitMs: 0 }))()
  })

  it('refuses a second take in this process at once, without waiting, and says so', async () => {
    const dir = freshDir()
    const release = await lockFolder(dir)
    const onWait = vi.fn()
    await expect(lockFolder(dir, { onWait })).rejects.toThrow('is in use by another server in this process')
    expect(onWait).not.toHaveBeenCalled()
    release()
  })

  it('release leaves a server.pid that is no longer ours alone', async () => {
    const dir = freshDir()
    const release = await lockFolder(dir, { kernelLock: false })
    writeFileSync(lockFileIn(dir), JSON.stringify({ pid: sleeper.pid }))
    release()
    expect(existsSync(lockFileIn(dir))).toBe(true)
  })

  describe.runIf(linux)('with the kernel lock (Linux)', () => {
    it('a live holder in another process is waited for, then refused with its pid and what to do', async () => {
      const dir = freshDir()
      const { pid } = await holderProcess(dir)
      const onWait = vi.fn()
      const refusal = lockFolder(dir, { waitMs: 300, onWait })
      await expect(refusal).rejects.toThrow(`is in use by another server (pid ${pid}); waited 0.3 s for it to exit`)
      await expect(refusal).rejects.toThrow(
        `Stop that server (kill ${pid}) and start again, or give this one another data folder (DATA_DIR)`,
      )
      expect(onWait.mock.calls).toEqual([[expect.objectContaining({ pid })]])
    })

    it('a holder that lets go while we wait: the folder is taken then', async () => {
      const dir = freshDir()
      const { pid, child } = await holderProcess(dir)
      let waiting!: () => void
      const waited = new Promise<void>((resolve) => (waiting = resolve))
      const taking = lockFolder(dir, { waitMs: 60_000, onWait: () => waiting() })
      await waited
      process.kill(pid, 'SIGUSR2')
      const release = await taking
      // The holder lets go before it says so, and its line crosses a pipe: on a busy machine the lock comes first.
      await vi.waitFor(() => expect(child.output()).toContain('released'), { timeout: 30_000, interval: 20 })
      expect(parseHolder(readFileSync(lockFileIn(dir), 'utf8'))?.pid).toBe(process.pid)
      release()
    })

    it('a holder SIGKILLed a moment ago and not yet reaped (a zombie) does not hold it: taken before it is reaped', async () => {
      const dir = freshDir()
      const { pid } = await holderProcess(dir)
      process.kill(pid, 'SIGKILL')
      // /proc shows the main thread Z as soon as it has exited, while the process's other threads (Node has several)
      // may still be on their way out holding the shared file table, and with it the socket name, for a moment on a
      // busy machine: the lock polls for that moment. What matters is that it never waits for the reap, which here
      // never comes until the test lets it.
      await vi.waitFor(() => expect(procState(pid)).toBe('Z'), { timeout: 15_000, interval: 20 })
      const release = await lockFolder(dir, { waitMs: 30_000, pollMs: 20 })
      expect(procState(pid)).toBe('Z')
      expect(parseHolder(readFileSync(lockFileIn(dir), 'utf8'))?.pid).toBe(process.pid)
      release()
    })
  })

  describe('with server.pid alone (systems without the kernel lock)', () => {
    const pidFileOnly = { kernelLock: false }

    it.runIf(linux)('a server.pid naming a live process that wrote it is waited for, then refused', async () => {
      const dir = freshDir()
      const holder = { pid: sleeper.pid!, start: observeWithProc()(sleeper.pid!).start }
      writeFileSync(lockFileIn(dir), JSON.stringify(holder))
      await expect(lockFolder(dir, { ...pidFileOnly, waitMs: 200 })).rejects.toThrow(
        `in use by another server (pid ${sleeper.pid}); waited 0.2 s for it to exit. Stop that server (kill ${sleeper.pid})`,
      )
      expect(parseHolder(readFileSync(lockFileIn(dir), 'utf8'))?.pid).toBe(sleeper.pid)
    })

    it.runIf(linux)(
      'a stop ends the wait at once, with an AbortError, its end heard, nothing of ours left',
      async () => {
        const dir = freshDir()
        const holder = JSON.stringify({ pid: sleeper.pid!, start: observeWithProc()(sleeper.pid!).start })
        writeFileSync(lockFileIn(dir), holder)
        const stop = new AbortController()
        const over = vi.fn()
        const taking = lockFolder(dir, {
          ...pidFileOnly,
          waitMs: 600_000,
          signal: stop.signal,
          onWait: () => stop.abort(),
          onWaitEnd: over,
        })
        await expect(taking).rejects.toMatchObject({ name: 'AbortError' })
        expect(over).toHaveBeenCalledOnce()
        expect(readdirSync(dir)).toEqual([LOCK_FILE])
        expect(readFileSync(lockFileIn(dir), 'utf8')).toBe(holder)
      },
    )

    it.runIf(linux)('a server.pid naming a zombie is taken at once', async () => {
      const dir = freshDir()
      const pid = await zombie()
      writeFileSync(lockFileIn(dir), JSON.stringify({ pid, start: observeWithProc()(pid).start }))
      const release = await lockFolder(dir, { ...pidFileOnly, waitMs: 0 })
      expect(parseHolder(readFileSync(lockFileIn(dir), 'utf8'))?.pid).toBe(process.pid)
      release()
    })

    it('a server.pid naming a pid that is no longer running, or unreadable, is taken at once', async () => {
      const gone = spawn('true', { stdio: 'ignore' })
      await exited(gone)
      const dir = freshDir()
      for (const content of [
        JSON.stringify({ pid: gone.pid, start: '1' }),
        String(gone.pid),
        '',
        '{"pid":',
        String(process.pid),
      ]) {
        writeFileSync(lockFileIn(dir), content)
        ;(await lockFolder(dir, { ...pidFileOnly, waitMs: 0 }))()
        expect(existsSync(lockFileIn(dir))).toBe(false)
      }
    })

    it.runIf(linux)(
      'a server.pid whose pid now names an unrelated live process (another start, boot or program) is taken',
      async () => {
        const dir = freshDir()
        const now = observeWithProc()(sleeper.pid!)
        for (const content of [
          JSON.stringify({ pid: sleeper.pid, start: String(Number(now.start) - 1), boot: now.boot }),
          JSON.stringify({ pid: sleeper.pid, start: now.start, boot: 'another-boot' }),
          String(sleeper.pid),
          String(process.ppid),
        ]) {
          writeFileSync(lockFileIn(dir), content)
          ;(await lockFolder(dir, { ...pidFileOnly, waitMs: 0 }))()
          expect(existsSync(lockFileIn(dir))).toBe(false)
        }
      },
    )
  })
})

// A second `npm start` on a folder another server holds waits up to 10 s for it to stop. A Ctrl-C in that wait was
// taken as one during the start ("the start finishes, then the server closes"): the process waited out the 10 s, then
// exited 1 with the refusal, as though nobody had asked it to stop.
describe.runIf(linux)('npm start stopped while it waits for the data folder', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s ends the wait at once: not starting, exit 0, nothing left behind',
    async (signal) => {
      const dataDir = freshDataDir()
      dirs.push(dataDir)
      const { pid: holder } = await holderProcess(dataDir)
      const held = readFileSync(lockFileIn(dataDir), 'utf8')
      const child = spawnStart({ DATA_DIR: dataDir, SKIP_SPA_BUILD: '1' })
      let output = ''
      // At 'close', once its output is all read.
      const exit = new Promise<string>((resolve) => child.once('close', (code, sig) => resolve(`${code} ${sig}`)))
      try {
        await new Promise<void>((resolve, reject) => {
          const onData = (chunk: Buffer) => {
            output += chunk.toString()
            if (output.includes('the data folder is in use by another server: waiting')) resolve()
          }
          child.stdout.on('data', onData)
          child.stderr.on('data', onData)
          void exit.then(() => reject(new Error(`exited before waiting:\n${output}`)))
        })
        child.kill(signal)
        expect(await exit, output).toBe('0 null')
        expect(output).toContain('"msg":"stop asked while waiting for the data folder: not starting"')
        expect(output).not.toMatch(/could not start|failed to start|waited 10 s|"stack"/)
        // The holder's lock file, as it was; none of ours beside it (the copy written aside to be linked into place).
        expect(readFileSync(lockFileIn(dataDir), 'utf8')).toBe(held)
        expect(readdirSync(dataDir).filter((name) => name.startsWith(LOCK_FILE))).toEqual([LOCK_FILE])
        expect(isAlive(holder)).toBe(true)
      } finally {
        child.kill('SIGKILL')
        await exited(child)
      }
    },
  )
})

describe.runIf(linux)('the server starts on a data folder left behind by a crash', () => {
  it('with a server.pid whose pid now belongs to a live unrelated process, and a torn postmaster.pid of PGlite', async () => {
    const dataDir = freshDataDir()
    dirs.push(dataDir)
    const contents = [String(sleeper.pid), JSON.stringify({ pid: sleeper.pid, start: '1' })]
    for (const [round, content] of contents.entries()) {
      writeFileSync(lockFileIn(dataDir), content)
      // PGlite refuses to start on an empty postmaster.pid ("failed to initialize properly"): a kill while it wrote one.
      writeFileSync(join(pgliteDir(dataDir), 'postmaster.pid'), round === 0 ? '' : '-42\n/pglite/data\n')
      const server = await startTestServer({ dataDir })
      try {
        const { token } = await login(server.url, ALICE)
        expect((await http(server.url, 'GET', '/api/me', { token })).status).toBe(200)
        // And it holds the folder now: a second open in this process is refused at once.
        await expect(startTestServer({ dataDir })).rejects.toThrow(/in use by another server/)
      } finally {
        await server.close()
      }
    }
  })
})
