import { createAction, nanoid, prepareAutoBatched, SHOULD_AUTOBATCH } from '@reduxjs/toolkit'
import { SERVER_EVENTS } from '../contract'
import type {
  EphemeralEventName,
  ErrorCode,
  Id,
  Message,
  ServerEventName,
  ServerEventPayload,
  SyncPayload,
  ValidationIssue,
} from '../contract'
import type { Socket } from 'socket.io-client'
import type { PendingMessage } from './socketSlice'
import type { TabRole } from './tabs/protocol'

/**
 * Every action of the realtime layer is `socket/…`; matching is always by `.match`, never by comparing strings.
 *
 * @example type.startsWith(PREFIX) // any realtime action: the store's shortcut past RTK Query (socketActionBypass.ts)
 */
export const PREFIX = 'socket/' as const

/** `NETWORK` stands for everything that is not an answer from the server: no route, timeout, transport closed. */
export type ConnectionErrorCode = ErrorCode | 'NETWORK'

export interface ConnectionError {
  code: ConnectionErrorCode
  message: string
}

/** Why a send was refused, as shown next to a failed message. */
export interface SendError {
  code: ConnectionErrorCode
  message: string
}

// --- Commands (the app dispatches these) --------------------------------------------------------------------------

/**
 * Opens the socket for the logged-in user (a no-op without a token, when already open, or after `unauthorized`).
 *
 * @example dispatch(connect())
 */
export const connect = createAction(`${PREFIX}connect`)

/**
 * Closes the socket; the status stays `disconnected` until `connect()` or a new login. Sends keep going over HTTP.
 * With one socket per browser it is this tab's alone: a holder hands the browser's socket to another tab.
 *
 * @example dispatch(disconnect())
 */
export const disconnect = createAction(`${PREFIX}disconnect`)

/**
 * Says "the user is looking at this conversation": it is remembered and joined again after every reconnect.
 *
 * @example dispatch(joinConversation({ conversationId: 'c1' }))
 */
export const joinConversation = createAction<{ conversationId: Id }>(`${PREFIX}joinConversation`)

/**
 * The user stopped looking at this conversation.
 *
 * @example dispatch(leaveConversation({ conversationId: 'c1' }))
 */
export const leaveConversation = createAction<{ conversationId: Id }>(`${PREFIX}leaveConversation`)

/**
 * Sends a message: shown at once as pending (its `id` is its `clientId`), sent over the socket, or over HTTP when
 * the socket is down or silent; retried on network failures, marked failed on a refusal.
 *
 * @example const { payload: { clientId } } = dispatch(sendMessage({ conversationId: 'c1', content: 'Hi!' }))
 */
export const sendMessage = createAction(
  `${PREFIX}sendMessage`,
  (input: { conversationId: Id; content: string; clientId?: string }) => ({
    payload: {
      conversationId: input.conversationId,
      content: input.content,
      clientId: input.clientId ?? newClientId(),
    },
    // The time the user pressed "send", for the pending copy; in meta so the payload stays the contract's.
    meta: { createdAt: new Date().toISOString() },
  }),
)

/**
 * Tries a failed message again, with the same `clientId` (the server deduplicates by it).
 *
 * @example dispatch(retryMessage({ clientId }))
 */
export const retryMessage = createAction<{ clientId: string }>(`${PREFIX}retryMessage`)

/**
 * Forgets a failed (or still pending) message and removes it from its thread.
 *
 * @example dispatch(discardMessage({ clientId }))
 */
export const discardMessage = createAction<{ clientId: string }>(`${PREFIX}discardMessage`)

// --- Lifecycle (the middleware dispatches these) ------------------------------------------------------------------

/**
 * The handshake succeeded. `meta.at` is when, for `lastConnectedAt` (reducers stay pure).
 *
 * @example dispatch(connected({ socketId: socket.id ?? '', recovered: socket.recovered === true }))
 */
export const connected = createAction(`${PREFIX}connected`, (payload: { socketId: string; recovered: boolean }) => ({
  payload,
  meta: { at: new Date().toISOString() },
}))

