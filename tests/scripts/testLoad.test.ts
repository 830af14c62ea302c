import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'

const script = join(import.meta.dirname, '../../scripts/test-load.mjs')

/** Running and not a zombie (a SIGKILLed or orphaned process can be reaped late). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z'
  } catch {
    return false
  }
}

/** Starts the script with `command` in place of `npm test`; resolves the burners' pids once it has printed them. */
function start(command: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [script, ...command], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  const burners = new Promise<number[]>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /pids ([\d ]+),/.exec(output)
      if (match) resolve(match[1]!.trim().split(' ').map(Number))
    })
    child.once('exit', () => reject(new Error(`exited before naming its burners: ${output}`)))
  })
  /** Its process gone (the command it ran, given its stdout, perhaps not). */
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  /**
   * Its code once its output is all read: 'exit' may come while its last line (the report) is still in its pipe. Also
   * waits for the command, which writes to the same pipe; the burners write nowhere.
   */
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  return { child, burners, exit, closed, output: () => output }
}

describe('npm run test:load (scripts/test-load.mjs)', () => {
  it('runs the command beside burning processes, stops them at the end and exits with the command’s code', async () => {
    const run = start([process.execPath, '-e', 'setTimeout(() => process.exit(3), 300)'], { TEST_LOAD_BURNERS: '2' })
    const pids = await run.burners
    expect(pids).toHaveLength(2)
    expect(await run.closed).toBe(3)
    // The script waits for its burners to exit before it does: none is left.
    expect(pids.filter(alive)).toEqual([])
    expect(run.output()).toMatch(/exit code 3 after \d+ s .*load average: mean [\d.]+, peak [\d.]+/)
  })

  it('passes a green run through as 0', async () => {
    const run = start([process.execPath, '-e', ''], { TEST_LOAD_BURNERS: '1' })
    expect(await run.exit).toBe(0)
  })

  it('leaves nothing burning when the script itself is killed (the burners watch their parent)', async () => {
    // The command ends by itself shortly after, so it is not left behind either.
    const run = start([process.execPath, '-e', 'setTimeout(() => {}, 2000)'], { TEST_LOAD_BURNERS: '2' })
    const pids = await run.burners
    expect(pids.filter(alive)).toEqual(pids)
    run.child.kill('SIGKILL')
    await run.exit
    await vi.waitFor(() => expect(pids.filter(alive)).toEqual([]), { timeout: 15_000, interval: 50 })
  })
})
