import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join, relative } from 'node:path'
import { randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ContactRequest, Conversation, ErrorBody, Lesson, Message, Session, User } from './support/types'
import { ALICE, BOB, CAROL, declinePending, http, login, startTestServer, type TestServer } from './support/server'

const SECRET = 'http-test-secret-of-at-least-32-bytes'
let server: TestServer
let url: string
const token = { alice: '', bob: '', carol: '' }

beforeAll(async () => {
  server = await startTestServer({ jwtSecret: SECRET })
  url = server.url
  token.alice = (await login(url, ALICE)).token
  token.bob = (await login(url, BOB)).token
  token.carol = (await login(url, CAROL)).token
})
afterAll(() => server?.dispose())

const sign = (expiresAt: number, sub = 'user-alice') =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer('talemy')
    .setIssuedAt(expiresAt - 3600)
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(SECRET))
const now = () => Math.floor(Date.now() / 1000)

describe('POST /api/auth/login', () => {
  it('answers { token, refreshToken, user } for a demo account', async () => {
    const result = await http(url, 'POST', '/api/auth/login', { body: { email: BOB, password: 'talemy' } })
    expect(result.status).toBe(200)
    expect(result.body).toEqual({
      token: expect.any(String),
      refreshToken: expect.any(String),
      user: { id: 'user-bob', name: expect.any(String), role: 'tutor' },
    })
  })

  it.each([
    ['a wrong password', { email: ALICE, password: 'nope' }],
    ['an unknown email', { email: 'who@talemy.test', password: 'talemy' }],
  ])('is 401 UNAUTHORIZED for %s', async (_name, body) => {
    const result = await http(url, 'POST', '/api/auth/login', { body })
    expect(result.status).toBe(401)
    expect(result.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } })
  })

  it.each([
    ['a missing password', { email: ALICE }, 'password'],
    ['a number as email', { email: 5, password: 'talemy' }, 'email'],
    ['no body at all', undefined, 'body'],
    ['malformed JSON', '{"email":', 'body'],
    ['a __proto__ key', '{"email":"a@b.c","password":"x","__proto__":{"admin":true}}', 'body'],
  ])('is 400 INVALID naming the field for %s', async (_name, body, field) => {
    const result = await http<ErrorBody>(url, 'POST', '/api/auth/login', {
      body,
      headers: body === undefined ? { 'content-type': 'application/json' } : {},
    })
    expect(result.status).toBe(400)
    expect(result.body.error.code).toBe('INVALID')
    expect(result.body.error.message).toContain(field)
  })

  // The limits count characters, as every other text's do (an emoji is one): a password of 101 emoji is 101
  // characters, within the 200 allowed, and was refused as "too long" (202 UTF-16 units).
  it.each([
    ['a password of 101 emoji', { email: 'nobody@talemy.test', password: '😀'.repeat(101) }],
    ['an email of 150 emoji', { email: `${'😀'.repeat(150)}@talemy.test`, password: 'talemy' }],
  ])('counts characters, not UTF-16 units: %s is checked, not refused as too long', async (_name, body) => {
    const result = await http<ErrorBody>(url, 'POST', '/api/auth/login', { body })
    expect(result.body.error).toEqual({ code: 'UNAUTHORIZED', message: expect.any(String) })
    expect(result.status).toBe(401)
  })

  it('refuses a password of 201 characters as too long', async () => {
    const result = await http<ErrorBody>(url, 'POST', '/api/auth/login', {
      body: { email: 'nobody@talemy.test', password: '😀'.repeat(201) },
    })
    expect(result.status).toBe(400)
    expect(result.body.error).toEqual({ code: 'INVALID', message: 'password: is too long' })
  })
})

// Rotation, reuse, theft, lifetimes and logout: tests/server/sessions.test.ts.
describe('POST /api/auth/refresh', () => {
  it('exchanges a refresh token for a new pair', async () => {
    const { refreshToken } = await login(url, ALICE)
    const result = await http<Session>(url, 'POST', '/api/auth/refresh', { body: { refreshToken } })
    expect(result.status).toBe(200)
    expect(result.body).toMatchObject({
      token: expect.any(String),
      refreshToken: expect.any(String),
      user: { id: 'user-alice' },
    })
    expect((await http(url, 'GET', '/api/me', { token: result.body.token })).status).toBe(200)
  })

  it('no longer takes an access token, valid or expired, as the credential (the old grace period is gone)', async () => {
    expect((await http(url, 'POST', '/api/auth/refresh', { token: token.alice })).status).toBe(400)
    expect((await http(url, 'POST', '/api/auth/refresh', { body: { refreshToken: token.alice } })).status).toBe(401)
    expect(
      (await http(url, 'POST', '/api/auth/refresh', { body: { refreshToken: await sign(now() - 60) } })).status,
    ).toBe(401)
  })

  it('refuses a token signed with the server secret but naming no session (401 at every endpoint)', async () => {
    expect((await http(url, 'GET', '/api/me', { token: await sign(now() + 600) })).status).toBe(401)
  })
})

describe('auth on every endpoint', () => {
  it.each([
    ['GET', '/api/me'],
    ['GET', '/api/users'],
    ['GET', '/api/conversations'],
    ['POST', '/api/conversations'],
    ['GET', '/api/conversations/conv-alice-bob/messages'],
    ['POST', '/api/conversations/conv-alice-bob/messages'],
    ['GET', '/api/lessons'],
    ['POST', '/api/lessons'],
    ['PATCH', '/api/lessons/lesson-1'],
    ['GET', '/api/contact-requests'],
    ['POST', '/api/contact-requests'],
    ['PATCH', '/api/contact-requests/contact-1'],
  ])('%s %s without a token is 401', async (method, path) => {
    const result = await http(url, method, path, { body: method === 'GET' ? undefined : {} })
    expect(result.status).toBe(401)
    expect(result.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } })
  })
})