/**
 * The connection dropped; Socket.IO's reason (`transport close`, `io server disconnect`, …).
 *
 * @example dispatch(disconnected({ reason: 'transport close' })) // status `reconnecting`
 */
export const disconnected = createAction<{ reason: DisconnectReason }>(`${PREFIX}disconnected`)

/** Why a socket went: Socket.IO's reasons, which a follower tab's proxy uses too (`tabs/tabSocket.ts`). */
export type DisconnectReason = Socket.DisconnectReason

/**
 * The middleware tries the handshake again (its own backoff; Socket.IO's reconnection is off); once per attempt,
 * from 1.
 *
 * @example dispatch(reconnecting({ attempt: 2 }))
 */
export const reconnecting = createAction<{ attempt: number }>(`${PREFIX}reconnecting`)

/**
 * A handshake failed: `NETWORK` (server unreachable) or the server's refusal code (`UNAUTHORIZED`, …).
 *
 * @example dispatch(connectFailed({ code: 'NETWORK', message: 'xhr poll error' }))
 */
export const connectFailed = createAction<ConnectionError & { retryAfterMs?: number }>(`${PREFIX}connectFailed`)

/**
 * A join was refused (`FORBIDDEN`, `NOT_FOUND`: the room is forgotten) or not answered in time (`NETWORK`).
 *
 * @example dispatch(joinFailed({ conversationId: 'c1', code: 'FORBIDDEN' })) // 'c1' is no longer wanted
 */
export const joinFailed = createAction<{ conversationId: Id; code: ConnectionErrorCode }>(`${PREFIX}joinFailed`)

/**
 * A server event whose payload failed the contract's schema; nothing else changes.
 *
 * @example dispatch(eventRejected({ event: 'message:new', issues: [{ path: 'seq', message: 'expected number' }] }, 42))
 */
export const eventRejected = createAction(
  `${PREFIX}eventRejected`,
  // A logged event keeps its place in the log even when its payload is refused: the offset still advances past it.
  (payload: { event: string; issues: ValidationIssue[] }, offset?: number) => ({
    payload,
    meta: eventMeta(offset),
  }),
)

/** The meta of a server event's action: auto-batched, and the event's place in the user's log when it was logged. */
export interface EventActionMeta {
  [SHOULD_AUTOBATCH]: true
  offset?: number
}

/** Without an offset every event shares one meta (frozen), rather than two new objects per event of a burst. */
const UNLOGGED_META: EventActionMeta = Object.freeze({ [SHOULD_AUTOBATCH]: true as const })

function eventMeta(offset: number | undefined): EventActionMeta {
  return offset === undefined ? UNLOGGED_META : { [SHOULD_AUTOBATCH]: true, offset }
}

// --- Internal (visible in DevTools, not part of the contract) -----------------------------------------------------

/**
 * A login (the app's `auth/loggedIn`) started a session: status `connecting` from any state.
 *
 * @example dispatch(sessionStarted()) // the middleware, on the app's `loggedIn`
 */
export const sessionStarted = createAction(`${PREFIX}sessionStarted`)

/**
 * A logout ended the session: status `idle`, rooms and pending sends forgotten.
 *
 * @example dispatch(sessionEnded()) // the middleware, on the app's `loggedOut`
 */
export const sessionEnded = createAction(`${PREFIX}sessionEnded`)

/**
 * The handshake was refused and a token refresh did not help: status `unauthorized` until the next login.
 *
 * @example dispatch(sessionExpired({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' }))
 */
export const sessionExpired = createAction<ConnectionError>(`${PREFIX}sessionExpired`)

/** The server refused `session:renew` (the token expired or its session ended): the socket lives until its old token ends. */
export const renewFailed = createAction<ConnectionError>(`${PREFIX}renewFailed`)

/**
 * The server acknowledged a join.
 *
 * @example dispatch(joined({ conversationId: 'c1' }))
 */
export const joined = createAction<{ conversationId: Id }>(`${PREFIX}joined`)

