import { createHash } from 'node:crypto'
import type { Id } from '../../src/contract'
import type { Db, Queryable } from '../db'
import { AppError } from '../errors'

/**
 * How long a key is answered with its first outcome. A retry after a lost answer comes within minutes; a day covers
 * a laptop closed overnight mid-booking, as Stripe's keys do. After it, the key is free again.
 */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600

/** Most keys one pruning statement deletes (bounded, as the event log's pruning is, for the statement timeout). */
const PRUNE_BATCH = 5_000

/** What a create answered; `replayed` when it is a stored answer given again (nothing was created this time). */
export interface Answer<T> {
  status: number
  body: T
  replayed: boolean
}

/** A request made under an Idempotency-Key: whose key (keys are per user), which, and what was asked with it. */
export interface KeyedRequest {
  userId: Id
  key: string
  fingerprint: string
}

/**
 * What a request asks, as one string: the endpoint and its parsed input (trimmed, the instant normalised), so that a
 * repeat spelled otherwise (key order, spaces the server trims) is the same request, and a key used on another
 * endpoint is not.
 *
 * @example fingerprintOf('POST /api/contact-requests', [tutorId, message]) // 'a3f1…' (SHA-256, hex)
 */
export function fingerprintOf(endpoint: string, input: readonly unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([endpoint, ...input]))
    .digest('hex')
}

/** `key` for `fingerprint` of `userId`'s request, or undefined when there is no key: the shape the creates take. */
export function keyedRequest(userId: Id, key: string | undefined, fingerprint: () => string): KeyedRequest | undefined {
  return key === undefined ? undefined : { userId, key, fingerprint: fingerprint() }
}

const oldestKept = (now: Date) => new Date(now.getTime() - IDEMPOTENCY_KEY_TTL_SECONDS * 1000).toISOString()

/**
 * The answer kept for the request's key (unexpired), given again; undefined when the key is new. INVALID when the key
 * was first used for another request: answering that one would tell the client its new request was done.
 */
export async function storedAnswer<T>(q: Queryable, request: KeyedRequest, now: Date): Promise<Answer<T> | undefined> {
  const rows = await q.query<{ fingerprint: string; status: number; body: string }>(
    `select fingerprint, status, body from idempotency_keys
     where user_id = $1 and key = $2 and created_at > $3::timestamptz`,
    [request.userId, request.key, oldestKept(now)],
  )
  const row = rows[0]
  if (!row) return undefined
  if (row.fingerprint !== request.fingerprint)
    throw new AppError('INVALID', 'Idempotency-Key: already used for a different request')
  return { status: Number(row.status), body: JSON.parse(row.body) as T, replayed: true }
}

/**
 * Keeps `answer` under the request's key, in the transaction of what the request created: one is never kept without
 * the other. An expired answer of the same key, not yet pruned, makes way. Two requests with one key that got here
 * together (the caller's locks should prevent it) meet the primary key: the later fails (`isKeyTaken`).
 */
export async function keepAnswer<T>(tx: Queryable, request: KeyedRequest, answer: Answer<T>, now: Date): Promise<void> {
  await tx.query(`delete from idempotency_keys where user_id = $1 and key = $2 and created_at <= $3::timestamptz`, [
    request.userId,
    request.key,
    oldestKept(now),
  ])
  await tx.query(
    `insert into idempotency_keys (user_id, key, fingerprint, status, body, created_at)
     values ($1, $2, $3, $4, $5, $6::timestamptz)`,
    [request.userId, request.key, request.fingerprint, answer.status, JSON.stringify(answer.body), now.toISOString()],
  )
}

const UNIQUE_VIOLATION = '23505'

/** Whether a create failed because another request with its key was kept first (its transaction rolled back). */
export const isKeyTaken = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === UNIQUE_VIOLATION

/** Deletes the keys past their time, a bounded batch at a time; answers how many. */
export async function pruneIdempotencyKeys(db: Db, now: Date): Promise<number> {
  let total = 0
  for (;;) {
    const [row] = await db.query<{ n: string | number }>(
      `with gone as (
         delete from idempotency_keys where ctid in (
           select ctid from idempotency_keys where created_at <= $1::timestamptz limit $2
         ) returning 1
       )
       select count(*) as n from gone`,
      [oldestKept(now), PRUNE_BATCH],
    )
    const deleted = Number(row?.n ?? 0)
    total += deleted
    if (deleted < PRUNE_BATCH) return total
  }
}
