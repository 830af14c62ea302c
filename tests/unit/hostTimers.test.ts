import { afterEach, describe, expect, test, vi } from 'vitest'
import { hostTimers } from '../../src/realtime/timers'

afterEach(() => {
  vi.useRealTimers()
})

describe('hostTimers', () => {
  test('a wait longer than setTimeout can hold (2^31 - 1 ms, some 25 days) is not over at once', () => {
    // Fake timers do as the hosts do: a longer delay overflows, and the callback runs at once.
    vi.useFakeTimers()
    const fired: number[] = []
    hostTimers.setTimeout(() => fired.push(1), 30 * 24 * 3600 * 1000)
    vi.advanceTimersByTime(60_000)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(2 ** 31)
    expect(fired).toEqual([1])
  })
})
