import { createSlice, type Reducer } from '@reduxjs/toolkit'
import { api } from '../api'
import type { Id } from '../contract'
import {
  disconnect,
  disconnected,
  ephemeralEventActions,
  reconnecting,
  serverEventActions,
  sessionEnded,
  sessionExpired,
  typingExpired,
} from './actions'

/** What the layer knows of a person's presence from the socket (the HTTP user list has it too, older). */
export interface PresenceEntry {
  online: boolean
  lastSeenAt: string | null
}

export interface PresenceState {
  /** Per conversation, who is typing there now (in the order they started). */
  typing: Record<Id, Id[]>
  /** Per user, the latest presence the socket told. */
  users: Record<Id, PresenceEntry>
  /**
   * The connection dropped since the socket last told presence (`presence:snapshot`): what it, or `/api/users`, said
   * before may be stale (nobody told this browser who left meanwhile) until the next connection's snapshot.
   */
  stale: boolean
  /**
   * The current connection has told presence (its `presence:snapshot` came): false before it, and from a drop (or any
   * of `stale`'s causes) until the next snapshot.
   */
  told: boolean
  /** The latest `/api/users` read asked while `told` is false (its request id), until it lands or the socket tells. */
  readUntold: string | null
  /**
   * Such a read has landed, with the socket still untold: what `/api/users` says is the newest word (the socket's older
   * one is dropped), and shown while the socket cannot say better — the reads over HTTP while it is down refresh it.
   */
  heardOverHttp: boolean
}

/**
 * The presence slice before any notice: nobody typing, nobody's presence known (and again after a logout).
 *
 * @example selectTyping({ presence: initialPresenceState }, 'c1') // []
 */
export const initialPresenceState: PresenceState = {
  typing: {},
  users: {},
  stale: false,
  told: false,
  readUntold: null,
  heardOverHttp: false,
}

/**
 * The socket went quiet (or was replaced): what it said may be stale, and an HTTP read from now on is newer. Already
 * quiet (each attempt of a reconnect says so again), a read over HTTP since still holds: the socket has said nothing.
 */
function quiet(state: PresenceState) {
  state.stale = true
  if (!state.told) return
  state.told = false
  state.readUntold = null
  state.heardOverHttp = false
}

function stopTyping(state: PresenceState, conversationId: Id, userId: Id) {
  const list = state.typing[conversationId]
  // Someone else's notice stays as it is: no copy of the list, so nothing changes and the state stays the same.
  if (!list?.includes(userId)) return
  const rest = list.filter((id) => id !== userId)
  if (rest.length > 0) state.typing[conversationId] = rest
  else delete state.typing[conversationId]
}

/**
 * Typing notices and presence, as the socket tells them. A notice shows until `typingExpired` (5 seconds after the
 * last one; the presence handler times it) or until that person's message arrives. Forgotten at logout.
 *
 * @example selectTyping(state, 'c1') // ['bob-id']
 */
