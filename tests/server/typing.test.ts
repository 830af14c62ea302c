import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RateLimiter } from '../../server/rateLimit'
import {
  ALICE,
  BOB,
  CAROL,
  connectLive,
  delivered,
  emitAck,
  login,
  manualClock,
  nextEvent,
  record,
  startTestServer,
  type ClientSocket,
  type TestServer,
  untyped,
} from './support/server'

// `typing` (CONTRACT.md, "Presence, typing, read receipts"): to the other participants' sockets only, not logged;
// FORBIDDEN outside the conversation, RATE_LIMITED past 2 a second.

const CONV = 'conv-alice-bob'
// The clock stands still: the typing budget does not refill between the test's emits, however slow the machine.
const clock = manualClock()
let server: TestServer
const sockets: ClientSocket[] = []

beforeAll(async () => {
  server = await startTestServer({ now: clock.now })
})
afterEach(() => {
  vi.restoreAllMocks()
})
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server.dispose()
})

async function open(email: string) {
  const session = await login(server.url, email)
  // Past its handshake's sync: notices reach a socket only from then on.
  const socket = await connectLive(server.url, session.token)
  sockets.push(socket)
  return { session, socket, seen: record(socket) }
}

/**
 * Holds the next budget taken with `take` (the next `typing`'s: between the test's connects and its barrier nothing
 * else takes one) until the answer is called, as a slow shared budget would; `reached` is called as it starts waiting.
 */
function holdNextTake(reached = () => {}): () => void {
  let release = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const take = RateLimiter.prototype.take
  vi.spyOn(RateLimiter.prototype, 'take').mockImplementationOnce(async function (this: RateLimiter, key) {
    reached()
    await held
    return take.call(this, key)
  })
  return () => release()
}

const typingOf = (r: ReturnType<typeof record>) =>
  r.events.filter((e) => (e.event as string) === 'typing').map((e) => e.payload)