/**
 * A send was stored by the server (its ack, or the HTTP answer); reconciled by `clientId` like `message:sent`.
 *
 * @example dispatch(sendConfirmed({ message })) // the stored Message, with the send's clientId
 */
export const sendConfirmed = createAction(`${PREFIX}sendConfirmed`, prepareAutoBatched<{ message: Message }>())

/**
 * A send was refused (`INVALID`, `FORBIDDEN`, `NOT_FOUND`): the message is marked failed.
 *
 * @example dispatch(sendFailed({ clientId, error: { code: 'FORBIDDEN', message: 'Not a participant' } }))
 */
export const sendFailed = createAction<{ clientId: string; error: SendError }>(`${PREFIX}sendFailed`)

/**
 * A send failed for a reason worth retrying; the next try is in `delayMs` (or, after a network failure, as soon as the
 * socket connects: a wait the server asked for, `RATE_LIMITED`, is waited out).
 *
 * @example
 * dispatch(sendRetryScheduled({ clientId, attempt: 1, delayMs: 430, error: { code: 'NETWORK', message: 'timeout' } }))
 */
export const sendRetryScheduled = createAction<{
  clientId: string
  attempt: number
  delayMs: number
  error: SendError
}>(`${PREFIX}sendRetryScheduled`)

/**
 * Something unexpected went wrong inside the middleware; it never throws, it reports.
 *
 * @example dispatch(internalError({ where: 'outboxStorage', message: 'QuotaExceededError' }))
 */
export const internalError = createAction<{ where: string; message: string }>(`${PREFIX}internalError`)

/**
 * Storage took the user's outbox again after refusing it (`internalError` from `outboxStorage`): every unsent send is
 * saved once more, so none would be lost with the page.
 *
 * @example dispatch(outboxSaved())
 */
export const outboxSaved = createAction(`${PREFIX}outboxSaved`)

/**
 * The unsent sends of `userId` that a logout nobody asked for (another tab's login or logout, "Log in again") left in
 * this page's memory alone, storage not holding them: `count` of them until that user's next login here brings them
 * back into the outbox, or a "Log out" of theirs (here, or in another tab) drops them (`count` 0). Closing the page
 * loses them.
 *
 * @example dispatch(outboxKept({ userId: 'u1', count: 2 }))
 */
export const outboxKept = createAction<{ userId: Id; count: number }>(`${PREFIX}outboxKept`)

/**
 * The durable outbox of the logged-in user was read back from storage (a reload, the next login of that user, or the
 * sends of the user's other tabs taken in). `storedOrder`: the client ids as storage holds them, the order in which
 * sends written in the same millisecond were written (see `writtenBefore`).
 *
 * @example dispatch(outboxRestored({ entries: createOutboxStorage(localStorage).load('u1') }))
 */
export const outboxRestored = createAction<{ entries: PendingMessage[]; storedOrder?: string[] }>(
  `${PREFIX}outboxRestored`,
)

/** Why a send was not even queued. */
export interface SendRejection {
  clientId: string
  conversationId: Id
  /** `OUTBOX_FULL`: the outbox holds its limit; `UNAUTHORIZED`: nobody is logged in, so the send would be no one's. */
  code: 'OUTBOX_FULL' | 'UNAUTHORIZED'
  message: string
}

/**
 * A send refused before it was queued: the outbox already holds its limit of unconfirmed messages, or nobody is logged
 * in (it would go as whoever logs in next). Nothing queued is dropped; the message is not shown (the app keeps the draft and tells the user, see `selectSendRejection`).
 *
 * @example
 * dispatch(sendRejected({ clientId, conversationId: 'c1', code: 'OUTBOX_FULL', message: '500 messages are…' }))
 */
export const sendRejected = createAction<SendRejection>(`${PREFIX}sendRejected`)

/**
 * This tab holds the drain lock of the user's outbox and sends; `socket/drainStopped` when it let it go.
 *
 * @example dispatch(drainStarted())
 */
