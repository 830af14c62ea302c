import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { ALICE, BOB, CAROL, delivered, emitAck, http, login, startTestServer, type TestServer } from './support/server'
import { openStream, type Stream, type StreamItem } from './support/stream'

// "No event addressed to one user ever reaches a socket authenticated as another, by any path" (CONTRACT.md,
// Sessions), from the outsider's side: Carol is in neither Alice and Bob's conversation nor their lessons. She tries
// every way in (join, typing, send, reads, a third party's lesson change), they talk, read, type and book meanwhile,
// and she then resumes from her own offset and from 0: neither her live stream nor any replay names any of it.

const CONV = 'conv-alice-bob'
let server: TestServer
const open: Stream[] = []

beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  for (const s of open.splice(0)) s.socket.close()
  await server.dispose()
})

async function stream(token: string, auth: { offset?: number; epoch?: string } = {}): Promise<Stream> {
  const s = await openStream(server.url, token, auth)
  open.push(s)
  await s.synced()
  return s
}

/** Whether an event is about Alice and Bob's conversation or a lesson between them. */
const aboutThem = (item: StreamItem, lessonIds: readonly string[]) =>
  item.payload.conversationId === CONV || lessonIds.includes(item.payload.id as string)

it("an outsider gets none of a conversation's or a lesson's events, live or replayed from any offset", async () => {
  const [alice, bob, carol] = await Promise.all([
    login(server.url, ALICE),
    login(server.url, BOB),
    login(server.url, CAROL),
  ])
  const carolLive = await stream(carol.token)
  const { offset, epoch } = (await carolLive.synced()).payload

  // Every way in, refused.
  expect(await emitAck(carolLive.socket, 'conversation:join', CONV)).toMatchObject({
    ok: false,
    error: { code: 'FORBIDDEN' },
  })
  expect(await emitAck(carolLive.socket, 'typing', { conversationId: CONV })).toMatchObject({
    ok: false,
    error: { code: 'FORBIDDEN' },
  })
  expect(
    await emitAck(carolLive.socket, 'message:send', { conversationId: CONV, content: 'hi', clientId: randomUUID() }),
  ).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
  expect((await http(server.url, 'GET', `/api/conversations/${CONV}/messages`, { token: carol.token })).status).toBe(
    403,
  )

  // Alice and Bob at it: reads and receipts, typing, sends both ways, a lesson booked and changed.
  const aliceLive = await stream(alice.token)
  const bobLive = await stream(bob.token)
  expect(await emitAck(aliceLive.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
  expect(await emitAck(bobLive.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
  expect(
    await emitAck(bobLive.socket, 'message:send', {
      conversationId: CONV,
      content: 'from Bob',
      clientId: randomUUID(),
    }),
  ).toMatchObject({ ok: true })
  expect(await emitAck(bobLive.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
  expect(
    await emitAck(aliceLive.socket, 'message:send', {
      conversationId: CONV,
      content: 'from Alice',
      clientId: randomUUID(),
    }),
  ).toMatchObject({ ok: true })
  const lesson = await http<{ id: string }>(server.url, 'POST', '/api/lessons', {
    token: alice.token,
    body: { tutorId: 'user-bob', subject: 'Algebra', startsAt: '2030-01-01T10:00:00.000Z', durationMinutes: 60 },
  })
  expect(lesson.status).toBe(201)
  const lessonIds = ['lesson-1', 'lesson-3', lesson.body.id]
  // A third party's change is refused before anything is written or told.
  const meddled = await http(server.url, 'PATCH', `/api/lessons/${lesson.body.id}`, {
    token: carol.token,
    body: { status: 'cancelled' },
  })
  expect(meddled.status).toBe(403)
  const confirmed = await http(server.url, 'PATCH', `/api/lessons/${lesson.body.id}`, {
    token: bob.token,
    body: { status: 'confirmed' },
  })
  expect(confirmed.status).toBe(200)

  // What was meant for them reaches them (the streams are live on both sides)…
  const has = (s: Stream, event: string) => expect(s.items.some((item) => item.event === event)).toBe(true)
  await vi.waitFor(() => {
    has(bobLive, 'conversation:seen')
    has(aliceLive, 'typing')
    has(aliceLive, 'lesson:statusUpdated')
  })
  await delivered(carolLive.socket)
  // …and nothing of it reached Carol, nor did her log grow.
  expect(carolLive.items.filter((item) => aboutThem(item, lessonIds))).toEqual([])
  expect(carolLive.logged()).toEqual([])

  const resumed = await stream(carol.token, { offset, epoch })
  expect(await resumed.synced()).toEqual({ event: 'sync:caughtUp', payload: { offset, epoch } })
  expect(resumed.logged()).toEqual([])
  const fromStart = await stream(carol.token, { offset: 0, epoch })
  expect((await fromStart.synced()).event).toBe('sync:caughtUp')
  expect(fromStart.items.filter((item) => aboutThem(item, lessonIds))).toEqual([])
  expect(fromStart.logged().every((item) => item.offset <= offset)).toBe(true)
})
