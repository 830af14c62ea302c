import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Message } from '../../src/contract'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, CAROL, emitAck, http, login, type ClientSocket } from '../server/support/server'
import { openStream, type Stream } from '../server/support/stream'
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
    await vi.waitFor(
      () => {
        expect(lastWordAbout(watching.items, bob.user.id)).toMatchObject({ online: true })
        expect(lastWordAbout(watching.items, carol.user.id)).toMatchObject({ online: true })
      },
      { timeout: 20_000 },
    )
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

    const received = (stream: Stream) =>
      stream
        .logged()
        .filter((item) => item.event === 'message:new')
        .map((item) => (item.payload as unknown as Message).content)
    await vi.waitFor(
      () => {
        expect(received(bobOnB)).toEqual(['Alice, while Redis was away', 'Alice, after'])
        expect(received(aliceOnA)).toEqual(['Bob, while Redis was away', 'Bob, after'])
      },
      { timeout: 20_000 },
    )
    for (const stream of streams) {
      const offsets = stream.logged().map((item) => item.offset)
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y))
      expect(new Set(offsets).size).toBe(offsets.length)
    }
    // Bob never left: online. Carol left while Redis was away: offline, once the grace has passed since it came back.
    await vi.waitFor(
      () => {
        expect(lastWordAbout(watching.items, bob.user.id)).toMatchObject({ online: true })
        expect(lastWordAbout(watching.items, carol.user.id)).toMatchObject({ online: false })
      },
      { timeout: 30_000 },
    )
    const users = await http<{ id: string; online: boolean | null }[]>(a.url, 'GET', '/api/users', {
      token: alice.token,
    })
    expect(Object.fromEntries(users.body.map((user) => [user.id, user.online]))).toMatchObject({
      [bob.user.id]: true,
      [carol.user.id]: false,
    })
    await vi.waitFor(async () => expect((await http(b.url, 'GET', '/api/health')).status).toBe(200), {
      timeout: 20_000,
    })
  })
})