export const drainStarted = createAction(`${PREFIX}drainStarted`)

/**
 * This tab let go of the drain lock it held (see `drainStarted`): another tab of the user may drain the outbox now.
 *
 * @example dispatch(drainStopped())
 */
export const drainStopped = createAction(`${PREFIX}drainStopped`)

/**
 * The browser came online, the tab became visible, the page woke from a sleep (`wake`: the wall clock ran on while its
 * timers stood still), or the API answered over HTTP while the socket waited to try again (`reachable`: the server is
 * back): waiting reconnects and network retries go at once. `asked`: a visible follower tab asked the holder for the
 * browser's socket while it waited (its page shown or opened, or its own wait over), as its own socket would try now.
 *
 * @example dispatch(retryNow({ reason: 'online' }))
 */
export const retryNow = createAction<{ reason: 'online' | 'visible' | 'wake' | 'reachable' | 'asked' }>(
  `${PREFIX}retryNow`,
)

/**
 * This tab's part in the browser's one socket changed: `leader` holds it, `follower` rides along through the holder,
 * `solo` shares nothing (no Web Locks or BroadcastChannel, or `shareSocket: false`). The socket is made again for the
 * new part, resuming from this store's offset.
 *
 * @example dispatch(roleChanged({ role: 'follower' }))
 */
export const roleChanged = createAction<{ role: TabRole }>(`${PREFIX}roleChanged`)

/** In the tab holding the socket: a follower tab closed (or went silent); what it left unsent in storage is ours. */
export const followerGone = createAction(`${PREFIX}followerGone`)

/**
 * The server sent every logged event after the handshake's offset (or, without one, told the current offset): live
 * events follow. `recovered`: this handshake resumed from an offset without a gap (what `socket/connected` cannot know
 * yet, so its own `recovered` stays Socket.IO's, always false here).
 *
 * @example dispatch(syncCaughtUp({ offset: 42, epoch, recovered: true })) // resumed without a gap; live events follow
 */
export const syncCaughtUp = createAction<SyncPayload & { recovered: boolean }>(`${PREFIX}sync:caughtUp`)

/**
 * The server could not replay every missed event: the offset is adopted and what is cached is refetched, once.
 *
 * @example dispatch(syncGap({ offset: 42, epoch })) // the payload of the server's `sync:gap`
 */
export const syncGap = createAction<SyncPayload>(`${PREFIX}sync:gap`)

/**
 * Events above the applied offset + 1 were held and the missing ones did not come in time: the socket reconnects
 * and resumes from `offset`.
 *
 * @example dispatch(resumeStalled({ offset: 41, held: 3 })) // 43, 44, 45 held; 42 never came
 */
export const resumeStalled = createAction<{ offset: number | null; held: number }>(`${PREFIX}resumeStalled`)

/**
 * The socket's connection stalled in its switch from HTTP long-polling to WebSocket (`upgradeWatch.ts`): nothing would
 * pass on it until its heartbeat gave up, 20 s on. A new socket tries at once (live, it resumes from the offset).
 *
 * @example dispatch(transportStalled())
 */
export const transportStalled = createAction(`${PREFIX}transportStalled`)

/**
 * A `sync:gap`: what events feed is refetched once (its tags invalidated together).
 *
 * @example dispatch(catchUpStarted({ tags: 4 })) // 4 tags invalidated in one go
 */
export const catchUpStarted = createAction<{ tags: number }>(`${PREFIX}catchUpStarted`)

/**
 * The middleware stops for good (page unload, test teardown): the socket closes, timers stop, the drain lock is
 * released; the durable outbox stays as it is for the next page.
 *
 * @example window.addEventListener('pagehide', (e) => { if (!e.persisted) store.dispatch(shutdown()) })
 */
export const shutdown = createAction(`${PREFIX}shutdown`)

/**
 * Asks the middleware for its socket holder (the non-Redux channel `useSocket` reads); the middleware answers
 * through `dispatch`'s return value and does not pass this action on.
 *
 * @example const holder = store.dispatch(socketHolderRequested()) // a SocketHolder: get() is the socket or null
 */
