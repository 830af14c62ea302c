import { setTimeout as delay } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { failureStreak } from '../logger'

/** How often a node renews its entries, and how long one lives unrenewed: a killed node's go within seconds. */
export const HEARTBEAT_MS = 2000
export const ENTRY_TTL_MS = 6000

/** Redis's clock in ms (`TIME`, Redis 5 or later: scripts replicate their effects), one for every node. */
const REDIS_NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * How long after Redis lost its data (the marker gone: a restart without persistence, a flush, a failover to an empty
 * replica) a capped add waits: every node's next renewal (a heartbeat, and a second for one that is late) has put back
 * the entries it holds by then, so the cap counts them. Counted at once, the sockets opened meanwhile were counted
 * against an empty set, and the renewals then put back all the nodes held on top of them: up to twice the cap.
 */
export const SETTLE_MS = HEARTBEAT_MS + 1000

/**
 * KEYS[1] a sorted set of entries scored by expiry on Redis's clock, KEYS[2] the marker (since when, on that clock,
 * Redis has held the entries: set by the first add or renewal that finds it gone, never expiring); ARGV: member, ttl,
 * cap (0: none). Drops the expired ones, then adds `member` unless the set is at the cap. Answers 1 when added, 0 when
 * the cap refused it, and for a capped add within `SETTLE_MS` of the marker's setting, minus the ms left to wait
 * (nothing added).
 */
export const ADD_SCRIPT = `${REDIS_NOW}
local cap = tonumber(ARGV[3])
if cap > 0 then
  local since = redis.call('GET', KEYS[2])
  if not since then
    redis.call('SET', KEYS[2], now)
    since = now
  end
  local left = tonumber(since) + ${SETTLE_MS} - now
  if left > 0 then return -left end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if cap > 0 and redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ${ENTRY_TTL_MS * 2})
return 1
`

/** A capped add waits at most this many times for Redis to settle (it lost its data again meanwhile), then fails. */
const SETTLE_ATTEMPTS = 3

/** KEYS[1]: its live entries. */
export const MEMBERS_SCRIPT = `${REDIS_NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`

/** KEYS: sets of entries; how many live entries each holds. */
export const COUNTS_SCRIPT = `${REDIS_NOW}
local counts = {}
for i, key in ipairs(KEYS) do counts[i] = redis.call('ZCOUNT', key, '(' .. now, '+inf') end
return counts
`

/** Keys counted by one script: a longer one would hold Redis (every node's commands wait on it) for longer. */
const COUNTS_PER_SCRIPT = 1000

/**
 * KEYS[1], KEYS[2] the marker (set now if Redis lost it: the wait of capped adds starts here); ARGV: ttl, then member
 * and taken ('1': added back if Redis lost it; '0': only renewed, XX) for each entry this node holds there. Answers
 * the taken members it put back: missing (Redis lost them) or expired (this node could not renew them in time).
 */
export const RENEW_SCRIPT = `${REDIS_NOW}
redis.call('SET', KEYS[2], now, 'NX')
local expiry = now + tonumber(ARGV[1])
local back = {}
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '1' then
    local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if not score or tonumber(score) <= now then back[#back + 1] = ARGV[i] end
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
  else redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i]) end
end
redis.call('PEXPIRE', KEYS[1], ${ENTRY_TTL_MS * 2})
return back
`

/**
 * Entries this node holds in shared sorted sets (a user's sockets, a conversation's viewers), each scored with the
 * time it expires. A heartbeat pushes the expiry of every entry still held here; a node that dies stops renewing,
 * and its entries stop counting `ENTRY_TTL_MS` later (readers ignore expired scores, writers prune them).
 * Expiry runs on Redis's clock (`TIME`), one for every node: with each node's own, a node whose clock is ahead would
 * take the others' live entries for expired (prune them at its adds, count none of them), and one behind would count
 * a dead node's for longer. It is about processes being alive, not about the app's (injectable) time.
 *
 * @example const entries = new NodeEntries(redis); entries.start(); await entries.add(key, member, 20)
 */
