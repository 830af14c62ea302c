import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../server/db'
import type { ContactRequest, ErrorBody, Lesson } from './support/types'
import {
  ALICE,
  BOB,
  connectLive,
  declinePending,
  delivered,
  freshDataDir,
  http,
  login,
  manualClock,
  nextEvent,
  record,
  startTestServer,
  type ClientSocket,
  type TestServer,
} from './support/server'

// A booking (or a contact request) whose answer is lost is sent again by a user who saw an error: with the same
// `Idempotency-Key`, the tutor must get one booking, and the student the answer of the first.

const DAN = 'dan@talemy.test'
const clock = manualClock()
let server: TestServer
let dataDir: string
const token = { alice: '', bob: '', dan: '' }
let bob: ClientSocket | undefined

beforeAll(async () => {
  // A second student (the demo has one), with Alice's password: a key is the user's own, not everyone's.
  dataDir = freshDataDir()
  const db = await openDatabase({ dataDir })
  await db.query(
    `insert into users (id, email, name, role, password_hash, created_at)
     select 'user-dan', $1, 'Dan Student', 'student', password_hash, now() from users where id = 'user-alice'`,
    [DAN],
  )
  await db.close()
  server = await startTestServer({ dataDir, now: clock.now })
  token.alice = (await login(server.url, ALICE)).token
  token.bob = (await login(server.url, BOB)).token
  token.dan = (await login(server.url, DAN)).token
}, 120_000)
afterAll(async () => {
  bob?.close()
  await server?.dispose()
  rmSync(dataDir, { recursive: true, force: true })
})

const LESSON = { tutorId: 'user-bob', subject: 'Geometry', startsAt: '2030-05-01T09:00:00.000Z', durationMinutes: 60 }

const book = <T = Lesson>(who: string, key: string | undefined, body: Record<string, unknown> = LESSON) =>
  http<T>(server.url, 'POST', '/api/lessons', {
    token: who,
    body,
    headers: key === undefined ? {} : { 'idempotency-key': key },
  })
const ask = <T = ContactRequest>(who: string, key: string | undefined, message = 'Hello there') =>
  http<T>(server.url, 'POST', '/api/contact-requests', {
    token: who,
    body: { tutorId: 'user-bob', message },
    headers: key === undefined ? {} : { 'idempotency-key': key },
  })
const lessonsOf = async (who: string, id: string) =>
  (await http<Lesson[]>(server.url, 'GET', '/api/lessons', { token: who })).body.filter((l) => l.id === id)
const subjectCount = async (who: string, subject: string) =>
  (await http<Lesson[]>(server.url, 'GET', '/api/lessons', { token: who })).body.filter((l) => l.subject === subject)
    .length

