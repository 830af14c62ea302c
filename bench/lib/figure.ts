import type { Row } from './results'

/** What every figure receives: the run's mode and a logger for progress lines (stderr, never the table). */
export interface FigureContext {
  /** Tiny sizes, for the smoke test: checks that every row is produced and well-formed, measures nothing useful. */
  smoke: boolean
  log: (line: string) => void
  /** Writes a chart of what the figure measured (an SVG string, see `svg.ts`) as `<name>.svg` beside results.json. */
  draw: (name: string, svg: string) => void
}

export interface Figure {
  id: string
  title: string
  run: (ctx: FigureContext) => Promise<Row[]>
  /** Run in a process of its own (`runInOwnProcess`), not after the other figures in the bench's. */
  ownProcess?: boolean
}