describe('users', () => {
  it('GET /api/me answers the user', async () => {
    expect((await http<User>(url, 'GET', '/api/me', { token: token.carol })).body).toEqual({
      id: 'user-carol',
      name: expect.any(String),
      role: 'tutor',
    })
  })

  it('GET /api/users lists the others, not the user asking', async () => {
    const users = (await http<User[]>(url, 'GET', '/api/users', { token: token.alice })).body
    expect(users.map((user) => user.id).sort()).toEqual(['user-bob', 'user-carol'])
  })
})

describe('conversations', () => {
  it("GET /api/conversations lists the user's conversations, most recent first, with unreadCount for them", async () => {
    const list = (await http<Conversation[]>(url, 'GET', '/api/conversations', { token: token.alice })).body
    expect(list.map((c) => c.id).sort()).toEqual(['conv-alice-bob', 'conv-alice-carol'])
    const times = list.map((c) => c.updatedAt)
    expect(times).toEqual([...times].sort().reverse())
    expect(list.find((c) => c.id === 'conv-alice-bob')).toMatchObject({
      participantIds: ['user-alice', 'user-bob'],
      unreadCount: 1,
      lastMessage: { seq: 4, senderId: 'user-bob' },
    })
  })

  it('moves a conversation to the top when a message arrives', async () => {
    await http(url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token: token.bob,
      body: { content: 'bump', clientId: randomUUID() },
    })
    const list = (await http<Conversation[]>(url, 'GET', '/api/conversations', { token: token.alice })).body
    expect(list[0]).toMatchObject({ id: 'conv-alice-bob', lastMessage: { content: 'bump' } })
  })

  it('POST /api/conversations returns the existing conversation of the pair', async () => {
    const result = await http<Conversation>(url, 'POST', '/api/conversations', {
      token: token.bob,
      body: { participantId: 'user-alice' },
    })
    expect(result.status).toBe(200)
    expect(result.body.id).toBe('conv-alice-bob')
  })

  it('POST /api/conversations creates one for a new pair (201), once', async () => {
    const [first, second] = await Promise.all([
      http<Conversation>(url, 'POST', '/api/conversations', {
        token: token.bob,
        body: { participantId: 'user-carol' },
      }),
      http<Conversation>(url, 'POST', '/api/conversations', {
        token: token.carol,
        body: { participantId: 'user-bob' },
      }),
    ])
    expect([first.status, second.status].sort()).toEqual([200, 201])
    expect(first.body.id).toBe(second.body.id)
    expect(first.body).toMatchObject({ participantIds: ['user-bob', 'user-carol'], lastMessage: null, unreadCount: 0 })
  })

  it.each([
    ['a missing participantId', {}, 400, 'participantId'],
    ['the user themself', { participantId: 'user-alice' }, 400, 'participantId'],
    ['an unknown user', { participantId: 'user-nobody' }, 404, ''],
  ])('POST /api/conversations refuses %s', async (_name, body, status, field) => {
    const result = await http<ErrorBody>(url, 'POST', '/api/conversations', { token: token.alice, body })
    expect(result.status).toBe(status)
    expect(result.body.error.message).toContain(field)
  })
})

