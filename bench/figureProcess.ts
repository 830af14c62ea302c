/**
 * One figure in a process of its own, driven by `bench/lib/ownProcess.ts`: `tsx bench/figureProcess.ts P6 [--smoke]`.
 * Its log lines, charts and rows go to the parent over IPC.
 */
import { FIGURES } from './figures'
import type { OwnProcessMessage } from './lib/ownProcess'
import { shutdownShared } from './lib/shared'

const send = (message: OwnProcessMessage) =>
  new Promise<void>((resolve) => process.send?.(message, undefined, undefined, () => resolve()) ?? resolve())

async function main(): Promise<void> {
  const [id, ...rest] = process.argv.slice(2)
  const figure = FIGURES.find((f) => f.id === id)
  if (!figure) throw new Error(`unknown figure ${id}`)
  try {
    const rows = await figure.run({
      smoke: rest.includes('--smoke'),
      log: (line) => void send({ kind: 'log', line }),
      draw: (name, svg) => void send({ kind: 'chart', name, svg }),
    })
    await send({ kind: 'rows', rows })
  } finally {
    await shutdownShared()
  }
}

main().then(
  () => process.exit(0),
  async (error) => {
    await send({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    process.exit(1)
  },
)
