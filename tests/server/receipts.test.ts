import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  ALICE,
  BOB,
  CAROL,
  delivered,
  emitAck,
  http,
  login,
  startTestServer,
  type TestServer,
  untyped,
} from './support/server'
import { openStream, type Stream } from './support/stream'

// Read receipts (CONTRACT.md, "Presence, typing, read receipts"): `readSeq` in the conversation list, and
// `conversation:seen` { conversationId, userId, seq } logged for the other participants when someone reads.

const CONV = 'conv-alice-bob'
let server: TestServer
const open: Stream[] = []

beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.dispose())
afterEach(() => {
  for (const stream of open.splice(0)) stream.socket.close()
})

async function stream(token: string, auth: { offset?: number; epoch?: string } = {}): Promise<Stream> {
  const s = await openStream(server.url, token, auth)
  open.push(s)
  await s.synced()
  return s
}

const post = async (token: string, content: string) => {
  const result = await http(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
    token,
    body: { content, clientId: randomUUID() },
  })
  expect(result.status).toBe(201)
  return result.body as { id: string; seq: number }
}

const seenOf = (s: Stream) => s.logged().filter((item) => item.event === 'conversation:seen')
/** A conversation as its participant's list gives it. */
const conversationOf = async (token: string, id: string) =>
  (
    await http<{ id: string; unreadCount: number; readSeq: Record<string, number> }[]>(
      server.url,
      'GET',
      '/api/conversations',
      { token },
    )
  ).body.find((c) => c.id === id)!
const readSeqOf = async (token: string) => (await conversationOf(token, CONV)).readSeq

