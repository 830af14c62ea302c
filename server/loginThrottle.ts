import { randomUUID } from 'node:crypto'
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { addressKey } from './clientAddress'
import { AppError } from './errors'
import { within } from './within'

export interface LoginLimitOptions {
  /** Failures allowed per email (from anywhere), and per email from one address, in a window. Default 5. */
  perEmail: number
  /** Failures for emails that do not exist allowed per client address in a window (against spraying). Default 50. */
  perAddressUnknown: number
  /** The window, fixed from its first failure. Default 900 (15 minutes). */
  windowSeconds: number
}

export const DEFAULT_LOGIN_LIMIT: LoginLimitOptions = { perEmail: 5, perAddressUnknown: 50, windowSeconds: 15 * 60 }

/** What a counter is built from; the memory store now, `RateLimiterRedis` (same interface) when nodes share Redis. */
export interface CounterSpec {
  keyPrefix: string
  points: number
  duration: number
}
/**
 * A counter; one whose points go to two stores (`RLWrapperTimeouts`: Redis, and this node's memory while Redis does not
 * answer within `waitMs`) names them in `stores`, for a success to forgive each on its own (`LoginThrottle.forgive`).
 * `evaluate` runs a Lua script in the shared store (Redis's EVAL) on the connection its counters use, after what they
 * sent there.
 */
export type Counter = RateLimiterAbstract & {
  stores?: {
    shared: RateLimiterAbstract
    local: RateLimiterAbstract
    waitMs: number
    evaluate(script: string, keys: string[], args: (string | number)[]): Promise<unknown>
  }
}
export type CounterFactory = (spec: CounterSpec) => Counter
export const memoryCounters: CounterFactory = (spec) => new RateLimiterMemory(spec)

/** What the password check found: whether the email exists, and the user when the password matched. */
export interface LoginCheck<T> {
  exists: boolean
  user: T | undefined
}

/**
 * Throttles failed logins with three fixed-window counters (rate-limiter-flexible):
 * - per email, from any address: `perEmail` failures;
 * - per email and client address: `perEmail` failures; a success there clears it and forgives those failures in the
 *   email's own counter (they were that person's typos), but not failures from other addresses, and only those the
 *   email's current window holds: the two windows are fixed from their own first failures, so the pair's may have
 *   begun in an earlier email window, whose failures are gone, and forgiving them here would forgive others' instead;
 * - per client address: `perAddressUnknown` failures for emails that do not exist (a spray over many emails).
 *
 * Every attempt takes its points before the password is checked (atomic in the store, so a parallel flood cannot
 * slip past the limit and costs no hash once over it); the check then gives back what did not fail: the address
 * point when the email exists, everything on a success. The refusal never depends on whether the email exists.
 *
 * @example
 * const user = await throttle.run({ email, address: request.ip }, async () => {
 *   const row = await findByEmail(email)
 *   return { exists: !!row, user: row && (await passwordMatches(row)) ? row : undefined }
 * }) // throws RATE_LIMITED (retryAfterMs) before the check when over a limit; undefined for a wrong password
 */
export class LoginThrottle {
  private readonly byEmail: Counter
  private readonly byEmailAndAddress: Counter
  private readonly byAddress: Counter

  /** The windows' length in ms; 0: counters that never expire (rate-limiter-flexible's `duration: 0`), one window. */
  private readonly windowMs: number

  constructor(options: Partial<LoginLimitOptions> = {}, counters: CounterFactory = memoryCounters) {
    const { perEmail, perAddressUnknown, windowSeconds } = { ...DEFAULT_LOGIN_LIMIT, ...options }
    this.windowMs = Math.max(0, windowSeconds * 1000)
    this.byEmail = counters({ keyPrefix: 'login:email', points: perEmail, duration: windowSeconds })
    this.byEmailAndAddress = counters({ keyPrefix: 'login:email+address', points: perEmail, duration: windowSeconds })
    this.byAddress = counters({ keyPrefix: 'login:address', points: perAddressUnknown, duration: windowSeconds })
  }

  async run<T>(
    attempt: { email: string; address: string },
    check: () => Promise<LoginCheck<T>>,
  ): Promise<T | undefined> {
    const email = attempt.email.trim().toLowerCase()
    // One key per client: an IPv6 client rotating through its /64, or respelling one address, stays one client.
    const address = addressKey(attempt.address)
    const pair = `${email} ${address}`
    await take(this.byAddress, address)
    /** The email's window this attempt counted in, as its store told it. */
    let emailWindow: RateLimiterRes
    try {
      emailWindow = await take(this.byEmail, email)
      await take(this.byEmailAndAddress, pair)
    } catch (error) {
      // Refused for this email: not a failure for an unknown email, so not the address's to carry.
      await this.byAddress.reward(address, 1)
      throw error
    }

    let result: LoginCheck<T>
    try {
      result = await check()
    } catch (error) {
      // The server failed, not the person: nothing counts.
      await Promise.all([
        this.byAddress.reward(address, 1),
        this.byEmail.reward(email, 1),
        this.byEmailAndAddress.reward(pair, 1),
      ])
      throw error
    }
    // The address's point back when the email exists; a reward of nothing when it does not: the same round trip to the
    // store (Redis, with several nodes) either way, so the answer's timing does not tell which emails exist.
    await this.byAddress.reward(address, result.exists ? 1 : 0)
    if (result.user !== undefined) await this.forgive(pair, email, emailWindow)
    return result.user
  }