describe('messages', () => {
  const path = '/api/conversations/conv-alice-carol/messages'

  it('GET answers oldest first', async () => {
    const messages = (await http<Message[]>(url, 'GET', path, { token: token.carol })).body
    expect(messages.map((m) => m.seq)).toEqual([1, 2])
  })

  it('GET pages with ?before=<seq>&limit=<n>, and answers the latest 50 by default', async () => {
    const created = await http<Conversation>(url, 'POST', '/api/conversations', {
      token: token.alice,
      body: { participantId: 'user-bob' },
    })
    const id = created.body.id
    for (let i = 0; i < 60; i++) {
      await http(url, 'POST', `/api/conversations/${id}/messages`, {
        token: token.alice,
        body: { content: `m${i}`, clientId: randomUUID() },
      })
    }
    const all = (
      await http<Message[]>(url, 'GET', `/api/conversations/${id}/messages?limit=1000`, { token: token.alice })
    ).body
    const last = all.at(-1)!.seq
    const latest = (await http<Message[]>(url, 'GET', `/api/conversations/${id}/messages`, { token: token.alice })).body
    expect(latest).toHaveLength(50)
    expect(latest.at(-1)!.seq).toBe(last)
    const page = (
      await http<Message[]>(url, 'GET', `/api/conversations/${id}/messages?before=${last - 10}&limit=5`, {
        token: token.alice,
      })
    ).body
    expect(page.map((m) => m.seq)).toEqual([last - 15, last - 14, last - 13, last - 12, last - 11])
  })

  it.each([
    ['limit=abc', 'limit'],
    ['limit=0', 'limit'],
    ['before=-3', 'before'],
  ])('GET with ?%s is 400 naming the field', async (query, field) => {
    const result = await http<ErrorBody>(url, 'GET', `${path}?${query}`, { token: token.alice })
    expect(result.status).toBe(400)
    expect(result.body.error.message).toContain(field)
  })

  // The query string gives a repeated name as an array: it was "must be a positive whole number", which each one was.
  it.each(['limit=1&limit=2', 'before=2&before=3'])(
    'GET with ?%s is 400 saying the field is given twice',
    async (query) => {
      const result = await http<ErrorBody>(url, 'GET', `${path}?${query}`, { token: token.alice })
      expect(result.status).toBe(400)
      expect(result.body).toEqual({ error: { code: 'INVALID', message: `${query.split('=')[0]}: given twice` } })
    },
  )

  // A number past what the server counts in was refused as "must be a positive whole number", which it is.
  it.each([
    ['limit=99999999999999', 50],
    ['before=2147483648', 50],
    ['before=99999999999999999999&limit=1', 1],
  ])('GET with ?%s, a number past any seq or page, reads as the largest', async (query, count) => {
    const latest = (await http<Message[]>(url, 'GET', path, { token: token.carol })).body.map((m) => m.seq)
    const result = await http<Message[]>(url, 'GET', `${path}?${query}`, { token: token.carol })
    expect(result.status).toBe(200)
    expect(result.body.map((m) => m.seq)).toEqual(latest.slice(-count))
  })

  it('GET is 403 for a non-participant and 404 for an unknown conversation', async () => {
    expect((await http(url, 'GET', '/api/conversations/conv-alice-bob/messages', { token: token.carol })).status).toBe(
      403,
    )
    expect((await http(url, 'GET', '/api/conversations/nope/messages', { token: token.carol })).status).toBe(404)
  })

  it('POST stores a message (201)', async () => {
    const clientId = randomUUID()
    const result = await http<Message>(url, 'POST', path, { token: token.alice, body: { content: 'hola', clientId } })
    expect(result.status).toBe(201)
    expect(result.body).toMatchObject({
      conversationId: 'conv-alice-carol',
      senderId: 'user-alice',
      content: 'hola',
      clientId,
    })
  })

  it.each([
    ['empty content', { content: '', clientId: 'c' }, 'content'],
    ['content over 4000 characters', { content: 'x'.repeat(4001), clientId: 'c' }, 'content'],
    ['a missing clientId', { content: 'hi' }, 'clientId'],
    ['a clientId over 100 characters', { content: 'hi', clientId: 'c'.repeat(101) }, 'clientId'],
    ['a numeric content', { content: 42, clientId: 'c' }, 'content'],
    ['a NUL character in content', { content: 'a\u0000b', clientId: 'c' }, 'content'],
    ['a NUL character in clientId', { content: 'hi', clientId: 'c\u0000' }, 'clientId'],
    // Stored as UTF-8 a lone surrogate is U+FFFD: `k-\ud800` and `k-\udbff` would be one key, and the second send
    // would be answered (201) with the first message, its own text lost.
    ['a lone surrogate in clientId', { content: 'hi', clientId: 'k-\ud800' }, 'clientId'],
    ['a lone surrogate in content (half an emoji)', { content: 'hi \ud83d', clientId: 'c' }, 'content'],
  ])('POST with %s is 400 naming the field', async (_name, body, field) => {
    const result = await http<ErrorBody>(url, 'POST', path, { token: token.alice, body })
    expect(result.status).toBe(400)
    expect(result.body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining(field) } })
  })

  it('POST takes content of 4,000 characters of which some are emoji (each one character, two UTF-16 units)', async () => {
    const content = `${'x'.repeat(3_990)}${'😀'.repeat(10)}`
    const result = await http<Message>(url, 'POST', path, {
      token: token.alice,
      body: { content, clientId: randomUUID() },
    })
    expect(result.status).toBe(201)
    expect(result.body.content).toBe(content)
  })

  it('POST is 403 for a non-participant and 404 for an unknown conversation', async () => {
    const body = { content: 'hi', clientId: randomUUID() }
    expect(
      (await http(url, 'POST', '/api/conversations/conv-alice-bob/messages', { token: token.carol, body })).status,
    ).toBe(403)
    expect((await http(url, 'POST', '/api/conversations/nope/messages', { token: token.carol, body })).status).toBe(404)
  })
})

/** Free text a reader would see as nothing: refused as empty, with the answer an empty one gets. */
const INVISIBLE_ONLY: [name: string, text: string][] = [
  ['a zero-width space', '\u200B'],
  ['a word joiner', '\u2060'],
  ['a byte order mark', '\uFEFF'],
  ['a soft hyphen', '\u00AD'],
  ['ideographic and no-break spaces', '\u3000\u00A0 '],
  ['a mix of them', '\u200B\u3000\u2060\u00AD'],
]

