/**
 * Charts as hand-written SVG strings (no dependency): a line chart (linear or log axes) and a grouped bar chart.
 * `npm run bench` writes them beside `results.json`; `bench/README.md` shows them.
 */

export interface Series {
  name: string
  points: ReadonlyArray<readonly [number, number]>
}

const W = 760
const H = 400
const M = { left: 72, right: 190, top: 44, bottom: 56 }
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']

const esc = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const fmt = (n: number): string =>
  Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : Number(n.toPrecision(3)).toString()

interface Axis {
  min: number
  max: number
  log: boolean
}

function axis(values: number[], log: boolean, fromZero: boolean): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0))
  let min = finite.length > 0 ? Math.min(...finite) : 0
  let max = finite.length > 0 ? Math.max(...finite) : 1
  if (fromZero && !log) min = Math.min(0, min)
  if (min === max) max = min + (min === 0 ? 1 : Math.abs(min))
  return { min, max, log }
}

function scale(a: Axis, from: number, to: number): (v: number) => number {
  const f = (v: number) => (a.log ? Math.log10(v) : v)
  const lo = f(a.min)
  const hi = f(a.max)
  return (v) => from + ((f(v) - lo) / (hi - lo)) * (to - from)
}

function ticks(a: Axis): number[] {
  if (a.log) {
    const out: number[] = []
    for (let e = Math.floor(Math.log10(a.min)); e <= Math.ceil(Math.log10(a.max)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e
        if (v >= a.min && v <= a.max) out.push(v)
      }
    }
    return out.length >= 2 ? out : [a.min, a.max]
  }
  const step = 10 ** Math.floor(Math.log10((a.max - a.min) / 5))
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (a.max - a.min) / s <= 6) ?? step * 10
  const out: number[] = []
  for (let v = Math.ceil(a.min / nice) * nice; v <= a.max + nice * 1e-9; v += nice) out.push(Number(v.toPrecision(12)))
  return out
}

function frame(title: string, xLabel: string, yLabel: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    // The chart's name for screen readers and image viewers (the visible heading is drawn as text).
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${M.top + (H - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}

function legend(names: string[]): string[] {
  return names.flatMap((name, i) => {
    const y = M.top + 10 + i * 20
    const x = W - M.right + 16
    return [
      `<rect x="${x}" y="${y - 9}" width="14" height="10" fill="${COLOURS[i % COLOURS.length]}"/>`,
      `<text x="${x + 20}" y="${y}">${esc(name)}</text>`,
    ]
  })
}

/**
 * Lines through each series' points (sorted by x), with optional log axes.
 *
 * @example lineChart({ title: 'P4', xLabel: 'thread size', yLabel: 'µs', logX: true, series: [{ name: 'layer', points: [[10, 24], [1000, 27]] }] })
 */
export function lineChart(options: {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  logX?: boolean
  logY?: boolean
  markers?: boolean
  zeroY?: boolean
}): string {
  const xs = options.series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = options.series.flatMap((s) => s.points.map((p) => p[1]))
  const ax = axis(xs, options.logX ?? false, false)
  const ay = axis(ys, options.logY ?? false, options.zeroY ?? false)
  const x = scale(ax, M.left, W - M.right)
  const y = scale(ay, H - M.bottom, M.top)
  const body: string[] = []
  for (const t of ticks(ax))
    body.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`,
    )
  for (const t of ticks(ay))
    body.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    )
  body.push(
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`,
  )
  options.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]
    const pts = [...s.points]
      .filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py) && (!ax.log || px > 0) && (!ay.log || py > 0))
      .sort((a, b) => a[0] - b[0])
    if (pts.length === 0) return
    body.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ')}"/>`,
    )
    if (options.markers)
      for (const [px, py] of pts)
        body.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3.5" fill="${colour}"/>`)
  })
  body.push(...legend(options.series.map((s) => s.name)))
  return frame(options.title, options.xLabel, options.yLabel, body)
}

/**
 * Bars grouped by category (e.g. a round), one bar per series in each group, on a linear axis from 0.
 *
 * @example barChart({ title: 'P2', xLabel: 'round', yLabel: 'events/s', groups: ['1', '2'], series: [{ name: 'raw', values: [50000, 48000] }] })
 */
export function barChart(options: {
  title: string
  xLabel: string
  yLabel: string
  groups: string[]
  series: Array<{ name: string; values: number[] }>
}): string {
  const ay = axis(
    options.series.flatMap((s) => s.values),
    false,
    true,
  )
  ay.max *= 1.08 // room for the value above the tallest bar
  const y = scale(ay, H - M.bottom, M.top)
  const plotW = W - M.left - M.right
  const groupW = plotW / Math.max(1, options.groups.length)
  const barW = (groupW * 0.8) / Math.max(1, options.series.length)
  const body: string[] = []
  for (const t of ticks(ay))
    body.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    )
  options.groups.forEach((g, gi) => {
    const gx = M.left + gi * groupW + groupW * 0.1
    body.push(`<text x="${gx + groupW * 0.4}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(g)}</text>`)
    options.series.forEach((s, si) => {
      const v = s.values[gi]
      if (v === undefined || !Number.isFinite(v)) return
      const top = y(Math.max(0, v))
      body.push(
        `<rect x="${(gx + si * barW).toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(0) - top).toFixed(1)}" fill="${COLOURS[si % COLOURS.length]}"><title>${esc(`${s.name}: ${fmt(v)}`)}</title></rect>`,
        `<text x="${(gx + si * barW + barW / 2).toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(v)}</text>`,
      )
    })
  })
  body.push(
    `<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`,
  )
  body.push(...legend(options.series.map((s) => s.name)))
  return frame(options.title, options.xLabel, options.yLabel, body)
}

/** The empirical distribution of samples as a line: for each sorted sample, the share of samples at or below it. */
export function cdf(samples: readonly number[], maxPoints = 200): Array<[number, number]> {
  const sorted = [...samples].sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) return []
  const step = Math.max(1, Math.floor(n / maxPoints))
  const out: Array<[number, number]> = []
  for (let i = 0; i < n; i += step) out.push([sorted[i]!, (i + 1) / n])
  out.push([sorted[n - 1]!, 1])
  return out
}
