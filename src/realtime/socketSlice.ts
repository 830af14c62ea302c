import { createSlice, freeze, isAnyOf, type Reducer, type UnknownAction } from '@reduxjs/toolkit'
import type { Id } from '../contract'
import {
  connect,
  connected,
  connectFailed,
  disconnect,
  disconnected,
  discardMessage,
  joinConversation,
  joinFailed,
  joined,
  leaveConversation,
  reconnecting,
  retryMessage,
  sendConfirmed,
  sendFailed,
  sendMessage,
  sendRetryScheduled,
  serverEventActions,
  sessionEnded,
  sessionExpired,
  sessionStarted,
  shutdown,
  outboxRestored,
  outboxKept,
  sendRejected,
  eventRejected,
  syncCaughtUp,
  syncGap,
  roleChanged,
  type ConnectionError,
  type SendRejection,
  type SendError,
} from './actions'
import { isRefusal } from '../contract'
import type { TabRole } from './tabs/protocol'

export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'unauthorized'

/** What `selectConnection` returns. */
export interface Connection {
  status: ConnectionStatus
  socketId: string | null
  error: ConnectionError | null
  /** The middleware's reconnection attempt (1, 2, …; its own backoff, Socket.IO's is off); 0 when not retrying. */
  attempt: number
  /** ISO-8601 time of the last successful handshake. */
  lastConnectedAt: string | null
  /**
   * The last offset of the user's event log this store applied (every one before it applied too), or `null` before
   * the first `sync:*`. Sent at each handshake to resume from; kept in memory only (a reloaded page starts afresh).
   */
  offset: number | null
  /** The log `offset` counts in (a new database is a new epoch): sent with the offset. */
  epoch: string | null
  /** From each handshake until its `sync:caughtUp` or `sync:gap`: the missed events are still coming. */
  syncing: boolean
  /**
   * This tab's part in the browser's one socket: `leader` holds it, `follower` gets every event and sends through the
   * leader (its status mirrors the leader's), `solo` has a socket of its own.
   */
  role: TabRole
}

/** A message the server has not confirmed yet: `pending` (being sent or retried) or `failed` (refused). */
export interface PendingMessage {
  clientId: string
  conversationId: Id
  content: string
  createdAt: string
  status: 'pending' | 'failed'
  /** Tries that failed for a retryable reason so far. */
  attempts: number
  error: SendError | null
}

/**
 * Whether send `a` was written before send `b`: by the time each was written, and within one millisecond (a script,
 * a clock that stood still) by where the user's stored outbox holds them, `storedOrder` (their client ids as storage
 * lists them: every tab appends its new sends, so in the order they were written across tabs). A send storage does
 * not hold counts as written after those it holds.
 *
 * @example writtenBefore(b1At12h, a1At12h, ['b1', 'a1']) // true
 */
export function writtenBefore(a: PendingMessage, b: PendingMessage, storedOrder: readonly string[] = []): boolean {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt
  const at = (m: PendingMessage) => {
    const i = storedOrder.indexOf(m.clientId)
    return i === -1 ? storedOrder.length : i
  }
  return at(a) < at(b)
}

export interface SocketState {
  connection: Connection
  /** The conversations the user is looking at: joined again after every (re)connect. */
  rooms: Id[]
  /**
   * The wanted rooms the server has said this connection is in. Only there does it mark new messages read for the
   * user: a join still unanswered, or failed and waiting for its retry, leaves them unread on the server too.
   */
  joinedRooms: Id[]
  /** Sends not yet confirmed, oldest first. Kept in state (serializable) so a durable outbox can persist it. */
  outbox: PendingMessage[]
  /** The last send refused before it was queued (the outbox was full); cleared by the next send queued, or as one goes. */
  rejectedSend: SendRejection | null
  /**
   * Per user, how many unsent sends a logout nobody asked for left in this page's memory alone (`outboxKept`): they are
   * not the outbox shown (not this session's), and closing the page loses them. Outlives the sessions: the page's.
   */
  kept: Record<Id, number>
}

