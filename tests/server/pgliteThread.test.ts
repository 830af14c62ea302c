import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { openDatabase, type Prepared } from '../../server/db'
import { freshDataDir, freshDatabase, repoRoot } from './support/server'

// The embedded database runs on a thread of its own (server/db/pgliteThread.js): what crosses between the threads
// (rows, errors, transactions) must read as it did when PGlite ran on the server's thread, and the server's event loop
// must keep turning while a statement runs.

const USER_NAME: Prepared = { name: 'test_user_name_v1', text: 'select name from users where id = $1::text' }

describe('the embedded database on its own thread', () => {
  const database = freshDatabase()

  it('keeps turning the event loop while a statement runs', async () => {
    let done = false
    const slow = database.db
      .query<{ n: number }>('select count(*)::int as n from generate_series(1, 3000000)')
      .finally(() => (done = true))
    // With PGlite on this thread, the statement held the loop from its start to its end: no turn came in between.
    let turns = 0
    while (!done && turns < 20) {
      await new Promise((resolve) => setImmediate(resolve))
      turns++
    }
    expect(done).toBe(false)
    expect(await slow).toEqual([{ n: 3_000_000 }])
  })

  it('runs with a 16 MB buffer cache, not the 128 MB initdb wrote, which cost most of every start', async () => {
    expect(await database.db.query('show shared_buffers')).toEqual([{ shared_buffers: '16MB' }])
  })

  it('answers rows with their types (dates as dates, numbers as numbers), by query and by prepared statement', async () => {
    const [row] = await database.db.query<{ at: Date; n: number; j: unknown }>(
      `select '2026-01-02T03:04:05.000Z'::timestamptz as at, 41 + 1 as n, '{"a":[1,null]}'::jsonb as j`,
    )
    expect(row).toEqual({ at: new Date('2026-01-02T03:04:05.000Z'), n: 42, j: { a: [1, null] } })
    expect(await database.db.execute(USER_NAME, ['user-alice'])).toEqual([{ name: expect.any(String) }])
    expect(await database.db.executeMany(USER_NAME, [['user-alice'], ['nobody']])).toEqual([
      [{ name: expect.any(String) }],
      [],
    ])
  })

  it('rejects with PostgreSQL’s fields (code, constraint) and without the values it was given', async () => {
    const error = await database.db.query('insert into users select * from users limit 1').then(
      () => null,
      (caught: unknown) => caught as Record<string, unknown> & Error,
    )
    expect(error).toBeInstanceOf(Error)
    expect(error!.code).toBe('23505')
    expect(error!.constraint).toEqual(expect.any(String))
    // Its stack names the caller (this file), as when PGlite ran on this thread, not the thread's message callback.
    expect(error!.stack).toContain('pgliteThread.test.ts')
    const secret = 'a-secret-email@example.test'
    const withValues = await database.db.query('select $1::int', [secret]).then(
      () => null,
      (caught: unknown) => caught as Record<string, unknown> & Error,
    )
    expect(withValues!.code).toBe('22P02')
    expect(JSON.stringify({ ...withValues })).not.toContain(secret)
  })

  it('commits a transaction when its work resolves, and keeps nothing of it when its work throws', async () => {
    const kept = await database.db.transaction(async (tx) => {
      await tx.query(`update users set name = 'Kept' where id = 'user-carol'`)
      return (await tx.execute<{ name: string }>(USER_NAME, ['user-carol']))[0]!.name
    })
    expect(kept).toBe('Kept')
    const failure = new Error('changed my mind')
    await expect(
      database.db.transaction(async (tx) => {
        await tx.query(`update users set name = 'Lost' where id = 'user-carol'`)
        throw failure
      }),
    ).rejects.toBe(failure)
    expect(await database.db.execute(USER_NAME, ['user-carol'])).toEqual([{ name: 'Kept' }])
  })

  it('runs a statement from outside an open transaction only once it has ended (PGlite has one connection)', async () => {
    const order: string[] = []
    let outside!: Promise<{ name: string }[]>
    await database.db.transaction(async (tx) => {
      await tx.query(`update users set name = 'Inside' where id = 'user-carol'`)
      // On the one connection, run now it would read the open transaction's uncommitted write.
      outside = database.db
        .execute<{ name: string }>(USER_NAME, ['user-carol'])
        .finally(() => order.push('outside read'))
      await new Promise((resolve) => setImmediate(resolve))
      await tx.query(`update users set name = 'Committed' where id = 'user-carol'`)
      order.push('transaction ends')
    })
    expect(await outside).toEqual([{ name: 'Committed' }])
    expect(order).toEqual(['transaction ends', 'outside read'])
  })

  // `node --max-old-space-size=… --import tsx server/main.ts` (a heap size set for production): the thread was given
  // the parent's options, and a worker refuses V8's and the process-wide ones (ERR_WORKER_INVALID_EXEC_ARGV), so the
  // database never opened. Those options hold for the whole process already, the thread included.
  it('opens under Node options a worker refuses (a heap size, a stack trace limit, a process title)', async () => {
    const dataDir = freshDataDir()
    const scriptDir = mkdtempSync(join(tmpdir(), 'talemy-thread-options-'))
    try {
      const script = join(scriptDir, 'open.mts')
      const db = pathToFileURL(join(repoRoot, 'server/db/index.ts')).href
      writeFileSync(
        script,
        `import { openDatabase } from ${JSON.stringify(db)}
const db = await openDatabase({ dataDir: process.argv[2] })
console.log(JSON.stringify(await db.query('select 1 as one')))
await db.close()
`,
      )
      // `--title` with its value as the next entry: the value goes with the option refused.
      const options = ['--max-old-space-size=512', '--stack-trace-limit=50', '--title', 'talemy-test']
      const { stdout } = await promisify(execFile)(process.execPath, [...options, '--import', 'tsx', script, dataDir], {
        cwd: repoRoot,
      })
      expect(stdout.trim()).toBe('[{"one":1}]')
    } finally {
      rmSync(scriptDir, { recursive: true, force: true })
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('once closed, refuses a statement at once with an error that says so (a stopped thread answers nothing)', async () => {
    const otherDir = freshDataDir()
    const other = await openDatabase({ dataDir: otherDir })
    try {
      await other.close()
      await expect(other.query('select 1')).rejects.toThrow(/the database thread stopped/)
    } finally {
      rmSync(otherDir, { recursive: true, force: true })
    }
  })
})