describe('lessons', () => {
  const book = (who: string, body: Record<string, unknown> = {}) =>
    http<Lesson>(url, 'POST', '/api/lessons', {
      token: who,
      body: {
        tutorId: 'user-bob',
        subject: 'Geometry',
        startsAt: '2030-05-01T09:00:00.000Z',
        durationMinutes: 60,
        ...body,
      },
    })
  const patch = <T = unknown>(who: string, id: string, status: string) =>
    http<T>(url, 'PATCH', `/api/lessons/${id}`, { token: who, body: { status } })

  it("GET /api/lessons lists the user's lessons", async () => {
    const lessons = (await http<Lesson[]>(url, 'GET', '/api/lessons', { token: token.carol })).body
    expect(lessons.every((l) => l.tutorId === 'user-carol' || l.studentId === 'user-carol')).toBe(true)
    expect(lessons.map((l) => l.id)).toContain('lesson-2')
  })

  it('POST /api/lessons books a pending lesson for the student (201)', async () => {
    const result = await book(token.alice)
    expect(result.status).toBe(201)
    expect(result.body).toMatchObject({
      tutorId: 'user-bob',
      studentId: 'user-alice',
      status: 'pending',
      durationMinutes: 60,
    })
  })

  it.each([
    ['a tutor booking', () => book(token.carol), 403],
    ['an unknown tutor', () => book(token.alice, { tutorId: 'user-nobody' }), 404],
    ['a student as tutor', () => book(token.alice, { tutorId: 'user-alice' }), 404],
    ['a duration of 5 minutes', () => book(token.alice, { durationMinutes: 5 }), 400],
    ['a startsAt that is not a timestamp', () => book(token.alice, { startsAt: 'tomorrow' }), 400],
    ['a subject with a control character (BEL)', () => book(token.alice, { subject: 'Geo\u0007metry' }), 400],
    ['a subject with an escape sequence', () => book(token.alice, { subject: '\u001b[2JGeometry' }), 400],
    ['a subject with a C1 control character', () => book(token.alice, { subject: 'Geo\u0085metry' }), 400],
  ])('POST /api/lessons refuses %s', async (_name, run, status) => {
    expect((await run()).status).toBe(status)
  })

  it.each(INVISIBLE_ONLY)(
    'POST /api/lessons refuses a subject of only %s as an empty one (400)',
    async (_name, subject) => {
      const empty = await book(token.alice, { subject: '' })
      expect(empty.body).toEqual({ error: { code: 'INVALID', message: 'subject: must not be empty' } })
      const invisible = await book(token.alice, { subject })
      expect(invisible.status).toBe(400)
      expect(invisible.body).toEqual(empty.body)
    },
  )

  it('POST /api/lessons keeps a subject with invisible characters beside visible ones as sent', async () => {
    const result = await book(token.alice, { subject: 'Alge\u200Bbra\u00AD' })
    expect(result.status).toBe(201)
    expect(result.body.subject).toBe('Alge\u200Bbra\u00AD')
  })

  // [from, by, to, expected]: the contract's table, including the refusals.
  it.each([
    ['pending', 'tutor', 'confirmed', 200],
    ['pending', 'student', 'confirmed', 403],
    ['pending', 'student', 'cancelled', 200],
    ['pending', 'tutor', 'cancelled', 200],
    ['pending', 'tutor', 'completed', 400],
    ['confirmed', 'tutor', 'completed', 200],
    ['confirmed', 'student', 'completed', 403],
    ['confirmed', 'student', 'cancelled', 200],
    ['confirmed', 'tutor', 'pending', 400],
    ['cancelled', 'tutor', 'confirmed', 400],
    ['completed', 'student', 'cancelled', 400],
    ['pending', 'outsider', 'cancelled', 403],
  ])('PATCH a %s lesson by the %s to %s answers %i', async (from, by, to, status) => {
    const lesson = (await book(token.alice)).body
    if (from === 'confirmed' || from === 'completed') await patch(token.bob, lesson.id, 'confirmed')
    if (from === 'completed') await patch(token.bob, lesson.id, 'completed')
    if (from === 'cancelled') await patch(token.alice, lesson.id, 'cancelled')
    const who = by === 'tutor' ? token.bob : by === 'student' ? token.alice : token.carol
    const result = await patch(who, lesson.id, to)
    expect(result.status).toBe(status)
    if (status === 200) expect(result.body).toMatchObject({ id: lesson.id, status: to })
    else expect(result.body).toMatchObject({ error: { code: status === 403 ? 'FORBIDDEN' : 'INVALID' } })
  })

  it('a tutor booking is 403 whatever the moment asked for: who may book is said before what is wrong with the booking', async () => {
    const past = await book(token.bob, { startsAt: '2001-05-01T09:00:00.000Z' })
    expect(past.status).toBe(403)
    expect(past.body).toMatchObject({ error: { code: 'FORBIDDEN', message: 'only students can create lessons' } })
  })

  // A tutor's client fixed its 400 only to be told it may not book at all: authorization is said before validation.
  it.each([
    ['a duration of 5 minutes', { durationMinutes: 5 }],
    ['a startsAt that is not a timestamp', { startsAt: 'tomorrow' }],
    ['no subject', { subject: undefined }],
  ])('a tutor booking with %s is 403, not 400', async (_name, body) => {
    const refused = await book(token.bob, body)
    expect(refused.status).toBe(403)
    expect(refused.body).toMatchObject({ error: { code: 'FORBIDDEN', message: 'only students can create lessons' } })
  })

  it('PATCH is 404 for an unknown lesson and 400 naming status for a bad one', async () => {
    expect((await patch(token.bob, 'lesson-nope', 'confirmed')).status).toBe(404)
    const bad = await patch<ErrorBody>(token.bob, 'lesson-1', 'done')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('status')
  })
})

