import { describe, expect, test } from 'vitest'
import { describeIssues, messageSchema, parse, sendMessageSchema, MAX_CONTENT_LENGTH } from '../../src/contract'

const message = {
  id: 'm1',
  conversationId: 'c1',
  seq: 1,
  senderId: 'u1',
  content: 'hello',
  createdAt: '2026-11-24T07:00:00.000Z',
  clientId: null,
}

describe('parse', () => {
  test('returns a fresh value without unknown keys, __proto__ included', () => {
    const input = JSON.parse(
      '{"__proto__":{"polluted":true},"conversationId":"c1","content":"hi","clientId":"k1","extra":1}',
    )
    const result = parse(sendMessageSchema, input)
    expect(result).toEqual({ ok: true, value: { conversationId: 'c1', content: 'hi', clientId: 'k1' } })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test.each([
    ['missing content', { conversationId: 'c1', clientId: 'k' }, 'content: is required'],
    ['empty content', { conversationId: 'c1', content: '', clientId: 'k' }, 'content: must not be empty'],
    [
      'oversized content',
      { conversationId: 'c1', content: 'x'.repeat(MAX_CONTENT_LENGTH + 1), clientId: 'k' },
      `content: must be at most ${MAX_CONTENT_LENGTH} characters`,
    ],
    [
      'NUL in content',
      { conversationId: 'c1', content: 'a\u0000b', clientId: 'k' },
      'content: must not contain NUL characters',
    ],
    [
      'NUL in clientId',
      { conversationId: 'c1', content: 'a', clientId: 'k\u0000' },
      'clientId: must not contain NUL characters',
    ],
    ['numeric clientId', { conversationId: 'c1', content: 'a', clientId: 5 }, 'clientId: must be a string'],
    ['not an object', 'hello', 'expected Object'],
  ])('%s is named in the error', (_name, input, expected) => {
    const result = parse(sendMessageSchema, input)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(describeIssues(result.issues)).toBe(expected)
  })

  test('never echoes the raw input in issues', () => {
    const secret = 'SECRET-VALUE-123'
    const result = parse(messageSchema, { ...message, seq: secret, content: 42, createdAt: secret })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(JSON.stringify(result.issues)).not.toContain(secret)
  })

  test('reports at most ten issues', () => {
    const result = parse(messageSchema, {
      id: 1,
      conversationId: 2,
      seq: 'x',
      senderId: 3,
      content: 4,
      createdAt: 5,
      clientId: 6,
      a: 1,
    })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.issues.length).toBeLessThanOrEqual(10)
  })

  test('accepts a valid message', () => {
    expect(parse(messageSchema, message)).toEqual({ ok: true, value: message })
  })
})