  /**
   * A success from `pair`: clears the pair's counter and forgives the email's (`forgivable`), in each store the
   * counters keep. Through the counters alone, with Redis stalled, the reads came from this node's memory, which holds
   * only this stall's points, while Redis ran all of them once it answered: her typos before the stall stayed there,
   * and one more typo then locked her out. Nor could Redis be read and then forgiven by what it answered: a stall past
   * the command bound gives the reads up, and what memory held was forgiven again. So Redis reads and forgives in one
   * script (`FORGIVE_SCRIPT`), sent after this attempt's points (one connection, in order) and run whenever Redis
   * answers; waited for as long as a counter is, it goes on without the login past that.
   */
  private async forgive(pair: string, email: string, emailWindow: RateLimiterRes): Promise<void> {
    const pairStores = this.byEmailAndAddress.stores
    const emailStores = this.byEmail.stores
    const emailWindowEnd = windowEnd(emailWindow)
    const forgiveIn = async (byPair: RateLimiterAbstract, byEmail: RateLimiterAbstract) => {
      const forgiven = await this.forgivable(byPair, byEmail, pair, email, emailWindowEnd)
      await Promise.all([byPair.delete(pair), forgiven > 0 ? byEmail.reward(email, forgiven) : undefined])
    }
    if (!pairStores || !emailStores) {
      await forgiveIn(this.byEmailAndAddress, this.byEmail)
      return
    }
    await forgiveIn(pairStores.local, emailStores.local)
    const pairKey = pairStores.shared.getKey(pair)
    const inRedis = emailStores
      .evaluate(
        FORGIVE_SCRIPT,
        [pairKey, emailStores.shared.getKey(email), `${pairKey} forgiven ${randomUUID()}`],
        [this.windowMs, emailWindow.msBeforeNext],
      )
      // Redis away, ioredis sends it once connected again; refused past its retries, her typos held there stay.
      .catch(() => undefined)
    await within(inRedis, pairStores.waitMs, undefined)
  }

  /**
   * What a success from `pair` gives back to the email's counter: the pair's points that the email's current window
   * holds (its failures, and the success's own point). The two windows are fixed from their own first points, so:
   * - the pair's window began in the email's current one (the usual case: one attempt opened both, the email's first,
   *   or the pair's first typo came after someone else's): every point of the pair is in it, all are forgiven;
   * - it began earlier (the typos came before the email's window rolled over): how many of its points fall in the
   *   email's window is unknown, so only the success's own point is, if it counted there (the window may have rolled
   *   over while the password was checked): never the failures of others that this window holds.
   */
  private async forgivable(
    byPair: RateLimiterAbstract,
    byEmail: RateLimiterAbstract,
    pair: string,
    email: string,
    emailWindowEnd: number,
  ): Promise<number> {
    // The pair read first: it began no earlier than the email's window iff it ends no earlier, and reading the email's
    // second only makes the email's look earlier (a store's clock runs on between the reads, never back).
    const forPair = live(await byPair.get(pair), this.windowMs)
    const forEmail = live(await byEmail.get(email), this.windowMs)
    if (!forEmail) return 0
    if (forPair && (this.windowMs === 0 || forPair.msBeforeNext >= forEmail.msBeforeNext))
      return Math.min(forPair.consumedPoints, forEmail.consumedPoints)
    // Two windows of one counter end at least a window apart: half of one tells them apart whatever the latency.
    const sameWindow = this.windowMs === 0 || Math.abs(windowEnd(forEmail) - emailWindowEnd) < this.windowMs / 2
    return sameWindow ? Math.min(1, forEmail.consumedPoints) : 0
  }
}

/**
 * `forgivable` and the forgiveness in Redis's counters (rate-limiter-flexible's: the points a key's value, its window
 * its expiry) in one step, whenever Redis runs it: what a success entitles to however long Redis stalled before it.
 * The email's window is the attempt's if it ends less than half a window after the attempt's did (as its store told
 * it): Redis runs the script after the attempt's points, so the same window has no more left, and a later one ends at
 * least a window after it. ioredis sends a command again on its next connection while a stalled Redis still runs the
 * copy it holds: the success's mark makes a second copy forgive nothing.
 * KEYS[1] the pair's counter, KEYS[2] the email's, KEYS[3] the success's mark; ARGV[1] the window in ms (0: none),
 * ARGV[2] the ms the email's window had left as the attempt counted. Answers what it forgave (-1: forgiven already).
 */
const FORGIVE_SCRIPT = `
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', 60000) then return -1 end
local windowMs, attemptLeft = tonumber(ARGV[1]), tonumber(ARGV[2])
local forPair, pairLeft = tonumber(redis.call('GET', KEYS[1])), redis.call('PTTL', KEYS[1])
local forEmail, emailLeft = tonumber(redis.call('GET', KEYS[2])), redis.call('PTTL', KEYS[2])
redis.call('DEL', KEYS[1])
if not forEmail then return 0 end
local forgiven = 0
if forPair and (windowMs == 0 or pairLeft >= emailLeft) then
  forgiven = math.min(forPair, forEmail)
elseif windowMs == 0 or emailLeft < attemptLeft + windowMs / 2 then
  forgiven = math.min(1, forEmail)
end
if forgiven > 0 then redis.call('DECRBY', KEYS[2], forgiven) end
return forgiven
`

/** When the window of `res` ends, in ms on this process's clock. */
const windowEnd = (res: RateLimiterRes): number => Date.now() + res.msBeforeNext

/** A counter's state, unless its window has ended (the memory store may still hold it for a moment). */
const live = (res: RateLimiterRes | null, windowMs: number): RateLimiterRes | null =>
  res && (windowMs === 0 || res.msBeforeNext > 0) ? res : null

async function take(counter: RateLimiterAbstract, key: string): Promise<RateLimiterRes> {
  try {
    return await counter.consume(key, 1)
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error
    throw new AppError('RATE_LIMITED', 'too many failed logins, try again later', Math.max(1000, error.msBeforeNext))
  }
}