describe('contact requests', () => {
  /** A request of its own: Alice's pending one to Carol, if any, is declined first (one pending per pair). */
  const ask = async (who: string, tutorId = 'user-carol') => {
    await declinePending(url, token.carol, 'user-alice')
    return http<ContactRequest>(url, 'POST', '/api/contact-requests', {
      token: who,
      body: { tutorId, message: 'Hello there' },
    })
  }
  const patch = <T = unknown>(who: string, id: string, status: string) =>
    http<T>(url, 'PATCH', `/api/contact-requests/${id}`, { token: who, body: { status } })

  it("GET /api/contact-requests lists the user's requests", async () => {
    const requests = (await http<ContactRequest[]>(url, 'GET', '/api/contact-requests', { token: token.bob })).body
    expect(requests.map((r) => r.id)).toContain('contact-1')
    expect(requests.every((r) => r.tutorId === 'user-bob' || r.studentId === 'user-bob')).toBe(true)
  })

  it('POST creates a pending request (201); a tutor cannot (403); an unknown tutor is 404; an empty message 400', async () => {
    const created = await ask(token.alice)
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      studentId: 'user-alice',
      tutorId: 'user-carol',
      status: 'pending',
      message: 'Hello there',
    })
    expect((await ask(token.bob)).status).toBe(403)
    // A tutor's malformed request is refused as a tutor's first, not as malformed.
    const tutorMalformed = await http<ErrorBody>(url, 'POST', '/api/contact-requests', {
      token: token.bob,
      body: { tutorId: 'user-carol', message: '   ' },
    })
    expect(tutorMalformed.status).toBe(403)
    expect(tutorMalformed.body.error).toEqual({
      code: 'FORBIDDEN',
      message: 'only students can create contact requests',
    })
    expect((await ask(token.alice, 'user-nobody')).status).toBe(404)
    const empty = await http<ErrorBody>(url, 'POST', '/api/contact-requests', {
      token: token.alice,
      body: { tutorId: 'user-carol', message: '   ' },
    })
    expect(empty.status).toBe(400)
    expect(empty.body.error.message).toContain('message')
  })

  it('POST takes a message of several lines, and refuses one with another control character (400 naming message)', async () => {
    const send = (message: string) =>
      http<ErrorBody>(url, 'POST', '/api/contact-requests', {
        token: token.alice,
        body: { tutorId: 'user-carol', message },
      })
    await declinePending(url, token.carol, 'user-alice')
    expect((await send('Hello,\r\n\tcould we start on Monday?')).status).toBe(201)
    for (const message of ['Hello\u0007', 'Hello \u001b[31mthere', 'Hello\u007f', 'Hello\u009b']) {
      const refused = await send(message)
      expect(refused.status).toBe(400)
      expect(refused.body.error).toEqual({ code: 'INVALID', message: 'message: must not contain control characters' })
    }
  })

  it.each(INVISIBLE_ONLY)('POST refuses a message of only %s as an empty one (400)', async (_name, message) => {
    const send = (text: string) =>
      http<ErrorBody>(url, 'POST', '/api/contact-requests', {
        token: token.alice,
        body: { tutorId: 'user-carol', message: text },
      })
    const empty = await send('')
    expect(empty.body).toEqual({ error: { code: 'INVALID', message: 'message: must not be empty' } })
    const invisible = await send(message)
    expect(invisible.status).toBe(400)
    expect(invisible.body).toEqual(empty.body)
  })

  it.each([
    ['tutor', 'accepted', 200],
    ['tutor', 'declined', 200],
    ['student', 'accepted', 403],
    ['tutor', 'pending', 400],
    ['outsider', 'declined', 403],
  ])('PATCH a pending request by the %s to %s answers %i', async (by, to, status) => {
    const request = (await ask(token.alice)).body
    const who = by === 'tutor' ? token.carol : by === 'student' ? token.alice : token.bob
    const result = await patch(who, request.id, to)
    expect(result.status).toBe(status)
  })

  // The student may never answer: told so whatever the request's status, not "cannot go from accepted to declined",
  // which reads as if she could have while it was pending.
  it.each(['accepted', 'declined'] as const)(
    'PATCH by the student of a request answered %s is 403 FORBIDDEN, as of a pending one',
    async (answer) => {
      const request = (await ask(token.alice)).body
      expect((await patch(token.carol, request.id, answer)).status).toBe(200)
      for (const status of ['accepted', 'declined']) {
        const refused = await patch<ErrorBody>(token.alice, request.id, status)
        expect(refused.status).toBe(403)
        expect(refused.body.error).toEqual({ code: 'FORBIDDEN', message: `the student cannot set status ${status}` })
      }
    },
  )

  it('PATCH an answered request is 400 INVALID; an unknown one 404', async () => {
    const request = (await ask(token.alice)).body
    await patch(token.carol, request.id, 'accepted')
    expect((await patch<ErrorBody>(token.carol, request.id, 'declined')).body.error.code).toBe('INVALID')
    expect((await patch(token.carol, 'contact-nope', 'declined')).status).toBe(404)
  })

  it('POST while a request to the same tutor is pending is 400 naming tutorId, also for two at once; once it is answered the student may ask again', async () => {
    const first = await ask(token.alice)
    expect(first.status).toBe(201)
    const again = await http<ErrorBody>(url, 'POST', '/api/contact-requests', {
      token: token.alice,
      body: { tutorId: 'user-carol', message: 'Did you see my request?' },
    })
    expect(again.status).toBe(400)
    expect(again.body).toEqual({
      error: { code: 'INVALID', message: 'tutorId: a request to this tutor is already pending' },
    })
    // Another tutor is another pair.
    await declinePending(url, token.bob, 'user-alice')
    const toBob = await http<ContactRequest>(url, 'POST', '/api/contact-requests', {
      token: token.alice,
      body: { tutorId: 'user-bob', message: 'Hello Bob' },
    })
    expect(toBob.status).toBe(201)
    await patch(token.carol, first.body.id, 'accepted')
    const pair = await Promise.all(
      ['One', 'Two'].map((message) =>
        http<ContactRequest>(url, 'POST', '/api/contact-requests', {
          token: token.alice,
          body: { tutorId: 'user-carol', message },
        }),
      ),
    )
    expect(pair.map((r) => r.status).sort()).toEqual([201, 400])
    const listed = (await http<ContactRequest[]>(url, 'GET', '/api/contact-requests', { token: token.carol })).body
    expect(listed.filter((r) => r.studentId === 'user-alice' && r.status === 'pending')).toHaveLength(1)
  })
})

describe('a JSON body that is not an object', () => {
  it.each([
    ['an array', '[]'],
    ['an array of values', '["user-bob"]'],
    ['a string', '"x"'],
    ['a number', '42'],
    ['null', 'null'],
    ['true', 'true'],
  ])('is 400 INVALID "body: expected an object" for %s', async (_name, body) => {
    for (const [path, auth] of [
      ['/api/conversations', token.alice],
      ['/api/auth/login', undefined],
      ['/api/conversations/conv-alice-bob/messages', token.alice],
      ['/api/lessons', token.alice],
    ] as const) {
      const result = await http<ErrorBody>(url, 'POST', path, { token: auth, body })
      expect(result.status).toBe(400)
      expect(result.body).toEqual({ error: { code: 'INVALID', message: 'body: expected an object' } })
    }
    const patched = await http<ErrorBody>(url, 'PATCH', '/api/lessons/lesson-1', { token: token.bob, body })
    expect(patched.body).toEqual({ error: { code: 'INVALID', message: 'body: expected an object' } })
  })
})

