import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { onTestFinished } from 'vitest'
import { repoRoot } from '../../server/support/server'

/** A server node in its own process (`server/main.ts`), so a test can `SIGKILL` it. */
export interface NodeProcess {
  url: string
  /** `host:port`, for the balancer. */
  address: string
  child: ChildProcess
  kill(): Promise<void>
  /** The end of its output, for a failure message. */
  logTail(): string
}

/**
 * Starts `server/main.ts` on a free port with `env` (DATABASE_URL, REDIS_URL…) and resolves once it prints its URL.
 * Its output goes to a log file in a temp folder (shown when it fails to come up). Called from a test (not a hook).
 */
export async function spawnNode(env: Record<string, string>): Promise<NodeProcess> {
  const log = join(mkdtempSync(join(tmpdir(), 'talemy-node-')), 'node.log')
  const out = openSync(log, 'a')
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SKIP_SPA_BUILD: '1',
      SEED_DEMO: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', out, out],
  })
  // The log is for a node that does not come up (read before it is killed): once it has exited, it goes.
  child.once('exit', () => {
    closeSync(out)
    rmSync(dirname(log), { recursive: true, force: true })
  })
  const logTail = () => {
    try {
      return readFileSync(log, 'utf8').slice(-3000)
    } catch {
      return ''
    }
  }
  // No deadline of its own: a start takes a second quiet and many more on a loaded machine (tsx compiling the server,
  // the database and Redis answering late), so a fixed bound would fail a slow start. The test's timeout is the bound
  // on a hang; a node still not up when its test ends (failed, or timed out) is killed then, its output shown.
  let up = false
  let stopWaiting = () => {}
  onTestFinished(({ task }) => {
    stopWaiting()
    if (up) return
    if (task.result?.state === 'fail') console.error(`node did not come up before the test ended:\n${logTail()}`)
    child.kill('SIGKILL')
  })
  const url = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const found = /open (http:\/\/[\d.]+:\d+)/.exec(logTail())
      if (found) {
        clearInterval(poll)
        up = true
        resolve(found[1]!)
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(poll)
        reject(new Error(`node did not come up:\n${logTail()}`))
      }
    }, 50)
    stopWaiting = () => clearInterval(poll)
  })
  return {
    url,
    address: url.replace('http://', ''),
    child,
    logTail,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
  }
}
