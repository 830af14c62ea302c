import { tmpdir } from 'node:os'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../server/db/migrations'
import { openPostgres } from '../../server/db/postgres'
import type { Db } from '../../server/db'
import { seededDatabase } from '../cluster/support/database'
import { requireParts } from '../cluster/support/redis'
import { postgresRunnable, startPostgres, type PostgresCluster } from './support/postgres'
import { ALICE, BOB, connect, http, login, recordingFromHandshake, startTestServer } from './support/server'
import { startBlackHole, startSilentProxy } from './support/silentDatabase'

// A database that stops answering without closing its connections (a partition, a black-holed host, a lock wait that
// never ends) must cost a request an error within a bound, not an answer that never comes.

describe('a PostgreSQL host that never answers', () => {
  it('refuses to open within the connection bound, saying why', async () => {
    const hole = await startBlackHole()
    try {
      await expect(openPostgres(hole.urlFor('talemy'), { timeouts: { connectMs: 200 } })).rejects.toThrow(
        /connection timeout/,
      )
    } finally {
      await hole.close()
    }
  })

  it('gives up on a statement that gets no answer once connected, saying why', async () => {
    // Connected and authenticated, then silence: the first statement (the opening `select 1`) is never answered. The
    // connection's bound is far off: a busy machine once took more than 200 ms to connect, and that bound's error
    // came first.
    const hole = await startBlackHole({ greet: true })
    try {
      await expect(
        openPostgres(hole.urlFor('talemy'), { timeouts: { connectMs: 60_000, queryMs: 200 } }),
      ).rejects.toThrow(/Query read timeout/)
    } finally {
      await hole.close()
    }
  })
})

describe('a PostgreSQL that cannot be reached at start', () => {
  it('says it is the database it cannot reach, and where, without the password', async () => {
    const refused = openPostgres('postgres://talemy:s3cret-pass@127.0.0.1:1/talemy')
    await expect(refused).rejects.toThrow(
      /^cannot reach PostgreSQL at postgres:\/\/talemy:\*\*\*@127\.0\.0\.1:1\/talemy: connect ECONNREFUSED/,
    )
    await expect(refused).rejects.not.toThrow(/s3cret-pass/)
  })
})

describe('bounds given in DATABASE_URL', () => {
  it.each([
    ['statement_timeout=15s', /statement_timeout must be a number/],
    ['query_timeout=0', /query_timeout must be above 0/],
    ['connect_timeout=soon', /connect_timeout must be a number/],
  ])('refuses %s before connecting, saying why', async (parameter, why) => {
    // `pg` reads "15s" as 15 ms (parseInt), and a query_timeout of "0" as 1 ms on every statement.
    await expect(openPostgres(`postgres://postgres@127.0.0.1:1/talemy?${parameter}`)).rejects.toThrow(why)
  })
})

/** Short, for the silent phases; long enough for a healthy local database on a busy machine. */
const BOUNDS = { connectMs: 1000, queryMs: 1000 }

const ready = requireParts('tests/server/databaseTimeouts.test.ts', [postgresRunnable()])