describe('a JSON object with a key given twice', () => {
  // JSON.parse keeps the last: `{"status":"cancelled","status":"confirmed"}` confirmed the lesson, whatever the
  // sender (or a proxy that reads the first) meant.
  it('is 400 INVALID naming the field, and changes nothing', async () => {
    const lesson = (
      await http<Lesson>(url, 'POST', '/api/lessons', {
        token: token.alice,
        body: { tutorId: 'user-bob', subject: 'Twice', startsAt: '2030-06-01T09:00:00.000Z', durationMinutes: 60 },
      })
    ).body
    const result = await http<ErrorBody>(url, 'PATCH', `/api/lessons/${lesson.id}`, {
      token: token.bob,
      body: '{"status":"cancelled","status":"confirmed"}',
    })
    expect(result.status).toBe(400)
    expect(result.body).toEqual({ error: { code: 'INVALID', message: 'status: given twice' } })
    const lessons = (await http<Lesson[]>(url, 'GET', '/api/lessons', { token: token.bob })).body
    expect(lessons.find((l) => l.id === lesson.id)?.status).toBe('pending')
  })

  it.each([
    ['spelled with an escape', '{"participantId":"user-carol","particip\\u0061ntId":"user-bob"}', 'participantId'],
    ['in a nested object', '{"participantId":"user-carol","x":{"a":1,"a":2}}', 'x.a'],
  ])('is 400 INVALID naming it when %s', async (_name, body, field) => {
    const result = await http<ErrorBody>(url, 'POST', '/api/conversations', { token: token.alice, body })
    expect(result.body).toEqual({ error: { code: 'INVALID', message: `${field}: given twice` } })
  })

  it.each([
    ['the same key in sibling objects', '{"participantId":"user-carol","x":[{"a":1},{"a":2}],"y":{"a":3}}'],
    ['a key equal to a value', '{"participantId":"participantId"}'],
  ])('takes %s', async (_name, body) => {
    const result = await http<ErrorBody>(url, 'POST', '/api/conversations', { token: token.alice, body })
    expect(result.status).not.toBe(400)
  })

  it('refuses a __proto__ key, saying so rather than "not valid JSON"', async () => {
    const result = await http<ErrorBody>(url, 'POST', '/api/conversations', {
      token: token.alice,
      body: '{"participantId":"user-carol","__proto__":{"admin":true}}',
    })
    expect(result.body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining('__proto__') } })
  })
})

describe('a JSON object sent with another Content-Type', () => {
  // `fetch(url, { method: 'POST', body: JSON.stringify(x) })` sends text/plain: the object is there, its type is not.
  it.each([
    ['text/plain;charset=UTF-8', '/api/contact-requests', { tutorId: 'user-carol', message: 'Hello there' }],
    ['text/plain', '/api/lessons', { tutorId: 'user-bob', subject: 'Algebra', startsAt: '2030-05-01T09:00:00.000Z' }],
    ['application/x-www-form-urlencoded', '/api/conversations', { participantId: 'user-carol' }],
  ])('is 400 INVALID saying to send JSON for %s, and creates nothing', async (type, path, body) => {
    const before = (await http<ContactRequest[]>(url, 'GET', '/api/contact-requests', { token: token.alice })).body
    const result = await http<ErrorBody>(url, 'POST', path, {
      token: token.alice,
      body: JSON.stringify({ durationMinutes: 60, ...body }),
      headers: { 'content-type': type },
    })
    expect(result.status).toBe(400)
    expect(result.body).toEqual({
      error: { code: 'INVALID', message: 'body: send JSON (content-type: application/json)' },
    })
    const after = (await http<ContactRequest[]>(url, 'GET', '/api/contact-requests', { token: token.alice })).body
    expect(after).toHaveLength(before.length)
  })
})

describe('a JSON body declared in another charset', () => {
  // JSON is UTF-8 (RFC 8259 §8.1): a body declared UTF-16 or Latin-1 was read as UTF-8 anyway, its text garbled into
  // whatever it then said, or refused as "not valid JSON".
  it.each([
    ['utf-16', Buffer.from(JSON.stringify({ participantId: 'user-carol' }), 'utf16le')],
    ['ISO-8859-1', Buffer.from(JSON.stringify({ participantId: 'user-carol' }), 'latin1')],
    ['"latin1"', Buffer.from(JSON.stringify({ participantId: 'user-carol' }), 'latin1')],
  ])('is 400 INVALID naming the charset (%s), and creates nothing', async (charset, body) => {
    const before = (await http<Conversation[]>(url, 'GET', '/api/conversations', { token: token.bob })).body
    const response = await fetch(`${url}/api/conversations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.bob}`, 'content-type': `application/json; charset=${charset}` },
      body,
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({
      error: { code: 'INVALID', message: `body: send JSON in UTF-8 (charset=${charset.replaceAll('"', '')} given)` },
    })
    const after = (await http<Conversation[]>(url, 'GET', '/api/conversations', { token: token.bob })).body
    expect(after).toHaveLength(before.length)
  })

  it.each(['utf-8', 'UTF-8', '"utf-8"', 'utf8'])('takes charset=%s', async (charset) => {
    const response = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': `application/json; charset=${charset}` },
      body: JSON.stringify({ email: BOB, password: 'talemy' }),
    })
    expect(response.status).toBe(200)
  })
})

