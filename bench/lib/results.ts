import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** A target, checked against either the row's value or its ratio to the baseline. */
export interface Target {
  on: 'value' | 'ratio'
  op: '<=' | '<' | '>=' | '>' | '=='
  limit: number
}

/** One row of `bench/results.json`. `met` is null exactly when there is no target. */
export interface Row {
  id: string
  name: string
  value: number
  unit: string
  baseline: number | null
  ratio: number | null
  target: string | null
  met: boolean | null
}

const OPS: Record<Target['op'], string> = { '<=': '≤', '<': '<', '>=': '≥', '>': '>', '==': '=' }

export function describeTarget(target: Target, unit: string): string {
  return target.on === 'ratio'
    ? `ratio ${OPS[target.op]} ${target.limit}`
    : `${OPS[target.op]} ${target.limit} ${unit}`.trim()
}

function check(target: Target, actual: number | null): boolean {
  if (actual === null || !Number.isFinite(actual)) return false
  switch (target.op) {
    case '<=':
      return actual <= target.limit
    case '<':
      return actual < target.limit
    case '>=':
      return actual >= target.limit
    case '>':
      return actual > target.limit
    case '==':
      return actual === target.limit
  }
}

/**
 * Builds a row: the ratio is value / baseline (for times lower is better, for rates higher is better; the target
 * says which way). A target on a missing or non-finite measurement is not met.
 */
export function row(input: {
  id: string
  name: string
  value: number
  unit: string
  baseline?: number | null
  target?: Target | null
}): Row {
  const baseline = input.baseline ?? null
  const ratio = baseline === null || baseline === 0 || !Number.isFinite(baseline) ? null : input.value / baseline
  const target = input.target ?? null
  return {
    id: input.id,
    name: input.name,
    value: input.value,
    unit: input.unit,
    baseline,
    ratio,
    target: target ? describeTarget(target, input.unit) : null,
    met: target ? check(target, target.on === 'ratio' ? ratio : input.value) : null,
  }
}

/** A figure that could not run still leaves a row, so the table says so: not met. */
export function failedRow(id: string, name: string, error: unknown): Row {
  const text = error instanceof Error ? error.message : String(error)
  // eslint-disable-next-line no-control-regex
  const message = text
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 2)
    .join(' ')
  return {
    id,
    name: `${name} — FAILED: ${message.slice(0, 200)}`,
    value: Number.NaN,
    unit: '',
    baseline: null,
    ratio: null,
    // A figure whose check fails by throwing (a lost message that is waited for in vain) must read NO, not blank.
    target: 'runs to its end',
    met: false,
  }
}

/** Six significant digits; a non-finite number (a figure that failed) is written as null. */
const round = (n: number | null): number | null =>
  n === null ? null : Number.isFinite(n) ? Number(n.toPrecision(6)) : null

const roundRow = (r: Row): Row => ({
  ...r,
  value: round(r.value) as number,
  baseline: round(r.baseline),
  ratio: round(r.ratio),
})

/** One recorded run: when, on what, how loaded the machine was, and its rows. */
export interface Run {
  /** ISO date of the start. */
  date: string
  node: string
  cores: number
  /** `os.loadavg()` (1, 5, 15 minutes) at the start and at the end of the run. */
  load: { start: number[]; end: number[] }
  smoke: boolean
  /** The figures run, each with its duration and the 1-minute load average when it started. */
  figures: Array<{ id: string; seconds: number; load1: number }>
  /** What a reader must know about this run (e.g. recorded with an earlier method). */
  note?: string
  rows: Row[]
}

/** `bench/results.json`: the last runs, oldest first. */
export interface Results {
  runs: Run[]
}

/** How many runs results.json keeps. */
export const KEEP_RUNS = 8

/** The recorded runs at `path`; none if there is no file yet. Throws if there is one it cannot read. */
export async function readResults(path: string): Promise<Results> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [] }
    throw error
  }
  const parsed = JSON.parse(text) as Partial<Results>
  if (!Array.isArray(parsed.runs)) throw new Error('no "runs" array')
  return { runs: parsed.runs }
}

/**
 * Appends `run` to the results at `path`, keeping the last `KEEP_RUNS`. A file there that cannot be read (a merge
 * conflict, a hand edit) holds the runs the READMEs quote: it is left as it is, this run is written beside it, and
 * the call throws.
 */
export async function recordRun(path: string, run: Run): Promise<Results> {
  const rounded = { ...run, rows: run.rows.map(roundRow) }
  await mkdir(dirname(path), { recursive: true })
  let previous: Results
  try {
    previous = await readResults(path)
  } catch (error) {
    const aside = `${path}.${run.date.replace(/[:.]/g, '-')}.json`
    await writeFile(aside, `${JSON.stringify({ runs: [rounded] }, null, 2)}\n`)
    throw new Error(`${path} cannot be read (${String(error)}): left as it is; this run is in ${aside}`)
  }
  const results: Results = { runs: [...previous.runs, rounded].slice(-KEEP_RUNS) }
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`)
  return results
}
