import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { SharedViewers } from '../../server/cluster/shared'
import { openDatabase } from '../../server/db'
import { SessionStore } from '../../server/sessions'
import { startServer, type StartServerOptions } from '../../server/index'
import { appendEvents, EventLog, lockCounters, type LoggedEvent } from '../../server/services/eventLog'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import {
  ALICE,
  BOB,
  CAROL,
  emitAck,
  http,
  login,
  manualClock,
  recordingFromHandshake,
  type ClientSocket,
} from '../server/support/server'
import { openStream, type Stream } from '../server/support/stream'
import { capturedLog, type LogLine } from '../support/capturedLog'
import { redisRunnable, requireParts, startRedis, whileSubscriberAway, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// Two nodes in this process, one PostgreSQL, one Redis: what holds for the service holds across the nodes.
const ready = requireParts('tests/cluster/twoNodes.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'
const frozen = Date.parse('2031-03-01T09:00:00Z')

describe.runIf(ready)('two nodes, one Redis, one PostgreSQL', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let databaseUrl: string
  let a: Awaited<ReturnType<typeof startServer>>
  let b: Awaited<ReturnType<typeof startServer>>
  let options: StartServerOptions
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    databaseUrl = postgres.createDatabase('talemy_two_nodes')
    // A frozen clock: budgets do not refill during a test, so shared counts are exact.
    options = {
      port: 0,
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: `t${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      now: () => frozen,
      rateLimit: { perSecond: 1, burst: 100_000 },
      readRateLimit: { perSecond: 1, burst: 100_000 },
      maxSocketsPerUser: 4,
      // A missed revocation takes hold within a second here (5 s by default).
      sessionRecheckMs: 1_000,
      // An event whose notification never came reaches the sockets within two checks (5 s each by default).
      logTailCheckMs: 300,
    }
    a = await startServer(options)
    b = await startServer(options)
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await a?.close()
    await b?.close()
    await redis?.stop()
    postgres?.stop()
  })

  async function stream(url: string, token: string): Promise<Stream> {
    const s = await openStream(url, token)
    sockets.push(s.socket)
    await s.synced()
    return s
  }

  /**
   * A third node like the other two, whose warnings and errors are kept (parsed), for a test of what a node logs when
   * a check fails: the test closes it.
   */
  async function startLoggedNode(): Promise<{ node: Awaited<ReturnType<typeof startServer>>; lines: () => LogLine[] }> {
    const log = capturedLog('warn')
    return { node: await startServer({ ...options, logger: log.logger }), lines: log.lines }
  }

  it("carries Alice's and Bob's messages between nodes once each, in order; Alice's socket on B sees message:sent", async () => {
    const alice = (await login(a.url, ALICE)).token
    const bob = (await login(b.url, BOB)).token
    const aliceOnA = await stream(a.url, alice)
    const aliceOnB = await stream(b.url, alice)
    const bobOnB = await stream(b.url, bob)
    const sends: Promise<unknown>[] = []
    for (let i = 0; i < 10; i++) {
      sends.push(
        emitAck(aliceOnA.socket, 'message:send', { conversationId: CONV, content: `a${i}`, clientId: `two-a-${i}` }),
      )
      sends.push(
        emitAck(bobOnB.socket, 'message:send', { conversationId: CONV, content: `b${i}`, clientId: `two-b-${i}` }),
      )
    }
    const acks = (await Promise.all(sends)) as { ok: boolean }[]
    expect(acks.every((ack) => ack.ok)).toBe(true)
    const newOf = (s: Stream) =>
      s
        .logged()
        .filter((item) => item.event === 'message:new')
        .map((item) => item.payload.content)
    const sentOf = (s: Stream) =>
      s
        .logged()
        .filter((item) => item.event === 'message:sent')
        .map((item) => item.payload.content)
    const expected = (prefix: string) => Array.from({ length: 10 }, (_, i) => `${prefix}${i}`)
    await vi.waitFor(
      () => {
        expect(newOf(aliceOnA)).toHaveLength(10)
        expect(newOf(bobOnB)).toHaveLength(10)
        expect(sentOf(aliceOnB)).toHaveLength(10)
      },
      { timeout: hangBound() },
    )
    // Each once, in the order sent; offsets one step apart per socket (one user's stream).
    expect(newOf(aliceOnA)).toEqual(expected('b'))
    expect(newOf(bobOnB)).toEqual(expected('a'))
    expect(sentOf(aliceOnB)).toEqual(expected('a'))
    for (const s of [aliceOnA, aliceOnB, bobOnB]) {
      const offsets = s
        .logged()
        .map((item) => item.offset)
        .sort((x, y) => x - y)
      expect(offsets).toEqual(offsets.map((_, i) => offsets[0]! + i))
    }
  })

  it("brings a lesson changed over node B's HTTP to Alice's socket on node A", async () => {
    const alice = (await login(a.url, ALICE)).token
    const aliceOnA = await stream(a.url, alice)
    const changed = await http(b.url, 'PATCH', '/api/lessons/lesson-2', {
      token: (await login(b.url, CAROL)).token,
      body: { status: 'confirmed' },
    })
    expect(changed.status).toBe(200)
    await vi.waitFor(() => expect(aliceOnA.logged().map((item) => item.event)).toContain('lesson:statusUpdated'), {
      timeout: hangBound(),
    })
    expect(aliceOnA.logged().find((item) => item.event === 'lesson:statusUpdated')!.payload).toEqual(changed.body)
  })

  it('shares the join budget and the socket cap between the nodes', async () => {
    const carol = (await login(a.url, CAROL)).token
    const onA = [await stream(a.url, carol), await stream(a.url, carol)]
    const onB = [await stream(b.url, carol), await stream(b.url, carol)]
    // Four sockets across the nodes is the cap: a fifth on either node is refused.
    await expect(openStream(b.url, carol)).rejects.toThrow('RATE_LIMITED')
    await expect(openStream(a.url, carol)).rejects.toThrow('RATE_LIMITED')

    // 50 joins in a burst, for the user, whichever node takes them (the clock is frozen: no refill).
    const joins = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        emitAck((i % 2 ? onA : onB)[i % 2]!.socket, 'conversation:join', 'conv-alice-carol'),
      ),
    )
    expect(joins.filter((ack) => ack.ok)).toHaveLength(50)
    expect(joins.filter((ack) => !ack.ok).every((ack) => !ack.ok && ack.error.code === 'RATE_LIMITED')).toBe(true)

    // A socket closed on one node frees its slot for the other.
    onA[0]!.socket.close()
    await vi.waitFor(
      async () => {
        const again = await openStream(b.url, carol)
        sockets.push(again.socket)
      },
      { timeout: hangBound(), interval: 100 },
    )
  })

  it('marks a message read for a viewer on the other node (viewers shared), also after a join that could not share it', async () => {
    const alice = (await login(a.url, ALICE)).token
    const bob = (await login(b.url, BOB)).token
    const aliceOnA = await stream(a.url, alice)
    // Sharing the viewer fails once (Redis away): the join says so, and the next one shares it.
    const sharing = vi.spyOn(SharedViewers.prototype, 'joined').mockRejectedValueOnce(new Error('Redis is away'))
    try {
      expect(await emitAck(aliceOnA.socket, 'conversation:join', CONV)).toMatchObject({
        ok: false,
        error: { code: 'INTERNAL' },
      })
    } finally {
      sharing.mockRestore()
    }
    expect(await emitAck(aliceOnA.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
    const sent = await http(b.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: bob,
      body: { content: 'seen at once', clientId: randomUUID() },
    })
    expect(sent.status).toBe(201)
    // Alice is looking: her log gets the message and the read mark together, and her unread count stays 0.
    await vi.waitFor(
      () =>
        expect(aliceOnA.logged().map((item) => item.event)).toEqual(
          expect.arrayContaining(['message:new', 'conversation:read']),
        ),
      { timeout: hangBound() },
    )
    const conversations = await http<{ id: string; unreadCount: number }[]>(a.url, 'GET', '/api/conversations', {
      token: alice,
    })
    expect(conversations.body.find((c) => c.id === CONV)!.unreadCount).toBe(0)
  })

  it('reads nothing for a join taken back (a leave, a close) while its viewer was being shared; what the other node commits meanwhile stays unread', async () => {
    const alice = (await login(b.url, ALICE)).token
    const bob = (await login(a.url, BOB)).token
    // (Alice is at this file's socket cap already: her receipts are read from readSeq, written with them.)
    const readSeqOfBob = async () =>
      (
        await http<{ id: string; readSeq: Record<string, number>; unreadCount: number }[]>(
          a.url,
          'GET',
          '/api/conversations',
          { token: bob },
        )
      ).body.find((c) => c.id === CONV)!
    for (const takeBack of ['leave', 'close'] as const) {
      const bobOnA = await stream(a.url, bob)
      const before = await readSeqOfBob()
      // The share reaches Redis at once (as it does: its add goes out before anything later) but answers only when let.
      let started!: () => void
      let let_!: () => void
      const sharing = new Promise<void>((resolve) => (started = resolve))
      const gate = new Promise<void>((resolve) => (let_ = resolve))
      const original = SharedViewers.prototype.joined
      const spy = vi.spyOn(SharedViewers.prototype, 'joined').mockImplementationOnce(function (
        this: SharedViewers,
        ...args
      ) {
        const added = original.apply(this, args)
        started()
        return gate.then(() => added)
      })
      try {
        const join = emitAck(bobOnA.socket, 'conversation:join', CONV)
        // Closed before its ack, it is rejected (the client's own doing).
        if (takeBack === 'close') join.catch(() => undefined)
        await sharing
        const closed = new Promise<void>((resolve) =>
          a.io
            .of('/')
            .sockets.get(bobOnA.socket.id!)!
            .once('disconnect', () => resolve()),
        )
        if (takeBack === 'leave')
          expect(await emitAck(bobOnA.socket, 'conversation:leave', CONV)).toEqual({ ok: true, data: null })
        else {
          bobOnA.socket.close()
          await closed
        }
        // Committed on the other node after the leave (the close): Bob is no viewer any more.
        const sent = await http<{ seq: number }>(b.url, 'POST', `/api/conversations/${CONV}/messages`, {
          token: alice,
          body: { content: `while taken back (${takeBack})`, clientId: randomUUID() },
        })
        expect(sent.status).toBe(201)
        let_()
        if (takeBack === 'leave') expect(await join).toEqual({ ok: true, data: null })
        // The join's turn has ended once a send on A, queued behind it on the conversation's lock, is through.
        const behind = await http(a.url, 'POST', `/api/conversations/${CONV}/messages`, {
          token: alice,
          body: { content: `behind the join (${takeBack})`, clientId: randomUUID() },
        })
        expect(behind.status).toBe(201)
        const after = await readSeqOfBob()
        expect(after.readSeq['user-bob']).toBe(before.readSeq['user-bob'])
        expect(after.unreadCount).toBe(before.unreadCount + 2)
      } finally {
        let_()
        spy.mockRestore()
        bobOnA.socket.close()
      }
    }
  })

  /** How long the tokens of `twoNodesOnOneClock`'s nodes live: an hour, which their expiry timers never reach here. */
  const TTL_MS = 3_600_000

  /**
   * Two more nodes on one manual clock, under their own prefix: this file's socket caps are spent. It starts at the
   * file's frozen time: a node started later prunes the log on its clock.
   */
  async function twoNodesOnOneClock() {
    const clock = manualClock(frozen)
    const nodeOptions = {
      ...options,
      now: clock.now,
      tokenTtlSeconds: TTL_MS / 1000,
      redisPrefix: `t${randomUUID().slice(0, 8)}:`,
    }
    const [c, d] = await Promise.all([startServer(nodeOptions), startServer(nodeOptions)])
    return { clock, c, d }
  }

  /** Alice sends into CONV on `url`; her conversations' read position of `readerId` right after, beside the message's seq. */
  async function sendThenReadSeq(url: string, aliceToken: string, readerId: string, content: string) {
    const sent = await http<{ seq: number }>(url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: aliceToken,
      body: { content, clientId: randomUUID() },
    })
    expect(sent.status).toBe(201)
    const conversations = await http<{ id: string; readSeq: Record<string, number> }[]>(
      url,
      'GET',
      '/api/conversations',
      {
        token: aliceToken,
      },
    )
    return { seq: sent.body.seq, readSeq: conversations.body.find((conv) => conv.id === CONV)!.readSeq[readerId] }
  }

  // Review: a send counted the viewers the nodes share without their tokens' expiry, which the single-node path
  // (createPresence) checks: Bob's socket on C, its token expired while its expiry timer lagged (a busy loop, a clock
  // that jumped), still looked at the thread for a send on D, which marked Alice's message read for him and told her
  // "Seen", on a session that had ended.
  it('does not count a viewer on the other node whose token has expired (its timer lagging): the message stays unread, no receipt', async () => {
    const { clock, c, d } = await twoNodesOnOneClock()
    try {
      const bob = await login(c.url, BOB)
      clock.advance(TTL_MS / 2)
      const alice = await login(d.url, ALICE)
      const aliceOnD = await stream(d.url, alice.token)
      // Bob's socket is sent nothing after the clock moves until the send: anything else (his presence snapshot, a
      // notice) would find his token expired and disconnect him, and his viewer would go with him.
      const bobOnC = recordingFromHandshake(c.url, bob.token, 'sync:caughtUp')
      sockets.push(bobOnC.socket)
      await bobOnC.connect()
      await vi.waitFor(() => expect(bobOnC.events.map((item) => item.event)).toContain('presence:snapshot'), {
        timeout: hangBound(),
      })
      expect(await emitAck(bobOnC.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
      expect(bobOnC.socket.connected).toBe(true)
      // Bob's token has expired on both nodes' clock; Alice's has half its life left.
      clock.advance(TTL_MS / 2)
      const sent = await sendThenReadSeq(d.url, alice.token, bob.user.id, 'sent after his token expired')
      expect(sent.readSeq).toBeLessThan(sent.seq)
      // A receipt goes to Alice in the batch of her message:sent: once that is in, a receipt would be too.
      await vi.waitFor(() => expect(aliceOnD.logged().map((item) => item.event)).toContain('message:sent'), {
        timeout: hangBound(),
      })
      // (Bob's join told her of his read before: that receipt names an earlier seq.)
      const receipts = aliceOnD.logged().filter((item) => item.event === 'conversation:seen')
      expect(receipts.filter((item) => item.payload.seq === sent.seq)).toEqual([])
    } finally {
      await c.close()
      await d.close()
    }
  })

  it.each([
    ['accepted: it counts past its first token’s end, until the renewed one’s', (token: string) => token, true],
    [
      'refused (a forged token): it keeps its first token’s end, and past it counts no more',
      (token: string) => `${token}x`,
      false,
    ],
  ])('a viewer on the other node whose session:renew is %s', async (_name, renewWith, counted) => {
    const { clock, c, d } = await twoNodesOnOneClock()
    try {
      const bob = await login(c.url, BOB)
      const bobOnC = await stream(c.url, bob.token)
      expect(await emitAck(bobOnC.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
      clock.advance(TTL_MS / 2)
      const refreshed = await http<{ token: string }>(c.url, 'POST', '/api/auth/refresh', {
        body: { refreshToken: bob.refreshToken },
      })
      expect(refreshed.status).toBe(200)
      const renewal = await emitAck(bobOnC.socket, 'session:renew', { token: renewWith(refreshed.body.token) })
      expect(renewal).toEqual(counted ? { ok: true, data: null } : expect.objectContaining({ ok: false }))
      // His first token has ended; a renewed one would have half its life left.
      clock.advance(TTL_MS / 2)
      const alice = await login(d.url, ALICE)
      const sent = await sendThenReadSeq(d.url, alice.token, bob.user.id, `sent while he looks, renewal ${counted}`)
      if (counted) {
        expect(sent.readSeq).toBe(sent.seq)
        expect(bobOnC.socket.connected).toBe(true)
      } else expect(sent.readSeq).toBeLessThan(sent.seq)
    } finally {
      await c.close()
      await d.close()
    }
  })

  it('ends a session on every node at logout: its socket on B is disconnected and B refuses its token', async () => {
    const session = await login(a.url, BOB)
    const onB = await stream(b.url, session.token)
    const closed = new Promise((resolve) => onB.socket.once('disconnect', resolve))
    // B has seen the session live (cached) before the logout on A.
    expect((await http(b.url, 'GET', '/api/me', { token: session.token })).status).toBe(200)
    expect((await http(a.url, 'POST', '/api/auth/logout', { token: session.token })).status).toBe(204)
    await closed
    await vi.waitFor(
      async () => expect((await http(b.url, 'GET', '/api/me', { token: session.token })).status).toBe(401),
      { timeout: hangBound() },
    )
  })

  /** The session id in an access token (its `sid` claim). */
  const sessionIdOf = (token: string): string =>
    (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid

  /** Revokes a session behind the nodes' backs: straight in the database, as a node that missed the broadcast sees it. */
  async function revokeUnannounced(token: string): Promise<void> {
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      await client.query('update sessions set revoked_at = now() where id = $1', [sessionIdOf(token)])
    } finally {
      await client.end()
    }
  }

  it('refuses a session revoked without a word on every node within its recheck time (a missed broadcast is bounded)', async () => {
    const session = await login(a.url, CAROL)
    // Both nodes have seen it live (cached).
    for (const node of [a, b])
      expect((await http(node.url, 'GET', '/api/me', { token: session.token })).status).toBe(200)
    await revokeUnannounced(session.token)
    for (const node of [a, b])
      await vi.waitFor(
        async () => expect((await http(node.url, 'GET', '/api/me', { token: session.token })).status).toBe(401),
        { timeout: hangBound(), interval: 50 },
      )
  })

  it('disconnects its own socket of a session revoked without a word within its recheck time (the broadcast lost at its publish)', async () => {
    // (Bob: Carol's join budget was spent above, under the frozen clock.)
    const session = await login(a.url, BOB)
    const onB = await stream(b.url, session.token)
    const closed = new Promise((resolve) => onB.socket.once('disconnect', resolve))
    // The revoking node died between its commit and its publish, or its publish was dropped while Redis was away: no
    // node hears of it, and no subscriber reconnects here.
    await revokeUnannounced(session.token)
    await closed
    expect(onB.socket.connected).toBe(false)
  })

  it('keeps its sockets when a session recheck fails, logs a warning, and closes one of a revoked session at the next check', async () => {
    // Bob, on a node of its own whose log is kept: only that node's checks read his session.
    const { node: c, lines } = await startLoggedNode()
    try {
      const session = await login(c.url, BOB)
      const sessionId = sessionIdOf(session.token)
      const bobOnC = await stream(c.url, session.token)
      const reason = new Promise((resolve) => bobOnC.socket.once('disconnect', resolve))
      // The first check that finds the session ended fails (the database's answer lost on the way); the next is answered.
      const real = SessionStore.prototype.endedAmong
      const checks: ('failed' | 'answered')[] = []
      const endedAmong = vi.spyOn(SessionStore.prototype, 'endedAmong').mockImplementation(async function (
        this: SessionStore,
        sessionIds,
      ) {
        const ended = await real.call(this, sessionIds)
        if (!ended.includes(sessionId)) return ended
        checks.push(checks.length === 0 ? 'failed' : 'answered')
        if (checks.length === 1) throw new Error('database down')
        return ended
      })
      try {
        // What each check had come to when the node closed the socket.
        const checksAtClose = new Promise<string[]>((resolve) =>
          c.io
            .of('/')
            .sockets.get(bobOnC.socket.id!)!
            .once('disconnect', () => resolve([...checks])),
        )
        await revokeUnannounced(session.token)
        expect(await checksAtClose).toEqual(['failed', 'answered'])
      } finally {
        endedAmong.mockRestore()
      }
      expect(await reason).toBe('io server disconnect')
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: 40,
          msg: 'session recheck failed',
          err: expect.objectContaining({ message: 'database down' }),
        }),
      )
    } finally {
      await c.close()
    }
  })

  it('checks its sockets again when its Redis subscriber is back: one of a session revoked meanwhile is disconnected', async () => {
    // (Bob: Carol's join budget was spent above, under the frozen clock.)
    const session = await login(a.url, BOB)
    const onB = await stream(b.url, session.token)
    const closed = new Promise((resolve) => onB.socket.once('disconnect', resolve))
    await revokeUnannounced(session.token)
    // B's subscriber connection drops (a network blip, a Redis failover): whatever was published meanwhile is lost to B.
    const subscriber = (b.io.of('/').adapter as unknown as { subClient: { stream: { localPort: number } } }).subClient
    const admin = new Redis(redis.url)
    try {
      expect(await admin.client('KILL', 'ADDR', `127.0.0.1:${subscriber.stream.localPort}`)).toBe(1)
    } finally {
      admin.disconnect()
    }
    await closed
    expect(onB.socket.connected).toBe(false)
  })

  it('closes its own sockets of a session another node says it revoked (one whose handshake ended after that node’s disconnect)', async () => {
    const session = await login(a.url, BOB)
    const onB = await stream(b.url, session.token)
    const closed = new Promise((resolve) => onB.socket.once('disconnect', resolve))
    // Only the word between the nodes, without the revoking node's own disconnect (which such a socket missed).
    ;(a.io as unknown as { serverSideEmit(event: string, sessionId: string): void }).serverSideEmit(
      'talemy:revoked',
      sessionIdOf(session.token),
    )
    await closed
    expect((await http(b.url, 'GET', '/api/me', { token: session.token })).status).toBe(401)
  })

  it('brings a live event its Redis subscriber missed (reconnecting at the time) to its sockets once it is back', async () => {
    // (Alice sends over HTTP: her sockets of the tests above fill her cap under the frozen clock.)
    const alice = (await login(a.url, ALICE)).token
    const bobOnB = await stream(b.url, (await login(b.url, BOB)).token)
    // B's subscriber drops and stays away a little while: what A publishes meanwhile never reaches B (at most once).
    await whileSubscriberAway(b.io, redis.url, 300, async () => {
      const sent = await http(a.url, 'POST', `/api/conversations/${CONV}/messages`, {
        token: alice,
        body: { content: 'while B was away', clientId: `missed-${randomUUID()}` },
      })
      expect(sent.status).toBe(201)
    })
    await vi.waitFor(
      () =>
        expect(
          bobOnB.logged().filter((item) => item.event === 'message:new' && item.payload.content === 'while B was away'),
        ).toHaveLength(1),
      { timeout: hangBound(), interval: 20 },
    )
  })

  it('closes a socket whose resync cannot read its log (after its Redis subscriber was away), logs why, and keeps serving', async () => {
    // Bob, on a node of its own: its subscriber's return resyncs that node's live sockets, his alone.
    const { node: c, lines } = await startLoggedNode()
    try {
      const bobOnC = await stream(c.url, (await login(c.url, BOB)).token)
      const { epoch } = (await bobOnC.synced()).payload
      const socketId = bobOnC.socket.id
      const reason = new Promise((resolve) => bobOnC.socket.once('disconnect', resolve))
      // The handshake's read passed (above); the resync's fails (the database away at that moment).
      const real = EventLog.prototype.resume
      let failedCall: Parameters<EventLog['resume']> | undefined
      const resume = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(function (this: EventLog, ...args) {
        if (failedCall || args[0] !== 'user-bob') return real.apply(this, args)
        failedCall = args
        return Promise.reject(new Error('database down'))
      })
      try {
        await whileSubscriberAway(c.io, redis.url, 100, async () => undefined)
        // Without its replay the socket's stream would have a hole (it stays paused): the server closes its connection,
        // as a network drop would (a kick would cost the client a token refresh).
        expect(await reason).toBe('transport close')
      } finally {
        resume.mockRestore()
      }
      // The resync's read: from where the socket was sent everything, in the log's epoch.
      expect(failedCall).toEqual(['user-bob', expect.any(Number), epoch])
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: 50,
          msg: 'resync failed',
          socketId,
          err: expect.objectContaining({ message: 'database down' }),
        }),
      )
      // The node keeps serving: another socket connects there and receives a message sent on A.
      const again = await stream(c.url, (await login(c.url, BOB)).token)
      const sent = await http(a.url, 'POST', `/api/conversations/${CONV}/messages`, {
        token: (await login(a.url, ALICE)).token,
        body: { content: 'after a failed resync', clientId: randomUUID() },
      })
      expect(sent.status).toBe(201)
      await vi.waitFor(
        () =>
          expect(
            again
              .logged()
              .filter((item) => item.event === 'message:new' && item.payload.content === 'after a failed resync'),
          ).toHaveLength(1),
        { timeout: hangBound(), interval: 20 },
      )
      again.socket.close()
    } finally {
      await c.close()
    }
  })

  it('brings an event committed without a notification (its node died before publishing) to the sockets within a check', async () => {
    const bobOnB = await stream(b.url, (await login(b.url, BOB)).token)
    // What a node killed between its commit and its publish leaves: the event in the log, and no word of it anywhere.
    const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
    let logged: LoggedEvent[]
    try {
      logged = await db.transaction(async (tx) => {
        await lockCounters(tx, ['user-bob'])
        return appendEvents(
          tx,
          [{ userId: 'user-bob', event: 'conversation:read', payload: { conversationId: CONV, unreadCount: 0 } }],
          new Date(frozen).toISOString(),
        )
      })
    } finally {
      await db.close()
    }
    const offset = logged[0]!.offset
    await vi.waitFor(() => expect(bobOnB.logged().filter((item) => item.offset === offset)).toHaveLength(1), {
      timeout: hangBound(),
      interval: 20,
    })
    expect(bobOnB.logged().find((item) => item.offset === offset)?.event).toBe('conversation:read')
  })

  it('keeps serving when Redis refuses its publishes, and says so once per streak (no unhandled rejection)', async () => {
    const { node: c, lines } = await startLoggedNode()
    const pub = (c.io.of('/').adapter as unknown as { pubClient: Redis }).pubClient
    const admin = new Redis(redis.url)
    const refusals = () => lines().filter((line) => line.msg.includes('Redis refused a publish'))
    const send = async (token: string, content: string) => {
      const sent = await http(c.url, 'POST', `/api/conversations/${CONV}/messages`, {
        token,
        body: { content, clientId: `refused-${randomUUID()}` },
      })
      expect(sent.status).toBe(201)
    }
    try {
      const alice = (await login(c.url, ALICE)).token
      // The adapter publishes each broadcast without waiting for the answer: Redis now answers each with NOPERM.
      await admin.call('ACL', 'SETUSER', 'default', '-publish')
      await send(alice, 'refused one')
      await send(alice, 'refused two')
      await admin.call('ACL', 'SETUSER', 'default', '+publish')
      // Answers come in order on one connection: once this one is in, both refusals have been handled.
      await pub.publish(`${randomUUID()}`, 'probe')
      expect(refusals()).toHaveLength(1)
      expect(refusals()[0]!.err?.message).toMatch(/NOPERM/)
      // A publish went through since: the next refusal starts a new streak.
      await admin.call('ACL', 'SETUSER', 'default', '-publish')
      await send(alice, 'refused three')
      await admin.call('ACL', 'SETUSER', 'default', '+publish')
      await pub.publish(`${randomUUID()}`, 'probe')
      expect(refusals()).toHaveLength(2)
      expect((await http(c.url, 'GET', '/api/me', { token: alice })).status).toBe(200)
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', '+publish')
      admin.disconnect()
      await c.close()
    }
  })

  it('numbers each user’s log 1..n without gaps, in commit order, under concurrent writers on both nodes', async () => {
    const alice = (await login(a.url, ALICE)).token
    const bob = (await login(b.url, BOB)).token
    const carol = (await login(b.url, CAROL)).token
    const post = (url: string, token: string, conversation: string, content: string) =>
      http(url, 'POST', `/api/conversations/${conversation}/messages`, {
        token,
        body: { content, clientId: randomUUID() },
      })
    const writes: Promise<{ status: number }>[] = []
    for (let i = 0; i < 40; i++) {
      writes.push(post(a.url, alice, CONV, `x${i}`), post(b.url, bob, CONV, `y${i}`))
      writes.push(
        post(i % 2 ? a.url : b.url, alice, 'conv-alice-carol', `z${i}`),
        post(b.url, carol, 'conv-alice-carol', `w${i}`),
      )
    }
    expect((await Promise.all(writes)).every((result) => result.status === 201)).toBe(true)

    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      const logs = await client.query<{
        user_id: string
        offset: string
        event: string
        conversation: string | null
        seq: number | null
      }>(
        `select user_id, "offset", event, payload->>'conversationId' as conversation, (payload->>'seq')::int as seq
         from user_events order by user_id, "offset"`,
      )
      const counters = await client.query<{ id: string; event_offset: string }>(`select id, event_offset from users`)
      for (const { id, event_offset } of counters.rows) {
        const mine = logs.rows.filter((row) => row.user_id === id)
        // Gap-free from 1 to the user's counter.
        expect(mine.map((row) => Number(row.offset))).toEqual(
          Array.from({ length: Number(event_offset) }, (_, i) => i + 1),
        )
        // Commit order: a conversation's messages (seq taken under the same locks) appear in seq order in every log.
        for (const conversation of new Set(mine.map((row) => row.conversation))) {
          const seqs = mine
            .filter((row) => row.conversation === conversation && row.seq !== null)
            .map((row) => row.seq!)
          expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
        }
      }
      expect(logs.rows.length).toBeGreaterThan(320)
    } finally {
      await client.end()
    }
  })

  it('answers a request accepted on one node and declined on the other at once only once: one 200, one INVALID, one event', async () => {
    const alice = (await login(a.url, ALICE)).token
    const bob = await login(b.url, BOB)
    // Their logs, read in the database: what a live socket is sent and a resume replays (Alice's sockets and
    // handshakes are spent against this file's frozen budgets by the tests before).
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    const loggedFor = async (requestId: string) =>
      (
        await client.query<{ user_id: string; status: string }>(
          `select user_id, payload->>'status' as status from user_events
            where event = 'contactRequest:statusUpdated' and payload->>'id' = $1 order by user_id, "offset"`,
          [requestId],
        )
      ).rows
    try {
      // Rounds: the two answers meet in the database at a different point each time.
      for (let round = 0; round < 8; round++) {
        const asked = await http<{ id: string }>(a.url, 'POST', '/api/contact-requests', {
          token: alice,
          body: { tutorId: bob.user.id, message: `race ${round}` },
        })
        expect(asked.status).toBe(201)
        const path = `/api/contact-requests/${asked.body.id}`
        const answers = await Promise.all([
          http<{ status: string }>(a.url, 'PATCH', path, { token: bob.token, body: { status: 'accepted' } }),
          http<{ status: string }>(b.url, 'PATCH', path, { token: bob.token, body: { status: 'declined' } }),
        ])
        const ok = answers.filter((answer) => answer.status === 200)
        expect(ok).toHaveLength(1)
        expect(answers.find((answer) => answer.status !== 200)).toMatchObject({
          status: 400,
          body: { error: { code: 'INVALID' } },
        })
        const kept = ok[0]!.body.status
        const listed = await http<{ id: string; status: string }[]>(b.url, 'GET', '/api/contact-requests', {
          token: alice,
        })
        expect(listed.body.find((request) => request.id === asked.body.id)?.status).toBe(kept)
        // Each of the two is told the one answer that stands, once.
        expect(await loggedFor(asked.body.id)).toEqual([
          { user_id: 'user-alice', status: kept },
          { user_id: 'user-bob', status: kept },
        ])
      }
    } finally {
      await client.end()
    }
  })

  it("refuses a status change by someone not party to it without waiting on the parties' log locks", async () => {
    const carol = (await login(a.url, CAROL)).token
    // A long write of Alice's or Bob's holds their log counters (a send, a booking in its transaction).
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    await client.query('begin')
    await client.query(`select id from users where id = any($1::text[]) for no key update`, [
      ['user-alice', 'user-bob'],
    ])
    try {
      let answer: { status: number; body: unknown } | undefined
      void http(a.url, 'PATCH', '/api/lessons/lesson-1', { token: carol, body: { status: 'cancelled' } }).then(
        (got) => {
          answer = got
        },
      )
      // Carol takes no part in lesson-1: she is answered while the lock is still held, not after it.
      await vi.waitFor(() => expect(answer).toBeDefined(), { timeout: hangBound() })
      expect(answer).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } })
    } finally {
      await client.query('rollback')
      await client.end()
    }
  })
})