export const initialConnection: Connection = {
  status: 'idle',
  socketId: null,
  error: null,
  attempt: 0,
  lastConnectedAt: null,
  offset: null,
  epoch: null,
  syncing: false,
  role: 'solo',
}

/**
 * The socket slice before anything happened: status `idle`, no rooms, an empty outbox, no refused send.
 *
 * @example socketReducer(initialSocketState, sessionStarted()).connection.status // 'connecting'
 */
export const initialSocketState: SocketState = {
  connection: initialConnection,
  rooms: [],
  joinedRooms: [],
  outbox: [],
  rejectedSend: null,
  kept: {},
}

/** The outbox entry a `sendMessage` queues (the reducer's, and the outbox's view of it before the reducer runs). */
export const pendingEntryOf = (action: ReturnType<typeof sendMessage>): PendingMessage => ({
  clientId: action.payload.clientId,
  conversationId: action.payload.conversationId,
  content: action.payload.content,
  createdAt: action.meta.createdAt,
  status: 'pending',
  attempts: 0,
  error: null,
})

/**
 * The outbox once `sendMessage` is reduced: the entry added at the end, or the outbox as it was when its `clientId`
 * is queued already.
 *
 * @example outboxWithSend([], sendMessage({ conversationId: 'c1', content: 'Hi' })).length // 1
 */
export const outboxWithSend = (
  outbox: readonly PendingMessage[],
  action: ReturnType<typeof sendMessage>,
): readonly PendingMessage[] =>
  outbox.some((m) => m.clientId === action.payload.clientId) ? outbox : [...outbox, pendingEntryOf(action)]

const removeByClientId = (state: SocketState, clientId: string | null) => {
  if (!clientId) return
  const i = state.outbox.findIndex((m) => m.clientId === clientId)
  if (i === -1) return
  state.outbox.splice(i, 1)
  // A send refused for a full outbox may go now: its refusal ("once they have gone") no longer holds.
  if (state.rejectedSend) state.rejectedSend = null
}

/** `disconnect` or `shutdown`: our side closed the socket, and nothing opens it again until `connect` or a login. */
const closedByUs = (state: SocketState) => {
  const c = state.connection
  if (c.status === 'connecting' || c.status === 'connected' || c.status === 'reconnecting') {
    state.connection = { ...c, status: 'disconnected', socketId: null, attempt: 0 }
  }
}

/**
 * The connection state machine (exactly the contract's statuses), the wanted rooms and the outbox.
 *
 * ```
 * idle ──login / connect──▶ connecting ──connected──▶ connected ──drop──▶ reconnecting ──connected──▶ connected
 *   any ──disconnect / shutdown──▶ disconnected (until connect / login)
 *   refused + refresh failed ──▶ unauthorized (until login)
 * ```
 *
 * @example socketSlice.reducer(undefined, connect()).connection.status // 'connecting'
 */
