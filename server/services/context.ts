import type { ContactRequest, Id, Lesson, Message } from '../../src/contract'
import type { TokenService } from '../auth'
import type { SessionStore } from '../sessions'
import type { Db } from '../db'
import type { Logger } from '../logger'
import type { LoginThrottle } from '../loginThrottle'
import type { KeyedMutex } from '../mutex'
import type { PasswordHasher } from '../passwords'
import type { RateLimiter } from '../rateLimit'

/** How the services tell connected clients about a change, whatever transport caused it (socket or HTTP). */
export interface Notifier {
  /** `message:new` to every participant's sockets but the sender's, `message:sent` to all the sender's sockets. */
  messageStored(message: Message, participantIds: readonly Id[]): void
  /** `conversation:read` to every socket of `userId`. */
  conversationRead(userId: Id, conversationId: Id): void
  lesson(event: 'lesson:created' | 'lesson:statusUpdated', lesson: Lesson): void
  contactRequest(event: 'contactRequest:created' | 'contactRequest:statusUpdated', request: ContactRequest): void
}

/** Who is looking at a conversation right now: users with at least one socket that has it joined. */
export interface Presence {
  viewers(conversationId: Id): ReadonlySet<Id>
}

export interface ServiceContext {
  db: Db
  tokens: TokenService
  sessions: SessionStore
  limiter: RateLimiter
  notifier: Notifier
  presence: Presence
  /** Serializes sends and reads per conversation: seq order is arrival order, and a join never misses a send. */
  conversationLocks: KeyedMutex
  now: () => Date
  passwords: PasswordHasher
  loginThrottle: LoginThrottle
  logger: Logger
}
