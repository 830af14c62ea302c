import type { UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test } from 'vitest'
import { backoffDelay, connect, emitFor, joinConversation, leaveConversation, newClientId, sendMessage, type Emit } from '../../src/realtime'

describe('action → emit', () => {
  test.each<[string, UnknownAction, Emit | null]>([
    ['joinConversation', joinConversation({ conversationId: 'c1' }), { event: 'conversation:join', payload: 'c1' }],
    ['leaveConversation', leaveConversation({ conversationId: 'c1' }), { event: 'conversation:leave', payload: 'c1' }],
    [
      'sendMessage',
      sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }),
      { event: 'message:send', payload: { conversationId: 'c1', content: 'hi', clientId: 'k1' } },
    ],
    ['connect (nothing to emit)', connect(), null],
    ['a foreign action', { type: 'other/thing' }, null],
  ])('%s', (_name, action, expected) => {
    expect(emitFor(action)).toEqual(expected)
  })
})

describe('full-jitter backoff', () => {
  const options = { baseMs: 500, capMs: 30_000 }
  test.each([
    [1, 0.999, 499],
    [2, 0.999, 999],
    [3, 0.5, 1000],
    [7, 0.999, 29_970],
    [20, 0.999, 29_970],
    [4, 0, 0],
  ])('attempt %i with random %f → %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, options, () => random)).toBe(expected)
  })
})

describe('clientId', () => {
  test('falls back to getRandomValues where randomUUID is missing (not a secure context)', () => {
    const original = globalThis.crypto
    const partial = { getRandomValues: original.getRandomValues.bind(original) }
    Object.defineProperty(globalThis, 'crypto', { value: partial, configurable: true })
    try {
      const ids = new Set(Array.from({ length: 100 }, () => newClientId()))
      expect(ids.size).toBe(100)
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    } finally {
      Object.defineProperty(globalThis, 'crypto', { value: original, configurable: true })
    }
  })
})
