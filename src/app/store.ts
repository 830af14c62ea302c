import { combineReducers, configureStore, type Middleware } from '@reduxjs/toolkit'
import { AUTH_STORAGE_KEY, api, loadAuth, refreshFailed, type ApiExtra, type ServerClock } from '../api'
import { createSessionMiddleware, type SessionMiddlewareOptions } from '../api/sessionMiddleware'
import {
  browserTabs,
  connect,
  presenceReducer,
  socketReducer,
  createSocketMiddleware,
  defaultDrainLock,
  shutdown,
  type CreateSocket,
  type SocketMiddlewareOptions,
  type StorageLike,
} from '../realtime'
import { afterTask } from './afterTask'
import { authSlice, loggedIn, loggedOut, tokenRefreshed } from './authSlice'
import { devToolsActionSanitizer, devToolsStateSanitizer } from './devTools'
import { syncDiscards } from './discardSync'
import { syncSession } from './sessionSync'
import { passingSocketActions, skippingSocketActions, socketActionsRoot } from './socketActionBypass'
import { browserStorage, createMemoryStorage, defaultApiUrl } from './storage'
import { watchUnsavedOutbox } from './unsavedOutbox'

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
 * The app's root reducer: the slices, with the shortcuts for `socket/…` actions (`socketActionBypass.ts`, and the
 * socket and presence slices without immer), which `tests/unit/socketActionBypass.test.ts` and
 * `tests/unit/socketReducers.test.ts` hold to the plain `combineReducers` of the slices (bench/README.md, "What the
 * store does for these figures").
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
  const pageStorage = browserStorage()
  const storage = options.storage ?? pageStorage ?? createMemoryStorage()
  const apiUrl = (options.apiUrl ?? defaultApiUrl()).replace(/\/+$/, '')
  // One lock for the outbox drain and the token refresh (different names): Web Locks, else a lease in `storage`.
  const lock = options.realtime?.drainLock ?? defaultDrainLock(storage, options.realtime?.timers, options.realtime?.now)
  // The offset from the server's clock, learnt by the session middleware and read by the api's refresh.
  const serverClock: ServerClock = { skewMs: 0 }
  const lifetime = new AbortController()
  const extra: ApiExtra = {
    apiUrl,
    storage,
    refreshLock: lock,
    serverClock,
    stopped: lifetime.signal,
    ...(options.session?.now ? { now: options.session.now } : {}),
    ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  }
  const restored = loadAuth(storage)
  const sharing = tabsEdges(options, storage === pageStorage)
  const unsavedOutbox = watchUnsavedOutbox({
    // Memory put in for a page without storage: nothing of the outbox outlives the page.
    durable: options.storage !== undefined || pageStorage !== undefined,
    noticeAfterMs: options.unsavedNoticeAfterMs ?? 2_000,
    ...(typeof window !== 'undefined' && typeof window.addEventListener === 'function' ? { page: window } : {}),
  })

  const socketMiddleware = createSocketMiddleware<RootState>({
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
    drainLock: lock,
    tabs: sharing,
  })
  const sessionMiddleware = createSessionMiddleware({
    apiUrl,
    storage,
    ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
    serverClock,
    ...options.session,
  })

  const store = configureStore({
    reducer: rootReducer,
    preloadedState: { ...(restored ? { auth: restored } : {}), ...options.preloadedState },
    middleware: (getDefaultMiddleware) =>
      getDefaultMiddleware({ thunk: { extraArgument: extra } })
        // Prepended (like RTK's listener middleware) so its dispatch extension — the socket holder `useSocket`
        // asks for — comes before thunk's catch-all overload in `AppDispatch`. It passes thunks on untouched.
        .prepend(socketMiddleware)
        .prepend(...((options.extraMiddleware ?? []) as []))
        // Last: it sees each action (never a thunk) right after the reducers, and reads the outbox they left.
        .concat(sessionMiddleware, passingSocketActions(api.middleware), unsavedOutbox.middleware),
    // Auto-batched actions (server events, cache patches) notify once, after the task they came in and the cache
    // work it queued: a burst is one render. Not RTK's default 'raf', which never runs in a hidden tab.
    enhancers: (getDefaultEnhancers) =>
      getDefaultEnhancers({ autoBatch: { type: 'callback', queueNotification: afterTask } }),
    devTools: process.env.NODE_ENV !== 'production' && {
      actionSanitizer: devToolsActionSanitizer,
      stateSanitizer: (state) => devToolsStateSanitizer(state, api.reducerPath),
    },
  })

  // Tabs are kept in step only through the page's own storage (its `storage` event).
  const tabs =
    typeof window !== 'undefined' && typeof window.addEventListener === 'function' && storage === pageStorage
      ? window
      : undefined
  const stopSync = syncSession(store, storage, tabs)
  const stopDiscardSync = tabs ? syncDiscards(store, storage, tabs) : () => {}
  if (store.getState().auth.token) store.dispatch(connect())
  return Object.assign(store, {
    /** Whether this tab's unsent messages would be lost with the page (the messages page's notice). */
    unsavedOutbox: {
      subscribe: unsavedOutbox.subscribe,
      getSnapshot: unsavedOutbox.getSnapshot,
      firstToSay: unsavedOutbox.firstToSay,
    },
    /** Removes the store's window listeners and its session saving, ends the socket, and gives up waiting reads. */
    dispose() {
      stopSync()
      stopDiscardSync()
      store.dispatch(shutdown())
      lifetime.abort()
      unsavedOutbox.dispose()
      sharing?.channel.close()
    },
  })
}

/**
 * The edges the store's tabs share one socket on, or null. `realtime.tabs` given (edges, or null for none) wins over
 * the page's. By default the page's are used only when the session lives in the page's own storage: the tabs then
 * follow one another's logins and logouts, so the tab holding the socket is always logged in as the others are.
 */
function tabsEdges(options: MakeStoreOptions, sessionInPageStorage: boolean) {
  if (options.shareSocket === false) return null
  if (options.realtime && 'tabs' in options.realtime) return options.realtime.tabs ?? null
  if (options.shareSocket !== true && !sessionInPageStorage) return null
  return browserTabs(options.channelName ?? 'talemy')
}

export type AppStore = ReturnType<typeof makeStore>
export type AppDispatch = AppStore['dispatch']
