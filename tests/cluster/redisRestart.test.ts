import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Message } from '../../src/contract'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, CAROL, emitAck, http, login, type ClientSocket } from '../server/support/server'
import { openStream, type Stream } from '../server/support/stream'
import { polled } from '../support/polled'
import { lastWordAbout, openLive, openWatching } from './support/presence'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// The Redis of two nodes crashes (SIGKILL) mid-traffic and is started again on its port, empty (no persistence): every
// connection of both nodes drops at once, and what they kept there is gone. The other files take one piece at a time
// (one node's subscriber or publisher away, FLUSHALL, a stall); this is what an operator meets, all together. Clients
// retry what is refused meanwhile, as the browser's outbox does (INTERNAL: try again).
const ready = requireParts('tests/cluster/redisRestart.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('a Redis that crashes and comes back empty on its port', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  const nodes: Awaited<ReturnType<typeof startServer>>[] = []
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    for (const node of nodes) await node.close()
    await redis?.stop()
    postgres?.stop()
  })

  /** Sends until the server takes it, as a client retries INTERNAL; one clientId, so a retry never doubles it. */
  async function sendUntilTaken(send: (clientId: string) => Promise<boolean>) {
    const clientId = randomUUID()
    while (!(await send(clientId))) await new Promise((resolve) => setTimeout(resolve, 200))
  }

  it('delivers what was sent across it once each, in order, keeps serving reads, and leaves presence right', {
    timeout: 120_000,
  }, async () => {
    const options = {
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_redis_restart'),
      redisUrl: redis.url,
      redisPrefix: `rr${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      presenceGraceSeconds: 1,
      logLevel: 'silent' as const,
    }
    nodes.push(await startServer(options))
    nodes.push(await startServer(options))
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const [alice, bob, carol] = await Promise.all([login(a.url, ALICE), login(b.url, BOB), login(b.url, CAROL)])
    const streams = await Promise.all([openStream(a.url, alice.token), openStream(b.url, bob.token)])
    sockets.push(...streams.map((stream) => stream.socket))
    await Promise.all(streams.map((stream) => stream.synced()))
    const [aliceOnA, bobOnB] = streams as [Stream, Stream]
    const watching = await openLive(a.url, alice.token, sockets)
    const carolOnB = (await openWatching(b.url, carol.token, sockets)).socket
    // What Alice's socket was last told of Bob and Carol: online (true), offline (false).
    const told = () => ({
      [bob.user.id]: lastWordAbout(watching.items, bob.user.id)?.online,
      [carol.user.id]: lastWordAbout(watching.items, carol.user.id)?.online,
    })
    await polled(() => told()[bob.user.id] === true && told()[carol.user.id] === true, 50, told)
    const aliceSends = (content: string) =>
      sendUntilTaken(
        async (clientId) =>
          (await emitAck(aliceOnA.socket, 'message:send', { conversationId: CONV, content, clientId })).ok,
      )
    const bobPosts = (content: string) =>
      sendUntilTaken(
        async (clientId) =>
          (
            await http(b.url, 'POST', `/api/conversations/${CONV}/messages`, {
              token: bob.token,
              body: { content, clientId },
            })
          ).status === 201,
      )

    await redis.crash()
    const sentAcross = [aliceSends('Alice, while Redis was away'), bobPosts('Bob, while Redis was away')]
    carolOnB.close()
    // Reads go on unbudgeted; the probe says Redis fails; a new socket is refused, saying why (it retries).
    expect((await http(a.url, 'GET', '/api/conversations', { token: alice.token })).status).toBe(200)
    expect(await http(b.url, 'GET', '/api/health')).toMatchObject({
      status: 503,
      body: { status: 'unavailable', failing: ['redis'] },
    })
    await expect(openStream(b.url, carol.token)).rejects.toMatchObject({
      data: { code: 'INTERNAL', message: 'the socket cap is unavailable; try again shortly' },
    })
    redis = await startRedis([], Number(new URL(redis.url).port))
    await Promise.all(sentAcross)
    await aliceSends('Alice, after')
    await bobPosts('Bob, after')

    // A socket may be sent another node's events after its own node's later ones: one published while the publisher or
    // the subscriber was away is lost, and the resync once it is back replays it. The client holds an event above its
    // offset + 1 until the missing ones come (CONTRACT, durable resume): what must hold is every offset once, none
    // missing, and the messages in offset order.
    const inOffsetOrder = (stream: Stream) => [...stream.logged()].sort((x, y) => x.offset - y.offset)
    const received = (stream: Stream) =>
      inOffsetOrder(stream)
        .filter((item) => item.event === 'message:new')
        .map((item) => (item.payload as unknown as Message).content)
    const caughtUpAt = await Promise.all(streams.map(async (stream) => (await stream.synced()).payload.offset))
    const complete = (stream: Stream, i: number) =>
      new Set(stream.logged().map((item) => item.offset)).size ===
      Math.max(0, ...stream.logged().map((item) => item.offset)) - caughtUpAt[i]!
    const arrived = () => streams.map((stream) => stream.logged().map((item) => `${item.offset} ${item.event}`))
    await polled(() => streams.every((stream, i) => received(stream).length >= 2 && complete(stream, i)), 50, arrived)
    expect(received(bobOnB)).toEqual(['Alice, while Redis was away', 'Alice, after'])
    expect(received(aliceOnA)).toEqual(['Bob, while Redis was away', 'Bob, after'])
    for (const [i, stream] of streams.entries()) {
      const offsets = inOffsetOrder(stream).map((item) => item.offset)
      expect(offsets).toEqual(offsets.map((_, k) => caughtUpAt[i]! + 1 + k))
    }
    // Bob never left: online. Carol left while Redis was away: offline, once the grace has passed since it came back.
    // Her going was lost with Redis's data: the first sweep to find it empty puts everyone noted seen back online,
    // untold (restoreSeen), and the one after the grace takes her offline and says so. Alice's socket may hold
    // "offline" before that, from the snapshot her node resent when its subscriber came back, read from the empty
    // Redis; /api/users says "online" meanwhile. The state awaited is both saying the same.
    const listedOnline = async () =>
      Object.fromEntries(
        (await http<{ id: string; online: boolean | null }[]>(a.url, 'GET', '/api/users', { token: alice.token })).body
          .filter((user) => user.id === bob.user.id || user.id === carol.user.id)
          .map((user) => [user.id, user.online]),
      )
    const settled = { [bob.user.id]: true, [carol.user.id]: false }
    const isSettled = (state: Record<string, unknown>) => state[bob.user.id] === true && state[carol.user.id] === false
    let listed: Record<string, boolean | null> = {}
    await polled(
      async () => isSettled(told()) && isSettled((listed = await listedOnline())),
      100,
      () => ({
        told: told(),
        listed,
      }),
    )
    expect(told()).toEqual(settled)
    expect(listed).toEqual(settled)
    await polled(async () => (await http(b.url, 'GET', '/api/health')).status === 200, 100)
  })
})
