/**
 * `npm run bench [-- P1 P4] [--smoke] [--out file]`: measures the realtime layer against baselines taken in the same
 * run, prints the table, appends the run (date, load average, rows) to `bench/results.json` (the last few runs are
 * kept) and writes the figures' charts (SVG) beside it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { FIGURES } from './figures'
import type { FigureContext } from './lib/figure'
import { runInOwnProcess } from './lib/ownProcess'
import { failedRow, recordRun, type Row, type Run } from './lib/results'
import { describeRun, formatMarkdown, formatTable } from './lib/table'
import { BENCH_DIR } from './lib/paths'
import { withTable } from './lib/readmeTable'
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

/** A full run (every figure, real sizes, the default output) refreshes the table in bench/README.md. */
async function updateReadme(run: Run): Promise<void> {
  const path = join(BENCH_DIR, 'README.md')
  const readme = await readFile(path, 'utf8')
  await writeFile(path, withTable(readme, `${describeRun(run)}\n\n${formatMarkdown(run.rows)}`, path))
}

async function main(): Promise<number> {
  const startedAt = new Date()
  const loadStart = loadavg()
  const options = parseArgs(process.argv.slice(2))
  // The figures are of the production build's code paths (RTK's and React's dev checks off): anything else misleads.
  if (process.env.NODE_ENV !== 'production' && !options.smoke)
    throw new Error(`NODE_ENV is ${process.env.NODE_ENV ?? 'unset'}, not production: run \`npm run bench\``)
  const chartDir = dirname(options.out)
  const charts: Array<[string, string]> = []
  const ctx: FigureContext = {
    smoke: options.smoke,
    log: (line) => console.error(`  ${line}`),
    draw: (name, svg) => void charts.push([name, svg]),
  }
  const rows: Row[] = []
  const figures: Run['figures'] = []
  let failures = 0
  try {
    for (const figure of FIGURES.filter((f) => options.ids.includes(f.id))) {
      const load1 = loadavg()[0]!
      console.error(`${figure.id}: ${figure.title}… (load average ${load1.toFixed(1)})`)
      const started = Date.now()
      try {
        rows.push(...(await (figure.ownProcess ? runInOwnProcess(figure.id, ctx) : figure.run(ctx))))
      } catch (error) {
        failures++
        console.error(error)
        rows.push(failedRow(figure.id, figure.title, error))
      }
      const seconds = (Date.now() - started) / 1000
      figures.push({ id: figure.id, seconds, load1 })
      console.error(`${figure.id}: done in ${seconds.toFixed(1)} s`)
    }
  } finally {
    await shutdownShared()
  }
  console.log(formatTable(rows))
  const run: Run = {
    date: startedAt.toISOString(),
    node: process.version,
    cores: cpus().length,
    load: { start: loadStart, end: loadavg() },
    smoke: options.smoke,
    figures,
    rows,
  }
  await recordRun(options.out, run)
  await mkdir(chartDir, { recursive: true })
  for (const [name, svg] of charts) await writeFile(join(chartDir, `${name}.svg`), svg)
  await mkdir(join(BENCH_DIR, '.tmp'), { recursive: true })
  await writeFile(join(BENCH_DIR, '.tmp', 'last-run.md'), `${describeRun(run)}\n\n${formatMarkdown(rows)}\n`)
  const full =
    !options.smoke && options.ids.length === FIGURES.length && options.out === join(BENCH_DIR, 'results.json')
  if (full) await updateReadme(run)
  console.error(
    `${describeRun(run)}\nwrote ${options.out} and ${charts.length} charts in ${chartDir}${options.smoke ? ' (smoke mode: sizes are tiny, numbers mean nothing)' : ''}`,
  )
  return failures === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error)
    process.exit(2)
  },
)
