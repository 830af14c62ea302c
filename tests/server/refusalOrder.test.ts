import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Conversation, ErrorBody } from './support/types'
import {
  ALICE,
  BOB,
  CAROL,
  connect,
  emitAck,
  http,
  login,
  startTestServer,
  type ClientSocket,
  type TestServer,
} from './support/server'

// Who may act is said before what is wrong with the request (authentication, then authorization and existence, then
// validation): a caller outside a lesson, a request or a conversation is answered as such whatever its body, and
// fixing a 400 never only leads to the 403 or 404 behind it.
let server: TestServer
let url: string
const token = { alice: '', bob: '', carol: '' }

beforeAll(async () => {
  server = await startTestServer()
  url = server.url
  token.alice = (await login(url, ALICE)).token
  token.bob = (await login(url, BOB)).token
  token.carol = (await login(url, CAROL)).token
})
const sockets: ClientSocket[] = []
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server?.dispose()
})

/** Bodies that are each refused INVALID when a party sends them. */
const BAD_STATUS_BODIES: [name: string, body: unknown][] = [
  ['an unknown status', { status: 'done' }],
  ['no status', {}],
  ['a numeric status', { status: 3 }],
]

describe.each([
  // [what, path, a party's token, an outsider's token, a valid status for the outsider to ask]
  ['lesson', '/api/lessons', 'lesson-1', () => token.bob, () => token.carol, 'cancelled'],
  ['contact request', '/api/contact-requests', 'contact-1', () => token.bob, () => token.carol, 'declined'],
])('PATCH a %s', (_what, base, id, party, outsider, status) => {
  const patch = (who: string, itemId: string, body: unknown) =>
    http<ErrorBody>(url, 'PATCH', `${base}/${encodeURIComponent(itemId)}`, { token: who, body })

  it.each(BAD_STATUS_BODIES)(
    'by an outsider with %s is 403 FORBIDDEN, as with a valid one, not 400',
    async (_name, body) => {
      const valid = await patch(outsider(), id, { status })
      expect(valid.status).toBe(403)
      const refused = await patch(outsider(), id, body)
      expect(refused.body).toEqual(valid.body)
      expect(refused.status).toBe(403)
    },
  )

  it.each(BAD_STATUS_BODIES)('that does not exist, with %s, is 404 NOT_FOUND, not 400', async (_name, body) => {
    const refused = await patch(party(), `${id}-nope`, body)
    expect(refused.body.error.code).toBe('NOT_FOUND')
    expect(refused.status).toBe(404)
  })

  it('by a party with a bad status is still 400 naming status', async () => {
    const refused = await patch(party(), id, { status: 'done' })
    expect(refused.status).toBe(400)
    expect(refused.body.error).toEqual({ code: 'INVALID', message: expect.stringContaining('status') })
  })
})

/**
 * A conversation of Bob's and Carol's, new, so that the server has not read its members yet (Alice is its outsider):
 * the first refusal of hers there takes the look-up path, the next ones the path where its members are known. One
 * pair has one conversation: each call is on a server of its own.
 */
async function bobAndCarolOn(at: string): Promise<{ id: string; alice: string }> {
  const [bob, alice] = await Promise.all([login(at, BOB), login(at, ALICE)])
  const created = await http<Conversation>(at, 'POST', '/api/conversations', {
    token: bob.token,
    body: { participantId: 'user-carol' },
  })
  expect(created.status).toBe(201)
  return { id: created.body.id, alice: alice.token }
}

/** Message bodies a participant is refused INVALID for. */
const BAD_MESSAGE_BODIES: [name: string, body: Record<string, unknown>][] = [
  ['empty content', { content: '', clientId: 'c1' }],
  ['no clientId', { content: 'hi' }],
  ['a NUL in content', { content: 'a\u0000b', clientId: 'c1' }],
]