export const socketSlice = createSlice({
  name: 'socket',
  initialState: initialSocketState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(sessionStarted, (state) => {
        // A send refused with nobody logged in was nobody's: it says nothing to whoever logs in now.
        if (state.rejectedSend?.code === 'UNAUTHORIZED') state.rejectedSend = null
        state.connection = {
          ...initialConnection,
          status: 'connecting',
          lastConnectedAt: state.connection.lastConnectedAt,
          role: state.connection.role,
        }
      })
      .addCase(connect, (state) => {
        // `unauthorized` waits for a login; the middleware does not forward `connect` when no one is logged in.
        const c = state.connection
        if (c.status === 'idle' || c.status === 'disconnected') {
          c.status = 'connecting'
          c.error = null
          c.attempt = 0
        }
      })
      .addCase(connected, (state, action) => {
        // A new connection is in no room until its joins are answered.
        state.joinedRooms = []
        const { status } = state.connection
        // `disconnected` too: the layer unbinds every socket it closes itself, so a `connected` then is the app's own
        // `connect()` on the socket it closed (`useSocket().socket`): live again, as the badge must say.
        if (status === 'idle' || status === 'unauthorized') return
        state.connection = {
          ...state.connection,
          status: 'connected',
          socketId: action.payload.socketId,
          error: null,
          attempt: 0,
          lastConnectedAt: action.meta.at,
          syncing: true,
        }
      })
      .addCase(disconnected, (state, action) => {
        state.joinedRooms = []
        const c = state.connection
        if (c.status !== 'connected' && c.status !== 'connecting' && c.status !== 'reconnecting') return
        c.socketId = null
        if (action.payload.reason === 'io client disconnect') c.status = 'disconnected'
        else if (c.status === 'connected') {
          c.status = 'reconnecting'
          c.attempt = 0
        }
      })
      .addCase(reconnecting, (state, action) => {
        const c = state.connection
        if (c.status === 'connected') c.status = 'reconnecting'
        if (c.status === 'reconnecting' || c.status === 'connecting') c.attempt = action.payload.attempt
      })
      .addCase(connectFailed, (state, action) => {
        // Recorded, status unchanged: Socket.IO (or the middleware's refresh) tries again. Giving up is `sessionExpired`.
        const c = state.connection
        if (c.status === 'connecting' || c.status === 'reconnecting')
          c.error = { code: action.payload.code, message: action.payload.message }
      })
      .addCase(sessionExpired, (state, action) => {
        if (state.connection.status === 'idle') return
        state.connection = {
          ...state.connection,
          status: 'unauthorized',
          socketId: null,
          attempt: 0,
          error: action.payload,
        }
      })
      .addCase(disconnect, closedByUs)
      // A shutdown closes the socket unbound (no `disconnected` follows): the status says so here, or a store kept
      // after `dispose()` would go on saying `connected`.
      .addCase(shutdown, closedByUs)
      // The tab's part outlives the session: it is the browser's, not the user's; what the page keeps is the page's.
      .addCase(sessionEnded, (state) => ({
        ...initialSocketState,
        connection: { ...initialConnection, role: state.connection.role },
        kept: state.kept,
      }))
      .addCase(outboxKept, (state, action) => {
        const { userId, count } = action.payload
        if (count > 0) state.kept[userId] = count
        else delete state.kept[userId]
      })
      .addCase(roleChanged, (state, action) => {
        state.connection.role = action.payload.role
      })
      // Durable resume: the sync events set the offset (a gap's may be lower: another epoch counts anew)…
      .addCase(syncCaughtUp, (state, action) => {
        const c = state.connection
        c.offset =
          c.offset !== null && c.epoch === action.payload.epoch
            ? Math.max(c.offset, action.payload.offset)
            : action.payload.offset
        c.epoch = action.payload.epoch
        c.syncing = false
      })
      .addCase(syncGap, (state, action) => {
        const c = state.connection
        c.offset = action.payload.offset
        c.epoch = action.payload.epoch
        c.syncing = false
      })
      // Rooms
      .addCase(joinConversation, (state, action) => {
        if (!state.rooms.includes(action.payload.conversationId)) state.rooms.push(action.payload.conversationId)
      })
      .addCase(leaveConversation, (state, action) => {
        state.rooms = state.rooms.filter((id) => id !== action.payload.conversationId)
        state.joinedRooms = state.joinedRooms.filter((id) => id !== action.payload.conversationId)
      })
      // A join's answer for a room closed since does not put it back.
      .addCase(joined, (state, action) => {
        const id = action.payload.conversationId
        if (state.rooms.includes(id) && !state.joinedRooms.includes(id)) state.joinedRooms.push(id)
      })
      .addCase(joinFailed, (state, action) => {
        state.joinedRooms = state.joinedRooms.filter((id) => id !== action.payload.conversationId)
        // A refusal is final; a timeout keeps the room wanted, so the next (re)connect tries again.
        if (isRefusal(action.payload.code))
          state.rooms = state.rooms.filter((id) => id !== action.payload.conversationId)
      })
      // Outbox
      .addCase(sendMessage, (state, action) => {
        if (state.outbox.some((m) => m.clientId === action.payload.clientId)) return
        state.rejectedSend = null
        state.outbox.push(pendingEntryOf(action))
      })
      .addCase(sendConfirmed, (state, action) => removeByClientId(state, action.payload.message.clientId))
      .addCase(serverEventActions['message:sent'], (state, action) => removeByClientId(state, action.payload.clientId))
      .addCase(sendFailed, (state, action) => {
        const m = state.outbox.find((x) => x.clientId === action.payload.clientId)
        if (m) {
          m.status = 'failed'
          m.error = action.payload.error
        }
      })
      .addCase(sendRetryScheduled, (state, action) => {
        const m = state.outbox.find((x) => x.clientId === action.payload.clientId)
        if (m) m.attempts = action.payload.attempt
      })
      .addCase(retryMessage, (state, action) => {
        const m = state.outbox.find((x) => x.clientId === action.payload.clientId)
        if (m && m.status === 'failed') {
          m.status = 'pending'
          m.error = null
          m.attempts = 0
        }
      })
      .addCase(discardMessage, (state, action) => removeByClientId(state, action.payload.clientId))
      .addCase(outboxRestored, (state, action) => {
        // Each in the order it was written: the stored ones are older than this page's own at a restore, and another
        // tab's (adopted) may come from before or after them. A conversation's sends go in this order.
        const known = new Set(state.outbox.map((m) => m.clientId))
        const restored = action.payload.entries.filter((m) => !known.has(m.clientId))
        if (restored.length === 0) return
        const own = state.outbox
        const storedOrder = action.payload.storedOrder ?? []
        const merged: PendingMessage[] = []
        let i = 0
        let j = 0
        while (i < restored.length || j < own.length) {
          if (j === own.length || (i < restored.length && !writtenBefore(own[j]!, restored[i]!, storedOrder)))
            merged.push(restored[i++]!)
          else merged.push(own[j++]!)
        }
        state.outbox = merged
      })
      .addCase(sendRejected, (state, action) => {
        state.rejectedSend = action.payload
      })
      // …and each logged event applied advances it (the resume gate dispatches them in offset order, once).
      .addMatcher(isAnyOf(eventRejected, ...Object.values(serverEventActions)), (state, action: UnknownAction) => {
        const offset = (action.meta as { offset?: unknown } | undefined)?.offset
        const c = state.connection
        if (typeof offset === 'number' && (c.offset === null || offset > c.offset)) c.offset = offset
      })
  },
})

