import { expect } from 'vitest'
import { TokenService } from '../../../server/auth'
import type { Db } from '../../../server/db'
import { ENDED_SESSION_KEPT_SECONDS, pruneEndedSessions, SessionStore } from '../../../server/sessions'

const KEY = new Uint8Array(32).fill(9)
const POLICY = { idleSeconds: 600, maxSeconds: 1800 }
const GRACE_MS = ENDED_SESSION_KEPT_SECONDS * 1000

/**
 * Sessions ended every way (revoked, idle, past their absolute end) longer ago than the grace are deleted with all
 * their refresh tokens, a bounded batch at a time; those ended within the grace, and live ones with every token they
 * rotated (the theft check needs them for the session's whole life), are kept. For PGlite and PostgreSQL alike.
 */
export async function checkSessionPrune(db: Db): Promise<void> {
  await db.query(
    `insert into users (id, email, name, role, password_hash, created_at)
     values ('user-prune', 'prune@x.test', 'P', 'student', 'x', now()) on conflict do nothing`,
  )
  let now = Date.parse('2026-12-02T12:00:00Z')
  const tokens = new TokenService(KEY, { now: () => now })
  const store = new SessionStore(db, tokens, KEY, POLICY, () => now)
  const start = () => store.start('user-prune')
  const t0 = now

  // Ended long ago, each its own way.
  const revoked = await start()
  await store.refresh(revoked.refreshToken)
  await store.revokeSession(revoked.sessionId)
  const absolute = await start()
  let next = absolute.refreshToken
  // Refreshed within every idle period until its absolute end (t0 + 1800 s): it ends there, not idle.
  for (const at of [500, 1000, 1500]) {
    now = t0 + at * 1000
    next = (await store.refresh(next)).refreshToken
  }
  // Ended by its idle end (t0 + 1800 s) alone: its absolute end is well after the prune.
  now = t0 + 1_200_000
  const idle = await start()
  // Ended by its revocation alone (its idle end and absolute end come after the prune's cutoff), with many tokens:
  // its deletion takes several batches too.
  now = t0 + 1_700_000
  const busy = await start()
  next = busy.refreshToken
  for (let i = 0; i < 5; i++) next = (await store.refresh(next)).refreshToken
  await store.revokeSession(busy.sessionId)

  const pruneAt = t0 + 1800_000 + GRACE_MS + 60_000
  // Ended within the grace: kept.
  now = pruneAt - 10_000
  const recentlyRevoked = await start()
  await store.revokeSession(recentlyRevoked.sessionId)
  now = pruneAt - POLICY.idleSeconds * 1000 - 10_000
  const recentlyIdle = await start() // ended 10 s before the prune
  // Live at the prune, refreshed twice: two rotated tokens and its live one.
  now = pruneAt - 100_000
  const live = await start()
  const liveFirst = live.refreshToken
  now += 40_000
  next = (await store.refresh(liveFirst)).refreshToken
  now += 40_000
  const liveNow = (await store.refresh(next)).refreshToken

  now = pruneAt
  const opened = db
  let deletes = 0
  const counting: Db = {
    ...opened,
    query: (sql, params) => {
      if (/delete from (sessions|refresh_tokens)/.test(sql)) deletes++
      return opened.query(sql, params)
    },
  }
  const tokensOf = async (sessionId: string) =>
    Number(
      (await db.query<{ n: string }>(`select count(*) as n from refresh_tokens where session_id = $1`, [sessionId]))[0]
        ?.n,
    )
  expect(await tokensOf(busy.sessionId)).toBe(6)
  expect(await tokensOf(live.sessionId)).toBe(3)

  expect(await pruneEndedSessions(counting, { now, idleSeconds: POLICY.idleSeconds, batch: 2 })).toBe(4)
  // Bounded statements: 4 sessions and 13 tokens, at most 2 rows each.
  expect(deletes).toBeGreaterThanOrEqual(6)
  const kept = await db.query<{ id: string }>(`select id from sessions where user_id = 'user-prune' order by id`)
  expect(kept.map((row) => row.id)).toEqual([recentlyRevoked.sessionId, recentlyIdle.sessionId, live.sessionId].sort())
  for (const gone of [revoked, idle, absolute, busy]) expect(await tokensOf(gone.sessionId)).toBe(0)
  expect(await tokensOf(recentlyRevoked.sessionId)).toBe(1)
  expect(await tokensOf(live.sessionId)).toBe(3)
  expect(await pruneEndedSessions(db, { now, idleSeconds: POLICY.idleSeconds })).toBe(0)

  // The live session goes on: its refresh token rotates, and its first one, rotated long ago, is still known as a
  // replay (theft): it revokes the session.
  await store.refresh(liveNow)
  await expect(store.refresh(liveFirst)).rejects.toMatchObject({
    code: 'UNAUTHORIZED',
    message: 'refresh token reused',
  })
  expect(await store.isLive(live.sessionId)).toBe(false)
}
