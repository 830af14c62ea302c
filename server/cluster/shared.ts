import type { Id } from '../../src/contract'
import type { GoneSince, PresenceStore } from '../realtime/presence'
import type { Presence } from '../services'
import type { NodeEntries } from './entries'
import type { RedisLink } from './redis'

/**
 * A user's sockets across the nodes, capped: each socket an entry `<node>:<socket>` in the user's set.
 *
 * @example const release = await cap.tryAcquire(userId, socket.id); if (!release) refuse()
 */
export class SharedSocketSlots {
  constructor(
    private readonly link: RedisLink,
    private readonly entries: NodeEntries,
    private readonly max: number,
  ) {}

  async tryAcquire(userId: Id, socketId: string): Promise<(() => void) | undefined> {
    const key = `${this.link.prefix}sockets:${userId}`
    const member = `${this.link.nodeId}:${socketId}`
    if (!(await this.entries.add(key, member, this.max))) return undefined
    let released = false
    return () => {
      if (released) return
      released = true
      void this.entries.remove(key, member).catch(() => undefined)
    }
  }

  /** Live sockets of `userId` on every node. */
  async count(userId: Id): Promise<number> {
    return (await this.entries.members(`${this.link.prefix}sockets:${userId}`)).length
  }

  /** `count` of each of `userIds`, in one round trip (a sweep asks it of every online user of the cluster). */
  counts(userIds: readonly Id[]): Promise<number[]> {
    return this.entries.counts(userIds.map((userId) => `${this.link.prefix}sockets:${userId}`))
  }
}

/**
 * Who is looking at which conversation, across the nodes: each joined socket an entry `<user> <node>:<socket> <expiry>`
 * in the conversation's set, `<expiry>` its token's (ms). A send on any node counts a viewer only while its clock says
 * that token lives, as the single-node path (`createPresence`) does: a socket whose token has expired while its expiry
 * timer lags (a busy loop, a clock that jumped) is looking at nothing, or a send would mark its message read for that
 * user and tell the sender so, on the strength of a session that has ended. A renewal replaces the entries.
 */
export class SharedViewers implements Presence {
  /**
   * Per socket of this node, per conversation it has shared, the members it holds there: one, or two while a renewal
   * puts the new one in before taking the old one out.
   */
  private readonly mine = new Map<string, Map<Id, Set<string>>>()

  private readonly backListeners = new Set<(conversationId: Id, userId: Id, socketId: string) => void>()

  constructor(
    private readonly link: RedisLink,
    private readonly entries: NodeEntries,
    /** The clock tokens are checked against, in ms. */
    private readonly now: () => number = Date.now,
  ) {
    const prefix = this.key('')
    entries.onPutBack((key, members) => {
      if (!key.startsWith(prefix)) return
      const conversationId = key.slice(prefix.length)
      for (const member of members) {
        const [userId, nodeSocket] = member.split(' ')
        const socketId = nodeSocket?.slice(this.link.nodeId.length + 1)
        if (!userId || !socketId || !this.mine.get(socketId)?.get(conversationId)?.has(member)) continue
        for (const listener of this.backListeners) listener(conversationId, userId, socketId)
      }
    })
  }

  /**
   * `listener` hears of a viewer of this node put back in Redis after it had stopped counting there (Redis lost it, or
   * this node could not renew it in time): the other nodes' sends meanwhile left their messages unread for that user.
   */
  onBack(listener: (conversationId: Id, userId: Id, socketId: string) => void): void {
    this.backListeners.add(listener)
  }

  private key(conversationId: Id): string {
    return `${this.link.prefix}viewers:${conversationId}`
  }

  private member(userId: Id, socketId: string, expiresAt: number): string {
    return `${userId} ${this.link.nodeId}:${socketId} ${expiresAt}`
  }