describe('sending into a conversation one is not in', () => {
  it('POST /api/conversations/:id/messages with a malformed body is 403 FORBIDDEN, as with a valid one, not 400', async () => {
    const { id, alice } = await bobAndCarolOn(url)
    const post = (body: unknown) =>
      http<ErrorBody>(url, 'POST', `/api/conversations/${id}/messages`, { token: alice, body })
    const answers = []
    // Before and after the server knows the conversation's members (the valid send's refusal reads them).
    for (const [, body] of BAD_MESSAGE_BODIES) answers.push(await post(body))
    const valid = await post({ content: 'hi', clientId: randomUUID() })
    for (const [, body] of BAD_MESSAGE_BODIES) answers.push(await post(body))
    expect(valid.status).toBe(403)
    expect(answers.map((answer) => [answer.status, answer.body])).toEqual(answers.map(() => [403, valid.body]))
  })

  it.each(BAD_MESSAGE_BODIES)(
    'POST to a conversation that does not exist with %s is 404 NOT_FOUND, not 400',
    async (_name, body) => {
      const answer = await http<ErrorBody>(url, 'POST', '/api/conversations/conv-nope/messages', {
        token: token.alice,
        body,
      })
      expect(answer.body.error.code).toBe('NOT_FOUND')
      expect(answer.status).toBe(404)
    },
  )

  it('message:send with a malformed payload is FORBIDDEN, as with a valid one, not INVALID', async () => {
    const own = await startTestServer()
    try {
      const { id, alice: aliceToken } = await bobAndCarolOn(own.url)
      const alice = await connect(own.url, aliceToken)
      sockets.push(alice)
      const send = (body: Record<string, unknown>) => emitAck(alice, 'message:send', { conversationId: id, ...body })
      const answers = []
      for (const [, body] of BAD_MESSAGE_BODIES) answers.push(await send(body))
      const valid = await send({ content: 'hi', clientId: randomUUID() })
      for (const [, body] of BAD_MESSAGE_BODIES) answers.push(await send(body))
      expect(valid).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
      expect(answers).toEqual(answers.map(() => valid))
    } finally {
      await own.dispose()
    }
  })

  it.each(BAD_MESSAGE_BODIES)(
    'message:send to a conversation that does not exist with %s is NOT_FOUND, not INVALID',
    async (_name, body) => {
      const alice = await connect(url, token.alice)
      sockets.push(alice)
      const answer = await emitAck(alice, 'message:send', { conversationId: 'conv-nope', ...body })
      expect(answer).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
    },
  )

  it('a participant is still told what is wrong with the message, naming the field', async () => {
    const alice = await connect(url, token.alice)
    sockets.push(alice)
    const answer = await emitAck(alice, 'message:send', {
      conversationId: 'conv-alice-bob',
      content: '',
      clientId: 'c',
    })
    expect(answer).toEqual({ ok: false, error: { code: 'INVALID', message: expect.stringContaining('content') } })
    const posted = await http<ErrorBody>(url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token: token.alice,
      body: { content: 'hi' },
    })
    expect(posted.status).toBe(400)
    expect(posted.body.error.message).toContain('clientId')
  })
})

