import type { ServerClock } from './serverClock'
import type { Message, User } from '../contract'
import type { DrainLock } from '../realtime/drainLock'
import type { StorageLike } from '../realtime/outboxStorage'

/** Where a message stands for the user who sent it; messages from the server carry no status (they are stored). */
export type MessageStatus = 'pending' | 'sent' | 'failed'

/** A message as cached in a thread: a stored one, or one of ours the server has not confirmed yet. */
export interface ThreadMessage extends Message {
  status?: MessageStatus
  /** Why a failed message was refused, for the Retry/Discard prompt. */
  error?: { code: string; message: string }
}

/** What the `login` and `refreshToken` endpoints give the store: never the refresh token (kept in storage). */
export interface Session {
  token: string
  user: User
}

/** The thunk extra argument every store provides: where the API lives. */
export interface ApiExtra {
  apiUrl: string
  /** The `fetch` HTTP goes through (tests pass an in-memory server); default the global one. */
  fetchFn?: typeof fetch
  /** Where the refresh token is kept (see `credentials.ts`). Without it, a session lasts as long as its access token. */
  storage?: StorageLike
  /** Lets one tab of the browser refresh a user's session at a time (Web Locks, or a lease in storage). */
  refreshLock?: DrainLock
  /** How far this browser's clock is from the server's (learnt from tokens and the answers' `Date`). */
  serverClock?: ServerClock
  /** This browser's clock, in ms (the session middleware's). Default `Date.now`. */
  now?: () => number
  /**
   * How long a request may go unanswered before it fails with `TIMEOUT_ERROR`. Default `REQUEST_TIMEOUT_MS`: without
   * one, a stalled connection would hold a token refresh (and the lock every tab waits on) or a read that socket events
   * wait for until the browser gives up, minutes later.
   */
  requestTimeoutMs?: number
  /** Aborted when the store is disposed: a read waiting to be made again (a 429's wait) is given up then. */
  stopped?: AbortSignal
}
