/**
 * `npm run bench [-- P1 P4] [--smoke] [--out file]`: measures the realtime layer against baselines taken in the same
 * run, prints the table and writes `bench/results.json` (rows of the figures run replace their previous rows).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { FIGURES } from './figures'
import type { FigureContext } from './lib/figure'
import { failedRow, writeResults, type Row } from './lib/results'
import { formatMarkdown, formatTable } from './lib/table'
import { BENCH_DIR } from './lib/paths'
import { shutdownShared } from './lib/shared'

interface Options {
  ids: string[]
  smoke: boolean
  out: string
}

function parseArgs(argv: string[]): Options {
  const known = FIGURES.map((f) => f.id)
  const ids: string[] = []
  let smoke = false
  let out: string | null = null
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--smoke') smoke = true
    else if (arg === '--out') out = argv[++i] ?? ''
    else if (arg === '--help' || arg === '-h') {
      console.log(`usage: npm run bench -- [${known.join(' ')}] [--smoke] [--out file]`)
      process.exit(0)
    } else {
      const id = arg.toUpperCase()
      if (!known.includes(id)) throw new Error(`unknown figure ${arg}; known: ${known.join(', ')}`)
      ids.push(id)
    }
  }
  return {
    ids: ids.length > 0 ? ids : known,
    smoke,
    out: out ?? join(BENCH_DIR, smoke ? '.tmp/results.smoke.json' : 'results.json'),
  }
}

/** Rows already in `out` for figures not run now, so `npm run bench -- P4` keeps the others. */
async function previousRows(out: string, ranIds: string[]): Promise<Row[]> {
  try {
    const rows = JSON.parse(await readFile(out, 'utf8')) as Row[]
    return rows.filter((r) => !ranIds.includes(figureOf(r.id)))
  } catch {
    return []
  }
}

const figureOf = (rowId: string): string => rowId.split('-')[0]!

/** A full run (every figure, real sizes, the default output) refreshes the table in bench/README.md. */
async function updateReadme(rows: Row[], startedAt: Date, load: number[]): Promise<void> {
  const path = join(BENCH_DIR, 'README.md')
  const readme = await readFile(path, 'utf8')
  const start = '<!-- bench:table:start -->'
  const end = '<!-- bench:table:end -->'
  const from = readme.indexOf(start)
  const to = readme.indexOf(end)
  if (from === -1 || to === -1) return
  const when = startedAt.toISOString().replace('T', ' ').slice(0, 16)
  const machine = `Node ${process.version}, ${cpus().length} cores, load average ${load.map((l) => l.toFixed(1)).join(' / ')} at the start`
  const block = `${start}\nRun of ${when} UTC (${machine}).\n\n${formatMarkdown(rows)}\n${end}`
  await writeFile(path, readme.slice(0, from) + block + readme.slice(to + end.length))
}

async function main(): Promise<number> {
  const startedAt = new Date()
  const load = loadavg()
  const options = parseArgs(process.argv.slice(2))
  if (process.env.NODE_ENV !== 'production') console.error(`note: NODE_ENV is ${process.env.NODE_ENV ?? 'unset'}, not production`)
  const ctx: FigureContext = { smoke: options.smoke, log: (line) => console.error(`  ${line}`) }
  const rows: Row[] = []
  let failures = 0
  try {
    for (const figure of FIGURES.filter((f) => options.ids.includes(f.id))) {
      console.error(`${figure.id}: ${figure.title}…`)
      const started = Date.now()
      try {
        rows.push(...(await figure.run(ctx)))
      } catch (error) {
        failures++
        console.error(error)
        rows.push(failedRow(figure.id, figure.title, error))
      }
      console.error(`${figure.id}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
  } finally {
    await shutdownShared()
  }
  console.log(formatTable(rows))
  const order = FIGURES.map((f) => f.id)
  const all = [...(await previousRows(options.out, options.ids)), ...rows].sort(
    (a, b) => order.indexOf(figureOf(a.id)) - order.indexOf(figureOf(b.id)),
  )
  await writeResults(options.out, all)
  await writeResults(join(BENCH_DIR, '.tmp', 'last-run.json'), rows)
  await writeFile(join(BENCH_DIR, '.tmp', 'last-run.md'), `${formatMarkdown(rows)}\n`)
  const full = !options.smoke && options.ids.length === FIGURES.length && options.out === join(BENCH_DIR, 'results.json')
  if (full) await updateReadme(rows, startedAt, load)
  console.error(`wrote ${options.out}${options.smoke ? ' (smoke mode: sizes are tiny, numbers mean nothing)' : ''}`)
  return failures === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error)
    process.exit(2)
  },
)
