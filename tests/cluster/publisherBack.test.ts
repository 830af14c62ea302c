import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import type { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startServer, type StartServerOptions } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { SessionStore } from '../../server/sessions'
import {
  ALICE,
  BOB,
  CAROL,
  emitAck,
  http,
  login,
  recordingFromHandshake,
  type ClientSocket,
} from '../server/support/server'
import { revokedDuringHandshake } from '../server/support/revokedDuringHandshake'
import { lastWordAbout, openLive } from './support/presence'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// A node's publisher connection that goes silent (a NAT forgot it) is dropped and connected again, and ioredis sends
// again every command that had no answer: the presence and typing notices published meanwhile reach the other nodes
// late, after what was told since. Nothing logs them, and the other nodes' subscribers never dropped: the node whose
// publisher is back has to say so, for them to send fresh snapshots.
const ready = requireParts('tests/cluster/publisherBack.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)("a node's publisher connection dropped and connected again", () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let a: Awaited<ReturnType<typeof startServer>>
  let b: Awaited<ReturnType<typeof startServer>>
  const sockets: ClientSocket[] = []
  let databaseUrl: string

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    databaseUrl = postgres.createDatabase('talemy_publisher_back')
    const options: StartServerOptions = {
      port: 0,
      databaseUrl,
      // No periodic recheck within a test: a session's end reaches a node by its word, or when a node's is back.
      sessionRecheckMs: 3_600_000,
      redisUrl: redis.url,
      redisPrefix: `pb${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
    }
    // Node A alone takes a user offline (B's grace is an hour): its word is the one that comes late.
    a = await startServer({ ...options, presenceGraceSeconds: 1 })
    b = await startServer({ ...options, presenceGraceSeconds: 3600 })
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await a?.close()
    await b?.close()
    await redis?.stop()
    postgres?.stop()
  })

  const open = (url: string, token: string) => openLive(url, token, sockets)

  it("ends with the other nodes' sockets told the present: no notice it sent while silent is the last word", async () => {
    const [alice, bob, carol] = await Promise.all([login(b.url, ALICE), login(a.url, BOB), login(a.url, CAROL)])
    const aliceOnB = await open(b.url, alice.token)
    const carolOnA = await open(a.url, carol.token)
    const bobOnA = await open(a.url, bob.token)
    await vi.waitFor(() => expect(lastWordAbout(aliceOnB.items, bob.user.id)?.online).toBe(true), {
      timeout: hangBound(),
    })

    // Node A's publisher goes silent: what it writes reaches nobody, and no answer comes.
    const pub = (a.io.of('/').adapter as unknown as { pubClient: Redis }).pubClient
    const stream = (pub as unknown as { stream: Socket }).stream
    stream.write = (() => true) as never
    const published: Buffer[] = []
    const publish = pub.publish.bind(pub) as (channel: string, message: Buffer) => Promise<number>
    pub.publish = ((channel: string, message: Buffer) => {
      published.push(Buffer.from(message))
      return publish(channel, message)
    }) as never
    const toldOffline = () =>
      published.some((message) => message.includes('presence:changed') && message.includes(bob.user.id))

    // Bob leaves node A, which takes him offline after its grace and publishes it, into the silence.
    bobOnA.socket.close()
    await vi.waitFor(() => expect(toldOffline()).toBe(true), { timeout: hangBound() })
    // He is back, on node B, which tells Alice at once.
    await open(b.url, bob.token)
    await vi.waitFor(() => expect(lastWordAbout(aliceOnB.items, bob.user.id)?.online).toBe(true), {
      timeout: hangBound(),
    })

    // A's publisher is dropped (as its probe drops a silent one) and connected again.
    const back = new Promise((resolve) => pub.once('ready', resolve))
    pub.disconnect(true)
    await back
    // Everything A published before this has reached B: Carol's typing, published after it, comes to Alice.
    expect(await emitAck(carolOnA.socket, 'typing', { conversationId: 'conv-alice-carol' })).toEqual({
      ok: true,
      data: null,
    })
    await vi.waitFor(
      () =>
        expect(aliceOnB.items.some((item) => item.event === 'typing' && item.payload.userId === carol.user.id)).toBe(
          true,
        ),
      { timeout: hangBound() },
    )
    // Bob is connected, on node B: that is what Alice is left with.
    await vi.waitFor(() => expect(lastWordAbout(aliceOnB.items, bob.user.id)?.online).toBe(true), {
      timeout: hangBound(),
    })
  }, 120_000)

  // A logout on node A while its publisher was away: its word to the other nodes (close that session's sockets) was
  // lost. They read their sockets' sessions again once A says its publisher is back, as when their own subscriber is:
  // they used to keep that session's socket, and take its token, until their next periodic recheck.
  it("ends on the other nodes a session that ended while the node's publisher was away", async () => {
    const session = await login(b.url, ALICE)
    const onB = await open(b.url, session.token)
    let closed = false
    onB.socket.once('disconnect', () => {
      closed = true
    })
    expect((await http(b.url, 'GET', '/api/me', { token: session.token })).status).toBe(200)
    // Ended with no word reaching node B (its broadcast lost with A's publisher): B still takes the token.
    await endUnannounced(session.token)
    expect((await http(b.url, 'GET', '/api/me', { token: session.token })).status).toBe(200)

    const pub = (a.io.of('/').adapter as unknown as { pubClient: Redis }).pubClient
    const back = new Promise((resolve) => pub.once('ready', resolve))
    pub.disconnect(true)
    await back
    await vi.waitFor(() => expect(closed).toBe(true), { timeout: hangBound() })
    expect((await http(b.url, 'GET', '/api/me', { token: session.token })).status).toBe(401)
  })

  // The fresh snapshots a node sends when another node's publisher is back went to every socket there, one whose
  // session was still being checked after its connection too: one revoked while its handshake was under way got its
  // user's contacts' presence before the check (reading the database) ended it.
  it('sends no fresh snapshot to a socket whose session is still being checked after its connection', async () => {
    const aliceOnB = await open(b.url, (await login(b.url, ALICE)).token)
    const revoked = await login(b.url, ALICE)
    const sessionId = (JSON.parse(Buffer.from(revoked.token.split('.')[1]!, 'base64url').toString()) as { sid: string })
      .sid
    const held = revokedDuringHandshake(b.url, revoked.token, sessionId)
    // The node's own reading of its sockets' sessions (when a publisher is back) answers as late as the check.
    const realEndedAmong = SessionStore.prototype.endedAmong
    const endedAmong = vi.spyOn(SessionStore.prototype, 'endedAmong').mockImplementation(async function (
      this: SessionStore,
      ids,
    ) {
      if (ids.includes(sessionId)) await held.answered
      return realEndedAmong.call(this, ids)
    })
    const pending = recordingFromHandshake(b.url, revoked.token, 'connect')
    sockets.push(pending.socket)
    const ended = new Promise<string>((resolve) => pending.socket.once('disconnect', resolve))
    try {
      await pending.connect()
      await held.asked
      const snapshots = () => aliceOnB.items.filter((item) => item.event === 'presence:snapshot').length
      const before = snapshots()
      const pub = (a.io.of('/').adapter as unknown as { pubClient: Redis }).pubClient
      const back = new Promise((resolve) => pub.once('ready', resolve))
      pub.disconnect(true)
      await back
      // Node B has sent its fresh snapshots: Alice's sockets there get theirs together.
      await vi.waitFor(() => expect(snapshots()).toBeGreaterThan(before), { timeout: hangBound() })
      held.answer()
      expect(await ended).toBe('io server disconnect')
      // Every packet node B sent that socket came before its DISCONNECT.
      expect(pending.events).toEqual([])
    } finally {
      held.answer()
      held.isLive.mockRestore()
      endedAmong.mockRestore()
    }
  })

  /** Ends a session in the database alone, as a node whose word was lost leaves it for the others. */
  async function endUnannounced(token: string): Promise<void> {
    const sessionId = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      await client.query('update sessions set revoked_at = now() where id = $1', [sessionId])
    } finally {
      await client.end()
    }
  }
})
