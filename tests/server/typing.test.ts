import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ALICE,
  BOB,
  CAROL,
  connect,
  delivered,
  emitAck,
  login,
  manualClock,
  record,
  startTestServer,
  type ClientSocket,
  type TestServer,
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
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server.dispose()
})

async function open(email: string) {
  const session = await login(server.url, email)
  const socket = await connect(server.url, session.token)
  sockets.push(socket)
  return { session, socket, seen: record(socket) }
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
})
