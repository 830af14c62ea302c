import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Ack } from './support/types'
import {
  ALICE,
  BOB,
  connect,
  connectLive,
  emitAck,
  http,
  login,
  nextEvent,
  record,
  startTestServer,
  type ClientSocket,
  type TestServer,
  untyped,
} from './support/server'

setFlagsFromString('--expose_gc')
const gc = runInNewContext('gc') as () => void

// Finding 5: 300 joins in 0.32 s, each a database write and a conversation:read to every socket of the user; 50
// sockets for one user, no cap.

describe('conversation:join has its own budget (default 20 a second, bursts of 50)', () => {
  let server: TestServer
  const frozen = Date.parse('2030-01-01T00:00:00Z')
  beforeAll(async () => {
    // A frozen clock: the bucket does not refill during the test, so the counts are exact whatever the machine's speed.
    server = await startTestServer({ now: () => frozen })
  })
  afterAll(() => server?.dispose())

  it('refuses a flood of 300 joins with RATE_LIMITED and retryAfterMs; only the first one writes and notifies', async () => {
    const { token } = await login(server.url, ALICE)
    // Live before the first join: a conversation:read committed before a socket's handshake reads its log's head is
    // in that socket's past, and would not come.
    const socket = await connectLive(server.url, token)
    const other = await connectLive(server.url, token) // conversation:read goes to every socket of the user
    const events = record(socket)
    const otherEvents = record(other)
    try {
      const acks = await Promise.all(
        Array.from({ length: 300 }, () => emitAck<null>(socket, 'conversation:join', 'conv-alice-bob')),
      )
      const refused = acks.filter((ack): ack is Extract<Ack<null>, { ok: false }> => !ack.ok)
      expect(acks.filter((ack) => ack.ok)).toHaveLength(50)
      expect(refused).toHaveLength(250)
      for (const ack of refused) {
        expect(ack.error).toEqual({ code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: 50 })
      }
      // Every conversation:read was emitted before the ack of its join (same socket, in order): all have arrived.
      expect(events.of('conversation:read')).toEqual([{ conversationId: 'conv-alice-bob', unreadCount: 0 }])
      // The other socket proves delivery with a marker: the ack of a later request on that same connection.
      expect(await emitAck(other, 'conversation:leave', 'conv-alice-bob')).toEqual({ ok: true, data: null })
      expect(otherEvents.of('conversation:read')).toEqual([{ conversationId: 'conv-alice-bob', unreadCount: 0 }])
    } finally {
      socket.close()
      other.close()
    }
  })
})

describe('a join that changes nothing', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server?.dispose())

  it('emits no second conversation:read; a new message read on joining again does', async () => {
    // Alice receives (her joins' conversation:read, Bob's message): live before either is committed. Bob only sends.
    const alice = await connectLive(server.url, (await login(server.url, ALICE)).token)
    const bob = await connect(server.url, (await login(server.url, BOB)).token)
    const events = record(alice)
    try {
      expect(await emitAck(alice, 'conversation:join', 'conv-alice-bob')).toEqual({ ok: true, data: null })
      expect(await emitAck(alice, 'conversation:join', 'conv-alice-bob')).toEqual({ ok: true, data: null })
      expect(await emitAck(alice, 'conversation:join', 'conv-alice-bob')).toEqual({ ok: true, data: null })
      expect(events.of('conversation:read')).toHaveLength(1)

      // Leaving and coming back is a new join: the user's other tabs hear of it.
      await emitAck(alice, 'conversation:leave', 'conv-alice-bob')
      expect(await emitAck(alice, 'conversation:join', 'conv-alice-bob')).toEqual({ ok: true, data: null })
      expect(events.of('conversation:read')).toHaveLength(2)

      // While out of the room, Bob writes: joining again reads it (a write) and tells Alice's sockets.
      await emitAck(alice, 'conversation:leave', 'conv-alice-bob')
      const arrived = nextEvent(alice, 'message:new')
      await emitAck(bob, 'message:send', { conversationId: 'conv-alice-bob', content: 'new', clientId: 'join-test-1' })
      await arrived
      await emitAck(alice, 'conversation:join', 'conv-alice-bob')
      expect(events.of('conversation:read')).toHaveLength(3)
    } finally {
      alice.close()
      bob.close()
    }
  })
})

describe('sockets per user (default 20)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server?.dispose())

  const socketsOf = (userId: string) =>
    [...server.io.of('/').sockets.values()].filter((s) => s.data.userId === userId).length

  it('refuses the 21st handshake with RATE_LIMITED, and accepts one again after a socket closes', async () => {
    const { token } = await login(server.url, ALICE)
    const bobToken = (await login(server.url, BOB)).token
    const sockets: ClientSocket[] = []
    try {
      // Concurrent handshakes: the cap must hold even when they all pass authentication together.
      const results = await Promise.allSettled(Array.from({ length: 25 }, () => connect(server.url, token)))
      for (const result of results) if (result.status === 'fulfilled') sockets.push(result.value)
      const refusals = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected')
      expect(sockets).toHaveLength(20)
      expect(refusals.map((refusal) => (refusal.reason as Error).message)).toEqual(Array(5).fill('RATE_LIMITED'))
      await expect(connect(server.url, token)).rejects.toThrow('RATE_LIMITED')
      // Another user is not affected.
      const bob = await connect(server.url, bobToken)
      bob.close()

      sockets.pop()!.close()
      await vi.waitFor(() => expect(socketsOf('user-alice')).toBe(19), { timeout: 15_000, interval: 20 })
      sockets.push(await connect(server.url, token))
      await expect(connect(server.url, token)).rejects.toThrow('RATE_LIMITED')
    } finally {
      for (const socket of sockets) socket.close()
    }
  })
})

