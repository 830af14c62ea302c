import type { TestProject } from 'vitest/node'
import { descendantsOf, readProcessTable } from './leftoverProcesses'

/**
 * When the run ends, kills every process the tests started and left running (a server, a Redis, a browser, a helper
 * parent) and names each one on stderr, so a test that forgets to stop what it started is seen, and a failed or
 * timed-out test does not leave a server running after the run.
 *
 * A test file's own `process.on('exit')` cannot do this: Vitest ends its workers without emitting it. In the threads
 * pool (this project's) every process a test spawns is a child of Vitest's own process, so here, in that process, they
 * are all found under its pid. In the forks pool they would be children of fork workers that are gone by then (init
 * adopts their children), so this does nothing there. Linux only (`/proc`); elsewhere it does nothing.
 */
export default function setup(project: TestProject): () => void {
  return () => {
    const table = project.config.pool === 'threads' ? readProcessTable() : undefined
    if (!table) return
    // A zombie has ended already; it waits only for Node to reap it (one whose exit a test did not wait for).
    const leftovers = descendantsOf(process.pid, table).filter((entry) => entry.state !== 'Z' && entry.state !== 'X')
    if (leftovers.length === 0) return
    const lines = leftovers.map((entry) => `  ${entry.pid} ${entry.command.slice(0, 200)}`)
    process.stderr.write(
      `test run: ${leftovers.length} process(es) the tests started were still running at the end; killed:\n${lines.join('\n')}\n`,
    )
    for (const entry of leftovers) {
      try {
        process.kill(entry.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }
}
