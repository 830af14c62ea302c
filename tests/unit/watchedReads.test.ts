import { describe, expect, test } from 'vitest'
import { watchedReads } from '../../src/realtime/watchedReads'

describe('watchedReads', () => {
  const key = 'getLessons(undefined)'

  test('the state says who subscribes', () => {
    const reads = watchedReads()
    expect(reads.watched(key, { [key]: { r1: {} } })).toBe(true)
    expect(reads.watched(key, { [key]: {} })).toBe(false)
    expect(reads.watched(key, {})).toBe(false)
  })

  test('a subscription seen counts until the state changes after it, which then says', () => {
    const reads = watchedReads()
    const before = {}
    reads.subscribed(key, before)
    expect(reads.watched(key, before)).toBe(true)
    // Synced, then left and synced again: nobody.
    expect(reads.watched(key, { [key]: { r1: {} } })).toBe(true)
    expect(reads.watched(key, { [key]: {} })).toBe(false)
    expect(reads.watched(key, before)).toBe(false)
  })

  test('forgets what it saw when cleared', () => {
    const reads = watchedReads()
    const now = {}
    reads.subscribed(key, now)
    reads.clear()
    expect(reads.watched(key, now)).toBe(false)
  })
})