describe('read receipts', () => {
  it('tells Alice (only) that Bob read up to her last message when he opens the thread, and lists it in readSeq', async () => {
    const [alice, bob, carol] = await Promise.all([
      login(server.url, ALICE),
      login(server.url, BOB),
      login(server.url, CAROL),
    ])
    const [aliceStream, bobStream, carolStream] = await Promise.all([
      stream(alice.token),
      stream(bob.token),
      stream(carol.token),
    ])
    const sent = await post(alice.token, 'did you get my notes?')

    expect(await emitAck(bobStream.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
    await vi.waitFor(() => expect(seenOf(aliceStream)).toHaveLength(1), { timeout: 10_000 })
    expect(seenOf(aliceStream)[0]!.payload).toEqual({ conversationId: CONV, userId: bob.user.id, seq: sent.seq })
    // Right after her send's events (her reply read Bob's last message, which the seed leaves unread): one log, no hole.
    const logged = aliceStream.logged()
    expect(logged.map((item) => item.event)).toEqual(['message:sent', 'conversation:read', 'conversation:seen'])
    expect(logged.map((item) => item.offset - logged[0]!.offset)).toEqual([0, 1, 2])

    await delivered(bobStream.socket, carolStream.socket)
    // Bob is told of Alice's read (her reply), never of his own.
    expect(seenOf(bobStream).map((item) => item.payload.userId)).toEqual([alice.user.id])
    expect(carolStream.logged()).toEqual([])
    expect((await readSeqOf(alice.token))[bob.user.id]).toBe(sent.seq)
    expect((await readSeqOf(bob.token))[bob.user.id]).toBe(sent.seq)
  })

  it('sends a receipt with each message Alice writes while Bob has the thread open, after her message:sent', async () => {
    const [alice, bob] = await Promise.all([login(server.url, ALICE), login(server.url, BOB)])
    const [aliceStream, bobStream] = await Promise.all([stream(alice.token), stream(bob.token)])
    expect((await emitAck(bobStream.socket, 'conversation:join', CONV)).ok).toBe(true)
    aliceStream.items.splice(0)
    bobStream.items.splice(0)

    const sent = await post(alice.token, 'still there?')
    await vi.waitFor(() => expect(aliceStream.logged()).toHaveLength(2), { timeout: 10_000 })
    const [first, second] = aliceStream.logged()
    expect(first).toMatchObject({ event: 'message:sent', payload: { id: sent.id } })
    expect(second).toEqual({
      event: 'conversation:seen',
      payload: { conversationId: CONV, userId: bob.user.id, seq: sent.seq },
      offset: first!.offset + 1,
    })

    await vi.waitFor(() => expect(bobStream.logged()).toHaveLength(2), { timeout: 10_000 })
    expect(bobStream.logged().map((item) => item.event)).toEqual(['message:new', 'conversation:read'])
    expect(bobStream.logged()[1]!.offset).toBe(bobStream.logged()[0]!.offset + 1)
    expect((await readSeqOf(alice.token))[bob.user.id]).toBe(sent.seq)
  })

  it('replays the receipt to Alice when she resumes from the offset she had before Bob read', async () => {
    const [alice, bob] = await Promise.all([login(server.url, ALICE), login(server.url, BOB)])
    const before = await stream(alice.token)
    const sent = await post(alice.token, 'read me while I am away')
    await vi.waitFor(() => expect(before.logged()).toHaveLength(1), { timeout: 10_000 })
    const { offset } = before.logged()[0]!
    const { epoch } = (await before.synced()).payload
    before.socket.close()

    const bobStream = await stream(bob.token)
    expect((await emitAck(bobStream.socket, 'conversation:join', CONV)).ok).toBe(true)

    const after = await stream(alice.token, { offset, epoch })
    expect(after.items[0]).toEqual({
      event: 'conversation:seen',
      payload: { conversationId: CONV, userId: bob.user.id, seq: sent.seq },
      offset: offset + 1,
    })
    expect(after.items[1]!.event).toBe('sync:caughtUp')
  })

  it('sends no receipt when a join changes nothing (already read)', async () => {
    const [alice, bob] = await Promise.all([login(server.url, ALICE), login(server.url, BOB)])
    const [aliceStream, bobStream] = await Promise.all([stream(alice.token), stream(bob.token)])
    expect((await emitAck(bobStream.socket, 'conversation:join', CONV)).ok).toBe(true)
    expect((await emitAck(bobStream.socket, 'conversation:leave', CONV)).ok).toBe(true)
    await delivered(aliceStream.socket)
    aliceStream.items.splice(0)
    expect((await emitAck(bobStream.socket, 'conversation:join', CONV)).ok).toBe(true)
    await delivered(bobStream.socket, aliceStream.socket)
    expect(seenOf(aliceStream)).toEqual([])
  })
})

// A join waits (its budget, then the conversation's queue, behind the sends before it) where a leave does not: a
// join superseded while it waits (by the socket's own leave, or by the socket closing) joins nothing, and must mark
// nothing read either. It did: it read up to the last message, those committed after the leave (or after the close)
// included, and told the sender "seen".
describe('a join superseded while it waits', () => {
  const burst = (s: Stream, tag: string) =>
    Array.from({ length: 40 }, (_, i) =>
      emitAck<{ seq: number }>(s.socket, 'message:send', {
        conversationId: CONV,
        content: `${tag} ${i}`,
        clientId: randomUUID(),
      }),
    )
  const lastSeqOf = (acks: { ok: boolean; data?: { seq: number } }[]) =>
    Math.max(...acks.map((ack) => (ack.ok ? ack.data!.seq : 0)))

  it('by a leave: marks nothing read and tells the sender nothing, the join answering ok', async () => {
    const [alice, bob] = await Promise.all([login(server.url, ALICE), login(server.url, BOB)])
    const [aliceStream, bobStream] = await Promise.all([stream(alice.token), stream(bob.token)])
    const before = (await conversationOf(bob.token, CONV)).readSeq[bob.user.id]!
    // Alice's burst queues on the conversation's lock, one commit after another.
    const sends = burst(aliceStream, 'burst')
    await sends[0]
    // Bob opens the thread and closes it at once: the join waits behind the sends, the leave does not.
    const join = emitAck(bobStream.socket, 'conversation:join', CONV)
    expect(await emitAck(bobStream.socket, 'conversation:leave', CONV)).toEqual({ ok: true, data: null })
    // What was committed before the leave was handled has reached Bob before its ack (one connection, in order).
    const newOf = (s: Stream) => s.logged().filter((item) => item.event === 'message:new')
    const beforeLeave = Math.max(0, ...newOf(bobStream).map((item) => Number(item.payload.seq)))
    const lastSeq = lastSeqOf(await Promise.all(sends))
    expect(lastSeq).toBeGreaterThan(beforeLeave)
    // Not an error: the client itself took the join back.
    expect(await join).toEqual({ ok: true, data: null })
    await delivered(aliceStream.socket, bobStream.socket)

    const conv = await conversationOf(bob.token, CONV)
    expect(conv.readSeq[bob.user.id]).toBe(before)
    expect(conv.unreadCount).toBeGreaterThanOrEqual(lastSeq - beforeLeave)
    expect(seenOf(aliceStream)).toEqual([])
    expect(bobStream.logged().filter((item) => item.event === 'conversation:read')).toEqual([])
    const onServer = [...server.io.of('/').sockets.values()].find((socket) => socket.id === bobStream.socket.id)!
    expect([...onServer.rooms]).not.toContain(`conv:${CONV}`)
  })

  it('by the socket closing: marks nothing read and tells the sender nothing', async () => {
    const [alice, bob] = await Promise.all([login(server.url, ALICE), login(server.url, BOB)])
    const [aliceStream, bobStream] = await Promise.all([stream(alice.token), stream(bob.token)])
    const before = (await conversationOf(bob.token, CONV)).readSeq[bob.user.id]!
    const sends = burst(aliceStream, 'gone')
    await sends[0]
    // The join goes out, then the socket closes while it waits behind Alice's sends.
    const closed = new Promise<void>((resolve) => {
      const onServer = [...server.io.of('/').sockets.values()].find((socket) => socket.id === bobStream.socket.id)!
      onServer.once('disconnect', () => resolve())
    })
    untyped(bobStream.socket).emit('conversation:join', CONV)
    bobStream.socket.close()
    await closed
    const lastSeq = lastSeqOf(await Promise.all(sends))
    expect(lastSeq).toBeGreaterThan(before)
    // The join, queued behind the last send, has run by the time a later one is through the queue.
    expect(
      (
        await emitAck(aliceStream.socket, 'message:send', {
          conversationId: CONV,
          content: 'after the burst',
          clientId: randomUUID(),
        })
      ).ok,
    ).toBe(true)
    await delivered(aliceStream.socket)

    expect((await conversationOf(bob.token, CONV)).readSeq[bob.user.id]).toBe(before)
    expect(seenOf(aliceStream)).toEqual([])
  })
})

// Replying means having read what came before (as in any chat app), and one's own message is never unread to oneself.
// A send read nothing for a sender who had not joined the thread (the socket down, so sent over HTTP; or the outbox
// sending after the thread was closed): their list kept the unread count of the conversation they had just answered,
// and the other person got no "Seen" under the message answered, until the sender's next join.
describe('a send reads the thread for its sender', () => {
  const OTHER = 'conv-alice-carol'
  const postTo = async (token: string, content: string, clientId = randomUUID()) => {
    const result = await http(server.url, 'POST', `/api/conversations/${OTHER}/messages`, {
      token,
      body: { content, clientId },
    })
    expect(result.status).toBe(201)
    return result.body as { id: string; seq: number }
  }
  const events = (s: Stream) => s.logged().map(({ event, payload }) => ({ event, payload }))
  const setUp = async () => {
    const [alice, carol] = await Promise.all([login(server.url, ALICE), login(server.url, CAROL)])
    const [aliceStream, carolStream] = await Promise.all([stream(alice.token), stream(carol.token)])
    // Something of Carol's Alice has not read (she has not joined the thread).
    await postTo(carol.token, 'are you free on Monday?')
    await delivered(aliceStream.socket, carolStream.socket)
    expect((await conversationOf(alice.token, OTHER)).unreadCount).toBeGreaterThan(0)
    aliceStream.items.splice(0)
    carolStream.items.splice(0)
    return { alice, carol, aliceStream, carolStream }
  }
  const expectReadBy = async (
    reply: { id: string; seq: number },
    { alice, carol, aliceStream, carolStream }: Awaited<ReturnType<typeof setUp>>,
  ) => {
    const mine = await conversationOf(alice.token, OTHER)
    expect(mine.unreadCount).toBe(0)
    expect(mine.readSeq[alice.user.id]).toBe(reply.seq)
    expect((await conversationOf(carol.token, OTHER)).readSeq[alice.user.id]).toBe(reply.seq)
    await delivered(aliceStream.socket, carolStream.socket)
    const seen = {
      event: 'conversation:seen',
      payload: { conversationId: OTHER, userId: alice.user.id, seq: reply.seq },
    }
    expect(events(carolStream)).toEqual([
      { event: 'message:new', payload: expect.objectContaining({ id: reply.id }) },
      seen,
    ])
    // Her other tabs and devices are told as a join's read tells them.
    expect(events(aliceStream)).toEqual([
      { event: 'message:sent', payload: expect.objectContaining({ id: reply.id }) },
      { event: 'conversation:read', payload: { conversationId: OTHER, unreadCount: 0 } },
    ])
    // One log each, no hole.
    for (const s of [aliceStream, carolStream]) expect(s.logged()[1]!.offset).toBe(s.logged()[0]!.offset + 1)
  }

  it('over HTTP, not joined: reads up to her message and tells Carol; a replay of it reads nothing', async () => {
    const set = await setUp()
    const { alice, carol, aliceStream, carolStream } = set
    const clientId = randomUUID()
    const reply = await postTo(alice.token, 'yes, Monday at 10', clientId)
    await expectReadBy(reply, set)

    // Carol writes again; Alice's send of the same message again (a retry) is no reply to it.
    await postTo(carol.token, 'great, see you then')
    await delivered(aliceStream.socket, carolStream.socket)
    aliceStream.items.splice(0)
    carolStream.items.splice(0)
    const replay = await http(server.url, 'POST', `/api/conversations/${OTHER}/messages`, {
      token: alice.token,
      body: { content: 'yes, Monday at 10', clientId },
    })
    expect(replay.body).toMatchObject({ id: reply.id, seq: reply.seq })
    await delivered(aliceStream.socket, carolStream.socket)
    expect(aliceStream.logged()).toEqual([])
    expect(carolStream.logged()).toEqual([])
    const mine = await conversationOf(alice.token, OTHER)
    expect(mine.unreadCount).toBe(1)
    expect(mine.readSeq[alice.user.id]).toBe(reply.seq)
  })

  it('over the socket, not joined: the same', async () => {
    const set = await setUp()
    const ack = await emitAck<{ id: string; seq: number }>(set.aliceStream.socket, 'message:send', {
      conversationId: OTHER,
      content: 'Monday suits me',
      clientId: randomUUID(),
    })
    if (!ack.ok) throw new Error(`send refused: ${JSON.stringify(ack)}`)
    await expectReadBy(ack.data, set)
  })

  it('tells no one when nothing was left unread: only her own message is read', async () => {
    const set = await setUp()
    const { alice, aliceStream, carolStream } = set
    await expectReadBy(await postTo(alice.token, 'first'), set)
    aliceStream.items.splice(0)
    carolStream.items.splice(0)
    const second = await postTo(alice.token, 'and a second thought')
    await delivered(aliceStream.socket, carolStream.socket)
    expect(events(aliceStream).map((item) => item.event)).toEqual(['message:sent'])
    expect(events(carolStream).map((item) => item.event)).toEqual(['message:new'])
    expect((await conversationOf(alice.token, OTHER)).readSeq[alice.user.id]).toBe(second.seq)
  })
})
