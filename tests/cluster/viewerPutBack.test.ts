import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { NodeEntries } from '../../server/cluster/entries'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, emitAck, http, login, type ClientSocket } from '../server/support/server'
import { openStream, type Stream } from '../server/support/stream'
import { startProxy, type BlackHoleProxy } from './support/proxy'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// Bob looks at his conversation with Alice on node B the whole time; Alice writes from node A while Redis does not
// count Bob as a viewer: B was cut off from Redis past the entries' life, or Redis lost its data and B's renewal has
// not come yet. A's send marks nothing read for him, and once B puts his viewer back, what came meanwhile must be read,
// as the contract says of a joined conversation ("keeps marking new messages read while any of the user's sockets has
// it joined"); it stayed unread, the thread open in front of him.
const ready = requireParts('tests/cluster/viewerPutBack.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('a viewer Redis stopped counting, put back by its node', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let proxy: BlackHoleProxy
  let admin: Redis
  let prefix: string
  let databaseUrl: string
  const nodes: Awaited<ReturnType<typeof startServer>>[] = []
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    proxy = await startProxy(Number(new URL(redis.url).port))
    admin = new Redis(redis.url)
    databaseUrl = postgres.createDatabase('talemy_viewer_put_back')
    prefix = `vb${randomUUID().slice(0, 8)}:`
    const options = { port: 0, databaseUrl, redisPrefix: prefix, dataDir: tmpdir(), seedDemo: true }
    nodes.push(await startServer({ ...options, redisUrl: redis.url, logLevel: 'silent' }))
    nodes.push(await startServer({ ...options, redisUrl: proxy.url, logLevel: 'silent' }))
  })
  afterEach(() => {
    vi.restoreAllMocks()
    proxy.admit()
    for (const socket of sockets.splice(0)) socket.close()
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    for (const node of nodes) await node.close()
    admin?.disconnect()
    await proxy?.close()
    await redis?.stop()
    postgres?.stop()
  })

  /** Bob's viewers of the conversation that count on Redis's clock now. */
  async function liveViewers(): Promise<number> {
    const [seconds, micros] = await admin.time()
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
    return admin.zcount(`${prefix}viewers:${CONV}`, `(${now}`, '+inf')
  }

  /** Alice on node A, Bob on node B looking at their conversation (read up to its end). */
  async function bobLooking(): Promise<{ alice: Stream; bob: Stream; bobToken: string }> {
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const [alice, bob] = await Promise.all([login(a.url, ALICE), login(b.url, BOB)])
    const streams = await Promise.all([openStream(a.url, alice.token), openStream(b.url, bob.token)])
    sockets.push(...streams.map((stream) => stream.socket))
    await Promise.all(streams.map((stream) => stream.synced()))
    expect(await emitAck(streams[1].socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
    expect(await liveViewers()).toBeGreaterThan(0)
    return { alice: streams[0], bob: streams[1], bobToken: bob.token }
  }

  async function expectReadByBob(bob: Stream, bobToken: string, content: string) {
    await vi.waitFor(
      () => expect(bob.logged().some((item) => (item.payload as { content?: string }).content === content)).toBe(true),
      { timeout: hangBound() },
    )
    await vi.waitFor(
      async () => {
        const listed = await http<{ id: string; unreadCount: number }[]>(nodes[1]!.url, 'GET', '/api/conversations', {
          token: bobToken,
        })
        expect(listed.body.find((conversation) => conversation.id === CONV)?.unreadCount).toBe(0)
      },
      { timeout: hangBound(), interval: 100 },
    )
  }

  it('reads what came while his node was cut off from Redis past the entries’ life, once it is back', async () => {
    const { alice, bob, bobToken } = await bobLooking()
    proxy.refuse()
    await vi.waitFor(async () => expect(await liveViewers()).toBe(0), { timeout: hangBound(), interval: 100 })
    const content = 'sent while node B was cut off'
    const sent = await emitAck(alice.socket, 'message:send', { conversationId: CONV, content, clientId: randomUUID() })
    expect(sent.ok).toBe(true)
    proxy.admit()
    await expectReadByBob(bob, bobToken, content)
  })

  it('reads what came after Redis lost its data, before his node put his viewer back', async () => {
    const { alice, bob, bobToken } = await bobLooking()
    // The nodes' renewals (due within 2 s) held back while Alice writes.
    const renewals = vi.spyOn(NodeEntries.prototype, 'renew').mockResolvedValue(undefined)
    await admin.flushall()
    const content = 'sent right after Redis lost its data'
    const sent = await emitAck(alice.socket, 'message:send', { conversationId: CONV, content, clientId: randomUUID() })
    expect(sent.ok).toBe(true)
    renewals.mockRestore()
    await expectReadByBob(bob, bobToken, content)
  })
})
