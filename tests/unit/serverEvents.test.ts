import { describe, expect, test } from 'vitest'
import { checkMessage, isReservedName, messageSchema, parse } from '../../src/contract'
import { serverEventAction } from '../../src/realtime/bindSocket'
import { message } from './support/fixtures'

const valid = message(3, { clientId: 'k1' })

const payloads: [name: string, payload: unknown][] = [
  ['a stored message', valid],
  ['one without clientId (seed data)', { ...valid, clientId: null }],
  ['a timestamp with an offset', { ...valid, createdAt: '2026-11-24T09:00:00+01:00' }],
  ['a timestamp with a space and no fraction', { ...valid, createdAt: '2026-11-24 09:00:00Z' }],
  ['a date only', { ...valid, createdAt: '2026-11-24' }],
  ['not a timestamp', { ...valid, createdAt: 'yesterday' }],
  ['seq 0', { ...valid, seq: 0 }],
  ['seq 1.5', { ...valid, seq: 1.5 }],
  ['seq NaN', { ...valid, seq: Number.NaN }],
  ['seq as a string', { ...valid, seq: '3' }],
  ['an empty id', { ...valid, id: '' }],
  ['an id of 101 characters', { ...valid, id: 'x'.repeat(101) }],
  ['a numeric senderId', { ...valid, senderId: 7 }],
  ['clientId missing', (({ clientId: _c, ...rest }) => rest)(valid)],
  ['clientId a number', { ...valid, clientId: 1 }],
  ['content missing', (({ content: _c, ...rest }) => rest)(valid)],
  ['null', null],
  ['a string', 'message'],
  ['an array', []],
]

describe('checkMessage agrees with messageSchema', () => {
  test.each(payloads)('%s', (_name, payload) => {
    const schema = parse(messageSchema, payload)
    const checked = checkMessage(payload)
    expect(checked).toEqual(schema.ok ? schema.value : null)
  })

  test('the value is fresh: unknown keys, __proto__ included, are dropped', () => {
    const hostile = JSON.parse(
      `{"__proto__": {"polluted": true}, "extra": 1, ${JSON.stringify(valid).slice(1)}`,
    ) as unknown
    const checked = checkMessage(hostile)
    expect(checked).toEqual(valid)
    expect(Object.keys(checked!)).toEqual(Object.keys(valid))
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
  })
})

describe('serverEventAction reads the table', () => {
  test('a message over its text limit is rejected, naming the field', () => {
    const action = serverEventAction('message:new', { ...valid, content: 'x'.repeat(4001) })
    expect(action).toMatchObject({
      type: 'socket/eventRejected',
      payload: { event: 'message:new', issues: [{ path: 'content' }] },
    })
  })

  // The server takes 4,000 characters, an emoji one each: refused here, such a message would be lost to its reader.
  test('a message of 4,000 characters some of which are emoji is taken; 4,001 are not', () => {
    const content = '😀'.repeat(4000)
    expect(serverEventAction('message:new', { ...valid, content })).toMatchObject({
      type: 'socket/message:new',
      payload: { content },
    })
    expect(serverEventAction('message:new', { ...valid, content: `${content}x` })).toMatchObject({
      type: 'socket/eventRejected',
    })
  })

  test('a lesson subject over its limit too', () => {
    const lesson = {
      id: 'l1',
      tutorId: 'u1',
      studentId: 'u2',
      subject: 's'.repeat(201),
      startsAt: '2026-12-01T10:00:00.000Z',
      durationMinutes: 60,
      status: 'pending',
      updatedAt: '2026-11-24T08:00:00.000Z',
    }
    expect(serverEventAction('lesson:created', lesson)).toMatchObject({
      type: 'socket/eventRejected',
      payload: { issues: [{ path: 'subject' }] },
    })
  })
})

// The reserved names are looked up in a set read from `Object.prototype` at load (a string fresh from the wire is slow
// to find with `in`): the same names as `in` finds, each refused where an id goes, and an id fresh from JSON taken.
describe('ids that are names every object has', () => {
  const names = Object.getOwnPropertyNames(Object.prototype)

  test('are the names `in Object.prototype` finds, and no others', () => {
    expect(names.length).toBeGreaterThan(10)
    for (const name of names) expect([name, isReservedName(name)]).toEqual([name, name in Object.prototype])
    const fresh = JSON.parse('["0b8f9d8e-3c4a-4f7e-9a57-5d2f0c6b1e42", "hasOwnPropertyX", "Constructor", ""]')
    for (const id of fresh as string[]) expect([id, isReservedName(id)]).toEqual([id, id in Object.prototype])
  })

  test.each(['id', 'conversationId', 'senderId'] as const)('are refused as a message %s', (field) => {
    for (const name of names) {
      // Through JSON, as from the wire (`__proto__` a key of its own there, not the prototype).
      const payload = JSON.parse(JSON.stringify({ ...valid, [field]: 'x' }).replace('"x"', JSON.stringify(name)))
      expect([name, checkMessage(payload)]).toEqual([name, null])
      expect(parse(messageSchema, payload)).toMatchObject({ ok: false, issues: [{ path: field }] })
    }
    const fresh = JSON.parse(JSON.stringify({ ...valid, [field]: '0b8f9d8e-3c4a-4f7e-9a57-5d2f0c6b1e42' }))
    expect(checkMessage(fresh)).toEqual(fresh)
  })
})
