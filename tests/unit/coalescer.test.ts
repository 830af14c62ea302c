import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createTagCoalescer } from '../../src/realtime'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('invalidation coalescer', () => {
  test('tags of a window are deduplicated by type and id and flushed once, at the end of the window', () => {
    const flush = vi.fn()
    const c = createTagCoalescer(flush, 250)
    c.add([{ type: 'Lesson', id: 'LIST' }])
    vi.advanceTimersByTime(100)
    c.add([
      { type: 'Lesson', id: 'LIST' },
      { type: 'Message', id: 'c1' },
    ])
    c.add([
      { type: 'Message', id: 'c1' },
      { type: 'Message', id: 'c2' },
    ])
    expect(c.size).toBe(3)
    vi.advanceTimersByTime(149)
    expect(flush).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(flush.mock.calls).toEqual([
      [
        [
          { type: 'Lesson', id: 'LIST' },
          { type: 'Message', id: 'c1' },
          { type: 'Message', id: 'c2' },
        ],
      ],
    ])
  })

  test('at most once per window: a steady stream of invalidations flushes once every 250 ms', () => {
    const flush = vi.fn()
    const c = createTagCoalescer(flush, 250)
    for (let t = 0; t < 1000; t += 10) {
      c.add([{ type: 'Conversation', id: 'LIST' }])
      vi.advanceTimersByTime(10)
    }
    expect(flush).toHaveBeenCalledTimes(4)
  })

  test('a storm spanning less than 1 s, starting anywhere and arriving unevenly, is at most 4 flushes, the last after its last event', () => {
    // A small deterministic generator: the same uneven storms every run.
    let seed = 11
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    for (let storm = 0; storm < 200; storm++) {
      const flush = vi.fn()
      const c = createTagCoalescer(flush, 250)
      vi.advanceTimersByTime(Math.floor(random() * 1000))
      const offsets = [
        0,
        999,
        ...Array.from({ length: 1 + Math.floor(random() * 100) }, () => Math.floor(random() * 1000)),
      ].sort((a, b) => a - b)
      let at = 0
      for (const offset of offsets) {
        vi.advanceTimersByTime(offset - at)
        at = offset
        c.add([{ type: 'Lesson', id: 'LIST' }])
      }
      vi.advanceTimersByTime(250)
      // A window opens at the first event after a flush and closes 250 ms later, wherever the clock stands: four of
      // them cover any span shorter than 1 s (a grid of the clock's multiples of 250 ms would cut a storm starting at
      // 7 ms into five).
      expect(flush.mock.calls.length, `storm ${storm} at ${offsets.join(',')}`).toBeLessThanOrEqual(4)
      expect(c.size).toBe(0)
    }
  })

  test('nothing gathered, nothing flushed; cancel forgets; window 0 flushes at once', () => {
    const flush = vi.fn()
    const c = createTagCoalescer(flush, 250)
    c.add([])
    vi.advanceTimersByTime(1000)
    c.add([{ type: 'Lesson', id: 'LIST' }])
    c.cancel()
    vi.advanceTimersByTime(1000)
    expect(flush).not.toHaveBeenCalled()
    const now = vi.fn()
    createTagCoalescer(now, 0).add([{ type: 'Lesson', id: 'LIST' }])
    expect(now).toHaveBeenCalledTimes(1)
  })
})
