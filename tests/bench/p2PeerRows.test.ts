import { describe, expect, test } from 'vitest'
import { peerRows } from '../../bench/figures/p2-burst'

// The peer's bursts take seconds, so P2 runs it in its first rounds only: whatever it is held against must come from
// those same rounds, or a machine that speeds up or slows down over the run moves the ratio, not the clients.

const rates = (...values: number[]) => values.map((eventsPerSecond) => ({ eventsPerSecond }))
const peer = (...values: number[]) =>
  values.map((eventsPerSecond) => ({ eventsPerSecond, notifications: 10, tasks: 5, tasksWithSeveral: 0, worstTask: 1 }))

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

  test("count the peer's notifications as the layer's are: the worst task of its worst round, not an average", () => {
    // Round 2 had one task followed by 7 notifications among 99 tasks with none: the average over tasks would hide it.
    const rounds = [
      { eventsPerSecond: 40, notifications: 10, tasks: 10, tasksWithSeveral: 0, worstTask: 1 },
      { eventsPerSecond: 40, notifications: 7, tasks: 100, tasksWithSeveral: 1, worstTask: 7 },
      { eventsPerSecond: 40, notifications: 12, tasks: 36, tasksWithSeveral: 2, worstTask: 2 },
    ]
    const rows = peerRows({ raw: rates(100, 100, 100), layer: rates(80, 80, 80), peer: rounds }, '10')
    const notify = rows.find((r) => r.id === 'P2-peer-notify')
    expect(notify).toMatchObject({ value: 7, unit: 'per task', target: null, met: null })
    expect(notify?.name).toMatch(
      /the most store notifications after any one event-loop task with data, worst of its 3 rounds/,
    )
    expect(notify?.name).toMatch(/the most tasks followed by more than one in any round: 2\)/)
  })
})
