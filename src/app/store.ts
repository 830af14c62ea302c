import { combineReducers, configureStore, type Middleware, type Reducer, type StoreEnhancer, type UnknownAction } from '@reduxjs/toolkit'
import { AUTH_STORAGE_KEY, api, loadAuth, saveAuth, sessionRefreshFailed, type ApiExtra } from '../api'
import { createSessionMiddleware, type SessionMiddlewareOptions } from '../api/sessionMiddleware'
import {
  PREFIX,
  connect,
  defaultDrainLock,
  connectionSlice,
  createSocketMiddleware,
  shutdown,
  type CreateSocket,
  type SocketMiddlewareOptions,
  type StorageLike,
} from '../realtime'
import { authSlice, loggedIn, loggedOut, tokenRefreshed, type AuthState } from './authSlice'

/** The Web Storage shape `makeStore` needs (`localStorage`, `sessionStorage`, or a memory one in Node). */
export type { StorageLike }

/** The realtime options a store may tune (tests, or an app with its own connectivity signal). */
export type RealtimeOptions = Partial<
  Pick<
    SocketMiddlewareOptions,
    'drainLock' | 'outboxLimit' | 'retryTriggers' | 'invalidationWindowMs' | 'ackTimeoutMs' | 'backoff' | 'random' | 'socketOptions'
  >
>

/** Whether an action is one of the realtime layer's own (`socket/…`): an event burst is thousands of them. */
const isSocketAction = (action: { type: unknown }) => typeof action.type === 'string' && action.type.startsWith(PREFIX)

/**
 * `reducer`, not run for the layer's own `socket/…` actions, which it never handles (it keeps its state). The auth
 * slice reduces only `auth/…`; RTK Query's reducer only its own, `__rtkq/…`, `@@redux/…` and rehydration actions (our
 * api has no `extractRehydrationInfo`) — yet it costs ~3 µs to say so for every action (a memoized check per action
 * object), the largest single cost of dispatching a socket event.
 */
function skippingSocketActions<S>(reducer: Reducer<S>): Reducer<S> {
  return (state, action) => (state !== undefined && isSocketAction(action) ? state : reducer(state, action))
}

const rootReducer = combineReducers({
  auth: skippingSocketActions(authSlice.reducer),
  socket: connectionSlice.reducer,
  [api.reducerPath]: skippingSocketActions(api.reducer),
})

/**
 * RTK Query's middleware, passing the layer's own `socket/…` actions straight on: none of its handlers matches them
 * (they only react to the api's own actions, focus/online and rehydration), and each action costs it ~1.5 µs.
 */
const apiMiddleware: Middleware = (mwApi) => {
  const withApi = api.middleware(mwApi)
  return (next) => {
    const handle = withApi(next)
    return (action) => (isSocketAction(action as { type: unknown }) ? next(action) : handle(action))
  }
}

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
  /** Tuning of the realtime layer (drain lock, outbox limit, retry triggers, invalidation window, backoff…). */
  realtime?: RealtimeOptions
  /** The clock and timers the scheduled token refresh uses (tests); default `Date.now` and the global timers. */
  session?: Pick<SessionMiddlewareOptions, 'now' | 'timers'>
}

/** Where the session is saved (the refresh token is kept apart, see `src/api/credentials.ts`). */
export { AUTH_STORAGE_KEY }

/**
 * A Web Storage stand-in kept in memory (Node, tests, browsers with storage disabled).
 *
 * @example makeStore({ storage: createMemoryStorage() })
 */
export function createMemoryStorage(): StorageLike {
  const items = new Map<string, string>()
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, String(value)),
    removeItem: (key) => void items.delete(key),
  }
}

function defaultBrowserStorage(): StorageLike | undefined {
  try {
    return typeof localStorage !== 'undefined' && localStorage ? localStorage : undefined
  } catch {
    return undefined
  }
}

function defaultStorage(): StorageLike {
  return defaultBrowserStorage() ?? createMemoryStorage()
}

function envApiUrl(): string | undefined {
  try {
    // Vite replaces these at build time (`envPrefix` covers both; NEXT_PUBLIC_ is the first integration's name).
    return import.meta.env.VITE_API_URL || import.meta.env.NEXT_PUBLIC_API_URL || undefined
  } catch {
    // Outside Vite (Node, tsx) there is no import.meta.env.
    return undefined
  }
}