describe('POST /api/lessons with an Idempotency-Key', () => {
  it('a repeat answers the first booking again (same status, same body) and books nothing more', async () => {
    const key = randomUUID()
    const subject = `Repeat ${key}`
    const first = await book(token.alice, key, { ...LESSON, subject })
    expect(first.status).toBe(201)
    const again = await book(token.alice, key, { ...LESSON, subject })
    expect(again.status).toBe(201)
    expect(again.body).toEqual(first.body)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    expect(await lessonsOf(token.alice, first.body.id)).toHaveLength(1)
    expect(await subjectCount(token.alice, subject)).toBe(1)
  })

  it('the same request in another JSON spelling (key order, an instant written otherwise) is the same request', async () => {
    const key = randomUUID()
    const first = await book(token.alice, key)
    const { durationMinutes, startsAt, subject, tutorId } = LESSON
    const again = await book(token.alice, key, {
      durationMinutes,
      startsAt: startsAt.replace('.000Z', '+00:00'),
      subject: ` ${subject} `,
      tutorId,
    })
    expect(again.status).toBe(201)
    expect(again.body.id).toBe(first.body.id)
  })

  it('the same key with another body is 400 INVALID (the contract’s status for it), naming the header, and books nothing', async () => {
    const key = randomUUID()
    const first = await book(token.alice, key)
    const subject = `Other ${key}`
    const other = await book<ErrorBody>(token.alice, key, { ...LESSON, subject })
    expect(other.status).toBe(400)
    expect(other.body).toEqual({
      error: { code: 'INVALID', message: 'Idempotency-Key: already used for a different request' },
    })
    expect(await subjectCount(token.alice, subject)).toBe(0)
    // The first request is still answered as it was.
    expect((await book(token.alice, key)).body).toEqual(first.body)
  })

  it('a key used for a contact request is not a booking’s (400)', async () => {
    const key = randomUUID()
    expect((await ask(token.alice, key)).status).toBe(201)
    expect((await book(token.alice, key)).status).toBe(400)
  })

  it('two concurrent requests with one key book one lesson, and both are answered with it', async () => {
    const key = randomUUID()
    const subject = `Concurrent ${key}`
    const answers = await Promise.all([1, 2, 3].map(() => book(token.alice, key, { ...LESSON, subject })))
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201])
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1)
    expect(await subjectCount(token.alice, subject)).toBe(1)
  })

  it.each([
    ['empty', ''],
    ['over 100 characters', 'k'.repeat(101)],
    ['not ASCII (é, sent as its Latin-1 byte)', 'clé-1'],
    ['a control character (tab)', 'a\tb'],
  ])('a key %s is 400 INVALID naming the header, and books nothing', async (_case, key) => {
    const subject = `Bad key ${randomUUID()}`
    const result = await book<ErrorBody>(token.alice, key, { ...LESSON, subject })
    expect(result.status).toBe(400)
    expect(result.body.error).toEqual({
      code: 'INVALID',
      message: 'Idempotency-Key: must be 1 to 100 printable ASCII characters',
    })
    expect(await subjectCount(token.alice, subject)).toBe(0)
  })

  it('without a valid token a keyed booking is 401 before its key is read, books nothing, and leaves the key unused', async () => {
    const key = randomUUID()
    const subject = `Unauthenticated ${key}`
    for (const who of ['', 'not-a-token', `${token.alice.slice(0, -4)}AAAA`]) {
      const refused = await book<ErrorBody>(who, key, { ...LESSON, subject })
      expect(refused.status).toBe(401)
      expect(refused.body.error.code).toBe('UNAUTHORIZED')
    }
    // A malformed key without a token is 401 too: who asks is checked first.
    expect((await book<ErrorBody>('', 'k'.repeat(101), { ...LESSON, subject })).status).toBe(401)
    expect(await subjectCount(token.alice, subject)).toBe(0)
    // The key was never taken: its first authenticated use books.
    expect((await book(token.alice, key, { ...LESSON, subject })).status).toBe(201)
  })

  it('a key of 100 printable characters is taken', async () => {
    const key = `${randomUUID()} ~!"#`.padEnd(100, 'x')
    expect((await book(token.alice, key)).status).toBe(201)
    expect((await book(token.alice, key)).status).toBe(201)
  })

  it('without the header every request books, as before', async () => {
    const subject = `No key ${randomUUID()}`
    const first = await book(token.alice, undefined, { ...LESSON, subject })
    const second = await book(token.alice, undefined, { ...LESSON, subject })
    expect([first.status, second.status]).toEqual([201, 201])
    expect(first.body.id).not.toBe(second.body.id)
    expect(await subjectCount(token.alice, subject)).toBe(2)
  })

  it('another user’s same key is their own', async () => {
    const key = randomUUID()
    const alices = await book(token.alice, key)
    const dans = await book(token.dan, key)
    expect(dans.status).toBe(201)
    expect(dans.body.studentId).toBe('user-dan')
    expect(dans.body.id).not.toBe(alices.body.id)
    // A different body under the other user's key is no reuse either.
    expect((await book(token.dan, randomUUID(), { ...LESSON, subject: 'Dan’s own' })).status).toBe(201)
  })

  it('a refusal is not kept: the corrected request with the same key books', async () => {
    const key = randomUUID()
    const refused = await book<ErrorBody>(token.alice, key, { ...LESSON, tutorId: 'user-nobody' })
    expect(refused.status).toBe(404)
    const corrected = await book(token.alice, key)
    expect(corrected.status).toBe(201)
    expect((await book(token.alice, key)).body.id).toBe(corrected.body.id)
  })

  it('the tutor gets one lesson:created for a booking sent three times', async () => {
    bob = await connectLive(server.url, token.bob)
    const events = record(bob)
    const key = randomUUID()
    const subject = `Event ${key}`
    const created = nextEvent(bob, 'lesson:created', (l) => l.subject === subject)
    const first = await book(token.alice, key, { ...LESSON, subject })
    await book(token.alice, key, { ...LESSON, subject })
    await Promise.all([book(token.alice, key, { ...LESSON, subject }), book(token.alice, key, { ...LESSON, subject })])
    expect(await created).toEqual(first.body)
    await delivered(bob)
    expect(events.of('lesson:created').filter((l) => l.subject === subject)).toEqual([first.body])
  })
})

