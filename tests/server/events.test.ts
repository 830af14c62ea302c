import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ContactRequest, Conversation, Lesson, Message } from './support/types'
import {
  ALICE,
  BOB,
  CAROL,
  connectLive,
  declinePending,
  emitAck,
  http,
  login,
  manualClock,
  delivered,
  record,
  startTestServer,
  type ClientSocket,
  type Recorder,
  type TestServer,
} from './support/server'

// One server for the file; each test starts from "nobody has anything joined" and fresh recorders.
let server: TestServer
const tokens: Record<'alice' | 'bob' | 'carol', string> = { alice: '', bob: '', carol: '' }
let alice1: ClientSocket, alice2: ClientSocket, bob1: ClientSocket, bob2: ClientSocket, carol1: ClientSocket
let rec: Record<'alice1' | 'alice2' | 'bob1' | 'bob2' | 'carol1', Recorder>
const CONV = 'conv-alice-bob'

beforeAll(async () => {
  server = await startTestServer()
  tokens.alice = (await login(server.url, ALICE)).token
  tokens.bob = (await login(server.url, BOB)).token
  tokens.carol = (await login(server.url, CAROL)).token
  // Every socket receives what the others cause: each is live (its handshake has read its log's head) before a test
  // sends, or what a test commits first may be in its past and never reach it.
  ;[alice1, alice2, bob1, bob2, carol1] = await Promise.all([
    connectLive(server.url, tokens.alice),
    connectLive(server.url, tokens.alice),
    connectLive(server.url, tokens.bob),
    connectLive(server.url, tokens.bob),
    connectLive(server.url, tokens.carol),
  ])
  rec = {
    alice1: record(alice1),
    alice2: record(alice2),
    bob1: record(bob1),
    bob2: record(bob2),
    carol1: record(carol1),
  }
})

afterAll(async () => {
  for (const socket of [alice1, alice2, bob1, bob2, carol1]) socket?.close()
  await server?.dispose()
})

beforeEach(async () => {
  // Each ack is also a barrier: the server emits a change's events before it answers for it, and one connection
  // delivers in order, so whatever an earlier test caused has reached every socket before its recorder is cleared.
  for (const socket of [alice1, alice2, bob1, bob2, carol1]) await emitAck(socket, 'conversation:leave', CONV)
  for (const recorder of Object.values(rec)) recorder.clear()
})

/**
 * Waits for the events a test expects (they arrive when they arrive: no fixed delay is long enough on a loaded
 * machine), then makes every socket prove that whatever the change caused has reached it (`delivered`), so the exact
 * assertions after it also show that nothing *else* came, and never will.
 */
async function arrived(expected: () => void): Promise<void> {
  await vi.waitFor(expected, { timeout: 10_000, interval: 10 })
  await delivered(alice1, alice2, bob1, bob2, carol1)
}

const send = (socket: ClientSocket, content = 'hello', clientId = randomUUID()) =>
  emitAck<Message>(socket, 'message:send', { conversationId: CONV, content, clientId })

