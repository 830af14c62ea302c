import type { Id } from '../../src/contract'
import type { TokenService } from '../auth'
import type { SessionStore } from '../sessions'
import type { Db } from '../db'
import type { Logger } from '../logger'
import type { LoginThrottle } from '../loginThrottle'
import type { KeyedMutex } from '../mutex'
import type { PasswordHasher } from '../passwords'
import type { Limiter } from '../rateLimit'
import type { LoggedEvent } from './eventLog'
import type { ConversationMembers } from './members'

/**
 * How the services tell connected clients about a change, whatever transport caused it (socket or HTTP): the events
 * just committed to the recipients' logs, each to every socket of its user (on every node), with its offset.
 */
export interface Notifier {
  deliver(events: readonly LoggedEvent[]): void
}

/** Who is looking at a conversation right now: users with at least one socket (on any node) that has it joined. */
export interface Presence {
  viewers(conversationId: Id): ReadonlySet<Id> | Promise<ReadonlySet<Id>>
}

export interface ServiceContext {
  db: Db
  tokens: TokenService
  sessions: SessionStore
  limiter: Limiter
  /** Look-ups of sends past `limiter` (replays): a budget of their own, so a flood costs the database little. */
  replayLookups: Limiter
  notifier: Notifier
  presence: Presence
  /** Serializes sends and reads per conversation: seq order is arrival order, and a join never misses a send. */
  conversationLocks: KeyedMutex
  /** Who is in which conversation, kept once read (shared with presence, which reads them at each connect). */
  members: ConversationMembers
  now: () => Date
  passwords: PasswordHasher
  loginThrottle: LoginThrottle
  logger: Logger
}
