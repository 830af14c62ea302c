import { fork } from 'node:child_process'
import { join } from 'node:path'
import type { FigureContext } from './figure'
import { BENCH_DIR } from './paths'
import type { Row } from './results'

/** What the figure's process sends back over IPC. */
export type OwnProcessMessage =
  | { kind: 'log'; line: string }
  | { kind: 'chart'; name: string; svg: string }
  | { kind: 'rows'; rows: Row[] }
  | { kind: 'error'; message: string }

/**
 * Runs one figure in a process of its own (`bench/figureProcess.ts`) and relays its log lines and charts: for a
 * figure that reads the heap, which in the bench's own process also holds what the earlier figures left (their code,
 * which V8 flushes while the figure runs, and so counts as the figure's memory given back).
 *
 * @example const rows = await runInOwnProcess('P6', ctx)
 */
export function runInOwnProcess(id: string, ctx: FigureContext): Promise<Row[]> {
  const child = fork(join(BENCH_DIR, 'figureProcess.ts'), [id, ...(ctx.smoke ? ['--smoke'] : [])], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise<Row[]>((resolve, reject) => {
    let rows: Row[] | null = null
    let failure: Error | null = null
    child.on('message', (raw) => {
      const message = raw as OwnProcessMessage
      if (message.kind === 'log') ctx.log(message.line)
      else if (message.kind === 'chart') ctx.draw(message.name, message.svg)
      else if (message.kind === 'rows') rows = message.rows
      else failure = new Error(`${id} in its own process: ${message.message}`)
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (failure) reject(failure)
      else if (rows) resolve(rows)
      else reject(new Error(`${id} in its own process exited with ${code} and no rows`))
    })
  })
}
