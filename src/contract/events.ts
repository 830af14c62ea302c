import type { Ack } from './errors'
import type { ContactRequest, Id, Lesson, Message } from './entities'

export interface ConversationReadPayload {
  conversationId: Id
  unreadCount: 0
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

/** Events the server emits; the browser's event table is keyed by this map. */
export interface ServerToClientEvents {
  'message:new': (message: Message) => void
  'message:sent': (message: Message) => void
  'conversation:read': (payload: ConversationReadPayload) => void
  'lesson:created': (lesson: Lesson) => void
  'lesson:statusUpdated': (lesson: Lesson) => void
  'contactRequest:created': (request: ContactRequest) => void
  'contactRequest:statusUpdated': (request: ContactRequest) => void
}

/** Events the browser emits; each answers through its ack callback. */
export interface ClientToServerEvents {
  'conversation:join': (conversationId: Id, ack: (res: Ack<null>) => void) => void
  'conversation:leave': (conversationId: Id, ack: (res: Ack<null>) => void) => void
  'message:send': (payload: SendMessagePayload, ack: (res: Ack<Message>) => void) => void
  /**
   * Replaces the socket's token with a newer one of the same session (ack `null`); refused `UNAUTHORIZED` when expired
   * or revoked, and the socket is disconnected when the token is another session's or user's.
   */
  'session:renew': (payload: SessionRenewPayload, ack: (res: Ack<null>) => void) => void
}

export type ServerEventName = keyof ServerToClientEvents
export type ClientEventName = keyof ClientToServerEvents

/** The payload of a server event. */
export type ServerEventPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0]

/** The first argument of a client event, and the data its ack carries. */
export type ClientEventPayload<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0]
export type ClientEventAckData<E extends ClientEventName> =
  Parameters<Parameters<ClientToServerEvents[E]>[1]>[0] extends Ack<infer T> ? T : never

/** The server events, in the event map's order (`serverEvents` has one entry each). */
export const SERVER_EVENTS = [
  'message:new',
  'message:sent',
  'conversation:read',
  'lesson:created',
  'lesson:statusUpdated',
  'contactRequest:created',
  'contactRequest:statusUpdated',
] as const satisfies readonly ServerEventName[]

/** Per-socket data the server attaches after the handshake. */
export interface SocketData {
  userId: Id
  /** The session of the token the socket was opened (or last renewed) with. */
  sessionId: string
  /** When that token expires, in ms: the server disconnects the socket then unless it was renewed. */
  expiresAt: number
}
