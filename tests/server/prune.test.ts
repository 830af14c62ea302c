import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openDatabase, type Db } from '../../server/db'
import { appendEvents, EventLog, type NewEvent } from '../../server/services/eventLog'
import { IDEMPOTENCY_KEY_TTL_SECONDS, keepAnswer, pruneIdempotencyKeys } from '../../server/services/idempotency'
import { ENDED_SESSION_KEPT_SECONDS } from '../../server/sessions'
import { capturedLog } from '../support/capturedLog'
import { checkSessionPrune } from './support/sessionPrune'
import { ALICE, freshDataDir, http, login, manualClock, startTestServer } from './support/server'

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

// Review: the sessions and refresh_tokens tables were never pruned: each login added two rows and each refresh one,
// for good (a user with a valid password could grow the database at 5 logins a second per address).
describe('pruneEndedSessions', () => {
  it('deletes sessions ended longer ago than the grace with their tokens, in batches; keeps the rest', async () => {
    dir = freshDataDir()
    db = await openDatabase({ dataDir: dir })
    await checkSessionPrune(db)
  }, 120_000)
})

describe('the pruning of ended sessions, with the server', () => {
  it('runs from the start on the injected clock, and leaves live sessions working', async () => {
    const clock = manualClock()
    const first = await startTestServer({ now: clock.now })
    dir = first.dataDir
    const ended = await login(first.url, ALICE)
    expect((await http(first.url, 'POST', '/api/auth/logout', { token: ended.token })).status).toBe(204)
    const live = await login(first.url, ALICE)
    await first.close()
    // Past the grace, within the live session's idle end (7 days by default).
    clock.advance((ENDED_SESSION_KEPT_SECONDS + 60) * 1000)
    const log = capturedLog('info')
    const second = await startTestServer({ now: clock.now, dataDir: dir, logger: log.logger })
    try {
      await vi.waitFor(
        () => expect(log.lines()).toContainEqual(expect.objectContaining({ msg: 'pruned ended sessions' })),
        { timeout: 30_000 },
      )
      expect(
        (await http(second.url, 'POST', '/api/auth/refresh', { body: { refreshToken: live.refreshToken } })).status,
      ).toBe(200)
    } finally {
      await second.close()
    }
    db = await openDatabase({ dataDir: dir })
    const left = (await db.query<{ id: string }>(`select id from sessions`)).map((row) => row.id)
    expect(left).toContain(decodeJwt(live.token).sid)
    expect(left).not.toContain(decodeJwt(ended.token).sid)
    const tokensLeft = await db.query(`select 1 from refresh_tokens where session_id = $1`, [
      decodeJwt(ended.token).sid,
    ])
    expect(tokensLeft).toEqual([])
  }, 120_000)
})
