import { isAnyOf, type UnknownAction } from '@reduxjs/toolkit'
import type { FetchBaseQueryError } from '@reduxjs/toolkit/query'
import { api } from '../api'
import { sessionEnded, sessionStarted, shutdown, syncCaughtUp, syncGap } from './actions'
import { keyedRetries } from './backoff'
import { catchUpTagsAt } from './cacheWork'
import type { Context, Handler } from './context'
import { failedForWantOfServer, failedReadsToMakeAgain, READS_FOR_THEIR_CALLER } from './failedReads'
import { outcomeOfHttpError } from './sendOutcome'
import type { SocketRootState } from './socketSlice'
import { subscriptionsOf, watchedReads } from './watchedReads'

/** How many times in a row a read that failed while connected is made again before it waits for the next sync. */
export const FAILED_READ_RETRIES = 5

// Every endpoint's: a write's actions carry no `queryCacheKey`, and are left there.
const endpoints = Object.values(api.endpoints)
const readFailed = isAnyOf(...endpoints.map((endpoint) => endpoint.matchRejected))
const readLanded = isAnyOf(...endpoints.map((endpoint) => endpoint.matchFulfilled))
const apiActionPrefix = `${api.reducerPath}/`

type ReadAction = UnknownAction & {
  payload?: unknown
  meta?: {
    arg?: { queryCacheKey?: string; endpointName?: string; originalArgs?: unknown; subscribe?: boolean }
    condition?: boolean
    requestStatus?: string
  }
}

/**
 * Reads that failed for want of the server are no events: no replay brings them back, and a thread whose re-read
 * failed keeps a hole until it is read again. So they are made again: at every sync (the server answers again), those
 * the catch-up reads anyway excepted; and while the socket is connected (the server is there: a 5xx, a timeout, a 429
 * past the base query's own tries), after the layer's backoff, up to `FAILED_READ_RETRIES` times in a row. A read
 * refused for what it asked (a 4xx) is not, nor one whose answer only its caller merges (`READS_FOR_THEIR_CALLER`),
 * nor one nobody subscribes to any more (its page left: made again, it would stay cached as long as it kept failing)
 * until its page comes back while connected.
 */
export function buildReadsHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch, getState } = ctx.mwApi
  const retries = keyedRetries<string>(ctx.timers, ctx.backoff, ctx.random)
  const reads = watchedReads()
  const subscriptions = () => subscriptionsOf(getState(), api.reducerPath)
  const watched = (key: string) => reads.watched(key, subscriptions())

  const makeAgain = (endpointName: string, originalArgs: unknown) =>
    dispatch(api.util.prefetch(endpointName as never, originalArgs as never, { force: true }) as never)
  const stillFailed = (key: string) => {
    const entry = ctx.view().queries[key] as { status?: string; error?: unknown } | undefined
    return entry?.status === 'rejected' && failedForWantOfServer(entry.error)
  }

  /** After `socket/shutdown` (the store disposed) nothing is scheduled: a read failing after it is no one's. */
  let stopped = false

  return (action, prevState) => {
    if (stopped) return
    if (sessionStarted.match(action) || sessionEnded.match(action) || shutdown.match(action)) {
      retries.clear()
      // The same user's new session keeps their pages, and what they have just subscribed to.
      if (!sessionStarted.match(action)) reads.clear()
      // A flag of its own, not the socket's status: `disconnected` ends at the next `connect`, a shutdown never.
      if (shutdown.match(action)) stopped = true
      return
    }
    if (syncGap.match(action) || syncCaughtUp.match(action)) {
      retries.clear()
      const view = ctx.view()
      const caughtUp = catchUpTagsAt(syncGap.match(action), prevState.socket.connection.offset, view.queries) ?? []
      const covered = new Set(api.util.selectInvalidatedBy(getState() as never, caughtUp).map((e) => e.queryCacheKey))
      for (const read of failedReadsToMakeAgain(view.queries, (key) => covered.has(key), watched))
        makeAgain(read.endpointName, read.originalArgs)
      return
    }
    if (typeof action.type !== 'string' || !action.type.startsWith(apiActionPrefix)) return
    const { meta, payload } = action as ReadAction
    const key = meta?.arg?.queryCacheKey
    if (key === undefined) return
    // The two actions a subscription comes with: a read made, or one its cached entry spared (`condition`).
    if (meta?.arg?.subscribe && (meta.requestStatus === 'pending' || meta.condition)) {
      reads.subscribed(key, subscriptions())
      // A page back on a read that failed for want of the server (its retry found it unwatched, or gave up): RTK
      // Query reads a failed entry again for a new subscriber only if it never had data, and this one's page would
      // show the old data with "Try again".
      const { endpointName = '', originalArgs } = meta.arg
      const connected = getState().socket.connection.status === 'connected'
      const spared = meta.condition && connected && !retries.waiting(key)
      if (spared && !READS_FOR_THEIR_CALLER.has(endpointName) && stillFailed(key)) makeAgain(endpointName, originalArgs)
    }
    if (readLanded(action)) {
      retries.forget(key)
      return
    }
    if (!readFailed(action) || meta?.condition || !failedForWantOfServer(payload)) return
    if (READS_FOR_THEIR_CALLER.has(meta?.arg?.endpointName ?? '')) return
    if (getState().socket.connection.status !== 'connected') return
    if (retries.failures(key) >= FAILED_READ_RETRIES) return
    const { endpointName, originalArgs } = meta!.arg!
    // At least the wait a 429 asked for (a proxy's `Retry-After` too: the base query tells it in the contract's body).
    const outcome = outcomeOfHttpError(payload as FetchBaseQueryError)
    retries.later(key, outcome.kind === 'retry' ? (outcome.retryAfterMs ?? 0) : 0, () => {
      // Read again meanwhile (a catch-up, the page's "Try again": landed, under way, or refused for what it asked),
      // given up, its page left, or the connection went: nothing to do.
      if (!watched(key) || !stillFailed(key)) return
      if (stopped || getState().socket.connection.status !== 'connected') return
      makeAgain(endpointName!, originalArgs)
    })
  }
}
