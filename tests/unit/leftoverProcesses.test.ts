import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import { descendantsOf, readStat, type ProcessEntry } from '../support/leftoverProcesses'

const entry = (pid: number, ppid: number): ProcessEntry => ({ pid, ppid, state: 'S', command: `p${pid}` })

describe('descendantsOf', () => {
  test('children and their children, parents first; not the root, its parent or strangers', () => {
    const table = [entry(1, 0), entry(10, 1), entry(20, 10), entry(21, 10), entry(30, 20), entry(11, 1), entry(99, 5)]
    expect(descendantsOf(10, table).map((e) => e.pid)).toEqual([20, 21, 30])
    expect(descendantsOf(30, table)).toEqual([])
  })

  test('a table with a cycle ends', () => {
    expect(descendantsOf(1, [entry(2, 1), entry(3, 2), entry(2, 3)]).map((e) => e.pid)).toEqual([2, 3])
  })
})

describe('readStat', () => {
  test('reads name, state and parent, the name holding spaces and parentheses', () => {
    expect(readStat('42 (node) S 7 42 42 0 -1 4194560')).toEqual({ name: 'node', state: 'S', ppid: 7 })
    expect(readStat('43 (a) b (c)) Z 12 43 43 0 -1')).toEqual({ name: 'a) b (c)', state: 'Z', ppid: 12 })
  })

  test('undefined for a line it cannot read', () => {
    for (const line of ['', '42 node S 7', '42 (node) S x', '42 (node) 7 7', '42 (node)'])
      expect(readStat(line), line).toBeUndefined()
  })
})

const onLinux = existsSync('/proc/self/stat')
const work = mkdtempSync(join(tmpdir(), 'talemy-leftovers-'))
const leftPids: number[] = []
afterAll(() => {
  // If the teardown failed to, kill them here: the inner run's process is gone, so the outer teardown cannot see them.
  for (const pid of leftPids) if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL')
  rmSync(work, { recursive: true, force: true })
})

test.runIf(onLinux)('a real run kills and names the process a test left running (Linux: /proc)', async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const pidFile = join(work, 'pid')
  // Without the outer run's worker variables, which would make the inner Vitest think it is a worker.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST') && key !== 'TINYPOOL_WORKER_ID'),
  )
  const child = spawn(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', '--config', 'tests/support/fixtures/leftovers/vitest.config.ts'],
    { cwd: root, env: { ...env, NO_COLOR: '1', LEFTOVER_PID_FILE: pidFile }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  expect(code, output).toBe(0)
  const pid = Number(readFileSync(pidFile, 'utf8'))
  leftPids.push(pid)
  expect(output).toMatch(new RegExp(`1 process\\(es\\) the tests started were still running[^]*\\n  ${pid} sleep 600`))
  // Killed, and reaped by init once its parent (the inner Vitest) is gone: no such process left, not even a zombie.
  await expect.poll(() => existsSync(`/proc/${pid}`)).toBe(false)
})
