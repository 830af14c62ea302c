import type { Redis } from 'ioredis'
import { AppError } from '../errors'
import type { Limiter, RateLimitOptions, TakeResult } from '../rateLimit'

/**
 * The token bucket of `RateLimiter`, kept in Redis so every node spends from one budget per user: one script per
 * operation (atomic), the bucket expiring once it would be full.
 *
 * The time is Redis's own (`TIME`), one clock for every node: with each node's clock, a client alternating between a
 * node ahead and one behind would be refilled for the same interval again at each switch. `TIME` in a script needs
 * Redis ≥ 5 (scripts replicate their effects; Debian's is 7.0). A test may inject a clock (ARGV[1]); then too, the
 * bucket's time never goes back (`at` only moves forward), so no interval is counted twice.
 * KEYS[1] bucket; ARGV: now ms or '' (Redis's clock), perSecond, burst, delta (-1 take, +1 refund).
 * Answers { ok, retryAfterMs }.
 */
const BUCKET_SCRIPT = `
local now, rate, burst, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
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

  private async run(key: string, delta: number): Promise<TakeResult> {
    const [ok, retryAfterMs] = (await this.redis.eval(
      BUCKET_SCRIPT,
      1,
      this.keyPrefix + key,
      this.now ? this.now() : '',
      this.options.perSecond,
      this.options.burst,
      delta,
    )) as [number, number]
    return ok === 1 ? { ok: true } : { ok: false, retryAfterMs }
  }

  tryTake(key: string): Promise<TakeResult> {
    return this.run(key, -1)
  }

  async take(key: string): Promise<void> {
    const result = await this.tryTake(key)
    if (!result.ok) throw new AppError('RATE_LIMITED', 'too many requests, slow down', result.retryAfterMs)
  }

  async refund(key: string): Promise<void> {
    await this.run(key, 1)
  }

  /** Redis expires full buckets by itself. */
  sweep(): void {}
}