describe('message:send', () => {
  it('acks with the stored message, numbered after the last one', async () => {
    const before = await http<Message[]>(server.url, 'GET', `/api/conversations/${CONV}/messages`, {
      token: tokens.alice,
    })
    const clientId = randomUUID()
    const ack = await send(alice1, 'acked', clientId)
    expect(ack).toEqual({
      ok: true,
      data: expect.objectContaining({ conversationId: CONV, senderId: 'user-alice', content: 'acked', clientId }),
    })
    if (ack.ok) expect(ack.data.seq).toBe(before.body.at(-1)!.seq + 1)
  })

  it('sends message:new to every socket of the other participant and to nobody else', async () => {
    const ack = await send(alice1, 'to bob')
    const stored = ack.ok ? ack.data : undefined
    await arrived(() => {
      expect(rec.bob1.of('message:new')).toHaveLength(1)
      expect(rec.bob2.of('message:new')).toHaveLength(1)
    })
    expect(rec.bob1.of('message:new')).toEqual([stored])
    expect(rec.bob2.of('message:new')).toEqual([stored])
    expect(rec.alice1.of('message:new')).toEqual([])
    expect(rec.alice2.of('message:new')).toEqual([])
    expect(rec.carol1.events).toEqual([])
  })

  it('sends message:sent to every socket of the sender (all tabs) and to nobody else', async () => {
    const ack = await send(alice1, 'confirm me')
    const stored = ack.ok ? ack.data : undefined
    await arrived(() => {
      expect(rec.alice1.of('message:sent')).toHaveLength(1)
      expect(rec.alice2.of('message:sent')).toHaveLength(1)
      expect(rec.bob1.of('message:new')).toHaveLength(1)
    })
    expect(rec.alice1.of('message:sent')).toEqual([stored])
    expect(rec.alice2.of('message:sent')).toEqual([stored])
    expect(rec.bob1.of('message:sent')).toEqual([])
    expect(rec.bob2.of('message:sent')).toEqual([])
    expect(rec.carol1.events).toEqual([])
  })

  it('emits the same events for a message posted over HTTP', async () => {
    const clientId = randomUUID()
    const posted = await http<Message>(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: tokens.bob,
      body: { content: 'over http', clientId },
    })
    expect(posted.status).toBe(201)
    await arrived(() => {
      for (const r of [rec.alice1, rec.alice2]) expect(r.of('message:new')).toHaveLength(1)
      for (const r of [rec.bob1, rec.bob2]) expect(r.of('message:sent')).toHaveLength(1)
    })
    expect(rec.alice1.of('message:new')).toEqual([posted.body])
    expect(rec.alice2.of('message:new')).toEqual([posted.body])
    expect(rec.bob1.of('message:sent')).toEqual([posted.body])
    expect(rec.bob2.of('message:sent')).toEqual([posted.body])
    expect(rec.bob1.of('message:new')).toEqual([])
    expect(rec.carol1.events).toEqual([])
  })

  it('is idempotent per clientId: a replay returns the stored message and emits nothing new', async () => {
    const clientId = randomUUID()
    const first = await send(alice1, 'once', clientId)
    const again = await send(alice2, 'once', clientId)
    const overHttp = await http<Message>(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: tokens.alice,
      body: { content: 'once', clientId },
    })
    await arrived(() => {
      expect(rec.bob1.of('message:new')).not.toHaveLength(0)
      expect(rec.alice2.of('message:sent')).not.toHaveLength(0)
    })
    expect(again).toEqual(first)
    expect(overHttp.body).toEqual(first.ok && first.data)
    expect(rec.bob1.of('message:new')).toHaveLength(1)
    expect(rec.alice2.of('message:sent')).toHaveLength(1)
  })

  // Answered with the first message, the second text would be taken for sent and never reach anyone: nothing says so.
  it('refuses a clientId already used for other content (INVALID naming clientId), over socket and HTTP alike', async () => {
    const clientId = randomUUID()
    const first = await send(alice1, 'the first text', clientId)
    expect(first.ok).toBe(true)
    const refusal = { code: 'INVALID', message: 'clientId: already used for a different message' }
    expect(await send(alice2, 'another text', clientId)).toEqual({ ok: false, error: refusal })
    const overHttp = await http(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: tokens.alice,
      body: { content: 'another text', clientId },
    })
    expect(overHttp).toMatchObject({ status: 400, body: { error: refusal } })
    // The same content is still a replay, answered with the stored message.
    expect(await send(alice2, 'the first text', clientId)).toEqual(first)
    await arrived(() => expect(rec.bob1.of('message:new')).toHaveLength(1))
    await delivered(alice1, alice2, bob1, bob2, carol1)
    expect(rec.bob1.of('message:new')).toEqual([first.ok && first.data])
  })

  it('stores concurrent replays of one clientId once', async () => {
    const clientId = randomUUID()
    const acks = await Promise.all([
      send(alice1, 'race', clientId),
      send(alice2, 'race', clientId),
      send(alice1, 'race', clientId),
    ])
    const ids = new Set(acks.map((ack) => ack.ok && ack.data.id))
    expect(ids.size).toBe(1)
    await arrived(() => expect(rec.bob1.of('message:new')).not.toHaveLength(0))
    expect(rec.bob1.of('message:new')).toHaveLength(1)
  })

  it("stores one sender's messages in the order they were sent", async () => {
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => send(alice1, `n${i}`)))
    const seqs = acks.map((ack) => (ack.ok ? ack.data.seq : -1))
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(new Set(seqs).size).toBe(20)
  })

  it('refuses a conversation the sender is not part of (FORBIDDEN) and an unknown one (NOT_FOUND)', async () => {
    const forbidden = await emitAck(carol1, 'message:send', {
      conversationId: CONV,
      content: 'hi',
      clientId: randomUUID(),
    })
    const missing = await emitAck(carol1, 'message:send', {
      conversationId: 'nope',
      content: 'hi',
      clientId: randomUUID(),
    })
    expect(forbidden).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(missing).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
  })

  // The contract's "4,000 characters" are characters: an emoji is one (as PostgreSQL's char_length counts), not the
  // two UTF-16 units JavaScript's `length` counts.
  it('takes 4,000 characters, emoji counted as one each, stored and given back as sent; refuses 4,001', async () => {
    const oneEmoji = `${'x'.repeat(3_999)}😀`
    const allEmoji = '😀'.repeat(4_000)
    for (const content of [oneEmoji, allEmoji]) {
      const ack = await send(alice1, content)
      expect(ack).toMatchObject({ ok: true, data: { content } })
    }
    const over = await send(alice1, `${allEmoji}x`)
    expect(over).toEqual({ ok: false, error: { code: 'INVALID', message: 'content: must be at most 4000 characters' } })
  })
})

