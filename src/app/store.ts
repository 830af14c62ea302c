import { combineReducers, configureStore, type Middleware } from '@reduxjs/toolkit'
import { AUTH_STORAGE_KEY, api, loadAuth, refreshFailed } from '../api'
import { createSessionMiddleware, type SessionMiddlewareOptions } from '../api/sessionMiddleware'
import {
  connect,
  presenceReducer,
  socketReducer,
  createSocketMiddleware,
  shutdown,
  type CreateSocket,
  type SocketFactoryOptions,
  type SocketMiddlewareOptions,
  type StorageLike,
} from '../realtime'
import { afterTask } from './afterTask'
import { authSlice, loggedIn, loggedOut, tokenRefreshed } from './authSlice'
import { devToolsActionSanitizer, devToolsStateSanitizer } from './devTools'
import { passingSocketActions, skippingSocketActions, socketActionsRoot } from './socketActionBypass'
import { createMemoryStorage } from './storage'
import { storeEdges, type StoreEdges } from './storeEdges'

export type { StorageLike }
export { AUTH_STORAGE_KEY, createMemoryStorage, devToolsActionSanitizer, devToolsStateSanitizer }

/** The realtime options a store may tune (tests, or an app with its own connectivity signal). */
export type RealtimeOptions = Partial<
  Pick<
    SocketMiddlewareOptions,
    | 'drainLock'
    | 'outboxLimit'
    | 'retryTriggers'
    | 'invalidationWindowMs'
    | 'ackTimeoutMs'
    | 'backoff'
    | 'random'
    | 'socketOptions'
    | 'resumeHoldMs'
    | 'tabs'
    | 'timers'
    | 'now'
  >
>

/**
 * The app's root reducer: the slices, with the one shortcut for `socket/…` actions (`socketActionBypass.ts`), which
 * `tests/unit/socketActionBypass.test.ts` holds to the plain `combineReducers` of the same slices.
 */
export const rootReducer = socketActionsRoot(
  combineReducers({
    auth: skippingSocketActions(authSlice.reducer),
    socket: socketReducer,
    presence: presenceReducer,
    [api.reducerPath]: skippingSocketActions(api.reducer),
  }),
  { socket: socketReducer, presence: presenceReducer },
)

export type RootState = ReturnType<typeof rootReducer>

export interface MakeStoreOptions {
  /** The API's origin, e.g. `http://localhost:3000`: HTTP goes to `${apiUrl}/api`, the socket to `apiUrl`. */
  apiUrl?: string
  /** socket.io-client's `io(url, options)` or a stand-in; default `io`. */
  createSocket?: CreateSocket
  preloadedState?: Partial<RootState>
  /** Where the session is kept across reloads; default `localStorage` where there is one, else memory. */
  storage?: StorageLike
  /** Runs before every other middleware, so it sees every action (thunks included). */
  extraMiddleware?: Middleware[]
  /** The `fetch` HTTP goes through; default the global one. */
  fetchFn?: typeof fetch
  /** How long an API request may go unanswered before it fails (`TIMEOUT_ERROR`); default 30 s. */
  requestTimeoutMs?: number
  /** Tuning of the realtime layer (drain lock, outbox limit, retry triggers, invalidation window, backoff…). */
  realtime?: RealtimeOptions
  /** The clock and timers the scheduled token refresh uses (tests); default `Date.now` and the global timers. */
  session?: Pick<SessionMiddlewareOptions, 'now' | 'timers'>
  /**
   * One socket for all the tabs of this browser (one tab holds it, Web Locks + BroadcastChannel). Default `true`
   * where the page has both and the session is kept in the page's `localStorage` (so the tabs share one session);
   * elsewhere, or `false`, each tab has its own. `realtime.tabs` hands in other edges (tests).
   */
  shareSocket?: boolean
  /** Part of the lock's and channel's names: stores with different names behave as different browsers. Default `talemy`. */
  channelName?: string
  /**
   * How long messages must stay unsent where nothing keeps them (the storage refused them, or the page has none)
   * before the messages page says they would be lost with the page (`store.unsavedOutbox`), so that a message sent at
   * once never flashes it; default 2,000 ms. Closing the page asks first from the start.
   */
  unsavedNoticeAfterMs?: number
}

