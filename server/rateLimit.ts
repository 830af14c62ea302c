import { within } from './within'
import { AppError } from './errors'

export interface RateLimitOptions {
  /** Tokens added per second. */
  perSecond: number
  /** Bucket size: how many operations may go through at once after a quiet period. */
  burst: number
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 10, burst: 20 }
/** `conversation:join` has its own budget: opening threads is not sending, but each join may write and notify. */
/** `typing` notices: the browser sends one every 2 seconds at most; more than 2 a second is refused. */
export const TYPING_RATE_LIMIT: RateLimitOptions = { perSecond: 2, burst: 2 }
export const DEFAULT_JOIN_RATE_LIMIT: RateLimitOptions = { perSecond: 20, burst: 50 }
/**
 * Handshakes: each reads the user's log (up to `maxReplay` events) and their contacts' presence, and the socket cap
 * bounds only the sockets open at once, not a client closing and opening one in a loop. A reload of every tab at once
 * (at most `maxSocketsPerUser`, 20) stays well within the burst.
 */
export const DEFAULT_HANDSHAKE_RATE_LIMIT: RateLimitOptions = { perSecond: 10, burst: 100 }
/**
 * Reads (`GET /api/...`): each costs the database a query whatever it finds, so a user's are bounded too. A page load
 * reads about six times and a reconnect's catch-up about as many; many tabs reloading at once stay within the burst.
 */
export const DEFAULT_READ_RATE_LIMIT: RateLimitOptions = { perSecond: 20, burst: 100 }
/**
 * Refresh tokens presented (`POST /api/auth/refresh`, and `/api/auth/logout` with one), per client address: each is
 * hashed and looked up in the database whatever it is, and no user is known before it is. 256 random bits cannot be
 * guessed at any rate, so this bounds the lookups' load. A browser refreshes once per token life (every 12 minutes,
 * one tab at a time): 1 a second is 720 browsers behind one address (a school's NAT), and the burst takes a room of
 * them back from sleep at once. Past it, a request that carries a Bearer this server signed (expired too) of a live
 * session spends its user's budget at that address (the same size, one for all the user's sessions there) instead: a
 * whole school back from sleep is not held up, and logging in again is no new budget.
 */
export const DEFAULT_REFRESH_RATE_LIMIT: RateLimitOptions = { perSecond: 1, burst: 60 }
/**
 * Logins, per client address, whatever their outcome: each costs an Argon2 hash, and the login throttle counts only
 * failures, so one account's right password could keep the hashing threads busy without end. A person logs in a few
 * times a day; 5 a second is a classroom behind one NAT logging in at once, and the burst a whole school's morning.
 */
export const DEFAULT_LOGIN_RATE_LIMIT: RateLimitOptions = { perSecond: 5, burst: 100 }
/**
 * A send past the budget is looked up by its clientId (a replay is answered with what was stored): this many look-ups
 * at most, so a flood past the budget costs the database a bounded amount. A client retries far slower than this.
 */
export const DEFAULT_REPLAY_LOOKUP_LIMIT: RateLimitOptions = { perSecond: 5, burst: 10 }

/**
 * `session:renew`, per user on each node: each checks a token's signature twice, so one socket flooding them held the
 * whole process. A browser renews its one shared socket once per token life (every 12 minutes); the burst is one for
 * each of the `maxSocketsPerUser` sockets a user may hold, renewed at once.
 */
export const DEFAULT_RENEW_RATE_LIMIT: RateLimitOptions = { perSecond: 1, burst: 20 }

/**
 * Every event one socket sends, known or not, valid or not: each costs a read and an answer, and the per-user budgets
 * cover only some (a malformed payload is refused before any is spent, `conversation:leave` has none, and an event
 * past its own is answered RATE_LIMITED again and again), so one socket could send them without end. Past it the
 * socket is disconnected; another needs a handshake, which has its own budget.
 *
 * Sized well above what the browser (src/realtime) sends at its busiest. After a reconnect its outbox (at most 500
 * unconfirmed sends, `outboxLimit`) sends the oldest of each conversation at once: 500 if each is in its own. The
 * browser's one socket (the tabs share it) joins again the open thread of every visible tab, a few, and past the join
 * budget's burst (50) each room is tried again after a growing backoff; a renewal and a typing notice may come too.
 * That is about 560: the burst is twice the outbox's limit. Afterwards it sends what the per-user budgets let through
 * (sends 10 a second, joins 20, typing 2, renewals 1) and the refusals it tries again: joins after a growing backoff,
 * sends one behind another, one for every `retryAfterMs` (about 10 a second): about 45 a second, half of the refill.
 */
export const DEFAULT_SOCKET_EVENT_RATE_LIMIT: RateLimitOptions = { perSecond: 100, burst: 1_000 }

/**
 * Events the contract does not know, per socket, a tighter budget beside `DEFAULT_SOCKET_EVENT_RATE_LIMIT`: a client
 * of this contract never sends one (the tabs' hub refuses them before the socket). A client of a newer contract sending
 * the odd event this server lacks stays well within it.
 */