describe('a body with a Content-Encoding', () => {
  // The body was read as it came: a gzipped one was "not valid JSON", a plain one labelled gzip was taken.
  it.each([
    ['gzipped', gzipSync(JSON.stringify({ participantId: 'user-carol' })), 'gzip'],
    ['plain but labelled gzip', JSON.stringify({ participantId: 'user-carol' }), 'gzip'],
    ['plain but labelled br', JSON.stringify({ participantId: 'user-carol' }), 'br'],
  ])('is 400 INVALID naming Content-Encoding when %s, and creates nothing', async (_name, body, encoding) => {
    const before = (await http<Conversation[]>(url, 'GET', '/api/conversations', { token: token.bob })).body
    const response = await fetch(`${url}/api/conversations`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token.bob}`,
        'content-type': 'application/json',
        'content-encoding': encoding,
      },
      body,
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({
      error: { code: 'INVALID', message: expect.stringContaining('Content-Encoding') },
    })
    const after = (await http<Conversation[]>(url, 'GET', '/api/conversations', { token: token.bob })).body
    expect(after).toHaveLength(before.length)
  })

  it('takes Content-Encoding: identity', async () => {
    const response = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
      body: JSON.stringify({ email: BOB, password: 'talemy' }),
    })
    expect(response.status).toBe(200)
  })
})

describe('text with NUL characters (PostgreSQL cannot store them): 400 INVALID naming the field, never 500', () => {
  it.each([
    [
      'login email',
      'POST',
      '/api/auth/login',
      () => ({ email: 'alice\u0000@talemy.test', password: 'talemy' }),
      'email',
    ],
    ['login password', 'POST', '/api/auth/login', () => ({ email: ALICE, password: 'tal\u0000emy' }), 'password'],
    ['participantId', 'POST', '/api/conversations', () => ({ participantId: 'user-bob\u0000' }), 'participantId'],
    [
      'lesson subject',
      'POST',
      '/api/lessons',
      () => ({
        tutorId: 'user-bob',
        subject: 'Alg\u0000ebra',
        startsAt: '2030-05-01T09:00:00.000Z',
        durationMinutes: 60,
      }),
      'subject',
    ],
    [
      'lesson tutorId',
      'POST',
      '/api/lessons',
      () => ({
        tutorId: 'user-bob\u0000',
        subject: 'Algebra',
        startsAt: '2030-05-01T09:00:00.000Z',
        durationMinutes: 60,
      }),
      'tutorId',
    ],
    [
      'contact request message',
      'POST',
      '/api/contact-requests',
      () => ({ tutorId: 'user-carol', message: 'hi\u0000there' }),
      'message',
    ],
    [
      'lesson subject with a lone surrogate',
      'POST',
      '/api/lessons',
      () => ({
        tutorId: 'user-bob',
        subject: 'Algebra \udc00',
        startsAt: '2030-05-01T09:00:00.000Z',
        durationMinutes: 60,
      }),
      'subject',
    ],
    [
      'contact request message with a lone surrogate',
      'POST',
      '/api/contact-requests',
      () => ({ tutorId: 'user-carol', message: 'hi \ud800 there' }),
      'message',
    ],
  ])('%s', async (_name, method, path, body, field) => {
    const result = await http<ErrorBody>(url, method, path, { token: token.alice, body: body() })
    expect(result.status).toBe(400)
    expect(result.body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining(field) } })
  })
})

describe('routing and origins', () => {
  it.each([
    ['GET', '/api/nope'],
    ['POST', '/api/nope/deeper'],
    ['GET', '/api'],
  ])('an unknown %s %s is a JSON 404', async (method, path) => {
    const result = await http(url, method, path, { token: token.alice })
    expect(result.status).toBe(404)
    expect(result.headers.get('content-type')).toContain('application/json')
    expect(result.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } })
  })

  it.each([
    ['GET', '/api/nope'],
    ['POST', '/api/nope/deeper'],
    ['GET', '/api'],
    ['OPTIONS', '/api/nope'],
  ])('refuses a foreign Origin on an unknown path too: %s %s is 403, not 404', async (method, path) => {
    const result = await http(url, method, path, { token: token.alice, headers: { origin: 'http://evil.test' } })
    expect(result.status).toBe(403)
    expect(result.body).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } })
  })

  it.each([
    ['PATCH', '/api/lessons/ID', { status: 'cancelled' }],
    ['PATCH', '/api/contact-requests/ID', { status: 'declined' }],
    ['GET', '/api/conversations/ID/messages', undefined],
    ['POST', '/api/conversations/ID/messages', { content: 'hi', clientId: 'x' }],
  ])('an id over 100 characters in %s %s is a contract 404, with every /api header', async (method, path, body) => {
    const result = await http(url, method, path.replace('ID', 'x'.repeat(101)), { token: token.alice, body })
    expect(result.status).toBe(404)
    expect(result.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } })
    expect(result.headers.get('cache-control')).toBe('no-store')
    expect(result.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
  })

  // Node counts the request line with the headers: an id too long for it was told "headers too large".
  it('answers an id too long for the request line (16 KB) 431 INVALID naming the URL, and keeps serving', async () => {
    const result = await http<ErrorBody>(url, 'GET', `/api/conversations/${'x'.repeat(17_000)}/messages`, {
      token: token.alice,
    })
    expect(result.status).toBe(431)
    expect(result.body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining('URL') } })
    expect((await http(url, 'GET', '/api/me', { token: token.alice })).status).toBe(200)
  })

  it('answers a path with a malformed escape in the contract shape, refuses it from a foreign Origin, with the headers', async () => {
    const bad = await http(url, 'GET', '/api/conversations/%E0%A4%A/messages', { token: token.alice })
    expect(bad.status).toBe(400)
    expect(bad.body).toEqual({ error: { code: 'INVALID', message: expect.any(String) } })
    expect(bad.headers.get('cache-control')).toBe('no-store')
    expect(bad.headers.get('x-content-type-options')).toBe('nosniff')
    expect(bad.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    const foreign = await http(url, 'GET', '/api/me%', { token: token.alice, headers: { origin: 'http://evil.test' } })
    expect(foreign.status).toBe(403)
    expect(foreign.body).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } })
  })

  it('refuses a request from a foreign Origin with 403 FORBIDDEN', async () => {
    const result = await http(url, 'GET', '/api/me', { token: token.alice, headers: { origin: 'http://evil.test' } })
    expect(result.status).toBe(403)
    expect(result.body).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } })
  })

  it('serves an allowed Origin with CORS headers, and a request without Origin', async () => {
    const withOrigin = await http(url, 'GET', '/api/me', {
      token: token.alice,
      headers: { origin: 'http://localhost:5173' },
    })
    expect(withOrigin.status).toBe(200)
    expect(withOrigin.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    // A 429's wait, for a page on another origin: Retry-After, and the Date to read a Retry-After date by; and the Age
    // of a refresh answered again from the reuse window.
    expect(withOrigin.headers.get('access-control-expose-headers')?.split(/,\s*/)).toEqual([
      'retry-after',
      'date',
      'age',
    ])
    expect((await http(url, 'GET', '/api/me', { token: token.alice })).status).toBe(200)
  })

  // Review: the not-found handler was the root's, outside the /api plugin whose hook sets the CORS headers, so a page on
  // another allowed origin (VITE_API_URL) calling an endpoint this server does not have (a tab older than a deploy)
  // could not read the JSON 404: the browser made it a network error, which the app takes for "offline" and retries.
  // The checks of a request's form ran before that hook too: their 400s were as unreadable.
  it.each([
    ['an unknown path', 'GET', '/api/nope', undefined, {}],
    ['a known path with another method', 'GET', '/api/auth/login', undefined, {}],
    ['a malformed escape', 'GET', '/api/conversations/%E0%A4%A/messages', undefined, {}],
    [
      'a body in another charset',
      'PATCH',
      '/api/lessons/lesson-1',
      '{}',
      { 'content-type': 'application/json; charset=latin1' },
    ],
    [
      'a compressed body',
      'PATCH',
      '/api/lessons/lesson-1',
      '{}',
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    ],
  ])('lets an allowed Origin read the error for %s', async (_name, method, path, body, headers) => {
    const result = await http<ErrorBody>(url, method, path, {
      token: token.alice,
      body,
      headers: { origin: 'http://localhost:5173', ...headers },
    })
    expect(result.body).toEqual({
      error: { code: expect.stringMatching(/^(NOT_FOUND|INVALID)$/), message: expect.any(String) },
    })
    expect(result.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    expect(result.headers.get('access-control-expose-headers')?.split(/,\s*/)).toEqual(['retry-after', 'date', 'age'])
    expect(result.headers.get('cache-control')).toBe('no-store')
  })

  it('answers a CORS preflight from an allowed Origin', async () => {
    const result = await fetch(`${url}/api/lessons`, {
      method: 'OPTIONS',
      headers: {
        origin: server.url,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization,content-type',
      },
    })
    expect(result.status).toBe(204)
    expect(result.headers.get('access-control-allow-origin')).toBe(server.url)
  })
})

describe('an OPTIONS request that is not a CORS preflight', () => {
  it.each([
    ['without Origin', {}],
    ['without Access-Control-Request-Method', { origin: 'http://localhost:5173' }],
  ])('is 400 INVALID in the contract shape %s, not a text/plain answer', async (_name, headers) => {
    const result = await http<ErrorBody>(url, 'OPTIONS', '/api/me', { headers })
    expect(result.status).toBe(400)
    expect(result.headers.get('content-type')).toMatch(/^application\/json/)
    expect(result.body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining('preflight') } })
  })
})

describe('the SPA', () => {
  let spa: TestServer
  let dist: string

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'talemy-dist-'))
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Talemy</title><div id="root"></div>')
    writeFileSync(join(dist, 'app.js'), 'console.log("app")')
    spa = await startTestServer({ staticDir: dist })
  })
  afterAll(async () => {
    await spa?.dispose()
    rmSync(dist, { recursive: true, force: true })
  })

  it('serves index.html at / and for client-side routes', async () => {
    for (const path of ['/', '/messages/conv-alice-bob', '/lessons']) {
      const result = await fetch(spa.url + path)
      expect(result.status).toBe(200)
      expect(await result.text()).toContain('<title>Talemy</title>')
    }
  })

  it('serves static files', async () => {
    const result = await fetch(`${spa.url}/app.js`)
    expect(result.status).toBe(200)
    expect(await result.text()).toContain('console.log')
  })

  it.each([
    '/assets/index-abc123.js',
    '/assets/missing.css',
    '/missing.png',
    '/favicon.ico',
    '/deep/path/chunk.js',
    '/assets/no-extension',
  ])('answers a missing asset %s with 404, never the SPA page', async (path) => {
    for (const method of ['GET', 'HEAD']) {
      const result = await fetch(spa.url + path, { method })
      expect(result.status).toBe(404)
      expect(result.headers.get('content-type') ?? '').not.toContain('text/html')
      expect(await result.text()).not.toContain('<title>Talemy</title>')
    }
  })

  it('still serves the SPA for client routes (paths without an extension), with a query string too', async () => {
    for (const path of ['/login', '/messages/conv-alice-bob?x=1.js', '/contact-requests/']) {
      const result = await fetch(spa.url + path)
      expect(result.status).toBe(200)
      expect(await result.text()).toContain('<title>Talemy</title>')
    }
  })

  it('never answers an /api path with the SPA', async () => {
    const result = await http(spa.url, 'GET', '/api/unknown')
    expect(result.status).toBe(404)
    expect(result.body).toMatchObject({ error: { code: 'NOT_FOUND' } })
  })

  it('takes a staticDir relative to the working directory (the contract: absolute or relative)', async () => {
    const relativeDir = relative(process.cwd(), dist)
    expect(isAbsolute(relativeDir)).toBe(false)
    const other = await startTestServer({ staticDir: relativeDir })
    try {
      for (const path of ['/', '/lessons', '/app.js']) {
        const result = await fetch(other.url + path)
        expect(result.status).toBe(200)
      }
      expect(await (await fetch(`${other.url}/lessons`)).text()).toContain('<title>Talemy</title>')
    } finally {
      await other.dispose()
    }
  })
})
