import { tmpdir } from 'node:os'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, http, login } from '../server/support/server'
import { spawnNode, type NodeProcess } from './support/node'
import { requireParts } from './support/redis'

// A node (its own process, as `npm start` runs it) on PostgreSQL, whose database connection is cut under it.
const ready = requireParts('tests/cluster/databaseLoss.test.ts', [postgresRunnable()])

describe.runIf(ready)('a node whose PostgreSQL connection is cut during a transaction', () => {
  let postgres: PostgresCluster
  let databaseUrl: string
  let node: NodeProcess | undefined
  let admin: pg.Client | undefined

  beforeAll(async () => {
    postgres = await startPostgres()
    databaseUrl = postgres.createDatabase('talemy_database_loss')
    const seeder = await startServer({ port: 0, databaseUrl, dataDir: tmpdir(), seedDemo: true, logLevel: 'silent' })
    await seeder.close()
  })
  afterAll(async () => {
    await admin?.end().catch(() => undefined)
    await node?.kill()
    postgres?.stop()
  })

  it('answers that request with an error and keeps serving (a restart, failover or terminated backend is no crash)', async () => {
    node = await spawnNode({ DATABASE_URL: databaseUrl })
    const { token } = await login(node.url, ALICE)
    admin = new pg.Client({ connectionString: databaseUrl })
    await admin.connect()
    // Alice's log counter held elsewhere: her send's transaction waits on it, its connection checked out of the pool.
    await admin.query('begin')
    await admin.query(`select id from users where id = 'user-alice' for update`)
    const send = http(node.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token,
      body: { content: 'cut off', clientId: 'database-loss-1' },
    }).then(
      (result) => ({ status: result.status }),
      (error: unknown) => ({ failed: String(error) }),
    )
    const waiting = async () =>
      (
        await admin!.query<{ pid: number }>(
          `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        )
      ).rows.map((row) => row.pid)
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
})