describe('conversation:join and conversation:read', () => {
  it('acks null and sends conversation:read to every socket of the joining user only', async () => {
    await send(bob1, 'unread for alice')
    // Bob's send is his read too (his reply), told to his sockets: what the join tells is what follows.
    await delivered(alice1, alice2, bob1, bob2, carol1)
    for (const recorder of Object.values(rec)) recorder.clear()
    const ack = await emitAck(alice1, 'conversation:join', CONV)
    expect(ack).toEqual({ ok: true, data: null })
    await arrived(() => {
      expect(rec.alice1.of('conversation:read')).toHaveLength(1)
      expect(rec.alice2.of('conversation:read')).toHaveLength(1)
    })
    expect(rec.alice1.of('conversation:read')).toEqual([{ conversationId: CONV, unreadCount: 0 }])
    expect(rec.alice2.of('conversation:read')).toEqual([{ conversationId: CONV, unreadCount: 0 }])
    expect(rec.bob1.of('conversation:read')).toEqual([])
    expect(rec.carol1.events).toEqual([])
  })

  it('marks the conversation read for the joining user (unreadCount 0 over HTTP)', async () => {
    await send(bob1, 'one')
    await send(bob1, 'two')
    const unread = async () =>
      (await http<Conversation[]>(server.url, 'GET', '/api/conversations', { token: tokens.alice })).body.find(
        (c) => c.id === CONV,
      )!.unreadCount
    expect(await unread()).toBeGreaterThanOrEqual(2)
    await emitAck(alice1, 'conversation:join', CONV)
    expect(await unread()).toBe(0)
  })

  it("keeps marking new messages read while one of the user's sockets has it joined", async () => {
    await emitAck(alice2, 'conversation:join', CONV)
    // The join's own conversation:read reaches alice1 on its own connection, in its own time: wait for it before
    // clearing, or it may land after the clear and be counted as the new message's.
    await vi.waitFor(() => expect(rec.alice1.of('conversation:read')).toHaveLength(1), {
      timeout: 10_000,
      interval: 10,
    })
    rec.alice1.clear()
    await send(bob1, 'while alice looks')
    await arrived(() => {
      expect(rec.alice1.of('conversation:read')).toHaveLength(1)
      expect(rec.alice1.of('message:new')).toHaveLength(1)
    })
    expect(rec.alice1.of('conversation:read')).toEqual([{ conversationId: CONV, unreadCount: 0 }])
    expect(rec.bob1.of('conversation:read')).toEqual([])
    const list = await http<Conversation[]>(server.url, 'GET', '/api/conversations', { token: tokens.alice })
    expect(list.body.find((c) => c.id === CONV)!.unreadCount).toBe(0)
    expect(rec.alice1.of('message:new')).toHaveLength(1)
  })

  it('stops marking read after leaving', async () => {
    await emitAck(alice1, 'conversation:join', CONV)
    await emitAck(alice1, 'conversation:leave', CONV)
    rec.alice1.clear()
    await send(bob1, 'after leave')
    // A conversation:read would follow the message:new on alice1's connection.
    await arrived(() => expect(rec.alice1.of('message:new')).toHaveLength(1))
    expect(rec.alice1.of('conversation:read')).toEqual([])
    const list = await http<Conversation[]>(server.url, 'GET', '/api/conversations', { token: tokens.alice })
    expect(list.body.find((c) => c.id === CONV)!.unreadCount).toBe(1)
  })

  it('refuses a non-participant with FORBIDDEN', async () => {
    expect(await emitAck(carol1, 'conversation:join', CONV)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
  })

  it('refuses an unknown conversation with NOT_FOUND', async () => {
    expect(await emitAck(carol1, 'conversation:join', 'no-such-conversation')).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    })
  })

  it('delivers message:new whether or not the receiver joined', async () => {
    await send(alice1, 'not joined')
    await arrived(() => expect(rec.bob1.of('message:new')).not.toHaveLength(0))
    expect(rec.bob1.of('message:new')).toHaveLength(1)
  })
})

