import { describe, expect, test } from 'vitest'
import { peerRows } from '../../bench/figures/p2-burst'

// The peer's bursts take seconds, so P2 runs it in its first rounds only: whatever it is held against must come from
// those same rounds, or a machine that speeds up or slows down over the run moves the ratio, not the clients.

const rates = (...values: number[]) => values.map((eventsPerSecond) => ({ eventsPerSecond }))
const peer = (...values: number[]) =>
  values.map((eventsPerSecond) => ({ eventsPerSecond, notifications: 10, tasks: 5 }))

describe("P2's rows on the peer", () => {
  test('hold the layer and raw against the peer over the rounds the peer ran, not over all of theirs', () => {
    // The machine ran at 100 events/s in the first three rounds and at 1,000 after: the peer only saw the slow part.
    const rows = peerRows(
      {
        raw: rates(100, 100, 100, 1000, 1000, 1000, 1000, 1000, 1000),
        layer: rates(80, 80, 80, 800, 800, 800, 800, 800, 800),
        peer: peer(40, 40, 40),
      },
      '10',
    )
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]))
    expect(byId['P2-vs-peer']).toMatchObject({ value: 80, baseline: 40, ratio: 2, met: true })
    expect(byId['P2-peer']).toMatchObject({ value: 40, baseline: 100, ratio: 0.4 })
  })
})
