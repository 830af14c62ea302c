import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PresenceTracker } from '../../server/realtime/presence'
import {
  ALICE,
  BOB,
  CAROL,
  emitAck,
  http,
  login,
  manualClock,
  recordingFromHandshake,
  startTestServer,
  type ClientSocket,
  type TestServer,
} from './support/server'

// Typing and presence are not logged: they go to users' sockets directly. A socket whose token has expired while its
// expiry timer lags (a busy loop, a clock that jumped) must be sent none of them, as it is sent no logged event
// (sessions.test.ts): it is disconnected instead. Nor does it count as looking at a conversation it had joined (no
// read mark, no receipt). The clock is the server's injected one; the timers (an hour) never
// fire during a test. Seeded conversations: Alice–Bob and Alice–Carol.

const TTL_MS = 3_600_000
const CONV = 'conv-alice-bob'
const servers: TestServer[] = []
const sockets: ClientSocket[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const socket of sockets.splice(0)) socket.close()
  for (const server of servers.splice(0)) await server.dispose()
})

/** A server whose clock Bob's token (taken first) leaves half a TTL before Alice's and Carol's. */
async function setup() {
  const clock = manualClock()
  const server = await startTestServer({ now: clock.now, tokenTtlSeconds: TTL_MS / 1000 })
  servers.push(server)
  const bob = await login(server.url, BOB)
  clock.advance(TTL_MS / 2)
  const [alice, carol] = await Promise.all([login(server.url, ALICE), login(server.url, CAROL)])
  return { clock, server, alice, bob, carol }
}

/**
 * A socket with every event it receives from the first on (presence included: its listener is in place before the
 * handshake), and its disconnect reason once it goes; resolved once connected and past its replay.
 */
async function open(url: string, token: string) {
  // The replay's end: the hand-over (which checks the token too) is behind it.
  const { socket, events, connect } = recordingFromHandshake(url, token, 'sync:caughtUp')
  sockets.push(socket)
  const dropped = new Promise<string>((resolve) => socket.once('disconnect', resolve))
  await connect()
  return { socket, events, dropped, of: (name: string) => events.filter((e) => e.event === name) }
}

/**
 * Everything the server sent the socket before this call has arrived: its next event is refused (its token expired)
 * and disconnects it, and the refusal follows on the same connection. Nothing to wait for once it is gone.
 */
async function drained(socket: ClientSocket): Promise<void> {
  if (socket.connected) await emitAck(socket, 'conversation:leave', 'delivery-barrier').catch(() => undefined)
}

describe('a socket whose token has expired while its expiry timer lags', () => {
  it('is sent no typing notice: it is disconnected instead', async () => {
    const { clock, server, alice, bob } = await setup()
    const bobSocket = await open(server.url, bob.token)
    const aliceSocket = await open(server.url, alice.token)
    clock.advance(TTL_MS / 2)
    expect(await emitAck(aliceSocket.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
    await drained(bobSocket.socket)
    expect(bobSocket.of('typing')).toEqual([])
    expect(await bobSocket.dropped).toBe('io server disconnect')
  })

  it('is sent no presence:changed: it is disconnected instead', async () => {
    const { clock, server, alice, bob, carol } = await setup()
    const bobSocket = await open(server.url, bob.token)
    const carolSocket = await open(server.url, carol.token)
    clock.advance(TTL_MS / 2)
    // Alice's first socket: she comes online, told to Bob and Carol in one go.
    await open(server.url, alice.token)
    const aliceOnline = (item: { payload: Record<string, unknown> }) => item.payload.userId === alice.user.id
    await vi.waitFor(() => expect(carolSocket.of('presence:changed').filter(aliceOnline)).toHaveLength(1), {
      timeout: 10_000,
    })
    await drained(bobSocket.socket)
    expect(bobSocket.of('presence:changed').filter(aliceOnline)).toEqual([])
    expect(await bobSocket.dropped).toBe('io server disconnect')
  })

  it('is sent no presence:snapshot (its token expired while the snapshot was read): it is disconnected instead', async () => {
    const { clock, server, bob } = await setup()
    // Bob's snapshot (of Alice, his one contact) is read; his token expires meanwhile.
    const real = PresenceTracker.prototype.statesOf
    let onRead!: () => void
    const read = new Promise<void>((resolve) => (onRead = resolve))
    let armed = true
    vi.spyOn(PresenceTracker.prototype, 'statesOf').mockImplementation(async function (this: PresenceTracker, ids) {
      const states = await real.call(this, ids)
      if (armed && ids.length === 1 && ids[0] === 'user-alice') {
        armed = false
        clock.advance(TTL_MS / 2)
        onRead()
      }
      return states
    })
    const bobSocket = await open(server.url, bob.token)
    await read
    await drained(bobSocket.socket)
    expect(bobSocket.of('presence:snapshot')).toEqual([])
    expect(await bobSocket.dropped).toBe('io server disconnect')
  })

  // Review: a send read the conversation's room as it stood, so Bob's socket, its token expired, still counted as looking
  // at the thread: Alice's message was marked read for him and she was told "Seen", on a session that had ended.
  it('does not look at a conversation it joined: a message sent meanwhile stays unread, and the sender gets no receipt', async () => {
    const { clock, server, alice, bob } = await setup()
    const bobSocket = await open(server.url, bob.token)
    expect(await emitAck(bobSocket.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
    const aliceSocket = await open(server.url, alice.token)
    clock.advance(TTL_MS / 2)
    const sent = await http<{ seq: number }>(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: alice.token,
      body: { content: 'sent after his token expired', clientId: randomUUID() },
    })
    expect(sent.status).toBe(201)
    // A receipt is logged with the message and sent before the answer: anything sent to Alice is in before her ack.
    await drained(aliceSocket.socket)
    expect(aliceSocket.of('conversation:seen')).toEqual([])
    const conversations = await http<{ id: string; readSeq: Record<string, number> }[]>(
      server.url,
      'GET',
      '/api/conversations',
      { token: alice.token },
    )
    expect(conversations.body.find((c) => c.id === CONV)!.readSeq[bob.user.id]).toBeLessThan(sent.body.seq)
    await drained(bobSocket.socket)
    expect(bobSocket.of('conversation:read')).toHaveLength(1) // his join's, none for the message
    expect(await bobSocket.dropped).toBe('io server disconnect')
  })
})
