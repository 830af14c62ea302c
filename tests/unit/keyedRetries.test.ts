import { describe, expect, test } from 'vitest'
import { keyedRetries } from '../../src/realtime/backoff'
import { manualTimers } from './tabs/support/tabBus'

// random 0.5, base 500 ms: the n-th failure in a row waits 250 · 2^(n-1) ms (up to the cap).
const setup = () => {
  const clock = manualTimers()
  const retries = keyedRetries<string>(clock, { baseMs: 500, capMs: 30_000 }, () => 0.5)
  const fired: string[] = []
  const fail = (key: string, atLeastMs = 0) => retries.later(key, atLeastMs, () => fired.push(key))
  return { clock, retries, fired, fail }
}

describe('keyedRetries: per-key retries with a growing full-jitter backoff', () => {
  test('each failure in a row waits longer; a success starts the count over', () => {
    const { clock, retries, fired, fail } = setup()
    fail('a')
    clock.advance(250)
    expect(fired).toEqual(['a'])
    fail('a')
    clock.advance(499)
    expect(fired).toEqual(['a'])
    clock.advance(1)
    expect(fired).toEqual(['a', 'a'])
    expect(retries.failures('a')).toBe(2)
    retries.forget('a')
    expect(retries.failures('a')).toBe(0)
    fail('a')
    clock.advance(250)
    expect(fired).toEqual(['a', 'a', 'a'])
    expect(retries.failures('a')).toBe(1)
  })

  test('a wait is at least what the server asked; keys wait apart; a new failure replaces the wait of its key', () => {
    const { clock, retries, fired, fail } = setup()
    fail('a', 2000)
    fail('b')
    fail('b')
    expect(retries.waiting('a')).toBe(true)
    clock.advance(499)
    expect(fired).toEqual([])
    clock.advance(1)
    expect(fired).toEqual(['b'])
    clock.advance(1500)
    expect(fired).toEqual(['b', 'a'])
    expect(clock.pending()).toBe(0)
  })

  test('cancel keeps the count, forget and clear drop it; none leaves a timer behind', () => {
    const { clock, retries, fired, fail } = setup()
    fail('a')
    retries.cancel('a')
    expect(retries.waiting('a')).toBe(false)
    fail('a')
    clock.advance(499)
    expect(fired).toEqual([])
    clock.advance(1)
    expect(fired).toEqual(['a'])
    fail('a')
    fail('b')
    retries.clear()
    expect(clock.pending()).toBe(0)
    fail('a')
    clock.advance(250)
    expect(fired).toEqual(['a', 'a'])
  })
})
