import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BENCH_DIR } from '../../bench/lib/paths'
import { TABLE_END, TABLE_START, withTable } from '../../bench/lib/readmeTable'

// A full `npm run bench` rewrites the table in bench/README.md; `npm test` then checks that file with Biome. The table
// used to be written plain, and the lint failed after every full run until someone formatted it by hand.

const PATH = join(BENCH_DIR, 'README.md')

describe('the table a full run writes into bench/README.md', () => {
  it('replaces what is between the markers, keeps the rest, and pads every cell to its column as Biome does', () => {
    const readme = `# Title\n\nBefore.\n\n${TABLE_START}\nold table\n${TABLE_END}\n\nAfter.\n`
    const block =
      'Run of today.\n\n| figure | value |\n| --- | ---: |\n| P1 a long name | 1 µs |\n| P2 | 12,345 events/s |'
    const out = withTable(readme, block, PATH)
    expect(out.startsWith('# Title\n\nBefore.\n\n<!-- bench:table:start -->\nRun of today.\n\n')).toBe(true)
    expect(out.endsWith('<!-- bench:table:end -->\n\nAfter.\n')).toBe(true)
    expect(out).not.toContain('old table')
    const rows = out.split('\n').filter((line) => line.startsWith('|'))
    expect(rows).toHaveLength(4)
    const bars = (row: string) => [...row].flatMap((char, i) => (char === '|' ? [i] : []))
    for (const row of rows) expect(bars(row), row).toEqual(bars(rows[0]!))
    expect(rows[3]).toBe('| P2             | 12,345 events/s |')
  })

  it('leaves the README as it is, formatted, when given the table it already holds', () => {
    const readme = readFileSync(PATH, 'utf8')
    const from = readme.indexOf(TABLE_START) + TABLE_START.length + 1
    const block = readme.slice(from, readme.indexOf(TABLE_END) - 1)
    expect(withTable(readme, block, PATH)).toBe(readme)
  })

  it('leaves a README without both markers, in their order, unchanged', () => {
    for (const readme of ['# No table here\n', `${TABLE_END}\nx\n${TABLE_START}\n`, `${TABLE_START}\nno end\n`])
      expect(withTable(readme, 'Run of today.', PATH)).toBe(readme)
  })
})