describe('typing', () => {
  it("reaches every socket of the other participant, not the typer's own sockets nor anyone else, and is not logged", async () => {
    const alice1 = await open(ALICE)
    const alice2 = await open(ALICE)
    const bob1 = await open(BOB)
    const bob2 = await open(BOB)
    const carol = await open(CAROL)

    expect(await emitAck(alice1.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
    // The emit precedes the ack; the barrier proves everything sent before it has arrived at these sockets.
    await delivered(alice1.socket, alice2.socket, bob1.socket, bob2.socket, carol.socket)
    const notice = { conversationId: CONV, userId: alice1.session.user.id }
    expect(typingOf(bob1.seen)).toEqual([notice])
    expect(typingOf(bob2.seen)).toEqual([notice])
    expect(alice1.seen.events).toEqual([])
    expect(alice2.seen.events).toEqual([])
    expect(carol.seen.events).toEqual([])
  })

  it('works without an ack callback', async () => {
    const alice = await open(ALICE)
    const bob = await open(BOB)
    alice.socket.emit('typing', { conversationId: CONV })
    await delivered(alice.socket)
    await delivered(bob.socket)
    expect(typingOf(bob.seen)).toEqual([{ conversationId: CONV, userId: alice.session.user.id }])
  })

  it('answers FORBIDDEN in a conversation one is not in, and nobody receives anything', async () => {
    const alice = await open(ALICE)
    const bob = await open(BOB)
    const carol = await open(CAROL)
    const ack = await emitAck(carol.socket, 'typing', { conversationId: CONV })
    expect(ack).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    await delivered(alice.socket, bob.socket, carol.socket)
    expect(alice.seen.events).toEqual([])
    expect(bob.seen.events).toEqual([])
  })

  // The contract answers typing FORBIDDEN for a conversation one is not in; one that does not exist was answered
  // NOT_FOUND (the participants' check of a join), a code the contract does not give typing.
  it('answers FORBIDDEN for a conversation that does not exist', async () => {
    const bob = await open(BOB)
    expect(await emitAck(bob.socket, 'typing', { conversationId: 'conv-nobody' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    })
  })

  it('answers INVALID for a malformed payload', async () => {
    const bob = await open(BOB)
    expect(await emitAck(bob.socket, 'typing', { conversationId: 42 })).toMatchObject({
      ok: false,
      error: { code: 'INVALID' },
    })
  })

  it('answers RATE_LIMITED past 2 a second (and sends nothing for it), then lets one through a second later', async () => {
    const bob = await open(BOB)
    const carol = await open(CAROL)
    const conv = 'conv-alice-carol'
    // A full budget (the earlier tests spent some of it).
    clock.advance(1_000)
    expect((await emitAck(carol.socket, 'typing', { conversationId: conv })).ok).toBe(true)
    expect((await emitAck(carol.socket, 'typing', { conversationId: conv })).ok).toBe(true)
    const third = await emitAck(carol.socket, 'typing', { conversationId: conv })
    expect(third).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } })
    clock.advance(1_000)
    expect((await emitAck(carol.socket, 'typing', { conversationId: conv })).ok).toBe(true)
    await delivered(bob.socket, carol.socket)
    expect(bob.seen.events).toEqual([])
  })

  // The contract answers typing FORBIDDEN for a conversation one is not in, and RATE_LIMITED past 2 a second. The
  // budget was taken before the membership check: an outsider's third notice was answered RATE_LIMITED (with a wait,
  // after which it would be FORBIDDEN anyway), each refusal spent the budget of the user's own conversations, and a
  // budget spent there turned the outsider's FORBIDDEN into RATE_LIMITED. Sends refuse outsiders for free already.
  it("refuses a conversation one is not in FORBIDDEN every time, spending none of one's typing budget", async () => {
    const alice = await open(ALICE)
    const carol = await open(CAROL)
    // A full budget (the earlier tests spent some of it).
    clock.advance(1_000)
    for (let i = 0; i < 3; i++)
      expect(await emitAck(carol.socket, 'typing', { conversationId: CONV })).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN' },
      })
    // Her own conversation's notices still go through, and reach Alice.
    expect(await emitAck(carol.socket, 'typing', { conversationId: 'conv-alice-carol' })).toEqual({
      ok: true,
      data: null,
    })
    expect(await emitAck(carol.socket, 'typing', { conversationId: 'conv-alice-carol' })).toEqual({
      ok: true,
      data: null,
    })
    // Her budget spent there, a conversation she is not in is still refused for what it is.
    expect(await emitAck(carol.socket, 'typing', { conversationId: CONV })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    })
    await delivered(alice.socket)
    const notice = { conversationId: 'conv-alice-carol', userId: carol.session.user.id }
    expect(typingOf(alice.seen)).toEqual([notice, notice])
  })

  // The contract: "Bob is typing…" shows until his message arrives. A notice relayed after the budget's and the
  // participants' answers reached the other participant after the message sent just after it (its budget from Redis,
  // its participants from the database, were slower than the whole send), and "Alice is typing…" stood under her
  // delivered message for 5 seconds.
  it('never reaches the other participant after the message the same socket sent just after it', async () => {
    const alice = await open(ALICE)
    const bobSocket = await connectLive(server.url, (await login(server.url, BOB)).token)
    sockets.push(bobSocket)
    const bob = record(bobSocket)
    // A full budget (the earlier tests spent some of it).
    clock.advance(1_000)
    // The typing notice's budget answers only once the message has reached Bob.
    const release = holdNextTake()
    const message = nextEvent(bobSocket, 'message:new', (m) => m.senderId === alice.session.user.id)
    const typing = emitAck(alice.socket, 'typing', { conversationId: CONV })
    const sent = emitAck(alice.socket, 'message:send', { conversationId: CONV, content: 'hi', clientId: randomUUID() })
    expect((await sent).ok).toBe(true)
    await message
    release()
    expect(await typing).toEqual({ ok: true, data: null })
    await delivered(bobSocket)
    const events = bob.events.map((e) => e.event as string)
    expect(events.slice(events.indexOf('message:new'))).not.toContain('typing')
  })

  // A notice still waiting on its budget (a shared one, from Redis) or its participants when its socket closed was
  // relayed all the same: the others saw "Alice is typing…" from a tab that had gone, for up to 5 seconds.
  it('never reaches the other participant once its socket has closed', async () => {
    const alice = await open(ALICE)
    const bob = await open(BOB)
    clock.advance(1_000)
    const serverSocket = server.io.of('/').sockets.get(alice.socket.id!)!
    const closed = new Promise((resolve) => serverSocket.once('disconnect', resolve))
    // The notice's answer goes (to a closed connection) once its handler has ended: what the test waits for.
    let answer = () => {}
    const answered = new Promise<void>((resolve) => {
      answer = resolve
    })
    type Packets = { packet(packet: { type: number }, options?: unknown): void }
    const packet = (serverSocket as unknown as Packets).packet.bind(serverSocket)
    vi.spyOn(serverSocket as unknown as Packets, 'packet').mockImplementation((sent, options) => {
      packet(sent, options)
      if (sent.type === 3) answer()
    })
    let reach = () => {}
    const reached = new Promise<void>((resolve) => {
      reach = resolve
    })
    const release = holdNextTake(reach)
    untyped(alice.socket).emit('typing', { conversationId: CONV }, () => undefined)
    await reached
    alice.socket.close()
    await closed
    release()
    await answered
    await delivered(bob.socket)
    expect(typingOf(bob.seen)).toEqual([])
  })

  it("still reaches the other participant when the socket's send meanwhile went to another conversation", async () => {
    const alice = await open(ALICE)
    const bob = await open(BOB)
    clock.advance(1_000)
    const release = holdNextTake()
    const typing = emitAck(alice.socket, 'typing', { conversationId: CONV })
    const sent = emitAck(alice.socket, 'message:send', {
      conversationId: 'conv-alice-carol',
      content: 'hi Carol',
      clientId: randomUUID(),
    })
    expect((await sent).ok).toBe(true)
    release()
    expect(await typing).toEqual({ ok: true, data: null })
    await delivered(bob.socket)
    expect(typingOf(bob.seen)).toEqual([{ conversationId: CONV, userId: alice.session.user.id }])
  })
})