  joined(conversationId: Id, userId: Id, socketId: string, expiresAt: number): Promise<unknown> {
    let conversations = this.mine.get(socketId)
    if (!conversations) this.mine.set(socketId, (conversations = new Map()))
    let held = conversations.get(conversationId)
    if (!held) conversations.set(conversationId, (held = new Set()))
    const member = this.member(userId, socketId, expiresAt)
    held.add(member)
    return this.entries.add(this.key(conversationId), member).catch(async (error: unknown) => {
      // The join fails and leaves the room, which calls no `left`: what a renewal added meanwhile goes with it.
      if (this.mine.get(socketId)?.get(conversationId) === held) await this.withdraw(conversationId, socketId)
      throw error
    })
  }

  left(conversationId: Id, _userId: Id, socketId: string): Promise<void> {
    return this.withdraw(conversationId, socketId)
  }

  /**
   * The socket's token was renewed: each of its entries is replaced by one with the new expiry (the new one first, so
   * it never stops counting meanwhile). An entry not replaced (Redis away) stops counting at the old token's end.
   */
  async renewed(userId: Id, socketId: string, expiresAt: number): Promise<void> {
    const member = this.member(userId, socketId, expiresAt)
    await Promise.all(
      [...(this.mine.get(socketId) ?? [])].map(async ([conversationId, held]) => {
        if (held.has(member)) return
        const older = [...held]
        held.add(member)
        try {
          await this.entries.add(this.key(conversationId), member)
        } catch (error) {
          held.delete(member)
          throw error
        }
        // Left meanwhile: the leave has taken out every member it held, this one included.
        if (this.mine.get(socketId)?.get(conversationId) !== held) return
        for (const old of older) held.delete(old)
        await Promise.all(older.map((old) => this.entries.remove(this.key(conversationId), old)))
      }),
    )
  }

  async viewers(conversationId: Id): Promise<ReadonlySet<Id>> {
    const members = await this.entries.members(this.key(conversationId))
    const now = this.now()
    const viewers = new Set<Id>()
    for (const member of members) {
      const [userId, , expiresAt] = member.split(' ')
      // An entry without an expiry is a node's of an earlier version (a rolling deploy): counted as it was then.
      if (userId && (expiresAt === undefined || now < Number(expiresAt))) viewers.add(userId)
    }
    return viewers
  }

  /** Takes out every entry the socket holds for the conversation. */
  private async withdraw(conversationId: Id, socketId: string): Promise<void> {
    const conversations = this.mine.get(socketId)
    const held = conversations?.get(conversationId)
    if (!conversations || !held) return
    conversations.delete(conversationId)
    if (conversations.size === 0) this.mine.delete(socketId)
    await Promise.all([...held].map((member) => this.entries.remove(this.key(conversationId), member)))
  }
}

/**
 * KEYS[1] the hash of when users went; ARGV: user, now ms or '' (Redis's clock). Notes the user gone now unless noted
 * already; answers { since, now }.
 */
const NOTE_GONE_SCRIPT = `
local now = tonumber(ARGV[2])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
redis.call('HSETNX', KEYS[1], ARGV[1], now)
return { tonumber(redis.call('HGET', KEYS[1], ARGV[1])), now }
`

/**
 * KEYS[1] the online set; ARGV the users: whether each is in it. SMISMEMBER says it in one command, but only from Redis
 * 6.2 on, and a Redis 5 or 6.0 (Ubuntu 20.04's, Debian 11's) refuses it: every snapshot and presence read failed there.
 */
const IS_ONLINE_SCRIPT = `
local flags = {}
for i, userId in ipairs(ARGV) do flags[i] = redis.call('SISMEMBER', KEYS[1], userId) end
return flags
`

/**
 * KEYS[1] the online set, KEYS[2] the goings, KEYS[3] the users put back online with nobody told; ARGV[1] the user.
 * Only one not online is put back and flagged: one online already was told so, and keeps when they went.
 */
const RESTORE_SCRIPT = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[1])
end
`

/**
 * KEYS[1] the online set, KEYS[2] those in it with nobody told; ARGV the users: whether each is online and told so.
 */
const IS_ANNOUNCED_SCRIPT = `
local flags = {}
for i, userId in ipairs(ARGV) do
  flags[i] = redis.call('SISMEMBER', KEYS[1], userId) == 1 and redis.call('SISMEMBER', KEYS[2], userId) == 0 and 1 or 0
