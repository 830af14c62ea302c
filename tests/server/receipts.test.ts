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

const readSeqOf = async (token: string) => {
  const list = await http<{ id: string; readSeq: Record<string, number> }[]>(server.url, 'GET', '/api/conversations', {
    token,
  })
  return list.body.find((c) => c.id === CONV)!.readSeq
}

const seenOf = (s: Stream) => s.logged().filter((item) => item.event === 'conversation:seen')

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
    // Right after the message:sent: one log, no hole.
    const aliceSent = aliceStream.logged().find((item) => item.event === 'message:sent')!
    expect(seenOf(aliceStream)[0]!.offset).toBe(aliceSent.offset + 1)

    await delivered(bobStream.socket, carolStream.socket)
    expect(seenOf(bobStream)).toEqual([])
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
  const conversationOf = async (token: string) =>
    (
      await http<{ id: string; unreadCount: number; readSeq: Record<string, number> }[]>(
        server.url,
        'GET',
        '/api/conversations',
        { token },
      )
    ).body.find((c) => c.id === CONV)!
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
    const before = (await conversationOf(bob.token)).readSeq[bob.user.id]!
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

    const conv = await conversationOf(bob.token)
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
    const before = (await conversationOf(bob.token)).readSeq[bob.user.id]!
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

    expect((await conversationOf(bob.token)).readSeq[bob.user.id]).toBe(before)
    expect(seenOf(aliceStream)).toEqual([])
  })
})