describe('lessons', () => {
  const book = (token: string) =>
    http<Lesson>(server.url, 'POST', '/api/lessons', {
      token,
      body: { tutorId: 'user-bob', subject: 'Algebra', startsAt: '2030-01-01T10:00:00.000Z', durationMinutes: 60 },
    })

  it("lesson:created reaches the tutor's and the student's sockets and nobody else", async () => {
    const created = await book(tokens.alice)
    expect(created.status).toBe(201)
    await arrived(() => {
      for (const r of [rec.alice1, rec.alice2, rec.bob1, rec.bob2]) expect(r.of('lesson:created')).toHaveLength(1)
    })
    for (const r of [rec.alice1, rec.alice2, rec.bob1, rec.bob2]) expect(r.of('lesson:created')).toEqual([created.body])
    expect(rec.carol1.events).toEqual([])
  })

  it('lesson:statusUpdated reaches both sides and nobody else', async () => {
    const created = await book(tokens.alice)
    const confirmed = await http<Lesson>(server.url, 'PATCH', `/api/lessons/${created.body.id}`, {
      token: tokens.bob,
      body: { status: 'confirmed' },
    })
    expect(confirmed.body).toMatchObject({ status: 'confirmed', id: created.body.id })
    await arrived(() => {
      for (const r of [rec.alice1, rec.alice2, rec.bob1, rec.bob2]) expect(r.of('lesson:statusUpdated')).toHaveLength(1)
    })
    for (const r of [rec.alice1, rec.alice2, rec.bob1, rec.bob2])
      expect(r.of('lesson:statusUpdated')).toEqual([confirmed.body])
    expect(rec.carol1.events).toEqual([])
  })
})

describe('contact requests', () => {
  beforeEach(async () => {
    // One pending request per student and tutor: each test asks afresh, its recorders cleared after the decline.
    await declinePending(server.url, tokens.carol, 'user-alice')
    await delivered(alice1, alice2, bob1, bob2, carol1)
    for (const recorder of Object.values(rec)) recorder.clear()
  })

  const ask = () =>
    http<ContactRequest>(server.url, 'POST', '/api/contact-requests', {
      token: tokens.alice,
      body: { tutorId: 'user-carol', message: 'Can you teach me?' },
    })

  it("contactRequest:created reaches the tutor's and the student's sockets and nobody else", async () => {
    const created = await ask()
    expect(created.status).toBe(201)
    await arrived(() => {
      for (const r of [rec.alice1, rec.alice2, rec.carol1]) expect(r.of('contactRequest:created')).toHaveLength(1)
    })
    for (const r of [rec.alice1, rec.alice2, rec.carol1]) expect(r.of('contactRequest:created')).toEqual([created.body])
    expect(rec.bob1.events).toEqual([])
    expect(rec.bob2.events).toEqual([])
  })

  it('contactRequest:statusUpdated reaches both sides and nobody else', async () => {
    const created = await ask()
    const accepted = await http<ContactRequest>(server.url, 'PATCH', `/api/contact-requests/${created.body.id}`, {
      token: tokens.carol,
      body: { status: 'accepted' },
    })
    expect(accepted.body.status).toBe('accepted')
    await arrived(() => {
      for (const r of [rec.alice1, rec.alice2, rec.carol1]) expect(r.of('contactRequest:statusUpdated')).toHaveLength(1)
    })
    for (const r of [rec.alice1, rec.alice2, rec.carol1])
      expect(r.of('contactRequest:statusUpdated')).toEqual([accepted.body])
    expect(rec.bob1.events).toEqual([])
  })
})

describe('a status change written by a clock that stepped back', () => {
  it('still comes after the version before it: updatedAt only grows, so the clients keep it', async () => {
    const clock = manualClock(Date.parse('2030-06-01T10:00:00.000Z'))
    const own = await startTestServer({ now: clock.now })
    try {
      const alice = (await login(own.url, ALICE)).token
      const bob = (await login(own.url, BOB)).token
      for (const [path, body, change] of [
        [
          '/api/lessons',
          { tutorId: 'user-bob', subject: 'Algebra', startsAt: '2031-01-01T10:00:00.000Z', durationMinutes: 60 },
          { status: 'confirmed' },
        ],
        ['/api/contact-requests', { tutorId: 'user-bob', message: 'Hello' }, { status: 'accepted' }],
      ] as const) {
        const created = await http<{ id: string; updatedAt: string }>(own.url, 'POST', path, { token: alice, body })
        expect(created.status).toBe(201)
        // Another node whose clock is 2 s behind (or this one's, stepped back) writes the change.
        clock.advance(-2_000)
        const changed = await http<{ updatedAt: string; status: string }>(
          own.url,
          'PATCH',
          `${path}/${created.body.id}`,
          {
            token: bob,
            body: change,
          },
        )
        expect(changed.body.status).toBe(change.status)
        expect(Date.parse(changed.body.updatedAt)).toBeGreaterThan(Date.parse(created.body.updatedAt))
      }
    } finally {
      await own.dispose()
    }
  })
})