// Joins have their own budget (bursts of 50): it was taken before the membership check, so an outsider's 51st join in
// a burst was answered RATE_LIMITED (with a wait, after which it would be FORBIDDEN anyway), each refusal spent the
// budget of the user's own joins, and a budget spent there turned an outsider's FORBIDDEN into RATE_LIMITED.
describe('joining a conversation one is not in', () => {
  it('is FORBIDDEN every time, past the join budget too, and spends none of it', async () => {
    // A frozen clock: the join budget does not refill during the test, whatever the machine's speed.
    const frozen = Date.parse('2030-01-01T00:00:00Z')
    const own = await startTestServer({ now: () => frozen })
    try {
      const { id, alice: aliceToken } = await bobAndCarolOn(own.url)
      const alice = await connect(own.url, aliceToken)
      sockets.push(alice)
      const join = (conversationId: string) => emitAck<null>(alice, 'conversation:join', conversationId)
      // The first one reads the members (a look-up paid for and given back), the next ones find them known.
      const codes = []
      for (let i = 0; i < 60; i++) {
        const answer = await join(id)
        codes.push(answer.ok ? 'ok' : answer.error.code)
      }
      expect(codes).toEqual(codes.map(() => 'FORBIDDEN'))
      // Her own joins still have their whole budget (50), and spent, an outsider's join is still FORBIDDEN.
      const ownJoins = []
      for (let i = 0; i < 50; i++) ownJoins.push((await join('conv-alice-bob')).ok)
      expect(ownJoins).toEqual(ownJoins.map(() => true))
      expect(await join('conv-alice-bob')).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
      expect(await join(id)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    } finally {
      await own.dispose()
    }
  })
})

describe('reading a conversation one is not in', () => {
  it.each(['limit=abc', 'limit=0', 'before=-3', 'limit=1&limit=2'])(
    'GET …/messages?%s is 403 for an outsider and 404 for a conversation that does not exist, not 400',
    async (query) => {
      const outsider = await http<ErrorBody>(url, 'GET', `/api/conversations/conv-alice-bob/messages?${query}`, {
        token: token.carol,
      })
      expect(outsider.body.error.code).toBe('FORBIDDEN')
      expect(outsider.status).toBe(403)
      const missing = await http<ErrorBody>(url, 'GET', `/api/conversations/conv-nope/messages?${query}`, {
        token: token.carol,
      })
      expect(missing.body.error.code).toBe('NOT_FOUND')
      expect(missing.status).toBe(404)
    },
  )
})

describe('a request without a valid token', () => {
  const WRITES: [method: string, path: string][] = [
    ['POST', '/api/conversations'],
    ['POST', '/api/conversations/conv-alice-bob/messages'],
    ['POST', '/api/lessons'],
    ['PATCH', '/api/lessons/lesson-1'],
    ['POST', '/api/contact-requests'],
    ['PATCH', '/api/contact-requests/contact-1'],
  ]
  const BAD_BODIES: [name: string, body: string, headers: Record<string, string>][] = [
    ['malformed JSON', '{"status":', {}],
    ['an array', '[]', {}],
    ['a string', '"x"', {}],
    ['a key given twice', '{"status":"cancelled","status":"confirmed"}', {}],
    ['a __proto__ key', '{"__proto__":{}}', {}],
    ['a body in another charset', '{}', { 'content-type': 'application/json; charset=latin1' }],
    ['a compressed body', '{}', { 'content-encoding': 'gzip' }],
    ['a body that is not JSON', 'status=done', { 'content-type': 'application/x-www-form-urlencoded' }],
  ]
  const expired = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLWFsaWNlIn0.bm90LXNpZ25lZA'

  describe.each(WRITES)('%s %s', (method, path) => {
    it.each(BAD_BODIES)('with %s is 401 UNAUTHORIZED, not 400', async (_name, body, headers) => {
      for (const token of [undefined, expired]) {
        const answer = await http<ErrorBody>(url, method, path, { token, body, headers })
        expect(answer.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } })
        expect(answer.status).toBe(401)
      }
    })
  })
})

describe('a tutor creating what only students create', () => {
  it.each([
    [
      'a lesson',
      '/api/lessons',
      'lessons',
      { tutorId: 'user-carol', subject: 'Algebra', startsAt: '2030-05-01T09:00:00.000Z', durationMinutes: 60 },
    ],
    [
      'a contact request',
      '/api/contact-requests',
      'contact requests',
      { tutorId: 'user-carol', message: 'Hello there' },
    ],
  ])('with a malformed Idempotency-Key is 403 FORBIDDEN for %s, not 400', async (_name, path, what, body) => {
    for (const key of ['k'.repeat(101), 'clé']) {
      const refused = await http<ErrorBody>(url, 'POST', path, {
        token: token.bob,
        body,
        headers: { 'idempotency-key': key },
      })
      expect(refused.body).toEqual({ error: { code: 'FORBIDDEN', message: `only students can create ${what}` } })
      expect(refused.status).toBe(403)
    }
    // A student is still told what is wrong with the key.
    const student = await http<ErrorBody>(url, 'POST', path, {
      token: token.alice,
      body,
      headers: { 'idempotency-key': 'k'.repeat(101) },
    })
    expect(student.status).toBe(400)
    expect(student.body.error.message).toContain('Idempotency-Key')
  })
})
