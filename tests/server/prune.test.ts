import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../../server/db'
import { appendEvents, EventLog, type NewEvent } from '../../server/services/eventLog'
import { IDEMPOTENCY_KEY_TTL_SECONDS, keepAnswer, pruneIdempotencyKeys } from '../../server/services/idempotency'
import { freshDataDir } from './support/server'

let db: Db | undefined
let dir: string | undefined
afterEach(async () => {
  await db?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
  db = dir = undefined
})

describe('EventLog.prune', () => {
  it('deletes every event past the retention in batches, keeps the younger ones, and counts them all', async () => {
    dir = await mkdtemp(join(tmpdir(), 'talemy-prune-'))
    db = await openDatabase({ dataDir: dir })
    const now = Date.parse('2026-12-02T12:00:00Z')
    await db.query(
      `insert into users (id, email, name, role, password_hash, created_at) values ('u1', 'u1@x.test', 'U', 'student', 'x', now())`,
    )
    const old = new Date(now - 120_000).toISOString()
    const young = new Date(now - 10_000).toISOString()
    // The payload is not read back by the log: any JSON stands for a message here.
    const event = (n: number) => ({ userId: 'u1', event: 'message:new', payload: { n } }) as unknown as NewEvent
    await db.transaction((tx) => appendEvents(tx, [1, 2, 3, 4, 5, 6, 7].map(event), old))
    await db.transaction((tx) => appendEvents(tx, [8, 9].map(event), young))
    // A batch smaller than what is due: a long outage's backlog is deleted a bounded piece at a time, each piece one
    // short statement (the statement timeout holds for each), not one that may outlast it.
    const opened = db
    let deletes = 0
    const counting: Db = {
      ...opened,
      query: (sql, params) => {
        if (/delete from user_events/.test(sql)) deletes++
        return opened.query(sql, params)
      },
    }
    const log = await EventLog.open(counting, { retentionSeconds: 60, now: () => now, pruneBatch: 3 })

    expect(await log.prune()).toBe(7)
    expect(deletes).toBeGreaterThanOrEqual(3)
    const left = await db.query<{ payload: { n: number } }>(`select payload from user_events order by "offset"`)
    expect(left.map((row) => row.payload.n)).toEqual([8, 9])
    expect(await log.prune()).toBe(0)
    // A first open of the embedded database (its files made, the migrations run) takes seconds, more on a busy machine.
  }, 120_000)
})

describe('pruneIdempotencyKeys', () => {
  it('deletes the keys older than a day and keeps the younger ones', async () => {
    dir = freshDataDir()
    db = await openDatabase({ dataDir: dir })
    const now = new Date('2026-12-02T12:00:00Z')
    const request = (key: string) => ({ userId: 'user-alice', key, fingerprint: 'f' })
    const answer = { status: 201, body: {}, replayed: false }
    const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3600_000)
    await db.transaction((tx) =>
      keepAnswer(tx, request('old'), answer, hoursAgo(IDEMPOTENCY_KEY_TTL_SECONDS / 3600 + 1)),
    )
    await db.transaction((tx) => keepAnswer(tx, request('young'), answer, hoursAgo(1)))

    expect(await pruneIdempotencyKeys(db, now)).toBe(1)
    expect(await db.query<{ key: string }>('select key from idempotency_keys')).toEqual([{ key: 'young' }])
  }, 120_000)
})
