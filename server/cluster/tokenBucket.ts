import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { AppError } from '../errors'
import type { Limiter, RateLimitOptions, TakeResult } from '../rateLimit'

/**
 * How long a take's mark lives: far past the command bound, since the copies of a take and its give-up, held by a
 * stalled Redis, run together once it answers again. One small key per take meanwhile.
 */
const MARK_MS = 60_000

/**
 * The token bucket of `RateLimiter`, kept in Redis so every node spends from one budget per user: one script per
 * operation (atomic), the bucket expiring once it would be full.
 *
 * The time is Redis's own (`TIME`), one clock for every node: with each node's clock, a client alternating between a
 * node ahead and one behind would be refilled for the same interval again at each switch. `TIME` in a script needs
 * Redis ≥ 5 (scripts replicate their effects; Debian's is 7.0). A test may inject a clock (ARGV[1]); then too, the
 * bucket's time never goes back (`at` only moves forward), so no interval is counted twice.
 * KEYS[1] bucket, KEYS[2] (optional) the take's or the refund's mark; ARGV: now ms or '' (Redis's clock), perSecond,
 * burst, delta (-1 take, +1 with a mark: the take given up on, given back if it spent), 'refund' or '' (+1 given back
 * unless a copy did). Answers { ok, retryAfterMs }.
 *
 * A take whose answer did not come in time (Redis stalled past the command bound) was told to its caller as failed,
 * but ioredis has sent it, and sends it again on its next connection: it may still run, once or twice, and spend a
 * token the caller never had (a send answered INTERNAL, then its retry: two tokens for one message, the next send
 * refused RATE_LIMITED). So each take leaves its mark (its outcome) for `MARK_MS`, and a copy that finds it spends
 * nothing; the caller's give-up, sent after it, finds it too: gives back what it spent, or leaves a mark that spends
 * nothing when it comes later (on another connection). A refund is marked so too: one not answered in time may run
 * twice (a free token), or not at all (the user charged for a replay), and is sent until answered as a give-up is.
 */
const BUCKET_SCRIPT = `
local now, rate, burst, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local mark = KEYS[2]
if mark then
  local earlier = redis.call('GET', mark)
  if delta < 0 then
    if earlier then
      local retry = tonumber(earlier) or 1
      if retry == 0 then return { 1, 0 } else return { 0, retry } end
    end
  else
    redis.call('SET', mark, 'given up', 'PX', ${MARK_MS})
    local owed = earlier == '0'
    if ARGV[5] == 'refund' then owed = not earlier end
    if not owed then return { 1, 0 } end
  end
end
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then tokens = burst; at = now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
  at = now
end
local ahead = at - now
local ok, retry = 1, 0
if delta < 0 then
  if tokens >= 1 then tokens = tokens - 1 else ok = 0; retry = math.max(1, math.ceil((1 - tokens) / rate * 1000 + ahead)) end
else
  tokens = math.min(burst, tokens + delta)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000 + ahead) + 1000)
if mark and delta < 0 then redis.call('SET', mark, tostring(retry), 'PX', ${MARK_MS}) end
return { ok, retry }
`

/**
 * `RateLimiter`'s behaviour with the buckets in Redis (several nodes, one budget per user).
 *
 * @example const sends = new RedisRateLimiter(redis, 'talemy:send:', { perSecond: 10, burst: 20 }); await sends.take(userId)
 */
export class RedisRateLimiter implements Limiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly options: RateLimitOptions,
    /** A clock in ms, for tests only; by default the buckets follow Redis's clock, shared by every node. */
    private readonly now?: () => number,
  ) {}

  private async run(key: string, delta: number, mark?: string, refund = false): Promise<TakeResult> {
    const keys = mark ? [this.keyPrefix + key, mark] : [this.keyPrefix + key]
    const [ok, retryAfterMs] = (await this.redis.eval(
      BUCKET_SCRIPT,
      keys.length,
      ...keys,
      this.now ? this.now() : '',
      this.options.perSecond,
      this.options.burst,
      delta,
      refund ? 'refund' : '',
    )) as [number, number]
    return ok === 1 ? { ok: true } : { ok: false, retryAfterMs }
  }

  async tryTake(key: string): Promise<TakeResult> {
    const mark = `${this.keyPrefix}take:${randomUUID()}`
    try {
      return await this.run(key, -1, mark)
    } catch (error) {
      // Failed for its caller, the take may still run (see BUCKET_SCRIPT): given up on, after it, once Redis answers.
      // Not awaited: the caller is answered now.
      void this.giveBack(key, mark, false)
      throw error
    }
  }

  /**
   * Give-ups and refunds not answered yet (mark → key, refund), sent again at the connection's next `ready` until one
   * is. ioredis sends a take again on its next connection (and a stalled Redis runs the copy it holds), but rejects for
   * good what waited offline when a connection fails before `ready` (a ready check unanswered, `maxRetriesPerRequest`):
   * a give-up sent as the connection was being dropped (the probe drops a silent one) was lost so while its take still
   * ran, and the caller's retry spent a second token. A copy too many gives nothing (the mark says given up).
   */
  private readonly unanswered = new Map<string, [string, boolean]>()
  private resendAtReady = false

  /** Rejects as the first copy fails, the copies after it sent all the same. */
  private giveBack(key: string, mark: string, refund: boolean): Promise<TakeResult> {
    const sent = this.run(key, 1, mark, refund)
    sent.then(
      () => this.unanswered.delete(mark),
      () => {
        this.unanswered.set(mark, [key, refund])
        if (this.resendAtReady) return
        this.resendAtReady = true
        // After ioredis's own resends at `ready` (it says `ready` on the next tick): the give-up follows its take.
        this.redis.once('ready', () => {
          this.resendAtReady = false
          const pending = [...this.unanswered]
          this.unanswered.clear()
          for (const [again, [againKey, againRefund]] of pending) void this.giveBack(againKey, again, againRefund)
        })
      },
    )
    return sent
  }

  async take(key: string): Promise<void> {
    const result = await this.tryTake(key)
    if (!result.ok) throw new AppError('RATE_LIMITED', 'too many requests, slow down', result.retryAfterMs)
  }

  async refund(key: string): Promise<void> {
    await this.giveBack(key, `${this.keyPrefix}refund:${randomUUID()}`, true)
  }

  /** Redis expires full buckets by itself. */
  sweep(): void {}
}
