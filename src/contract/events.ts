import type { Ack } from './errors'
import type { ContactRequest, Id, Lesson, Message } from './entities'

export interface ConversationReadPayload {
  conversationId: Id
  unreadCount: 0
}

/** `conversation:seen`: `userId` has read `conversationId` up to `seq` (sent to the other participants). */
export interface ConversationSeenPayload {
  conversationId: Id
  userId: Id
  seq: number
}

export interface SendMessagePayload {
  conversationId: Id
  content: string
  clientId: string
}

/** `session:renew`: a fresh access token of the socket's own session, so the socket outlives its first token. */
export interface SessionRenewPayload {
  token: string
}

/**
 * The trailing argument of every logged event: its place in the receiving user's log (1, 2, 3… in commit order,
 * without gaps). A listener that reads only the first argument still works.
 */
export interface EventMeta {
  offset: number
}

/**
 * `sync:caughtUp` (every later logged event was sent, in order; live events follow) and `sync:gap` (they could not
 * all be replayed: adopt this offset and refetch). `epoch` names the database's log; another epoch is another log.
 */
export interface SyncPayload {
  offset: number
  epoch: string
}

/**
 * Handshake `auth`: the access token, and the last offset the client applied (with the epoch it came from) to resume
 * from. Without an offset the server only tells the current one (`sync:caughtUp`).
 *
 * @example io(url, { auth: { token, offset: 41, epoch: 'c0ffee…' } })
 */
export interface HandshakeAuth {
  token: string
  offset?: number
  epoch?: string
}

/**
 * Events the server writes to the receiving user's log and emits with a trailing `{ offset }` (optional in the type:
 * a handler must still cope with an emitter that sends none, such as the benchmark's synthetic bursts).
 */
export interface LoggedServerEvents {
  'message:new': (message: Message, meta?: EventMeta) => void
  'message:sent': (message: Message, meta?: EventMeta) => void
  'conversation:read': (payload: ConversationReadPayload, meta?: EventMeta) => void
  'conversation:seen': (payload: ConversationSeenPayload, meta?: EventMeta) => void
  'lesson:created': (lesson: Lesson, meta?: EventMeta) => void
  'lesson:statusUpdated': (lesson: Lesson, meta?: EventMeta) => void
  'contactRequest:created': (request: ContactRequest, meta?: EventMeta) => void
  'contactRequest:statusUpdated': (request: ContactRequest, meta?: EventMeta) => void
}

/** `typing` both ways: to the server `{ conversationId }`, to the other participants with the typer's `userId`. */
export interface TypingPayload {
  conversationId: Id
}
export interface TypingNotice {
  conversationId: Id
  userId: Id
}

/** Whether a user has a socket open now; `lastSeenAt` is when their last one closed (`null`: never seen). */
export interface PresenceState {
  userId: Id
  online: boolean
  lastSeenAt: string | null
}

/**
 * Not logged, not replayed (they describe the present): typing notices and presence. `presence:snapshot` follows
 * every connect, so a client that missed changes while away is current again.
 */
export interface EphemeralServerEvents {
  typing: (notice: TypingNotice) => void
  'presence:changed': (presence: PresenceState) => void
  'presence:snapshot': (snapshot: { users: PresenceState[] }) => void
}

/** Not logged: where a resumed stream stands. */
export interface SyncServerEvents {
  'sync:caughtUp': (payload: SyncPayload) => void
  'sync:gap': (payload: SyncPayload) => void
}

/** Events the server emits. */
export interface ServerToClientEvents extends LoggedServerEvents, SyncServerEvents, EphemeralServerEvents {}

/** Events the browser emits; each answers through its ack callback. */
export interface ClientToServerEvents {
  'conversation:join': (conversationId: Id, ack: (res: Ack<null>) => void) => void
  'conversation:leave': (conversationId: Id, ack: (res: Ack<null>) => void) => void
  'message:send': (payload: SendMessagePayload, ack: (res: Ack<Message>) => void) => void
  /**
   * Replaces the socket's token with a newer one of the same session (ack `null`); refused `UNAUTHORIZED` when expired
   * or revoked, and the socket is disconnected when the token is another session's or user's (expired or revoked too).
   */
  'session:renew': (payload: SessionRenewPayload, ack: (res: Ack<null>) => void) => void
  /**
   * "I am typing in this conversation" (the ack is optional): `FORBIDDEN` outside it, `RATE_LIMITED` past 2 a second.
   * The other participants' sockets get `typing` { conversationId, userId }.
   */
  typing: (payload: TypingPayload, ack?: (res: Ack<null>) => void) => void
}

/** The logged events (the browser's event table is keyed by them); the sync events are `SyncEventName`. */
export type ServerEventName = keyof LoggedServerEvents
export type SyncEventName = keyof SyncServerEvents
export type EphemeralEventName = keyof EphemeralServerEvents
export type ClientEventName = keyof ClientToServerEvents

/** The payload of a server event (its first argument). */
export type ServerEventPayload<E extends ServerEventName | SyncEventName | EphemeralEventName> = Parameters<
  ServerToClientEvents[E]
>[0]

/** The first argument of a client event, and the data its ack carries. */
export type ClientEventPayload<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0]
export type ClientEventAckData<E extends ClientEventName> =
  Parameters<NonNullable<Parameters<ClientToServerEvents[E]>[1]>>[0] extends Ack<infer T> ? T : never

/** The server events, in the event map's order (`serverEvents` has one entry each). */
export const SERVER_EVENTS = [
  'message:new',
  'message:sent',
  'conversation:read',
  'conversation:seen',
  'lesson:created',
  'lesson:statusUpdated',
  'contactRequest:created',
  'contactRequest:statusUpdated',
] as const satisfies readonly ServerEventName[]

export const EPHEMERAL_EVENTS = [
  'typing',
  'presence:changed',
  'presence:snapshot',
] as const satisfies readonly EphemeralEventName[]

export const SYNC_EVENTS = ['sync:caughtUp', 'sync:gap'] as const satisfies readonly SyncEventName[]

/** Per-socket data the server attaches after the handshake. */
export interface SocketData {
  userId: Id
  /** The session of the token the socket was opened (or last renewed) with. */
  sessionId: string
  /** When that token expires, in ms: the server disconnects the socket then unless it was renewed. */
  expiresAt: number
}
