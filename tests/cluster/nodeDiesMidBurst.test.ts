import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBalancer, type Balancer } from '../../server/cluster/balancer'
import { selectConnection, sendMessage } from '../../src/realtime'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { client, storedThread, type Client } from '../reliability/support'
import { polled } from '../support/polled'
import { seededDatabase } from './support/database'
import { spawnNode, type NodeProcess } from './support/node'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// The browser layer (real stores, not failover.test.ts's hand-written client) on two nodes, Alice's store sending a
// burst to Bob, one of them on node A through a balancer, the other on node B. A is SIGKILLed mid-burst: Bob's store
// reconnects to B with its offset (receiver), or Alice's outbox goes on through B while events A committed and never
// published leave a hole in Bob's stream (sender). Both caches end with every stored message of the burst exactly
// once, by id, in seq order.
const ready = requireParts('tests/cluster/nodeDiesMidBurst.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'
const TOTAL = 60

describe.runIf(ready)("the receiver's node killed mid-burst", () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let env: Record<string, string>
  const nodes: NodeProcess[] = []
  const balancers: Balancer[] = []
  const open: Client[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    const databaseUrl = await seededDatabase(postgres, 'talemy_node_dies')
    env = { DATABASE_URL: databaseUrl, REDIS_URL: redis.url, REDIS_PREFIX: `r${randomUUID().slice(0, 8)}:` }
  })
  afterAll(async () => {
    for (const c of open.splice(0)) c.close()
    for (const balancer of balancers) await balancer.close()
    for (const node of nodes) await node.kill()
    await redis?.stop()
    postgres?.stop()
  })

  // The receiver's node only: a sender's node dying mid-send is failover.test.ts's and the outbox's own tests' case,
  // and each case costs the suite two nodes and a burst.
  it.each<'receiver' | 'sender'>(['receiver'])(
    "the %s's node dies: the burst once each in Bob's cache, in seq order",
    async (dies) => {
      const [a, b] = await Promise.all([spawnNode(env), spawnNode(env)])
      nodes.push(a, b)
      // The way in through the balancer goes to A alone until A dies; then B is added and A refuses.
      const balancer = await startBalancer([a.address])
      balancers.push(balancer)
      const realtime = { backoff: { baseMs: 100, capMs: 1_000 } }
      const bob = client(dies === 'receiver' ? balancer.url : b.url, { realtime })
      const alice = client(dies === 'sender' ? balancer.url : b.url, { realtime })
      open.push(bob, alice)
      await bob.login('bob@talemy.test')
      await alice.login('alice@talemy.test')
      const caughtUp = (c: Client) => {
        const connection = selectConnection(c.store.getState())
        return connection.status === 'connected' && !connection.syncing && connection.offset !== null
      }
      await polled(
        () => caughtUp(bob) && caughtUp(alice),
        20,
        () => ({ alice: caughtUp(alice), bob: caughtUp(bob) }),
      )
      await bob.openThread(CONV)
      await alice.openThread(CONV)
      const before = new Set((await storedThread(b.url, alice.token(), CONV)).map((m) => m.id))

      const sent: string[] = []
      for (let i = 0; i < TOTAL; i++)
        sent.push(alice.store.dispatch(sendMessage({ conversationId: CONV, content: `burst ${i}` })).payload.clientId)
      const news = () => bob.actions.filter((m) => m.type === 'socket/message:new').length
      await polled(
        () => news() >= 10,
        20,
        () => ({ bobGot: news() }),
      )
      balancer.backends.push(b.address)
      await a.kill()
      const atKill = news()

      // No bounds of their own on the delivery and the catch-up after the kill (reconnects, resends, the send limit),
      // which a loaded machine stretches: the test's timeout is the bound on a hang, which prints what was last seen.
      await polled(
        () => alice.pending().length === 0,
        20,
        () => ({ alicePending: alice.pending().length }),
      )
      const stored = (await storedThread(b.url, alice.token(), CONV)).filter((m) => !before.has(m.id))
      expect(stored.map((m) => m.clientId).sort()).toEqual([...sent].sort())
      const burst = () => bob.thread(CONV).filter((m) => !before.has(m.id))
      const seen = () => ({ caughtUp: caughtUp(bob), status: bob.status(), burst: burst().length, of: TOTAL })
      await polled(() => caughtUp(bob) && burst().length >= TOTAL, 20, seen)
      expect(burst().map((m) => m.id)).toEqual(stored.map((m) => m.id))
      const thread = bob.thread(CONV)
      expect(new Set(thread.map((m) => m.id)).size).toBe(thread.length)
      const seqs = thread.map((m) => m.seq)
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
      // Mid-burst (the nodes' default send limit spreads it over seconds), and no gap: no refetch needed.
      expect(atKill).toBeLessThan(TOTAL)
      expect(bob.actions.some((m) => m.type === 'socket/sync:gap')).toBe(false)
      expect(balancer.handed.get(b.address)).toBeGreaterThanOrEqual(1)
      const aliceThread = alice.thread(CONV).filter((m) => !before.has(m.id))
      expect(aliceThread.map((m) => m.id)).toEqual(stored.map((m) => m.id))
    },
    600_000,
  )
})