/**
 * The types whose only case in the slice is the offset matcher above: every server event but `message:sent` (which
 * also settles the outbox), and `eventRejected`.
 */
const OFFSET_ONLY_TYPES: ReadonlySet<string> = new Set([
  eventRejected.type,
  ...Object.values(serverEventActions)
    .filter((creator) => creator !== serverEventActions['message:sent'])
    .map((creator) => creator.type),
])

/**
 * `socketSlice.reducer` with its busiest cases taken without immer: a server event (thousands in a burst) only moves
 * the offset, so when it carries none, or none above the applied one, the state comes back as it is (nothing
 * changed), and otherwise only `connection.offset` is replaced, frozen as immer would leave it; a send (on the
 * sender's hot path) appends its entry (`outboxWithSend`). Every other action goes to the slice.
 * `tests/unit/socketReducers.test.ts` holds it equal to the slice's reducer, action by action. One of the store's
 * hot-path shortcuts (bench/README.md, "What the store does for these figures").
 *
 * @example combineReducers({ socket: socketReducer })
 */
export const socketReducer: Reducer<SocketState> = (state, action) => {
  // A state nothing has reduced yet (preloaded) is not frozen: the slice freezes it, as immer does, kept or not; from
  // then on every state is frozen to its leaves, so only what the cases below make new needs freezing.
  if (state === undefined || !Object.isFrozen(state)) return socketSlice.reducer(state, action)
  if (sendMessage.match(action)) {
    // A send, reduced right after its emit (see `outboxHandler`): the entry appended, as the slice's case does.
    const outbox = outboxWithSend(state.outbox, action) as PendingMessage[]
    return outbox === state.outbox ? state : freeze({ ...state, outbox, rejectedSend: null }, true)
  }
  if (!OFFSET_ONLY_TYPES.has(action.type)) return socketSlice.reducer(state, action)
  const offset = (action as { meta?: { offset?: unknown } }).meta?.offset
  const c = state.connection
  if (typeof offset !== 'number' || (c.offset !== null && offset <= c.offset)) return state
  return withOffset(state, offset)
}

