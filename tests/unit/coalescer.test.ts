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
    c.add([{ type: 'Lesson', id: 'LIST' }, { type: 'Message', id: 'c1' }])
    c.add([{ type: 'Message', id: 'c1' }, { type: 'Message', id: 'c2' }])
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
