import { SHOULD_AUTOBATCH, type Dispatch, type MiddlewareAPI, type UnknownAction } from '@reduxjs/toolkit'
import type { Id } from '../contract'
import { api } from '../api'
import { internalError } from './actions'
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff'
import type { CacheView, CacheWork } from './cacheWork'
import type { SocketRootState } from './socketSlice'
import type { WritableSocketHolder } from './socketHolder'
import type { AppSocket, CreateSocket, SocketFactoryOptions } from './types'
import { createTagCoalescer, type TagCoalescer } from './coalescer'
import { defaultDrainLock, type DrainLock } from './drainLock'
import type { StorageLike } from './outboxStorage'
import type { RetryTriggers } from './triggers'
import type { ResumeSink } from './resumeHandler'
import { hostTimers, type Timers } from './timers'
import { directSink } from './resumeHandler'
import type { TabsLink, TabsOptions } from './tabs/tabsLink'
import type { Visibility } from './tabs/protocol'
import { documentVisibility } from './tabs/visibility'

/** Anything with RTK's `.match` (an action creator, `isAnyOf(...)`). */
export interface ActionMatcher {
  match(action: unknown): boolean
}

export type { RefreshOutcome } from '../api'
import type { RefreshOutcome } from '../api'

/** The options of `createSocketMiddleware`. */
export interface SocketMiddlewareOptions<S extends SocketRootState = SocketRootState> {
  /** The API's origin (the socket connects there), or how to read it. */
  apiUrl: string | ((state: S) => string)
  /** socket.io-client's `io`, or a fake in tests. Default `io`. */
  createSocket?: CreateSocket
  /** The current token; read at every handshake through Socket.IO's `auth` callback. */
  selectToken: (state: S) => string | null | undefined
  /** The logged-in user's id: pending copies carry it, and one's own messages do not count as unread. */
  selectUserId?: (state: S) => Id | null | undefined
  /** The app's login action (connects by itself). */
  loggedIn: ActionMatcher
  /** The app's logout action (disconnects, forgets rooms and pending sends, resets the api state). */
  loggedOut: ActionMatcher
  /** The app's token refresh action (a socket waiting for a token connects with it). */
  tokenRefreshed?: ActionMatcher
  /** The app's "refresh refused" action (an HTTP 401 could not be cured): status `unauthorized`, outbox kept. */
  refreshFailed?: ActionMatcher
  /**
   * Gets a fresh token after a refused handshake or a server-side kick (it dispatches the app's refresh action).
   * Default: the api's `refreshToken` mutation. `false`: never refresh (a refusal means `unauthorized`).
   */
  refreshToken?: false | ((api: MiddlewareAPI<Dispatch<UnknownAction>, S>) => Promise<RefreshOutcome>)
  /** Passed to `createSocket` (under the middleware's own `autoConnect`, `forceNew` and `auth`). */
  socketOptions?: SocketFactoryOptions
  /** How long an emit waits for its ack before the send goes over HTTP (and a join counts as failed). Default 5,000. */
  ackTimeoutMs?: number
  /** Backoff of send retries and of handshake retries Socket.IO does not do itself. Default 500 ms … 30 s. */
  backoff?: BackoffOptions
  /** The random source of the backoff's jitter (tests pass a constant). Default `Math.random`. */
  random?: () => number
  /**
   * Where the durable outbox is kept (one key per user id, `talemy.outbox.<userId>`), restored at the next page or
   * login of that user, cleared at logout. Without it the outbox lives in memory only.
   */
  storage?: StorageLike
  /** The lock that lets one tab of a user drain the outbox. Default: Web Locks, else a lease in `storage`. */
  drainLock?: DrainLock
  /** The most unconfirmed messages kept; a send beyond is refused (`socket/sendRejected`). Default 500. */
  outboxLimit?: number
  /** "Try again now" signals (the browser's `online`, the tab becoming visible). Default: the browser's. */
  retryTriggers?: RetryTriggers
  /** Every timer of the layer (reconnect backoffs, send and join retries, the invalidation window, the lease lock). Default: the host's `setTimeout`/`clearTimeout`. */
  timers?: Timers
  /** The clock of the layer's machines (the tabs' election, the lease lock), in ms. Default `Date.now`. */
  now?: () => number
  /** Tags invalidated by events are flushed at most once per window, in ms. Default 250. */
  invalidationWindowMs?: number
  /**
   * How long logged events above a hole in the offsets wait for the missing ones before the socket reconnects and
   * resumes from the applied offset, in ms (through `timers`). Default 2,000.
   */
  resumeHoldMs?: number
  /**
   * Whether the page is visible. A store with a socket of its own looks at its open conversations (`conversation:join`,
   * which marks them read) only while it is; with `tabs`, the hub does that with the tabs' visibility. Default: the
   * document's.
   */
  visibility?: Visibility
  /**
   * One socket for every tab of the browser: the edges to share it on (`browserTabs(channelName)` in a page). Without
   * them (or `null`) this store has a socket of its own (`role: 'solo'`).
   */
  tabs?: TabsOptions | null
}

