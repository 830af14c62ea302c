import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { failedRow, recordRun, row, type Run } from '../../bench/lib/results'

// Every figure's "met" comes from `row`: the smoke run only checks that it is a boolean where there is a target, so
// these pin which field it is read from and that a figure that measured nothing cannot meet its target.

describe('row: what met is computed from', () => {
  test('a ratio target reads value / baseline, not the value', () => {
    // A value under the limit whose ratio is over it, and the other way round.
    expect(
      row({ id: 'a', name: 'a', value: 1, unit: 'µs', baseline: 0.5, target: { on: 'ratio', op: '<=', limit: 1.3 } }),
    ).toMatchObject({ ratio: 2, met: false, target: 'ratio ≤ 1.3' })
    expect(
      row({ id: 'b', name: 'b', value: 5, unit: 'µs', baseline: 10, target: { on: 'ratio', op: '<=', limit: 1.3 } }),
    ).toMatchObject({ ratio: 0.5, met: true })
  })

  test('a value target reads the value, not the ratio', () => {
    expect(
      row({
        id: 'c',
        name: 'c',
        value: 120,
        unit: 'µs',
        baseline: 1000,
        target: { on: 'value', op: '<=', limit: 100 },
      }),
    ).toMatchObject({ ratio: 0.12, met: false, target: '≤ 100 µs' })
  })

  test('a missing, zero or non-finite measurement or baseline does not meet a target', () => {
    const ratio = { on: 'ratio', op: '<=', limit: 1.2 } as const
    expect(row({ id: 'd', name: 'd', value: 1, unit: 'B', baseline: null, target: ratio }).met).toBe(false)
    expect(row({ id: 'e', name: 'e', value: 1, unit: 'B', baseline: 0, target: ratio }).met).toBe(false)
    expect(row({ id: 'f', name: 'f', value: Number.NaN, unit: 'B', baseline: 1, target: ratio }).met).toBe(false)
    expect(
      row({ id: 'g', name: 'g', value: Number.NaN, unit: 'B', target: { on: 'value', op: '<=', limit: 4 } }).met,
    ).toBe(false)
  })

  test('no target, no verdict; a figure that threw reads not met', () => {
    expect(row({ id: 'h', name: 'h', value: 1, unit: 'B', baseline: 2 })).toMatchObject({ target: null, met: null })
    expect(failedRow('P9', 'storm', new Error('timed out\nat x'))).toMatchObject({
      met: false,
      name: 'storm — FAILED: timed out at x',
    })
  })
})

describe('recordRun: the recorded runs every README figure is quoted from', () => {
  const run = (date: string): Run => ({
    date,
    node: 'v20',
    cores: 2,
    load: { start: [1, 1, 1], end: [1, 1, 1] },
    smoke: false,
    figures: [],
    rows: [],
  })

  test('a results file it cannot read is left as it is, not replaced by this run alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-results-'))
    try {
      const path = join(dir, 'results.json')
      // As a merge of two branches that both recorded a run leaves it.
      const conflicted =
        '{\n  "runs": [\n<<<<<<< HEAD\n    { "date": "a" }\n=======\n    { "date": "b" }\n>>>>>>> x\n  ]\n}\n'
      await writeFile(path, conflicted)
      await expect(recordRun(path, run('2026-12-07T00:00:00.000Z'))).rejects.toThrow(/results\.json/)
      expect(await readFile(path, 'utf8')).toBe(conflicted)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('no file yet: the first run starts it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-results-'))
    try {
      const path = join(dir, 'sub', 'results.json')
      const results = await recordRun(path, run('2026-12-07T00:00:00.000Z'))
      expect(results.runs.map((r) => r.date)).toEqual(['2026-12-07T00:00:00.000Z'])
      expect(JSON.parse(await readFile(path, 'utf8')).runs).toHaveLength(1)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
