import type { Redis } from 'ioredis'
import { AppError } from '../errors'
import type { Limiter, RateLimitOptions, TakeResult } from '../rateLimit'

/**
 * The token bucket of `RateLimiter`, kept in Redis so every node spends from one budget per user: one script per
 * operation (atomic), the time given by the node (its injected clock), the bucket expiring once it would be full.
 * KEYS[1] bucket; ARGV: now ms, perSecond, burst, delta (-1 take, +1 refund). Answers { ok, retryAfterMs }.
 */
const BUCKET_SCRIPT = `
local now, rate, burst, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local ok, retry = 1, 0
if delta < 0 then
  if tokens >= 1 then tokens = tokens - 1 else ok = 0; retry = math.max(1, math.ceil((1 - tokens) / rate * 1000)) end
else
  tokens = math.min(burst, tokens + delta)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
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
    private readonly now: () => number = Date.now,
  ) {}

  private async run(key: string, delta: number): Promise<TakeResult> {
    const [ok, retryAfterMs] = (await this.redis.eval(
      BUCKET_SCRIPT,
      1,
      this.keyPrefix + key,
      this.now(),
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