describe.runIf(ready)('on a real PostgreSQL that stops answering', () => {
  let cluster: PostgresCluster
  let port: number
  let databases = 0
  const fresh = () => cluster.createDatabase(`talemy_timeouts_${++databases}`)

  beforeAll(async () => {
    cluster = await startPostgres()
    port = Number(new URL(cluster.url).port)
  })
  afterAll(() => cluster?.stop())

  /** `fn` with a database of its own, closed after. */
  async function withDb<T>(db: Db, fn: (db: Db) => Promise<T>): Promise<T> {
    try {
      return await fn(db)
    } finally {
      await db.close()
    }
  }

  it('sets the statement timeout on each connection (15 s), which a DATABASE_URL parameter overrides', async () => {
    const url = fresh()
    const shown = (db: Db) => db.query<{ statement_timeout: string }>('show statement_timeout')
    expect(await withDb(await openPostgres(url), shown)).toEqual([{ statement_timeout: '15s' }])
    expect(
      await withDb(await openPostgres(`${url}?statement_timeout=250`, { timeouts: { statementMs: 60_000 } }), shown),
    ).toEqual([{ statement_timeout: '250ms' }])
  })

  it('runs a migration past the statement and query bounds, and a second node waits for it on the lock', async () => {
    // An index built over a big table takes as long as the table is big: a migration bounded as requests are failed
    // (and a node waiting on the migration lock meanwhile failed sooner). Here a step of 1.5 s stands for it, past a
    // statement timeout of 300 ms and a client's bound of 600 ms.
    const url = fresh()
    const bounds = { statementMs: 300, queryMs: 600 }
    const steps = ['create table slow (id integer primary key)', 'select pg_sleep(1.5)', 'insert into slow values (1)']
    await withDb(await openPostgres(url, { timeouts: bounds }), async (first) =>
      withDb(await openPostgres(url, { timeouts: bounds }), async (second) => {
        const [byFirst, bySecond] = await Promise.all([migrate(first, steps), migrate(second, steps)])
        // Each step once, by whichever node took the lock for it first.
        expect(byFirst + bySecond).toBe(3)
        expect(await first.query('select id from slow')).toEqual([{ id: 1 }])
        // The bounds still hold for everything else.
        await expect(first.query('select pg_sleep(1)')).rejects.toMatchObject({ code: '57014' })
      }),
    )
  })

  it('ends a statement waiting on a row lock that another transaction holds, once, and the connection serves on', async () => {
    const url = fresh()
    const holder = new pg.Client({ connectionString: url })
    // Its connection going away (the cluster stopped after a failure here) is no uncaught error of the run.
    holder.on('error', () => undefined)
    await holder.connect()
    try {
      // Made on the holder's connection, which has no bound. Every statement of `db` has the bound given here: long
      // enough for a healthy statement on a busy machine (with 200 ms, a create table or one of the reads below, stalled
      // that long, was cancelled as the blocked update is), short enough to wait for.
      await holder.query('create table held (id integer primary key, n integer not null)')
      await holder.query('insert into held values (1, 0)')
      await withDb(await openPostgres(url, { timeouts: { statementMs: 2_000 } }), async (db) => {
        await holder.query('begin')
        await holder.query('select n from held where id = 1 for update')
        let attempts = 0
        const blocked = db.transaction(async (tx) => {
          attempts++
          return tx.query('update held set n = n + 1 where id = 1')
        })
        // PostgreSQL's own cancel (query_canceled): not a conflict worth running the transaction again for.
        await expect(blocked).rejects.toMatchObject({ code: '57014' })
        expect(attempts).toBe(1)
        await holder.query('rollback')
        // Every connection of the pool serves (the one whose statement was cancelled rolled back cleanly), and the
        // cancelled update left nothing behind.
        const reads = await Promise.all(
          Array.from({ length: 12 }, () => db.transaction((tx) => tx.query('select n from held where id = 1'))),
        )
        expect(reads).toEqual(Array(12).fill([{ n: 0 }]))
        await db.transaction((tx) => tx.query('update held set n = n + 1 where id = 1'))
        expect(await db.query('select n from held')).toEqual([{ n: 1 }])
      })
    } finally {
      await holder.end()
    }
  })

  it('gives back no connection stuck on a statement that got no answer: once the database answers, the pool serves', async () => {
    const database = `talemy_timeouts_${++databases}`
    cluster.createDatabase(database)
    const proxy = await startSilentProxy(port)
    try {
      await withDb(await openPostgres(proxy.urlFor(database), { timeouts: BOUNDS }), async (db) => {
        proxy.silence()
        // More than the pool holds: each transaction waits on its `begin`, a new connection or a free one.
        const silent = await Promise.allSettled(
          Array.from({ length: 12 }, () => db.transaction((tx) => tx.query('select 1'))),
        )
        expect(silent.map((result) => result.status)).toEqual(Array(12).fill('rejected'))
        proxy.heal()
        const answered = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            db.transaction((tx) => tx.query<{ i: number }>('select $1::int as i', [i])),
          ),
        )
        expect(answered.map(([row]) => row?.i)).toEqual(Array.from({ length: 12 }, (_, i) => i))
      })
    } finally {
      await proxy.close()
    }
  })

  it('answers API requests INTERNAL (500) and handshakes connect_error INTERNAL, and drops a socket whose replay cannot be read', async () => {
    const databaseUrl = await seededDatabase(cluster, `talemy_timeouts_${++databases}`)
    const proxy = await startSilentProxy(port)
    const direct = await startTestServer({ databaseUrl, dataDir: tmpdir() })
    const proxied = await startTestServer({
      databaseUrl: proxy.urlFor(new URL(databaseUrl).pathname.slice(1)),
      dataDir: tmpdir(),
      postgresTimeouts: BOUNDS,
    })
    try {
      // Alice's session is known to the proxied server (she logged in there); Bob's is not: his handshake reads it.
      const alice = await login(proxied.url, ALICE)
      const bob = await login(direct.url, BOB)
      proxy.silence()

      const list = await http(proxied.url, 'GET', '/api/conversations', { token: alice.token })
      expect(list).toMatchObject({
        status: 500,
        body: { error: { code: 'INTERNAL', message: 'internal server error' } },
      })

      await expect(connect(proxied.url, bob.token)).rejects.toMatchObject({
        message: 'INTERNAL',
        data: { code: 'INTERNAL' },
      })

      // Past its handshake, the socket's replay is the first read: without it, the socket is dropped as by the
      // network (its client reconnects on the same token), not left connected without its `sync:*`.
      const client = recordingFromHandshake(proxied.url, alice.token, 'connect')
      const dropped = new Promise<string>((resolve) => client.socket.once('disconnect', resolve))
      await client.connect()
      expect(await dropped).toBe('transport close')
      expect(client.events.map(({ event }) => event).filter((event) => event.startsWith('sync:'))).toEqual([])
    } finally {
      proxy.heal()
      await proxied.close()
      await direct.close()
      await proxy.close()
    }
  })
})
