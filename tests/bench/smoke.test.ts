import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { FIGURES } from '../../bench/figures/index'

// `npm run bench -- --smoke` as a child process (tiny sizes): checks that every figure runs and every row of
// results.json is well-formed. Never checks a number against a target: a slow machine cannot fail it.

const root = resolve(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'talemy-bench-smoke-'))
const out = join(dir, 'results.json')

afterAll(() => rmSync(dir, { recursive: true, force: true }))

function runSmoke(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/run.ts'), '--smoke', '--out', out], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  // At 'close', once its output is all read: 'exit' may come before the last of it.
  return new Promise((resolvePromise) => child.once('close', (code) => resolvePromise({ code, stdout, stderr })))
}

const FIGURE_IDS = FIGURES.map((figure) => figure.id)
const KEYS = ['baseline', 'id', 'met', 'name', 'ratio', 'target', 'unit', 'value']

describe('npm run bench -- --smoke', () => {
  // The bound only catches a hang: the smoke run takes 40 s on a quiet machine and 2 min at a load of 8 to 11, and went
  // past 5 min at 12 (a CI run beside three other suites).
  test('runs every figure and writes well-formed rows', { timeout: 600_000 }, async () => {
    const run = await runSmoke()
    // A failed figure logs its error where it failed, long before the end of the run: show those lines first.
    const errorLines = run.stderr.split('\n').filter((line) => /error|failed|at .+:\d+:\d+/i.test(line))
    expect(run.code, `${errorLines.slice(0, 40).join('\n')}\n…\n${run.stderr.slice(-2000)}`).toBe(0)
    expect(run.stdout).toMatch(/^figure\s+value\s+baseline\s+ratio\s+target\s+met/m)

    // results.json keeps the last runs, each with its date and the machine's load average.
    const results = JSON.parse(readFileSync(out, 'utf8')) as { runs: Array<Record<string, unknown>> }
    expect(results.runs).toHaveLength(1)
    const recorded = results.runs[0]!
    expect(Number.isNaN(Date.parse(recorded.date as string))).toBe(false)
    expect(recorded.smoke).toBe(true)
    const load = recorded.load as { start: number[]; end: number[] }
    for (const l of [load.start, load.end])
      expect(l.length === 3 && l.every((x) => typeof x === 'number' && x >= 0), JSON.stringify(load)).toBe(true)
    // Every registered figure ran, in table order; none of the figures has gone from the register.
    expect(FIGURE_IDS).toEqual(
      expect.arrayContaining([
        'P1',
        'P2',
        'P3',
        'P4',
        'P5',
        'P6',
        'P7',
        'P8',
        'P9',
        'P10',
        'P11',
        'P12',
        'P13',
        'P14',
        'P15',
      ]),
    )
    expect((recorded.figures as Array<{ id: string }>).map((f) => f.id)).toEqual(FIGURE_IDS)
    const rows = recorded.rows as Record<string, unknown>[]
    expect(Array.isArray(rows)).toBe(true)
    for (const r of rows) {
      const where = `row ${JSON.stringify(r)}`
      expect(Object.keys(r).sort(), where).toEqual(KEYS)
      expect(typeof r.id === 'string' && FIGURE_IDS.includes(r.id.split('-')[0]!), where).toBe(true)
      expect(typeof r.name === 'string' && r.name.length > 0 && !r.name.includes('FAILED'), where).toBe(true)
      expect(typeof r.value === 'number' && Number.isFinite(r.value), where).toBe(true)
      expect(typeof r.unit, where).toBe('string')
      expect(r.baseline === null || (typeof r.baseline === 'number' && Number.isFinite(r.baseline)), where).toBe(true)
      expect(r.ratio === null || typeof r.ratio === 'number', where).toBe(true)
      if (r.baseline === null) expect(r.ratio, where).toBeNull()
      expect(r.target === null || typeof r.target === 'string', where).toBe(true)
      expect(r.met === null || typeof r.met === 'boolean', where).toBe(true)
      expect(r.met === null, where).toBe(r.target === null)
    }
    const ids = rows.map((r) => r.id as string)
    expect(new Set(ids).size).toBe(ids.length)
    for (const figure of FIGURE_IDS)
      expect(
        ids.some((id) => id === figure || id.startsWith(`${figure}-`)),
        figure,
      ).toBe(true)
    // What it measured is drawn beside results.json: hand-written SVG.
    for (const chart of ['p1-latency', 'p2-throughput', 'p4-thread-size', 'p6-heap']) {
      const svg = readFileSync(join(dir, `${chart}.svg`), 'utf8')
      expect(svg, chart).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>\n$/)
      expect(svg, chart).toMatch(/<polyline|<rect x="[\d.]+" y="[\d.]+" width/)
    }
    // The rows that carry the targets are there.
    for (const id of [
      'P1-p50',
      'P2',
      'P2-notify',
      'P3-worst',
      'P5',
      'P5-ceiling',
      'P6',
      'P6-socket',
      'P6-manager',
      'P6-alive',
      'P7-p99',
      'P7-lost',
      'P10-requests',
      'P11',
      'P12',
      'P12-restart',
      'P15',
      'P15-crash',
      'P15-sockets',
      'P15-lost',
    ]) {
      expect(rows.find((r) => r.id === id)?.target, id).toEqual(expect.any(String))
    }
    // P8 and P9 need PostgreSQL and Redis: their target rows, or one row saying they were skipped and why.
    for (const [figure, id] of [
      ['P8', 'P8'],
      ['P9', 'P9-lost'],
    ]) {
      const skipped = rows.find((r) => r.id === `${figure}-skipped`)
      if (skipped) expect(skipped.name, figure).toMatch(/skipped: needs PostgreSQL and Redis \(.+\)/)
      else expect(rows.find((r) => r.id === id)?.target, id).toEqual(expect.any(String))
    }
    // P13 without PostgreSQL or Redis runs on one node: its row is then P13-one-node, with no target to meet.
    const oneNode = rows.find((r) => r.id === 'P13-one-node')
    if (oneNode) expect([oneNode.target, rows.some((r) => r.id === 'P13')], 'P13').toEqual([null, false])
    else expect(rows.find((r) => r.id === 'P13')?.target, 'P13').toEqual(expect.any(String))
  })
})
