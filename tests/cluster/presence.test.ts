import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startServer, type StartServerOptions } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import {
  ALICE,
  BOB,
  CAROL,
  connectLive,
  delivered,
  emitAck,
  login,
  manualClock,
  type ClientSocket,
} from '../server/support/server'
import { spawnNode, type NodeProcess } from './support/node'
import { lastWordAbout, openLive as openLiveIn, openWatching, type PresenceItem } from './support/presence'
import { redisRunnable, requireParts, startRedis, whileSubscriberAway, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// Presence and typing across nodes (CONTRACT.md, "Presence, typing, read receipts" and "Several server nodes"): two
// nodes in this process and, for the kill, one in its own process. Real clocks; a 1-second grace on the in-process
// nodes (whichever node sweeps first takes a user offline).
const ready = requireParts('tests/cluster/presence.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('presence across nodes', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let databaseUrl: string
  let prefix: string
  let a: Awaited<ReturnType<typeof startServer>>
  let b: Awaited<ReturnType<typeof startServer>>
  let options: StartServerOptions
  const sockets: ClientSocket[] = []
  const spawned: NodeProcess[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    databaseUrl = postgres.createDatabase('talemy_presence')
    prefix = `p${randomUUID().slice(0, 8)}:`
    options = {
      port: 0,
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: prefix,
      dataDir: tmpdir(),
      seedDemo: true,
      presenceGraceSeconds: 1,
    }
    a = await startServer(options)
    b = await startServer(options)
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    for (const node of spawned) await node.kill()
    await a?.close()
    await b?.close()
    await redis?.stop()
    postgres?.stop()
  })

  type Item = PresenceItem
  const open = (url: string, token: string) => openWatching(url, token, sockets)
  const openLive = (url: string, token: string) => openLiveIn(url, token, sockets)
  const changesAbout = (items: Item[], userId: string) =>
    items
      .filter((item) => item.event === 'presence:changed' && item.payload.userId === userId)
      .map((item) => item.payload)

  it('tells Alice on node A (and not Carol) when Bob comes online on node B, relays his typing, and takes him offline after the grace', async () => {
    const [alice, bob, carol] = await Promise.all([login(a.url, ALICE), login(a.url, BOB), login(a.url, CAROL)])
    const aliceOnA = await openLive(a.url, alice.token)
    const carolOnA = await openLive(a.url, carol.token)

    const bobOnB = await open(b.url, bob.token)
    await vi.waitFor(
      () =>
        expect(changesAbout(aliceOnA.items, bob.user.id)).toEqual([
          { userId: bob.user.id, online: true, lastSeenAt: null },
        ]),
      {
        timeout: hangBound(),
      },
    )
    await delivered(carolOnA.socket)
    expect(changesAbout(carolOnA.items, bob.user.id)).toEqual([])

    // Typing on B reaches Alice on A.
    expect(await emitAck(bobOnB.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
    await vi.waitFor(
      () =>
        expect(aliceOnA.items.filter((item) => item.event === 'typing').map((item) => item.payload)).toEqual([
          { conversationId: CONV, userId: bob.user.id },
        ]),
      {
        timeout: hangBound(),
      },
    )

    bobOnB.socket.close()
    await vi.waitFor(() => expect(changesAbout(aliceOnA.items, bob.user.id)).toHaveLength(2), { timeout: hangBound() })
    expect(changesAbout(aliceOnA.items, bob.user.id)[1]).toEqual({
      userId: bob.user.id,
      online: false,
      lastSeenAt: expect.any(String),
    })
  })

  it("brings a typing notice once to each of Alice's sockets, on the typer's node and on the other, and none to the typer's own", async () => {
    const [alice, bob] = await Promise.all([login(a.url, ALICE), login(b.url, BOB)])
    // Each past its replay (its snapshot): typing goes to a socket only from then on, and Bob types once.
    const aliceOnA = await openLive(a.url, alice.token)
    const aliceOnB = await openLive(b.url, alice.token)
    const bobOnA = await openLive(a.url, bob.token)
    const bobOnB = await openLive(b.url, bob.token)

    expect(await emitAck(bobOnB.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
    // Published after the notice, on the same node and through the same channel: once it is there, so is the notice
    // and any copy of it.
    const content = `after typing ${randomUUID()}`
    const sent = await emitAck(bobOnB.socket, 'message:send', { conversationId: CONV, content, clientId: randomUUID() })
    expect(sent.ok).toBe(true)
    const arrived = (items: Item[]) =>
      items.some((item) => item.event === 'message:new' && item.payload.content === content)
    await vi.waitFor(() => expect(arrived(aliceOnA.items) && arrived(aliceOnB.items)).toBe(true), {
      timeout: hangBound(),
    })
    const typing = (items: Item[]) => items.filter((item) => item.event === 'typing').map((item) => item.payload)
    expect(typing(aliceOnA.items)).toEqual([{ conversationId: CONV, userId: bob.user.id }])
    expect(typing(aliceOnB.items)).toEqual([{ conversationId: CONV, userId: bob.user.id }])
    expect(typing(bobOnA.items)).toEqual([])
    expect(typing(bobOnB.items)).toEqual([])
    for (const socket of [aliceOnA, aliceOnB, bobOnA, bobOnB]) socket.socket.close()
  })

  it('takes the users of a node killed with SIGKILL offline once its entries expire and the grace has passed', async () => {
    const node = await spawnNode({ DATABASE_URL: databaseUrl, REDIS_URL: redis.url, REDIS_PREFIX: prefix })
    spawned.push(node)
    // Bob's sockets of the previous test have closed; he may still be within his grace (then Alice's snapshot says
    // online, and no change comes when his socket on the spawned node opens).
    const [alice, bob] = await Promise.all([login(a.url, ALICE), login(a.url, BOB)])
    const aliceOnA = await openLive(a.url, alice.token)
    await open(node.url, bob.token)
    await vi.waitFor(() => expect(lastWordAbout(aliceOnA.items, bob.user.id)).toMatchObject({ online: true }), {
      timeout: hangBound(),
    })

    await node.kill()
    // The entries live 6 s unrenewed, then the 1-second grace; the wait's own bound is for entries that never expire.
    await vi.waitFor(() => expect(lastWordAbout(aliceOnA.items, bob.user.id)).toMatchObject({ online: false }), {
      timeout: hangBound(),
      interval: 200,
    })
  })

  it('sends a fresh snapshot to its sockets when its Redis subscriber is back: a change told meanwhile was lost to them', async () => {
    const [alice, bob] = await Promise.all([login(b.url, ALICE), login(a.url, BOB)])
    const aliceOnB = await open(b.url, alice.token)
    const snapshots = () => aliceOnB.items.filter((item) => item.event === 'presence:snapshot')
    await vi.waitFor(() => expect(snapshots()).toHaveLength(1), { timeout: hangBound() })
    // B's subscriber drops and stays away a while: what A publishes meanwhile (Bob comes online) never reaches B.
    await whileSubscriberAway(b.io, redis.url, 1_500, () => open(a.url, bob.token))
    // Once B is back, Alice's socket there hears that Bob is online: from a new snapshot.
    await vi.waitFor(
      () =>
        expect(
          snapshots()
            .slice(1)
            .some((item) =>
              (item.payload.users as { userId: string; online: boolean }[]).some(
                (user) => user.userId === bob.user.id && user.online,
              ),
            ),
        ).toBe(true),
      { timeout: hangBound(), interval: 50 },
    )
  })

  // Last: C's clock, an hour ahead, notes when Bob went; the tests above need him to come and go on real time.
  it("sends a typing notice from node A to no socket on node C whose token C's clock says has expired", async () => {
    // C's clock runs an hour ahead once the test says so: Bob's first token has expired there, his second has not.
    const clock = manualClock()
    const TTL_MS = 3_600_000
    const c = await startServer({ ...options, now: clock.now, tokenTtlSeconds: TTL_MS / 1000 })
    try {
      const alice = await login(a.url, ALICE)
      // Past its replay (whose hand-over checks the token too) before the clock moves.
      const expired = await connectLive(c.url, (await login(c.url, BOB)).token)
      sockets.push(expired)
      const told: unknown[] = []
      expired.on('typing', (notice) => told.push(notice))
      const dropped = new Promise<string>((resolve) => expired.once('disconnect', resolve))
      clock.advance(TTL_MS)
      const live = await connectLive(c.url, (await login(c.url, BOB)).token)
      sockets.push(live)
      const typing = new Promise((resolve) => live.once('typing', resolve))
      const aliceOnA = await open(a.url, alice.token)
      expect(await emitAck(aliceOnA.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
      // C sends a notice to Bob's sockets in one go: once his live one has it, the other one had it too, or never will.
      expect(await typing).toEqual({ conversationId: CONV, userId: alice.user.id })
      // Its next event is refused (its token expired) and disconnects it; the refusal follows whatever was sent before.
      if (expired.connected) await emitAck(expired, 'conversation:leave', 'delivery-barrier').catch(() => undefined)
      expect(told).toEqual([])
      expect(await dropped).toBe('io server disconnect')
    } finally {
      await c.close()
    }
  })
})
