import { tmpdir } from 'node:os'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, http, login } from '../server/support/server'
import { seededDatabase } from './support/database'
import { spawnNode, type NodeProcess } from './support/node'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// A node (its own process, as `npm start` runs it) on PostgreSQL, whose database connection is cut under it.
const ready = requireParts('tests/cluster/databaseLoss.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)('a node whose PostgreSQL connection is cut during a transaction', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let databaseUrl: string
  let node: NodeProcess | undefined
  let other: Awaited<ReturnType<typeof startServer>> | undefined
  let admin: pg.Client

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    databaseUrl = await seededDatabase(postgres, 'talemy_database_loss')
    admin = new pg.Client({ connectionString: databaseUrl })
    await admin.connect()
  })
  afterAll(async () => {
    await admin?.end().catch(() => undefined)
    await node?.kill()
    await other?.close()
    await redis?.stop()
    postgres?.stop()
  })

  /** Takes Alice's log counter in `admin`'s transaction (a send of hers waits on it there) until `admin` rolls back. */
  async function holdAlicesCounter() {
    await admin.query('begin')
    await admin.query(`select id from users where id = 'user-alice' for update`)
  }

  /** The backends of this database waiting for a lock. */
  const waiting = async () =>
    (
      await admin.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      )
    ).rows.map((row) => row.pid)

  it('answers that request with an error and keeps serving (a restart, failover or terminated backend is no crash)', async () => {
    node = await spawnNode({ DATABASE_URL: databaseUrl })
    const { token } = await login(node.url, ALICE)
    // Alice's log counter held elsewhere: her send's transaction waits on it, its connection checked out of the pool.
    await holdAlicesCounter()
    const send = http(node.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token,
      body: { content: 'cut off', clientId: 'database-loss-1' },
    }).then(
      (result) => ({ status: result.status }),
      (error: unknown) => ({ failed: String(error) }),
    )
    await expect.poll(waiting).toHaveLength(1)
    // The backend goes, as in a database restart or failover.
    await admin.query('select pg_terminate_backend($1)', [(await waiting())[0]])
    await admin.query('rollback')

    // That send fails as the server's fault (nothing of it kept); the node is still there for the next request and the
    // client's retry, which stores the message then.
    expect(await send).toEqual({ status: 500 })
    const me = await http<{ id: string }>(node.url, 'GET', '/api/me', { token })
    expect(me.body.id).toBe('user-alice')
    expect(node.child.exitCode).toBeNull()
    const retried = await http<{ content: string }>(node.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token,
      body: { content: 'cut off', clientId: 'database-loss-1' },
    })
    expect(retried).toMatchObject({ status: 201, body: { content: 'cut off' } })
  })

  it("does not hold other nodes' writes for those users while a node frozen in the middle of a send holds their log counters", async () => {
    await node?.kill()
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: redis.url, REDIS_PREFIX: 'frozen:' }
    node = await spawnNode(env)
    other = await startServer({
      port: 0,
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: 'frozen:',
      dataDir: tmpdir(),
      logLevel: 'silent',
    })
    const alice = (await login(node.url, ALICE)).token
    const bob = (await login(other.url, BOB)).token
    // Alice's send on the first node takes her and Bob's counters; that node stops (a paused VM or container, a long
    // stall, a partition) right after PostgreSQL has granted them, before it could go on.
    await holdAlicesCounter()
    void http(node.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token: alice,
      body: { content: 'frozen', clientId: 'frozen-1' },
    }).catch(() => undefined)
    await expect.poll(waiting).toHaveLength(1)
    const [frozenBackend] = await waiting()
    node.child.kill('SIGSTOP')
    await admin.query('rollback')
    const state = async () =>
      (await admin.query<{ state: string }>('select state from pg_stat_activity where pid = $1', [frozenBackend]))
        .rows[0]?.state
    await expect.poll(state).toBe('idle in transaction')

    // Bob's send on the other node needs those counters too: it goes through once the frozen node's transaction is
    // given up, not whenever (if ever) that node comes back. PostgreSQL ends it (the idle-in-transaction timeout, 10 s)
    // before Bob's statement's own (15 s) fails it: both on PostgreSQL's clock, from moments in that order.
    const sent = await http<{ content: string }>(other.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token: bob,
      body: { content: 'still here', clientId: 'frozen-2' },
    })
    expect(sent).toMatchObject({ status: 201, body: { content: 'still here' } })
  })
})
