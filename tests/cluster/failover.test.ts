import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { io } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBalancer, type Balancer } from '../../server/cluster/balancer'
import { ENTRY_TTL_MS } from '../../server/cluster/entries'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, CAROL, connect, emitAck, http, login, type ClientSocket } from '../server/support/server'
import { polled } from '../support/polled'
import { seededDatabase } from './support/database'
import { spawnNode, type NodeProcess } from './support/node'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// Nodes as child processes (so one can be SIGKILLed), one PostgreSQL, one Redis, the repo's TCP balancer in front.
const ready = requireParts('tests/cluster/failover.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('a node killed with SIGKILL', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let env: Record<string, string>
  const nodes: NodeProcess[] = []
  const balancers: Balancer[] = []
  const sockets: { close(): void }[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    // Migrated and seeded once, in this process; the nodes then share the data (and the signing key kept with it).
    const databaseUrl = await seededDatabase(postgres, 'talemy_failover')
    env = { DATABASE_URL: databaseUrl, REDIS_URL: redis.url, REDIS_PREFIX: `f${randomUUID().slice(0, 8)}:` }
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    for (const balancer of balancers) await balancer.close()
    for (const node of nodes) await node.kill()
    await redis?.stop()
    postgres?.stop()
  })

  async function node(): Promise<NodeProcess> {
    const started = await spawnNode(env)
    nodes.push(started)
    return started
  }

  it('moves its clients to the other node through the balancer; they resume by offset with every message once, in order', async () => {
    const [a, b] = await Promise.all([node(), node()])
    const balancer = await startBalancer([a.address, b.address])
    balancers.push(balancer)
    const bobToken = (await login(b.url, BOB)).token

    // Bob's client as the browser layer behaves: it applies offset n+1 after n, resumes from its own offset.
    let applied = 0
    let epoch: string | undefined
    const contents: string[] = []
    const trouble: string[] = []
    // Bob comes back once Alice has sent ten more (so his resume has something to replay), through the balancer.
    let sentByAlice = 0
    let replayed = 0
    let resuming = false
    const bob = io(balancer.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth: (cb) => cb(epoch === undefined ? { token: bobToken } : { token: bobToken, offset: applied, epoch }),
    }) as unknown as ClientSocket
    sockets.push(bob)
    bob.on('disconnect', (reason) => {
      // Node A's death only: the file's end closes Bob ('io client disconnect'), and he must stay closed then.
      if (reason === 'io client disconnect') return
      resuming = true
      // No bound of its own (Alice's sends are spread by the send limit, a loaded machine stretches them): the test's
      // timeout is the bound on a hang.
      void polled(() => sentByAlice >= 30, 20).then(() => bob.connect())
    })
    let syncs = 0
    bob.on('sync:caughtUp', (sync) => {
      syncs++
      resuming = false
      if (epoch === undefined) applied = sync.offset
      else if (sync.offset !== applied) trouble.push(`caught up at ${sync.offset}, applied ${applied}`)
      epoch = sync.epoch
    })
    bob.on('sync:gap', (sync) => trouble.push(`gap at ${sync.offset}`))
    bob.on('message:new', (message, meta) => {
      if (meta?.offset === applied + 1) {
        applied++
        if (resuming) replayed++
        contents.push(message.content)
      } else trouble.push(`offset ${meta?.offset} after ${applied}`)
    })
    // Alice's first message passes Bob's last one (the seed leaves it unread to her): the receipt takes an offset.
    bob.on('conversation:seen', (_seen, meta) => {
      if (meta?.offset === applied + 1) applied++
      else trouble.push(`offset ${meta?.offset} after ${applied}`)
    })
    // The waits below have no bound of their own (a loaded machine makes each of these events late); the test's timeout
    // is the bound on a hang, which prints what was last seen.
    const seen = () => ({ syncs, applied, contents: contents.length, sentByAlice, replayed, trouble })
    await polled(() => syncs >= 1, 20, seen)
    expect(syncs).toBe(1)
    // The first connection through the balancer went to A.
    expect(balancer.handed.get(a.address)).toBe(1)

    const alice = await connect(b.url, (await login(b.url, ALICE)).token)
    sockets.push(alice)
    const total = 60
    for (let i = 0; i < total; i++) {
      if (i === 20) {
        // Mid-stream: A dies; Bob's next handshake through the balancer lands on B.
        await polled(() => contents.length >= 10, 20, seen)
        await a.kill()
      }
      // The nodes run the default budget (10/s, bursts of 20): a refused send is retried after retryAfterMs, as the
      // browser does (same clientId: idempotent).
      for (;;) {
        const ack = await emitAck(alice, 'message:send', {
          conversationId: CONV,
          content: `m${i}`,
          clientId: `failover-${i}`,
        })
        if (ack.ok) break
        expect(ack.error.code).toBe('RATE_LIMITED')
        await new Promise((resolve) => setTimeout(resolve, ack.error.retryAfterMs))
      }
      sentByAlice++
    }
    await polled(() => contents.length >= total, 50, seen)
    expect(contents).toHaveLength(total)
    expect(contents).toEqual(Array.from({ length: total }, (_, i) => `m${i}`))
    expect(trouble).toEqual([])
    expect(syncs).toBe(2)
    // What was committed while he was away came as a replay, before his second sync:caughtUp.
    expect(replayed).toBeGreaterThanOrEqual(10)
    expect(balancer.handed.get(b.address)).toBeGreaterThanOrEqual(1)
  })

  it("lets a killed node's socket-cap entries and viewers expire within seconds (heartbeat)", async () => {
    const [c, d] = await Promise.all([node(), node()])
    const carol = (await login(d.url, CAROL)).token
    const alice = (await login(d.url, ALICE)).token
    const onC: ClientSocket[] = []
    for (let i = 0; i < 20; i++) onC.push(await connect(c.url, carol))
    sockets.push(...onC)
    // Twenty on C is the cap for Carol on every node.
    await expect(connect(d.url, carol)).rejects.toThrow('RATE_LIMITED')
    // Carol looks at her conversation with Alice from C: Alice's messages are read as they arrive.
    expect(await emitAck(onC[0]!, 'conversation:join', 'conv-alice-carol')).toEqual({ ok: true, data: null })
    const unread = async () => {
      const sent = await http(d.url, 'POST', '/api/conversations/conv-alice-carol/messages', {
        token: alice,
        body: { content: 'hi', clientId: randomUUID() },
      })
      expect(sent.status).toBe(201)
      const list = await http<{ id: string; unreadCount: number }[]>(d.url, 'GET', '/api/conversations', {
        token: carol,
      })
      return list.body.find((conversation) => conversation.id === 'conv-alice-carol')!.unreadCount
    }
    expect(await unread()).toBe(0)

    // Within seconds: C scores each entry it holds (Carol's twenty sockets, her looking at the thread) to expire on
    // Redis's clock, which every reader compares with, ENTRY_TTL_MS (6 s) after its last renewal, and a dead node
    // renews nothing. Read as data, with Redis's time in the same step: how late a loaded machine sees them go (a
    // wall-clock bound on that would fail a slow run) says nothing of when they expired.
    const entries = async () => {
      const probe = new Redis(redis.url)
      try {
        const answers = await probe
          .multi()
          .zrange(`${env.REDIS_PREFIX}sockets:user-carol`, 0, -1, 'WITHSCORES')
          .zrange(`${env.REDIS_PREFIX}viewers:conv-alice-carol`, 0, -1, 'WITHSCORES')
          .time()
          .exec()
        const [carolsSockets, viewers, time] = (answers ?? []).map(([error, answer]) => {
          if (error) throw error
          return answer as string[]
        })
        const scores = (pairs: string[] = []) => pairs.filter((_, i) => i % 2 === 1).map(Number)
        const [seconds, micros] = (time ?? []).map(Number)
        return { sockets: scores(carolsSockets), viewers: scores(viewers), now: seconds! * 1000 + micros! / 1000 }
      } finally {
        probe.disconnect()
      }
    }
    const held = await entries()
    expect({ sockets: held.sockets.length, viewers: held.viewers.length }).toEqual({ sockets: 20, viewers: 1 })
    expect(Math.max(...held.sockets, ...held.viewers)).toBeLessThanOrEqual(held.now + ENTRY_TTL_MS)

    await c.kill()
    // They stop counting: Carol gets a socket on D, and is no longer looking at the thread. Waited for as it comes.
    for (;;) {
      const socket = await connect(d.url, carol).catch((error: Error) => {
        if (!/RATE_LIMITED/.test(error.message)) throw error
      })
      if (socket) {
        sockets.push(socket)
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    await polled(async () => (await unread()) > 0, 250)
  })
})
