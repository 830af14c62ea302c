import { mkdir, writeFile } from 'node:fs/promises'
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
  return target.on === 'ratio' ? `ratio ${OPS[target.op]} ${target.limit}` : `${OPS[target.op]} ${target.limit} ${unit}`.trim()
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

/** A figure that could not run still leaves a row, so the table says so. */
export function failedRow(id: string, name: string, error: unknown): Row {
  const text = error instanceof Error ? error.message : String(error)
  // eslint-disable-next-line no-control-regex
  const message = text.replace(/\u001b\[[0-9;]*m/g, '').split('\n').filter((l) => l.trim() !== '').slice(0, 2).join(' ')
  return { id, name: `${name} — FAILED: ${message.slice(0, 200)}`, value: Number.NaN, unit: '', baseline: null, ratio: null, target: null, met: null }
}

/** Six significant digits; a non-finite number (a figure that failed) is written as null. */
const round = (n: number | null): number | null => (n === null ? null : Number.isFinite(n) ? Number(n.toPrecision(6)) : null)

export async function writeResults(path: string, rows: readonly Row[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const json = rows.map((r) => ({ ...r, value: round(r.value), baseline: round(r.baseline), ratio: round(r.ratio) }))
  await writeFile(path, `${JSON.stringify(json, null, 2)}\n`)
}