export class NodeEntries {
  /** Per key, each member this node holds, and whether Redis has said it took it (`add` answered). */
  private readonly held = new Map<string, Map<string, { taken: boolean }>>()
  /**
   * Per key, members released whose ZREM failed (a command timed out): taken out again by each heartbeat until one
   * goes through. Left to expire, a viewer who left would count for up to `ENTRY_TTL_MS`: every message sent there
   * meanwhile marked read for someone not looking.
   */
  private readonly unremoved = new Map<string, Set<string>>()
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly putBackListeners = new Set<(key: string, members: readonly string[]) => void>()

  constructor(
    private readonly redis: Redis,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly onRenewed: () => void = () => undefined,
    /** The marker whose absence tells that Redis lost its data (`ADD_SCRIPT`); under the deployment's prefix. */
    private readonly marker = 'entries:intact',
  ) {}

  /**
   * At a node's start, before it takes sockets: a Redis with no marker is new (or lost its data as this node started,
   * which it cannot tell apart), and no node holds entries there to put back: it is marked settled long ago, so capped
   * adds do not wait. Redis losing its data later is seen by the next add or renewal.
   */
  async markIntact(): Promise<void> {
    await this.redis.set(this.marker, '0', 'NX')
  }

  /**
   * Adds `member` to `key` unless `cap` entries are live there already; answers whether it was added. A capped add
   * right after Redis lost its data waits (`SETTLE_MS`) until every node has put back what it holds.
   */
  async add(key: string, member: string, cap = 0): Promise<boolean> {
    // Held before the answer: a heartbeat meanwhile renews it (if it is there) rather than miss it.
    const hold = this.hold(key, member)
    let added: boolean
    try {
      for (let attempt = 1; ; attempt++) {
        const answer = Number(await this.redis.eval(ADD_SCRIPT, 2, key, this.marker, member, ENTRY_TTL_MS, cap))
        if (answer >= 0) {
          added = answer === 1
          break
        }
        if (attempt === SETTLE_ATTEMPTS) throw new Error('Redis keeps losing its data: the cap cannot be counted')
        await delay(-answer)
        // Released while it waited (a disconnect): nothing was added.
        if (this.held.get(key)?.get(member) !== hold) return false
      }
    } catch (error) {
      if (this.held.get(key)?.get(member) === hold) {
        this.release(key, member)
        // Given up on (Redis stalled past the command bound), the add is still sent and may land: taken out at the
        // next heartbeat, not left counting for `ENTRY_TTL_MS` (a socket refused at its handshake, still in the cap).
        this.retryRemovals([[key, new Set([member])]])
      }
      throw error
    }
    // Released meanwhile (a leave or disconnect while the add was on its way): its ZREM follows the add; keep it out.
    if (this.held.get(key)?.get(member) !== hold) return added
    if (added) hold.taken = true
    else this.release(key, member)
    return added
  }

  async remove(key: string, member: string): Promise<void> {
    this.release(key, member)
    try {
      await this.redis.zrem(key, member)
    } catch (error) {
      this.retryRemovals([[key, new Set([member])]])
      throw error
    }
  }

  /** The live entries of `key`. */
  async members(key: string): Promise<string[]> {
    return (await this.redis.eval(MEMBERS_SCRIPT, 1, key)) as string[]
  }

  /** How many live entries each of `keys` holds: one round trip, however many they are. */
  async counts(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return []
    const pipeline = this.redis.pipeline()
    for (let i = 0; i < keys.length; i += COUNTS_PER_SCRIPT) {
      const chunk = keys.slice(i, i + COUNTS_PER_SCRIPT)
      pipeline.eval(COUNTS_SCRIPT, chunk.length, ...chunk)
    }
    const results = (await pipeline.exec()) ?? []
    return results.flatMap(([error, counts]) => {
      if (error) throw error
      return (counts as number[]).map(Number)
    })
  }

