import type { Id } from '../../src/contract'
import type { PresenceStore } from '../realtime/presence'
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
}

/**
 * Who is looking at which conversation, across the nodes: each joined socket an entry `<user> <node>:<socket>` in the
 * conversation's set.
 */
export class SharedViewers implements Presence {
  constructor(
    private readonly link: RedisLink,
    private readonly entries: NodeEntries,
  ) {}

  private key(conversationId: Id): string {
    return `${this.link.prefix}viewers:${conversationId}`
  }

  private member(userId: Id, socketId: string): string {
    return `${userId} ${this.link.nodeId}:${socketId}`
  }

  joined(conversationId: Id, userId: Id, socketId: string): Promise<unknown> {
    return this.entries.add(this.key(conversationId), this.member(userId, socketId))
  }

  left(conversationId: Id, userId: Id, socketId: string): Promise<void> {
    return this.entries.remove(this.key(conversationId), this.member(userId, socketId))
  }

  async viewers(conversationId: Id): Promise<ReadonlySet<Id>> {
    const members = await this.entries.members(this.key(conversationId))
    return new Set(members.map((member) => member.slice(0, member.indexOf(' '))))
  }
}

/**
 * Presence shared by the nodes: the users announced online (a set) and since when each has had no socket (a hash).
 * SADD/SREM answer whether this call changed the set, so exactly one node announces each change.
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly link: RedisLink) {}

  private get onlineKey() {
    return `${this.link.prefix}presence:online`
  }
  private get goneKey() {
    return `${this.link.prefix}presence:gone`
  }

  async markOnline(userId: Id): Promise<boolean> {
    const result = await this.link.client.multi().hdel(this.goneKey, userId).sadd(this.onlineKey, userId).exec()
    return result?.[1]?.[1] === 1
  }

  async markOffline(userId: Id): Promise<boolean> {
    const result = await this.link.client.multi().hdel(this.goneKey, userId).srem(this.onlineKey, userId).exec()
    return result?.[1]?.[1] === 1
  }

  onlineUsers(): Promise<Id[]> {
    return this.link.client.smembers(this.onlineKey)
  }

  async isOnline(userIds: readonly Id[]): Promise<boolean[]> {
    if (userIds.length === 0) return []
    const flags = await this.link.client.smismember(this.onlineKey, ...userIds)
    return flags.map((flag) => flag === 1)
  }

  async noteGone(userId: Id, at: number): Promise<number> {
    const result = await this.link.client
      .multi()
      .hsetnx(this.goneKey, userId, String(at))
      .hget(this.goneKey, userId)
      .exec()
    return Number(result?.[1]?.[1] ?? at)
  }

  async clearGone(userId: Id): Promise<void> {
    await this.link.client.hdel(this.goneKey, userId)
  }
}