/**
 * Creates the app's store: auth (saved in `storage`, restored, shared with the other tabs), the socket slice,
 * the RTK Query api and the socket middleware. A restored session connects at once. `unsavedOutbox` tells whether
 * unsent messages would be lost with the page (see `unsavedOutbox.ts`). `dispose()` undoes what the store added to the
 * page (its window listeners) and ends the socket.
 *
 * @example
 * const store = makeStore({ apiUrl: 'http://localhost:3000' })
 * await store.dispatch(api.endpoints.login.initiate({ email, password })) // auth/loggedIn → the socket connects
 * store.dispose()
 */
export function makeStore(options: MakeStoreOptions = {}) {
  const edges = storeEdges(options)
  const restored = loadAuth(edges.storage)
  const store = configureStore({
    reducer: rootReducer,
    preloadedState: { ...(restored ? { auth: restored } : {}), ...options.preloadedState },
    middleware: (getDefaultMiddleware) =>
      getDefaultMiddleware({ thunk: { extraArgument: edges.extra } })
        // Prepended (like RTK's listener middleware) so its dispatch extension — the socket holder `useSocket`
        // asks for — comes before thunk's catch-all overload in `AppDispatch`. It passes thunks on untouched.
        .prepend(socketMiddleware(options, edges))
        .prepend(...((options.extraMiddleware ?? []) as []))
        // Last: it sees each action (never a thunk) right after the reducers, and reads the outbox they left.
        .concat(
          sessionMiddleware(options, edges),
          passingSocketActions(api.middleware),
          edges.unsavedOutbox.middleware,
          ...(edges.unsentInTabs ? [edges.unsentInTabs.middleware] : []),
        ),
    // Auto-batched actions (server events, cache patches) notify once, after the task they came in and the cache
    // work it queued: a burst is one render. Not RTK's default 'raf', which never runs in a hidden tab.
    enhancers: (getDefaultEnhancers) =>
      getDefaultEnhancers({ autoBatch: { type: 'callback', queueNotification: afterTask } }),
    devTools: process.env.NODE_ENV !== 'production' && {
      actionSanitizer: devToolsActionSanitizer,
      stateSanitizer: (state) => devToolsStateSanitizer(state, api.reducerPath),
    },
  })
  const stopListening = edges.listen(store)
  if (store.getState().auth.token) store.dispatch(connect())
  const { subscribe, getSnapshot, firstToSay } = edges.unsavedOutbox
  return Object.assign(store, {
    /** Whether this tab's unsent messages would be lost with the page (the messages page's notice). */
    unsavedOutbox: { subscribe, getSnapshot, firstToSay },
    /** Removes the store's window listeners and its session saving, ends the socket, and gives up waiting reads. */
    dispose() {
      stopListening()
      store.dispatch(shutdown())
      edges.close()
    },
  })
}

/**
 * The page's Socket.IO transports: a WebSocket from the first request, HTTP long-polling only where one cannot open.
 * Polling first (socket.io-client's default) sends a session's requests on whichever of the browser's connections is
 * free: behind a load balancer without sticky sessions (`npm run cluster`'s, nginx's round-robin) they reach other
 * nodes, which refuse a session they did not open (400), and the page does not come online.
 */
const PAGE_TRANSPORTS: SocketFactoryOptions = { transports: ['websocket', 'polling'], tryAllTransports: true }

function socketMiddleware(options: MakeStoreOptions, { apiUrl, storage, lock, tabs }: StoreEdges) {
  return createSocketMiddleware<RootState>({
    apiUrl,
    ...(options.createSocket ? { createSocket: options.createSocket } : {}),
    selectToken: (state) => state.auth.token,
    selectUserId: (state) => state.auth.user?.id ?? null,
    loggedIn,
    loggedOut,
    tokenRefreshed,
    refreshFailed,
    storage, // the durable outbox lives next to the session, one key per user
    ...options.realtime,
    socketOptions: { ...PAGE_TRANSPORTS, ...options.realtime?.socketOptions },
    drainLock: lock,
    tabs,
  })
}

function sessionMiddleware(options: MakeStoreOptions, { apiUrl, storage, serverClock }: StoreEdges) {
  return createSessionMiddleware({
    apiUrl,
    storage,
    ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
    serverClock,
    ...options.session,
  })
}

export type AppStore = ReturnType<typeof makeStore>
export type AppDispatch = AppStore['dispatch']