export const UNKNOWN_EVENT_RATE_LIMIT: RateLimitOptions = { perSecond: 10, burst: 20 }

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number }

/**
 * A write past its budget that may repeat one already stored (a lost answer, retried): still answered with what was
 * stored, while `lookups` (a budget of their own, so a flood past the budget costs the database little) has a token;
 * anything else, or with no way to `find` it, is RATE_LIMITED, to be tried again after `retryAfterMs`.
 *
 * @example return replayPastBudget(replayLookups, userId, () => findByClientId(db, userId, clientId), 800)
 */
export async function replayPastBudget<T>(
  lookups: Limiter,
  key: string,
  find: (() => Promise<T | undefined>) | undefined,
  retryAfterMs: number,
): Promise<T> {
  const lookup = find ? await lookups.tryTake(key) : undefined
  const stored = lookup?.ok ? await find!() : undefined
  if (stored === undefined) throw new AppError('RATE_LIMITED', 'too many requests, slow down', retryAfterMs)
  return stored
}

/**
 * A per-key budget: in memory (`RateLimiter`, one process) or in Redis (`RedisRateLimiter`, shared by the nodes).
 * Callers `await` every method, whichever it is.
 */
export interface Limiter {
  tryTake(key: string): TakeResult | Promise<TakeResult>
  /** Throws (or rejects with) AppError RATE_LIMITED with retryAfterMs when empty. */
  take(key: string): void | Promise<void>
  refund(key: string): void | Promise<void>
  sweep(): void
}

interface Bucket {
  tokens: number
  updatedAt: number
}

/**
 * One token bucket per user, shared by the socket and HTTP (never per IP: many users may share one).
 *
 * @example limiter.take(userId) // throws AppError RATE_LIMITED with retryAfterMs when empty
 */
export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>()

  constructor(
    private readonly options: RateLimitOptions = DEFAULT_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`; `{ ok: false, retryAfterMs }` when the bucket is empty. */
  tryTake(key: string): TakeResult {
    const now = this.now()
    const { perSecond, burst } = this.options
    const bucket = this.buckets.get(key) ?? { tokens: burst, updatedAt: now }
    // A clock that stepped back refills nothing (and takes nothing back), as the shared bucket's script does.
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.updatedAt) / 1000) * perSecond)
    bucket.updatedAt = now
    this.buckets.set(key, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { ok: true }
    }
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil(((1 - bucket.tokens) / perSecond) * 1000)) }
  }

  /** Gives back a token taken for an operation that turned out to cost nothing (a replayed send); capped at the burst. */
  refund(key: string): void {
    const bucket = this.buckets.get(key)
    if (bucket) bucket.tokens = Math.min(this.options.burst, bucket.tokens + 1)
  }

  take(key: string): void {
    const result = this.tryTake(key)
    if (!result.ok) throw new AppError('RATE_LIMITED', 'too many requests, slow down', result.retryAfterMs)
  }

  /** Drops full buckets so the map does not grow with every user ever seen. */
  sweep(): void {
    const now = this.now()
    for (const [key, bucket] of this.buckets) {
      const tokens = bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.options.perSecond
      if (tokens >= this.options.burst) this.buckets.delete(key)
    }
  }
}

/**
 * A budget that bounds load and nothing more (`takeUnlessUnavailable`): each spend takes a token, or goes through
 * unbudgeted while the store does not answer, which `warn` is told once per streak (a log line per request would bury
 * the outage). RATE_LIMITED still throws.
 *
 * @example const spendRead = loadBudget(reads, 500, () => log.warn('reads go through unbudgeted')); await spendRead(userId)
 */
export function loadBudget(limiter: Limiter, waitMs: number, warn: () => void): (key: string) => Promise<void> {
  let unbudgeted = false
  return async (key) => {
    const outcome = await takeUnlessUnavailable(limiter, key, waitMs)
    if (outcome === 'unavailable' && !unbudgeted) warn()
    unbudgeted = outcome === 'unavailable'
  }
}

/**
 * Takes one token of `limiter` for `key`, unless its store (Redis) fails or does not answer within `waitMs`: then
 * `'unavailable'`, and the operation goes through unbudgeted. For a budget that only bounds the database's load (the
 * reads): an outage of Redis must not take the reads down with it. RATE_LIMITED still throws.
 *
 * @example if ((await takeUnlessUnavailable(reads, userId, 500)) === 'unavailable') log.warn('reads unbudgeted')
 */
export async function takeUnlessUnavailable(
  limiter: Limiter,
  key: string,
  waitMs: number,
): Promise<'taken' | 'unavailable'> {
  try {
    return await within(
      (async () => {
        await limiter.take(key)
        return 'taken' as const
      })(),
      waitMs,
      'unavailable' as const,
    )
  } catch (error) {
    if (error instanceof AppError) throw error
    return 'unavailable'
  }
}
