import type { Row, Run } from './results'

function formatNumber(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '—'
  const abs = Math.abs(n)
  if (Number.isInteger(n)) return n.toLocaleString('en-US')
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US')
  if (abs >= 100) return n.toFixed(0)
  if (abs >= 10) return n.toFixed(1)
  if (abs >= 1) return n.toFixed(2)
  return n.toPrecision(2)
}

function formatRatio(n: number | null): string {
  return n === null || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}×`
}

const met = (m: boolean | null): string => (m === null ? '' : m ? 'yes' : 'NO')

/** The rows as a plain text table: figure, value, baseline, ratio, target, met. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['figure', 'value', 'baseline', 'ratio', 'target', 'met']
  const lines = rows.map((r) => [
    `${r.id}  ${r.name}`,
    `${formatNumber(r.value)} ${r.unit}`.trim(),
    r.baseline === null ? '—' : `${formatNumber(r.baseline)} ${r.unit}`.trim(),
    formatRatio(r.ratio),
    r.target ?? '',
    met(r.met),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const numeric = new Set([1, 2, 3])
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n')
}

/** The same rows as a Markdown table, for the README. */
export function formatMarkdown(rows: readonly Row[]): string {
  const out = ['| figure | value | baseline | ratio | target | met |', '| --- | ---: | ---: | ---: | --- | --- |']
  for (const r of rows) {
    out.push(
      `| ${r.id} ${r.name} | ${formatNumber(r.value)} ${r.unit} | ${r.baseline === null ? '—' : `${formatNumber(r.baseline)} ${r.unit}`} | ${formatRatio(r.ratio)} | ${r.target ?? ''} | ${met(r.met)} |`,
    )
  }
  return out.join('\n')
}

/** "Run of 2026-11-29 16:05 UTC (Node v20…, 2 cores, load average 3.1 / 2.9 / 2.5 at the start, 3.4 / … at the end)." */
export function describeRun(run: Run): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' / ')
  return `Run of ${run.date.replace('T', ' ').slice(0, 16)} UTC (Node ${run.node}, ${run.cores} cores, load average ${load(run.load.start)} at the start, ${load(run.load.end)} at the end).`
}