end
return flags
`

/** Redis's clock in ms unless ARGV[n] gives one (a test's injected `now`). */
const NOW_FROM = (n: number) => `
local now = tonumber(ARGV[${n}])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
`

/**
 * How long a change marked and not yet told may wait for its node's word before another node's sweep takes it over:
 * far above a live node's time between the two (a database write and read), so only a dead node's is taken over.
 */
export const UNTOLD_STALE_MS = 10_000

/**
 * KEYS[1] the online set, KEYS[2] the goings, KEYS[3] those put back online with nobody told, KEYS[4] the changes
 * marked and not yet told; ARGV: user, now ms or '', announce ('1': the caller tells it; '0': it puts back what the
 * contacts were last told). Answers 1 when the caller is the one to tell "online", noted untold until `told`.
 */
const MARK_ONLINE_SCRIPT = `${NOW_FROM(2)}
redis.call('HDEL', KEYS[2], ARGV[1])
local added = redis.call('SADD', KEYS[1], ARGV[1])
local restored = redis.call('SREM', KEYS[3], ARGV[1])
if added == 0 and restored == 0 then return 0 end
if ARGV[3] == '1' then redis.call('HSET', KEYS[4], ARGV[1], 'on ' .. now) else redis.call('HDEL', KEYS[4], ARGV[1]) end
return 1
`

/** As `MARK_ONLINE_SCRIPT`, for "offline": the untold note keeps since when the user was gone. */
const MARK_OFFLINE_SCRIPT = `${NOW_FROM(2)}
local since = redis.call('HGET', KEYS[2], ARGV[1]) or now
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('HSET', KEYS[4], ARGV[1], 'off ' .. now .. ' ' .. since)
else redis.call('HDEL', KEYS[4], ARGV[1]) end
return 1
`

/** KEYS[1] the untold changes; ARGV: user, 'on' or 'off'. Forgets it once told (not a later one of the other kind). */
const TOLD_SCRIPT = `
local note = redis.call('HGET', KEYS[1], ARGV[1])
if note and string.sub(note, 1, #ARGV[2] + 1) == ARGV[2] .. ' ' then redis.call('HDEL', KEYS[1], ARGV[1]) end
`

/**
 * KEYS as `MARK_ONLINE_SCRIPT`'s; ARGV: now ms or '', how old an untold change is taken over. Its node died between the
 * mark and the word, and its contacts still hold the word before. A going: put back online with nobody told, gone
 * since then, for the sweep to take offline and say so. An arrival: flagged as nobody told, for the node of a socket
 * of theirs to say it (`reassertLocal`); with none, the sweep takes them offline, as they were last told.
 */
const REPAIR_UNTOLD_SCRIPT = `${NOW_FROM(1)}
local notes = redis.call('HGETALL', KEYS[4])
for i = 1, #notes, 2 do
  local userId, note = notes[i], notes[i + 1]
  local kind, at, since = string.match(note, '^(%a+) (%d+) ?(%d*)$')
  if not at or now - tonumber(at) >= tonumber(ARGV[2]) then
    redis.call('HDEL', KEYS[4], userId)
    if kind == 'off' then
      if redis.call('SADD', KEYS[1], userId) == 1 then
        redis.call('SADD', KEYS[3], userId)
        redis.call('HSET', KEYS[2], userId, since ~= '' and since or at)
      end
    elseif kind == 'on' and redis.call('SISMEMBER', KEYS[1], userId) == 1 then
      redis.call('SADD', KEYS[3], userId)
    end
  end
end
`

/**
 * Presence shared by the nodes: the users announced online (a set) and since when each has had no socket (a hash).
 * SADD/SREM answer whether this call changed the set, so exactly one node announces each change.
 *
 * When a user went, and how long ago, are read on Redis's clock (`TIME`), one for every node: the node that notes a
 * user gone and the one that sweeps them offline are often not the same, and with each node's own clock one ahead by
 * the grace took a user offline as soon as his last socket went (a reload flickered "offline" to his contacts), one
 * behind kept him online for longer, and `lastSeenAt` was whichever node's time.
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly link: RedisLink,
    /** A clock in ms, for tests only (an injected `now`); by default Redis's. */
    private readonly now?: () => number,
  ) {}

  private get onlineKey() {
    return `${this.link.prefix}presence:online`
  }
  private get goneKey() {
    return `${this.link.prefix}presence:gone`
  }
  private get restoredKey() {
    return `${this.link.prefix}presence:restored`
  }
  /** Changes marked and not yet told, each `on <at>` or `off <at> <since>` (`MARK_ONLINE_SCRIPT`). */
  private get untoldKey() {
    return `${this.link.prefix}presence:untold`
  }
  /** Set once the goings are known kept: gone with them when Redis loses its data. */
  private get intactKey() {
    return `${this.link.prefix}presence:intact`
  }

  async lostData(): Promise<boolean> {
    return (await this.link.client.exists(this.intactKey)) === 0
  }

  async markIntact(): Promise<void> {
    await this.link.client.set(this.intactKey, '1')
  }

  markOnline(userId: Id, announce = true): Promise<boolean> {
    return this.mark(MARK_ONLINE_SCRIPT, userId, announce)
  }

  markOffline(userId: Id, announce = true): Promise<boolean> {
    return this.mark(MARK_OFFLINE_SCRIPT, userId, announce)
  }

  /** Runs a mark script (`MARK_ONLINE_SCRIPT`'s keys and arguments): whether it changed the set. */
  private async mark(script: string, userId: Id, announce: boolean): Promise<boolean> {
    const changed = await this.link.client.eval(
      script,
      4,
      this.onlineKey,
      this.goneKey,
      this.restoredKey,
      this.untoldKey,
      userId,
      this.now ? this.now() : '',
      announce ? '1' : '0',
    )
    return changed === 1
  }

  async told(userId: Id, online: boolean): Promise<void> {
    await this.link.client.eval(TOLD_SCRIPT, 1, this.untoldKey, userId, online ? 'on' : 'off')
  }

  async repairUntold(): Promise<void> {
    await this.link.client.eval(
      REPAIR_UNTOLD_SCRIPT,
      4,
      this.onlineKey,
      this.goneKey,
      this.restoredKey,
      this.untoldKey,
      this.now ? this.now() : '',
      UNTOLD_STALE_MS,
    )
  }

  async restore(userId: Id): Promise<void> {
    await this.link.client.eval(RESTORE_SCRIPT, 3, this.onlineKey, this.goneKey, this.restoredKey, userId)
  }

  async isAnnounced(userIds: readonly Id[]): Promise<boolean[]> {
    if (userIds.length === 0) return []
    const flags = (await this.link.client.eval(
      IS_ANNOUNCED_SCRIPT,
      2,
      this.onlineKey,
      this.restoredKey,
      ...userIds,
    )) as number[]
    return flags.map((flag) => flag === 1)
  }

  onlineUsers(): Promise<Id[]> {
    return this.link.client.smembers(this.onlineKey)
  }

  async isOnline(userIds: readonly Id[]): Promise<boolean[]> {
    if (userIds.length === 0) return []
    const flags = (await this.link.client.eval(IS_ONLINE_SCRIPT, 1, this.onlineKey, ...userIds)) as number[]
    return flags.map((flag) => flag === 1)
  }

  async noteGone(userId: Id): Promise<GoneSince> {
    const [since, now] = (await this.link.client.eval(
      NOTE_GONE_SCRIPT,
      1,
      this.goneKey,
      userId,
      this.now ? this.now() : '',
    )) as [number, number]
    return { since, now }
  }

  async clock(): Promise<number> {
    if (this.now) return this.now()
    const [seconds, micros] = await this.link.client.time()
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }

  async clearGone(userId: Id): Promise<void> {
    await this.link.client.hdel(this.goneKey, userId)
  }

  async clearGoneOf(userIds: readonly Id[]): Promise<void> {
    if (userIds.length === 0) return
    await this.link.client.hdel(this.goneKey, ...userIds)
  }
}