export const presenceSlice = createSlice({
  name: 'presence',
  initialState: initialPresenceState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(ephemeralEventActions.typing, (state, { payload }) => {
        const list = (state.typing[payload.conversationId] ??= [])
        if (!list.includes(payload.userId)) list.push(payload.userId)
      })
      .addCase(typingExpired, (state, { payload }) => stopTyping(state, payload.conversationId, payload.userId))
      .addCase(serverEventActions['message:new'], (state, { payload }) =>
        stopTyping(state, payload.conversationId, payload.senderId),
      )
      .addCase(ephemeralEventActions['presence:changed'], (state, { payload: { userId, online, lastSeenAt } }) => {
        state.users[userId] = { online, lastSeenAt }
      })
      .addCase(ephemeralEventActions['presence:snapshot'], (state, { payload }) => {
        // The whole of whose presence the user may know now: someone it leaves out (no conversation shared any more, a
        // database reset) keeps no older word here, which would outrank `/api/users`' null for them.
        const users: Record<Id, PresenceEntry> = {}
        for (const { userId, online, lastSeenAt } of payload.users) users[userId] = { online, lastSeenAt }
        state.users = users
        state.stale = false
        state.told = true
        state.readUntold = null
        state.heardOverHttp = false
      })
      .addCase(disconnected, quiet)
      // Also without a `disconnected`: a live socket replaced (found dead after a sleep, its transport stalled, a
      // resync, the tab's role changed) is unbound before it closes, and what it said may be as old as that sleep.
      .addCase(reconnecting, quiet)
      // Nor when the layer closes the socket itself, unbound first: the app's own `disconnect`, or the session over
      // under a live socket (a refused refresh). The next connection, maybe much later, is stale until its snapshot.
      .addCase(disconnect, quiet)
      .addCase(sessionExpired, quiet)
      .addCase(sessionEnded, () => initialPresenceState)
      // The people read over HTTP while the socket says nothing (it never came up, or dropped: the reads made every
      // 15 s meanwhile) are newer than what it said before: shown, not hidden with it.
      .addMatcher(api.endpoints.getUsers.matchPending, (state, { meta }) => {
        if (!state.told) state.readUntold = meta.requestId
      })
      .addMatcher(api.endpoints.getUsers.matchFulfilled, (state, { meta }) => {
        if (state.told || meta.requestId !== state.readUntold) return
        state.readUntold = null
        state.heardOverHttp = true
        state.users = {}
      })
      // HTTP failing too (offline): nobody tells this browser who left since the last read, so its word goes as the
      // socket's did. A subscription that found the read cached or under way (`condition`) read nothing: no failure.
      .addMatcher(api.endpoints.getUsers.matchRejected, (state, { meta }) => {
        if (state.told || meta.condition || meta.requestId !== state.readUntold) return
        state.readUntold = null
        state.heardOverHttp = false
      })
  },
})

/**
 * `presenceSlice.reducer` with its busiest case taken without immer: a `message:new` (thousands in a burst) ends
 * its sender's typing notice, so when that sender has none in that conversation nothing changes and the state comes
 * back as it is. Every other action, and a message from someone typing there, goes to the slice.
 * `tests/unit/socketReducers.test.ts` holds it equal to the slice's reducer, action by action. One of the store's
 * hot-path shortcuts (bench/README.md, "What the store does for these figures").
 *
 * @example combineReducers({ presence: presenceReducer })
 */
export const presenceReducer: Reducer<PresenceState> = (state, action) => {
  if (state !== undefined && serverEventActions['message:new'].match(action)) {
    // Nobody typing anywhere, a burst's usual case, is told without reading `typing` by the conversation's id: for an
    // id fresh from the wire (a UUID) that read costs V8 a search of its string table (bench/README.md, "Receive
    // path, fifth pass").
    if (isEmpty(state.typing)) return state
    const { conversationId, senderId } = action.payload
    if (!state.typing[conversationId]?.includes(senderId)) return state
  }
  return presenceSlice.reducer(state, action)
}

/** Whether `record` has no key of its own (stops at the first). */
function isEmpty(record: object): boolean {
  for (const _key in record) return false
  return true
}

export interface PresenceRootState {
  presence: PresenceState
}

const NOBODY: readonly Id[] = []

/**
 * Who is typing in a conversation now (never the user: the server does not send one's own notices back).
 *
 * @example const typing = useAppSelector((state) => selectTyping(state, conversationId)) // ['bob']
 */
export const selectTyping = (state: PresenceRootState, conversationId: Id): readonly Id[] =>
  state.presence.typing[conversationId] ?? NOBODY

/**
 * The socket's latest word on a user's presence, if any.
 *
 * @example const live = useAppSelector((state) => selectPresence(state, userId)) // { online, lastSeenAt }
 */
export const selectPresence = (state: PresenceRootState, userId: Id): PresenceEntry | undefined =>
  state.presence.users[userId]