function defaultApiUrl(): string {
  const fromEnv = envApiUrl()
  if (fromEnv) return fromEnv
  return typeof window !== 'undefined' && window.location ? window.location.origin : ''
}

/**
 * RTK Query mirrors its subscriptions into `api.subscriptions` on a 500 ms timer, for DevTools only (its hooks read
 * them from the middleware): a notification for that alone re-runs every subscriber's selectors for nothing — and
 * lands in the middle of whatever the app is doing, e.g. as a second notification in a task of an event burst.
 * This enhancer (outermost, so it sees the auto-batched notifications too) skips a subscriber's call when the only
 * change since its previous call is that mirror; the next real change reaches it with the mirror included.
 */
const skipSubscriptionMirrorNotifications: StoreEnhancer = (next) => (reducer, preloadedState) => {
  const store = next(reducer, preloadedState)
  return {
    ...store,
    subscribe(listener: () => void) {
      let seen = store.getState() as Record<string, unknown>
      return store.subscribe(() => {
        const state = store.getState() as Record<string, unknown>
        const mirrorOnly = onlyKeyChanged(seen, state, 'api') && onlyKeyChanged(seen.api, state.api, 'subscriptions')
        seen = state
        if (!mirrorOnly) listener()
      })
    },
  }
}

/** Whether `a` and `b` are distinct objects whose properties are the same but `key`. */
function onlyKeyChanged(a: unknown, b: unknown, key: string): boolean {
  if (a === b || typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  const keys = Object.keys(y)
  if (keys.length !== Object.keys(x).length) return false
  for (const k of keys) if (k !== key && x[k] !== y[k]) return false
  return true
}

const MASK = '********'

/** The same value with `originalArgs.password` masked, or the value itself when there is none. */
function withArgsMasked<T>(holder: T): T {
  const args = (holder as { originalArgs?: unknown } | null | undefined)?.originalArgs
  if (typeof args !== 'object' || args === null || !('password' in args)) return holder
  return { ...holder, originalArgs: { ...args, password: MASK } }
}

/**
 * Redux DevTools: the login mutation's `{ email, password }` rides in its actions' `meta.arg.originalArgs` (RTK
 * Query's `executeMutation` pending/fulfilled/rejected). What DevTools are shown has any `password` of an endpoint's
 * arguments masked; the store itself is untouched.
 *
 * @example devToolsActionSanitizer(pendingLogin).meta.arg.originalArgs // { email, password: '********' }
 */
export function devToolsActionSanitizer<A extends UnknownAction>(action: A): A {
  const meta = (action as { meta?: { arg?: unknown } }).meta
  const arg = meta?.arg
  const masked = withArgsMasked(arg)
  return masked === arg ? action : { ...action, meta: { ...meta, arg: masked } }
}

/** DevTools' view of the state: a tracked mutation entry that carries its arguments gets its `password` masked. */
export function devToolsStateSanitizer<S>(state: S): S {
  const api = (state as { api?: { mutations?: Record<string, unknown> } } | null)?.api
  const mutations = api?.mutations
  if (!mutations) return state
  let changed = false
  const shown: Record<string, unknown> = {}
  for (const [key, entry] of Object.entries(mutations)) {
    shown[key] = withArgsMasked(entry)
    if (shown[key] !== entry) changed = true
  }
  return changed ? { ...state, api: { ...api, mutations: shown } } : state
}

/**
 * Creates the app's store: auth (saved in `storage` and restored), the connection slice, the RTK Query api, and the
 * socket middleware. A restored session connects at once.
 *
 * @example
 * const store = makeStore({ apiUrl: 'http://localhost:3000' })
 * await store.dispatch(api.endpoints.login.initiate({ email, password })) // auth/loggedIn → the socket connects
 */
export function makeStore(options: MakeStoreOptions = {}) {
  const storage = options.storage ?? defaultStorage()
  const apiUrl = (options.apiUrl ?? defaultApiUrl()).replace(/\/+$/, '')
  // One lock for the outbox drain and the token refresh (different names): Web Locks, else a lease in `storage`.
  const lock = options.realtime?.drainLock ?? defaultDrainLock(storage)
  const extra: ApiExtra = { apiUrl, storage, refreshLock: lock, ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}) }
  const restored = loadAuth(storage)
  const preloadedState: Partial<RootState> = {
    ...(restored ? { auth: restored } : {}),
    ...options.preloadedState,
  }

  const socketMiddleware = createSocketMiddleware<RootState>({
    apiUrl,
    ...(options.createSocket ? { createSocket: options.createSocket } : {}),
    selectToken: (state) => state.auth.token,
    selectUserId: (state) => state.auth.user?.id ?? null,
    loggedIn,
    loggedOut,
    tokenRefreshed,
    refreshFailed: sessionRefreshFailed,
    // The durable outbox lives next to the session, one key per user.
    storage,
    ...options.realtime,
    drainLock: lock,
  })
  const sessionMiddleware = createSessionMiddleware({
    apiUrl,
    storage,
    ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
    ...options.session,
  })

  const store = configureStore({
    reducer: rootReducer,
    preloadedState,
    middleware: (getDefaultMiddleware) =>
      getDefaultMiddleware({ thunk: { extraArgument: extra } })
        // Prepended (like RTK's listener middleware) so its dispatch extension — the socket holder `useSocket`
        // asks for — comes before thunk's catch-all overload in `AppDispatch`. It passes thunks on untouched.
        .prepend(socketMiddleware)
        .prepend(...((options.extraMiddleware ?? []) as []))
        .concat(sessionMiddleware, apiMiddleware),
    // Notify subscribers at most once per task: a burst of socket events and their cache patches (all auto-batched
    // actions) is one render. RTK's 'tick' (one microtask) would notify before the layer's cache flush, itself a
    // microtask queued by the first event of the burst; two hops notify after it. Not the default 'raf': that never
    // runs in a hidden tab, and in Node it is a 10 ms timer.
    enhancers: (getDefaultEnhancers) =>
      getDefaultEnhancers({ autoBatch: { type: 'callback', queueNotification: (notify) => queueMicrotask(() => queueMicrotask(notify)) } }).prepend(
        skipSubscriptionMirrorNotifications,
      ),
    devTools:
      process.env.NODE_ENV !== 'production' && { actionSanitizer: devToolsActionSanitizer, stateSanitizer: devToolsStateSanitizer },
  })

  let saved = store.getState().auth
  /** Set while this tab leaves a session another tab replaced: storage holds theirs, which must stay. */
  let leavingForAnotherTab = false
  store.subscribe(() => {
    const auth = store.getState().auth
    if (auth === saved) return
    saved = auth
    if (!leavingForAnotherTab) saveAuth(storage, auth)
  })

  // Other tabs of this browser share the session through storage (its `storage` event): one logging out logs this
  // one out too; a token one refreshed is used here as well (the next handshake and request read it).
  if (typeof window !== 'undefined' && typeof window.addEventListener === 'function' && storage === defaultBrowserStorage()) {
    window.addEventListener('storage', (event) => {
      if (event.key !== AUTH_STORAGE_KEY) return
      const { token, user } = store.getState().auth
      if (!token) return
      if (event.newValue === null) {
        store.dispatch(loggedOut())
        return
      }
      const other = loadAuth(storage)
      if (!other) return
      if (other.user?.id !== user?.id) {
        // Another user logged in there: this tab leaves too (it adopts nothing: the user logs in again here), without
        // removing the stored session (theirs) nor this user's stored outbox (nobody asked them to drop it).
        leavingForAnotherTab = true
        try {
          store.dispatch(loggedOut({ keepOutbox: true }))
        } finally {
          leavingForAnotherTab = false
        }
        return
      }
      if (other.token && other.token !== token) store.dispatch(tokenRefreshed({ token: other.token }))
    })
    // The page goes away: the drain lock (a lease where there are no Web Locks) is let go at once for the other tabs.
    // A page kept in the back/forward cache (`persisted`) may come back alive, so it keeps its store.
    window.addEventListener('pagehide', (event) => {
      if (!(event as PageTransitionEvent).persisted) store.dispatch(shutdown())
    })
  }

  if (store.getState().auth.token) store.dispatch(connect())
  return store
}

export type AppStore = ReturnType<typeof makeStore>
export type AppDispatch = AppStore['dispatch']
