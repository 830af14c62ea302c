import { describe, expect, test } from 'vitest'
import { p3Rows } from '../../bench/figures/p3-invalidation'

// The storm's events patch nothing, so only a read of the list that starts after the last of them leaves it fresh. A
// layer that refetched on the first window and dropped the rest makes fewer requests, not better ones: P3's rows must
// not read met for it.

const rounds = (stale: number) => ({
  n: 1000,
  durationMs: 1000,
  layer: [1, 1, 1, 1, 1, 1, 1],
  naive: [190, 195, 193, 180, 185, 187, 199],
  received: { layer: 1000, naive: 1000 },
  stale,
  applied: 1000,
})

describe("P3's rows", () => {
  test('a round whose last read of the list started before the storm’s last event reads not met', () => {
    const rows = p3Rows(rounds(1))
    expect(rows.filter((r) => r.met === false).map((r) => r.id)).toEqual(['P3-stale'])
    expect(rows.find((r) => r.id === 'P3-stale')).toMatchObject({ value: 1, target: '= 0 rounds' })
  })

  test('every round read after the last event: met', () => {
    const rows = p3Rows(rounds(0))
    expect(rows.find((r) => r.id === 'P3-stale')).toMatchObject({ value: 0, met: true })
    expect(rows.every((r) => r.met !== false)).toBe(true)
  })
})