/**
 * `{ ...state, connection: { ...state.connection, offset } }`, frozen, built as literals of the two shapes' fields:
 * a spread of a frozen object takes V8's slow path, and was several times slower to build and freeze than these in a
 * scratch run (once per event of a burst: bench/README.md, "Measurements behind choices in the source").
 */
function withOffset(state: SocketState, offset: number): SocketState {
  const c = state.connection
  const connection: Connection = {
    status: c.status,
    socketId: c.socketId,
    error: c.error,
    attempt: c.attempt,
    lastConnectedAt: c.lastConnectedAt,
    offset,
    epoch: c.epoch,
    syncing: c.syncing,
    role: c.role,
  }
  const next: SocketState = {
    connection: Object.freeze(connection),
    rooms: state.rooms,
    joinedRooms: state.joinedRooms,
    outbox: state.outbox,
    rejectedSend: state.rejectedSend,
    kept: state.kept,
  }
  return Object.freeze(next)
}

/** Any root state that holds the socket slice under `socket`. */
export interface SocketRootState {
  socket: SocketState
}

/**
 * `{ status, socketId, error, attempt, lastConnectedAt, offset, epoch, syncing, role }`.
 *
 * @example const { status } = useAppSelector(selectConnection)
 */
export const selectConnection = (state: SocketRootState): Connection => state.socket.connection

/**
 * Whether the socket is connected (messages go over it rather than HTTP).
 *
 * @example useAppSelector(selectIsConnected)
 */
export const selectIsConnected = (state: SocketRootState): boolean => state.socket.connection.status === 'connected'

/**
 * Messages not confirmed yet (pending or failed), oldest first.
 *
 * @example useAppSelector(selectPendingMessages).length // ask before logging out when > 0
 */
export const selectPendingMessages = (state: SocketRootState): PendingMessage[] => state.socket.outbox

/**
 * How many unsent sends, of any user, a logout nobody asked for left in this page's memory alone (see `outboxKept`):
 * closing the page loses them.
 *
 * @example selectKeptUnsent(store.getState()) > 0 // ask before the page closes
 */
export const selectKeptUnsent = (state: SocketRootState): number => {
  let count = 0
  for (const user in state.socket.kept) count += state.socket.kept[user]!
  return count
}

/**
 * The last send refused because the outbox was full (`code: 'OUTBOX_FULL'`), or `null`.
 *
 * @example const rejected = useAppSelector(selectSendRejection) // show "Too many unsent messages…"
 */
export const selectSendRejection = (state: SocketRootState): SendRejection | null => state.socket.rejectedSend

/**
 * The conversations the user is looking at.
 *
 * @example const rooms = useAppSelector(selectRooms) // ['c1']
 */
export const selectRooms = (state: SocketRootState): Id[] => state.socket.rooms