/** What the handlers share; one per store (created when the middleware is applied). */
export interface Context<S extends SocketRootState = SocketRootState> {
  readonly mwApi: MiddlewareAPI<Dispatch<UnknownAction>, S>
  readonly options: SocketMiddlewareOptions<S>
  readonly holder: WritableSocketHolder
  /** The socket, only ever here (and in the holder): never in state, never in an action. */
  socket: AppSocket | null
  /** Bumped at every login and logout: answers that arrive for an older session are dropped. */
  session: number
  readonly ackTimeoutMs: number
  readonly backoff: BackoffOptions
  readonly random: () => number
  readonly timers: Timers
  readonly now: () => number
  readonly lock: DrainLock
  readonly coalescer: TagCoalescer
  readonly outboxLimit: number
  /** Where `bindSocket` hands logged and sync events (the offset gate, set by `buildResumeHandler`). */
  resume: ResumeSink
  /** The tabs' shared socket (set by `buildTabsHandler`), or null for a solo store. */
  tabs: TabsLink | null
  /** Whether the page is visible: only a visible page looks at its open conversations. */
  readonly visibility: Visibility
  view(state?: S): CacheView
  applyCacheWork(work: CacheWork): void
  report(where: string, error: unknown): void
}

/** A middleware handler, like RTK Query's `build…Handler`s: reacts to an action after the reducers ran. */
export type Handler<S extends SocketRootState = SocketRootState> = (action: UnknownAction, prevState: S) => void

const isDev = process.env.NODE_ENV !== 'production'
const NO_ROOMS: readonly Id[] = []

export function createContext<S extends SocketRootState>(
  options: SocketMiddlewareOptions<S>,
  mwApi: MiddlewareAPI<Dispatch<UnknownAction>, S>,
  holder: WritableSocketHolder,
): Context<S> {
  const timers = options.timers ?? hostTimers
  const now = options.now ?? Date.now
  const coalescer = createTagCoalescer(
    // Auto-batched like the patches, so an event burst still notifies subscribers once.
    (tags) => mwApi.dispatch({ ...api.util.invalidateTags(tags), meta: { [SHOULD_AUTOBATCH]: true } }),
    options.invalidationWindowMs ?? 250,
    timers,
  )
  const visibility = options.visibility ?? options.tabs?.visibility ?? documentVisibility()
  const ctx: Context<S> = {
    mwApi,
    options,
    holder,
    socket: null,
    session: 0,
    ackTimeoutMs: options.ackTimeoutMs ?? 5_000,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    random: options.random ?? Math.random,
    timers,
    now,
    lock: options.drainLock ?? defaultDrainLock(options.storage, timers, now),
    coalescer,
    outboxLimit: options.outboxLimit ?? 500,
    resume: directSink(mwApi.dispatch),
    tabs: null,
    visibility,
    view(state = mwApi.getState()) {
      const queries =
        (state as { [K in typeof api.reducerPath]?: { queries?: CacheView['queries'] } })[api.reducerPath]?.queries ??
        {}
      // A hidden page looks at nothing (the server counts its open thread's new messages unread): nor does its cache.
      // Nor does a thread whose join the server has not answered yes on this connection.
      const rooms = visibility.visible() ? state.socket.joinedRooms : NO_ROOMS
      return { queries, userId: options.selectUserId?.(state) ?? null, rooms }
    },
    applyCacheWork(work) {
      const { dispatch } = mwApi
      for (const p of work.patches) {
        // Each is one root `replace` with the entry's next list (see `cacheWorkForBurst`). `updateProvided` false: our
        // lists provide one static tag, recomputing it per patch would only cost time.
        // (`arg` is each endpoint's own: a conversation id for a thread, `undefined` for a list.)
        dispatch(api.util.patchQueryData(p.endpointName, p.arg as never, p.patches, false) as never)
      }
      // Gathered over a window: many events invalidating the same list cost one refetch.
      if (work.invalidate.length > 0) coalescer.add(work.invalidate)
    },
    report(where, error) {
      const message = error instanceof Error ? error.message : String(error)
      if (isDev) console.error(`[realtime] ${where}:`, error)
      try {
        mwApi.dispatch(internalError({ where, message }))
      } catch {
        // Reporting must never throw either.
      }
    },
  }
  return ctx
}