describe('POST /api/contact-requests with an Idempotency-Key', () => {
  it('a repeat answers the first request again; another body is 400; without a key each request counts', async () => {
    const key = randomUUID()
    const message = `Hello ${key}`
    // One pending request per student and tutor: Bob answers each before Alice asks anew.
    await declinePending(server.url, token.bob, 'user-alice')
    const first = await ask(token.alice, key, message)
    expect(first.status).toBe(201)
    const again = await ask(token.alice, key, message)
    expect(again.status).toBe(201)
    expect(again.body).toEqual(first.body)
    const other = await ask<ErrorBody>(token.alice, key, `${message}!`)
    expect(other.status).toBe(400)
    expect(other.body.error.message).toBe('Idempotency-Key: already used for a different request')
    await declinePending(server.url, token.bob, 'user-alice')
    const concurrent = randomUUID()
    const pair = await Promise.all([ask(token.alice, concurrent, message), ask(token.alice, concurrent, message)])
    expect(pair[0].body.id).toBe(pair[1].body.id)
    await declinePending(server.url, token.bob, 'user-alice')
    expect((await ask(token.alice, undefined, message)).status).toBe(201)
    const listed = (
      await http<ContactRequest[]>(server.url, 'GET', '/api/contact-requests', { token: token.alice })
    ).body.filter((r) => r.message === message)
    expect(listed).toHaveLength(3)
  })
})

describe('CORS', () => {
  it('a preflight from an allowed origin may send Idempotency-Key', async () => {
    const origin = new URL(server.url).origin
    const preflight = await fetch(`${server.url}/api/lessons`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key')
  })
})

// Last: the clock it moves ends every token signed before.
describe('expiry', () => {
  it('a key is kept 24 hours: after that it books again', async () => {
    const key = randomUUID()
    const subject = `Expiry ${key}`
    const first = await book(token.alice, key, { ...LESSON, subject })
    clock.advance(23 * 3600_000)
    const fresh = (await login(server.url, ALICE)).token
    expect((await book(fresh, key, { ...LESSON, subject })).body.id).toBe(first.body.id)
    clock.advance(2 * 3600_000)
    const later = (await login(server.url, ALICE)).token
    const after = await book(later, key, { ...LESSON, subject })
    expect(after.status).toBe(201)
    expect(after.body.id).not.toBe(first.body.id)
  })
})

describe('repeats and the write budget', () => {
  let limited: TestServer
  beforeAll(async () => {
    // Two writes, then two look-ups past the budget, and nothing refills during the test.
    limited = await startTestServer({
      now: manualClock().now,
      rateLimit: { perSecond: 0.0001, burst: 2 },
      replayLookupLimit: { perSecond: 0.0001, burst: 2 },
    })
  }, 120_000)
  afterAll(() => limited?.dispose())

  it('each repeat costs the budget a look-up; past it a lost answer is still given, within the look-ups’ own budget, then RATE_LIMITED', async () => {
    const alice = (await login(limited.url, ALICE)).token
    const key = randomUUID()
    const once = () =>
      http<Lesson>(limited.url, 'POST', '/api/lessons', {
        token: alice,
        body: LESSON,
        headers: { 'idempotency-key': key },
      })
    const first = await once()
    expect(first.status).toBe(201)
    // The budget's second token, then the two look-ups: the same booking each time.
    for (let i = 0; i < 3; i++) expect(await once()).toMatchObject({ status: 201, body: { id: first.body.id } })
    const refused = await once()
    expect(refused.status).toBe(429)
    expect((refused.body as unknown as ErrorBody).error.code).toBe('RATE_LIMITED')
  })
})
