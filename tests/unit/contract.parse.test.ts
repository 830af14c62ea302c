import { describe, expect, test } from 'vitest'
import {
  ackSchema,
  conversationSchema,
  describeIssues,
  ephemeralEventSchemas,
  errorBodySchema,
  eventMetaSchema,
  lessonSchema,
  messageSchema,
  parse,
  syncPayloadSchema,
  userSchema,
  MAX_CONTENT_LENGTH,
} from '../../src/contract'
import { parseRequest, sendMessageSchema } from '../../src/contract/requests'

const message = {
  id: 'm1',
  conversationId: 'c1',
  seq: 1,
  senderId: 'u1',
  content: 'hello',
  createdAt: '2026-11-24T07:00:00.000Z',
  clientId: null,
}

const lesson = {
  id: 'l1',
  tutorId: 'u1',
  studentId: 'u2',
  subject: 'Algebra',
  startsAt: '2026-12-01T10:00:00.000Z',
  durationMinutes: 60,
  status: 'pending',
  updatedAt: '2026-11-24T08:00:00.000Z',
}

/** `describeIssues` of a refused value, or 'ok'. */
const wording = (result: ReturnType<typeof parse>) => (result.ok ? 'ok' : describeIssues(result.issues))

describe('parse (the checks of what the browser reads)', () => {
  test('returns a fresh value without unknown keys, __proto__ included', () => {
    const input = JSON.parse(`{"__proto__":{"polluted":true},"extra":1,${JSON.stringify(message).slice(1)}`)
    const result = parse(messageSchema, input)
    expect(result).toEqual({ ok: true, value: message })
    if (result.ok) {
      expect(result.value).not.toBe(input)
      expect(Object.keys(result.value)).toEqual(Object.keys(message))
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test('a map (readSeq) keeps its entries but drops __proto__, prototype and constructor', () => {
    const conversation = JSON.parse(
      '{"id":"c1","participantIds":["u1","u2"],"lastMessage":null,"unreadCount":0,"updatedAt":"2026-11-24T07:00:00Z",' +
        '"readSeq":{"u1":3,"__proto__":{"polluted":true},"constructor":1,"u2":0}}',
    )
    const result = parse(conversationSchema, conversation)
    expect(result.ok).toBe(true)
    if (result.ok) {
      expect(result.value.readSeq).toEqual({ u1: 3, u2: 0 })
      expect(Object.getPrototypeOf(result.value.readSeq)).toBe(Object.prototype)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test.each([
    ['a valid message', message, 'ok'],
    ['missing content', { ...message, content: undefined }, 'content: is required'],
    ['a numeric content', { ...message, content: 42 }, 'content: expected string'],
    ['seq as a string', { ...message, seq: 'three' }, 'seq: expected number'],
    ['seq NaN', { ...message, seq: Number.NaN }, 'seq: expected number'],
    ['seq 0', { ...message, seq: 0 }, 'seq: must be at least 1'],
    ['seq 1.5', { ...message, seq: 1.5 }, 'seq: must be a whole number'],
    ['an empty id', { ...message, id: '' }, 'id: must be a non-empty id'],
    ['an id of 101 characters', { ...message, id: 'x'.repeat(101) }, 'id: is too long'],
    ['not a timestamp', { ...message, createdAt: 'yesterday' }, 'createdAt: must be an ISO-8601 timestamp'],
    ['a date only', { ...message, createdAt: '2026-11-24' }, 'createdAt: must be an ISO-8601 timestamp'],
    ['a timestamp with an offset', { ...message, createdAt: '2026-11-24T09:00:00+01:00' }, 'ok'],
    ['an offset without a colon', { ...message, createdAt: '2026-11-24 09:00:00+0100' }, 'ok'],
    // Read as no time at all (`Date.parse` gives NaN), such a time would sort as the oldest: a newer status lost.
    [
      'an offset of hours only',
      { ...message, createdAt: '2026-11-24T09:00:00+01' },
      'createdAt: must be an ISO-8601 timestamp',
    ],
    [
      'a space before the offset',
      { ...message, createdAt: '2026-11-24T09:00:00 +01:00' },
      'createdAt: must be an ISO-8601 timestamp',
    ],
    // Keys of the reducers' plain objects: `state.typing.constructor` is a function, and the event threw there.
    [
      'an id named like a built-in',
      { ...message, conversationId: 'constructor' },
      'conversationId: must not be a name JavaScript reserves',
    ],
    ['an id of __proto__', { ...message, senderId: '__proto__' }, 'senderId: must not be a name JavaScript reserves'],
    ['an id of toString', { ...message, id: 'toString' }, 'id: must not be a name JavaScript reserves'],
    ['a clientId of a number', { ...message, clientId: 1 }, 'clientId: expected string'],
    ['a clientId string', { ...message, clientId: 'k1' }, 'ok'],
    ['not an object', 'hello', 'expected Object'],
    ['null', null, 'expected Object'],
    ['nothing', undefined, 'is required'],
  ])('a message: %s', (_name, input, expected) => {
    expect(wording(parse(messageSchema, input))).toBe(expected)
  })

  test.each([
    ['a valid lesson', lesson, 'ok'],
    [
      'an unknown status',
      { ...lesson, status: 'maybe' },
      'status: expected pending | confirmed | cancelled | completed',
    ],
    ['a missing status', { ...lesson, status: undefined }, 'status: is required'],
    ['a zero duration', { ...lesson, durationMinutes: 0 }, 'durationMinutes: must be at least 1'],
  ])('a lesson: %s', (_name, input, expected) => {
    expect(wording(parse(lessonSchema, input))).toBe(expected)
  })

  test.each([
    ['a user without presence', { id: 'u1', name: 'Ann', role: 'tutor' }, 'ok'],
    ['a user with null presence', { id: 'u1', name: 'Ann', role: 'tutor', online: null, lastSeenAt: null }, 'ok'],
    ['a role outside the list', { id: 'u1', name: 'Ann', role: 'admin' }, 'role: expected student | tutor'],
    ['online as a string', { id: 'u1', name: 'Ann', role: 'tutor', online: 'yes' }, 'online: expected boolean'],
  ])('%s', (_name, input, expected) => {
    expect(wording(parse(userSchema, input))).toBe(expected)
  })

  test('an optional field left out stays out of the value', () => {
    const result = parse(userSchema, { id: 'u1', name: 'Ann', role: 'tutor' })
    expect(result.ok && Object.keys(result.value)).toEqual(['id', 'name', 'role'])
  })

  test('the paths of nested fields and list items are dotted', () => {
    const snapshot = {
      users: [
        { userId: 'u1', online: true, lastSeenAt: null },
        { userId: 'u2', online: 'no' },
      ],
    }
    expect(wording(parse(ephemeralEventSchemas['presence:snapshot'], snapshot))).toBe(
      'users.1.online: expected boolean; users.1.lastSeenAt: is required',
    )
    const conversation = {
      id: 'c1',
      participantIds: ['u1', 'u2'],
      lastMessage: { ...message, seq: -1 },
      unreadCount: 0,
      updatedAt: '2026-11-24T07:00:00Z',
      readSeq: { u1: 'x' },
    }
    expect(wording(parse(conversationSchema, conversation))).toBe(
      'lastMessage.seq: must be at least 1; readSeq.u1: expected number',
    )
  })

  test('a presence snapshot of more than 10,000 users is refused as a whole', () => {
    const users = Array.from({ length: 10_001 }, (_, i) => ({ userId: `u${i}`, online: false, lastSeenAt: null }))
    expect(wording(parse(ephemeralEventSchemas['presence:snapshot'], { users }))).toBe('users: is too long')
  })

  test.each([
    ['an offset', { offset: 3, epoch: 'e1' }, 'ok'],
    ['offset 0 (nothing logged yet)', { offset: 0, epoch: 'e1' }, 'ok'],
    ['a negative offset', { offset: -1, epoch: 'e1' }, 'offset: must be at least 0'],
    ['an empty epoch', { offset: 1, epoch: '' }, 'epoch: must not be empty'],
    ['an epoch of 101 characters', { offset: 1, epoch: 'e'.repeat(101) }, 'epoch: is too long'],
  ])('a sync payload: %s', (_name, input, expected) => {
    expect(wording(parse(syncPayloadSchema, input))).toBe(expected)
  })

  test("a logged event's offset is 1 or more", () => {
    expect(wording(parse(eventMetaSchema, { offset: 1 }))).toBe('ok')
    expect(wording(parse(eventMetaSchema, { offset: 0 }))).toBe('offset: must be at least 1')
  })

  test.each([
    ['ok with data', { ok: true, data: { id: 'm1' } }, { ok: true, data: { id: 'm1' } }],
    ['ok with null', { ok: true, data: null }, { ok: true, data: null }],
    [
      'an error',
      { ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 500, extra: 1 } },
      { ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 500 } },
    ],
  ])('an ack: %s', (_name, input, value) => {
    expect(parse(ackSchema, input)).toEqual({ ok: true, value })
  })

  test.each([
    ['an unknown code', { ok: false, error: { code: 'TEAPOT', message: 'x' } }, 'error.code: expected'],
    ['no error', { ok: false }, 'error: is required'],
    ['ok of a string', { ok: 'yes', data: 1 }, 'ok: expected false'],
    ['a negative retry', { ok: false, error: { code: 'INTERNAL', message: 'x', retryAfterMs: -1 } }, 'retryAfterMs'],
    ['not an object', 'ok', 'expected Object'],
  ])('a malformed ack: %s', (_name, input, expected) => {
    expect(wording(parse(ackSchema, input))).toContain(expected)
  })

  test('an HTTP error body', () => {
    expect(parse(errorBodySchema, { error: { code: 'INVALID', message: 'content: must not be empty' } })).toEqual({
      ok: true,
      value: { error: { code: 'INVALID', message: 'content: must not be empty' } },
    })
    expect(wording(parse(errorBodySchema, { error: { code: 'INVALID' } }))).toBe('error.message: is required')
  })

  test('never echoes the raw input in issues', () => {
    const secret = 'SECRET-VALUE-123'
    const result = parse(messageSchema, { ...message, seq: secret, content: 42, createdAt: secret, id: secret })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(JSON.stringify(result.issues)).not.toContain(secret)
  })

  test("a map's key that fails its check is named by its place, never echoed", () => {
    const key = `SECRET-${'k'.repeat(200)}`
    const conversation = {
      id: 'c1',
      participantIds: ['u1', 'u2'],
      lastMessage: null,
      unreadCount: 0,
      updatedAt: '2026-11-24T07:00:00Z',
      readSeq: { u1: 1, [key]: 'x', '': 2 },
    }
    const result = parse(conversationSchema, conversation)
    expect(wording(result)).toBe(
      'readSeq.[key 1]: is too long; readSeq.[key 1]: expected number; readSeq.[key 2]: must be a non-empty id',
    )
    expect(JSON.stringify(result)).not.toContain('SECRET')
  })

  test('reports at most ten issues', () => {
    const users = Array.from({ length: 30 }, () => ({ userId: 1, online: 1, lastSeenAt: 1 }))
    const result = parse(ephemeralEventSchemas['presence:snapshot'], { users })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.issues).toHaveLength(10)
  })
})

describe("parseRequest (the server's valibot schemas for what clients send)", () => {
  test('returns a fresh value without unknown keys, __proto__ included', () => {
    const input = JSON.parse(
      '{"__proto__":{"polluted":true},"conversationId":"c1","content":"hi","clientId":"k1","extra":1}',
    )
    const result = parseRequest(sendMessageSchema, input)
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
    const result = parseRequest(sendMessageSchema, input)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(describeIssues(result.issues)).toBe(expected)
  })
})
