import { describe, expect, it } from 'vitest'
import { describeStalls, watchStalls } from '../../bench/lib/stalls'

/** Holds this process's event loop for `ms` (what a slow handler or a long query in the same thread does). */
function block(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy: nothing else runs
  }
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 20))

describe('watchStalls', () => {
  it('reports a loop held for 80 ms as a delay of at least 70 ms at its worst', async () => {
    const watch = watchStalls()
    await tick()
    block(80)
    await tick()
    const stalls = watch.stop()
    // The timer due within the block ran once it ended: late by the block, less at most one 5 ms tick.
    expect(stalls.loopMaxMs).toBeGreaterThanOrEqual(70)
    expect(stalls.loopP99Ms).toBeLessThanOrEqual(stalls.loopMaxMs)
    expect(describeStalls(stalls)).toMatch(/^event-loop delay p99 [\d.]+ ms, worst [\d.]+ ms; GC \d+ pauses/)
  })

  it('counts the garbage collector’s pauses while it watches', async () => {
    const watch = watchStalls()
    // Enough short-lived garbage that the young generation is collected at least once.
    let keep = 0
    for (let i = 0; i < 200; i++) keep += new Array(50_000).fill(i).length
    await tick()
    const stalls = watch.stop()
    expect(keep).toBe(200 * 50_000)
    expect(stalls.gcCount).toBeGreaterThan(0)
    expect(stalls.gcTotalMs).toBeGreaterThan(0)
    expect(stalls.gcMaxMs).toBeLessThanOrEqual(stalls.gcTotalMs)
  })
})