describe('a join and a leave sent back to back (a thread opened and closed at once)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server?.dispose())

  it('end with the socket out of the room: the leave is not lost behind the join still under way', async () => {
    const bob = await connect(server.url, (await login(server.url, BOB)).token)
    const alice = await connect(server.url, (await login(server.url, ALICE)).token)
    try {
      // Both emitted in one go, as the layer may (it does not wait for a join's ack before a leave).
      const [join, leave] = await Promise.all([
        emitAck(bob, 'conversation:join', 'conv-alice-bob'),
        emitAck(bob, 'conversation:leave', 'conv-alice-bob'),
      ])
      expect([join.ok, leave.ok]).toEqual([true, true])
      const onServer = [...server.io.of('/').sockets.values()].find((socket) => socket.id === bob.id)!
      expect([...onServer.rooms]).not.toContain('conv:conv-alice-bob')
      // And the last word wins the other way round too: leave, join, in one go, ends joined.
      const [again, rejoin] = await Promise.all([
        emitAck(bob, 'conversation:leave', 'conv-alice-bob'),
        emitAck(bob, 'conversation:join', 'conv-alice-bob'),
      ])
      expect([again.ok, rejoin.ok]).toEqual([true, true])
      expect([...onServer.rooms]).toContain('conv:conv-alice-bob')
      // Two joins under way at once: the first one ending does not take the second one's word with it.
      await emitAck(bob, 'conversation:leave', 'conv-alice-bob')
      const twice = await Promise.all([
        emitAck(bob, 'conversation:join', 'conv-alice-bob'),
        emitAck(bob, 'conversation:join', 'conv-alice-bob'),
      ])
      expect(twice.map((ack) => ack.ok)).toEqual([true, true])
      expect([...onServer.rooms]).toContain('conv:conv-alice-bob')
      const [, , last] = await Promise.all([
        emitAck(bob, 'conversation:join', 'conv-alice-bob'),
        emitAck(bob, 'conversation:join', 'conv-alice-bob'),
        emitAck(bob, 'conversation:leave', 'conv-alice-bob'),
      ])
      expect(last.ok).toBe(true)
      expect([...onServer.rooms]).not.toContain('conv:conv-alice-bob')
    } finally {
      bob.close()
      alice.close()
    }
  })

  it('keeps nothing of refused joins (ids too long, over the budget) for the life of the socket', async () => {
    // What it notes per conversation lives only while a join or leave is under way: 800 refused joins of ~60 KB ids
    // (under the packet cap) held 48 MB for as long as the socket stayed open.
    const socket = await connect(server.url, (await login(server.url, ALICE)).token)
    try {
      await emitAck(socket, 'conversation:join', 'warm-up')
      gc()
      const before = process.memoryUsage().heapUsed
      const answers = await Promise.all(
        Array.from(
          { length: 800 },
          (_, i) =>
            untyped(socket)
              .timeout(30_000)
              .emitWithAck('conversation:join', `${String(i).padStart(6, '0')}${'x'.repeat(60_000)}`) as Promise<
              Ack<unknown>
            >,
        ),
      )
      expect(answers.filter((ack) => ack.ok)).toEqual([])
      gc()
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(16 * 1024 * 1024)
    } finally {
      socket.close()
    }
  })
})

// Review (ASVS 11.1.4, anti-automation): each handshake reads the user's log (up to `maxReplay` events) and the presence
// of their contacts, and the cap bounds only the sockets open at once: a client closing and opening its socket in a
// loop read the database without end, where the same reads over HTTP are budgeted. Handshakes now have a per-user
// budget of their own (default 10 a second, bursts of 100: a reload of 20 tabs at once fits, a loop does not).
describe('handshakes have a per-user budget', () => {
  let server: TestServer
  const frozen = Date.parse('2030-01-01T00:00:00Z')
  beforeAll(async () => {
    server = await startTestServer({ now: () => frozen, handshakeRateLimit: { perSecond: 1, burst: 3 } })
  })
  afterAll(() => server?.dispose())

  it('refuses a handshake past it with RATE_LIMITED, and leaves other users alone', async () => {
    const { token } = await login(server.url, ALICE)
    for (let i = 0; i < 3; i++) (await connectLive(server.url, token)).close()
    await expect(connect(server.url, token)).rejects.toThrow('RATE_LIMITED')
    const bob = await login(server.url, BOB)
    const socket = await connect(server.url, bob.token)
    expect(socket.connected).toBe(true)
    socket.close()
  })

  it('says how long to wait, and a handshake refused for its token (a revoked session) spends none of it', async () => {
    const revoked = await login(server.url, BOB)
    const live = await login(server.url, BOB)
    expect((await http(server.url, 'POST', '/api/auth/logout', { token: revoked.token })).status).toBe(204)
    for (let i = 0; i < 5; i++) await expect(connect(server.url, revoked.token)).rejects.toThrow('UNAUTHORIZED')
    // Bob's first test above took one of his 3: two are left for his live session, whatever the revoked one tried.
    for (let i = 0; i < 2; i++) (await connectLive(server.url, live.token)).close()
    const refusal = await connect(server.url, live.token).then(
      () => null,
      (error: { message: string; data?: { retryAfterMs?: number } }) => error,
    )
    expect(refusal?.message).toBe('RATE_LIMITED')
    expect(refusal?.data?.retryAfterMs).toBeGreaterThan(0)
  })
})