  start(): void {
    // `onError` is told once per streak of failed heartbeats, `onRenewed` when one goes through again.
    const beats = failureStreak(this.onError, this.onRenewed)
    this.timer ??= setInterval(() => void this.renew().then(beats.succeeded, beats.failed), HEARTBEAT_MS)
    this.timer.unref()
  }

  /**
   * `listener` hears of the entries a renewal put back after they had stopped counting (Redis lost them, or this node
   * could not renew them in time): whatever the other nodes read of that key meanwhile went without them.
   */
  onPutBack(listener: (key: string, members: readonly string[]) => void): void {
    this.putBackListeners.add(listener)
  }

  /** Stops renewing and removes this node's entries (a clean shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    const pipeline = this.redis.pipeline()
    for (const [key, members] of this.held) pipeline.zrem(key, ...members.keys())
    for (const [key, members] of this.unremoved) pipeline.zrem(key, ...members)
    this.held.clear()
    this.unremoved.clear()
    await pipeline.exec()
  }

  /** Renews (and puts back, if Redis lost them) every entry this node holds, now: the heartbeat's work. */
  async renew(): Promise<void> {
    if (this.held.size === 0 && this.unremoved.size === 0) return
    const pipeline = this.redis.pipeline()
    // First: a member held again since (its add took it out of `unremoved`) is not in here.
    const retried = [...this.unremoved]
    this.unremoved.clear()
    for (const [key, members] of retried) pipeline.zrem(key, ...members)
    const renewed = [...this.held.keys()]
    for (const [key, members] of this.held) {
      // Added back, not only renewed, once Redis has taken it: it may have lost it since (a restart without
      // persistence, a failover to a replica that lagged), and the socket or viewer is still here. An add still
      // waiting for its answer is only renewed (XX): the cap may refuse it. A release takes its member out of `held`
      // before its ZREM, which goes after this pipeline on the same connection: nothing released comes back.
      const pairs = [...members].flatMap(([member, { taken }]) => [member, taken ? '1' : '0'])
      pipeline.eval(RENEW_SCRIPT, 2, key, this.marker, ENTRY_TTL_MS, ...pairs)
    }
    // A pipeline resolves with each command's error in its results (Redis away, a command timed out): not renewed.
    let results: [Error | null, unknown][] | null
    try {
      results = await pipeline.exec()
    } catch (error) {
      results = null
      this.retryRemovals(retried)
      throw error
    }
    // The removals not done are tried again at the next heartbeat.
    this.retryRemovals(retried.filter((_, i) => !results || results[i]?.[0]))
    for (const [i, key] of renewed.entries()) {
      const [error, back] = results?.[retried.length + i] ?? []
      if (error || !Array.isArray(back) || back.length === 0) continue
      for (const listener of this.putBackListeners) listener(key, back as string[])
    }
    const failed = results?.find(([error]) => error)
    if (failed) throw failed[0]
  }

  /** Notes members whose ZREM failed, for the next heartbeat; not one held again meanwhile (a join again: it wins). */
  private retryRemovals(removals: [string, Set<string>][]): void {
    for (const [key, members] of removals)
      for (const member of members) {
        if (this.held.get(key)?.has(member)) continue
        const pending = this.unremoved.get(key)
        if (pending) pending.add(member)
        else this.unremoved.set(key, new Set([member]))
      }
  }

  private hold(key: string, member: string): { taken: boolean } {
    this.unremoved.get(key)?.delete(member)
    if (this.unremoved.get(key)?.size === 0) this.unremoved.delete(key)
    let members = this.held.get(key)
    if (!members) this.held.set(key, (members = new Map()))
    let hold = members.get(member)
    if (!hold) members.set(member, (hold = { taken: false }))
    return hold
  }

  private release(key: string, member: string): void {
    const members = this.held.get(key)
    if (!members) return
    members.delete(member)
    if (members.size === 0) this.held.delete(key)
  }
}