export const socketHolderRequested = createAction(`${PREFIX}socketHolderRequested`)

// --- Server events ------------------------------------------------------------------------------------------------

function serverEventAction<E extends ServerEventName>(event: E) {
  // Auto-batched: a burst of events and their cache patches notifies subscribers once (RTK's autoBatchEnhancer).
  return createAction(`${PREFIX}${event}`, (payload: ServerEventPayload<E>, offset?: number) => ({
    payload,
    meta: eventMeta(offset),
  }))
}

/** One action creator per server event, `socket/<event>`, keyed by the contract's event map. */
export type ServerEventActions = { [E in ServerEventName]: ReturnType<typeof serverEventAction<E>> }

/**
 * `socket/<event>` for each server event, with the validated payload; dispatched before the cache work it causes.
 *
 * @example serverEventActions['message:new'].match(action) // action.payload is a Message
 */
export const serverEventActions = Object.fromEntries(
  SERVER_EVENTS.map((event) => [event, serverEventAction(event)]),
) as AllListed extends true ? ServerEventActions : never

/**
 * `socket/<event>` → its server event: one lookup per action rather than a `.match` per event.
 *
 * @example serverEventOfType.get(action.type) // 'message:new' for a socket/message:new action, else undefined
 */
export const serverEventOfType: ReadonlyMap<string, ServerEventName> = new Map(
  SERVER_EVENTS.map((event) => [serverEventActions[event].type, event]),
)

/** The contract's `SERVER_EVENTS` names every server event (else `serverEventActions` is `never`: a type error). */
type AllListed = [Exclude<ServerEventName, (typeof SERVER_EVENTS)[number]>] extends [never] ? true : false

// --- Typing and presence (not logged: no offsets, no replay) -----------------------------------------------------

/**
 * "The user is typing in this conversation": the layer sends `typing` at most once every 2 seconds per conversation
 * (the composer may dispatch it on every keystroke). Not `socket/typing`: that is the incoming event's action.
 *
 * @example dispatch(sendTyping({ conversationId: 'c1' }))
 */
export const sendTyping = createAction<{ conversationId: Id }>(`${PREFIX}sendTyping`)

/**
 * Nothing from `userId` in `conversationId` for 5 seconds: the "is typing" line goes.
 *
 * @example dispatch(typingExpired({ conversationId: 'c1', userId: 'bob' }))
 */
export const typingExpired = createAction<{ conversationId: Id; userId: Id }>(`${PREFIX}typingExpired`)

/**
 * `socket/typing`, `socket/presence:changed`, `socket/presence:snapshot`: the validated payloads of those events.
 *
 * @example ephemeralEventActions.typing.match(action) // action.payload is { conversationId, userId }
 */
export const ephemeralEventActions = {
  typing: createAction<ServerEventPayload<'typing'>>(`${PREFIX}typing`),
  'presence:changed': createAction<ServerEventPayload<'presence:changed'>>(`${PREFIX}presence:changed`),
  'presence:snapshot': createAction<ServerEventPayload<'presence:snapshot'>>(`${PREFIX}presence:snapshot`),
} satisfies { [E in EphemeralEventName]: unknown }

// --- clientId -----------------------------------------------------------------------------------------------------

/**
 * A UUID v4: `crypto.randomUUID` in secure contexts (https, localhost); a page served over plain http on a LAN address
 * still has `crypto.getRandomValues`. An engine without Web Crypto gets RTK's `nanoid` (Math.random: still unique
 * enough for one user's sends, which is all the server compares).
 *
 * @example dispatch(sendMessage({ conversationId: 'c1', content: 'Hi', clientId: newClientId() }))
 */
export function newClientId(): string {
  const c = (globalThis as { crypto?: Partial<Crypto> }).crypto
  if (typeof c?.randomUUID === 'function') return c.randomUUID()
  if (typeof c?.getRandomValues !== 'function') return nanoid()
  const bytes = c.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return hex.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')
}
