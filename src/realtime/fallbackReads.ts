import { api } from '../api'
import { sessionEnded, shutdown } from './actions'
import { catchUpTagsAt } from './cacheWork'
import type { Context, Handler } from './context'
import { failedForWantOfServer } from './failedReads'
import type { TimerHandle } from './timers'
import { subscriptionsOf, watchedReads } from './watchedReads'
import type { SocketRootState } from './socketSlice'

/** How often what the pages show is read again over HTTP while the socket is down, in ms. */
export const FALLBACK_READ_INTERVAL_MS = 15_000

/**
 * While HTTP did not answer either, one turn in this many reads all the same: nothing else may ask (a user who touches
 * nothing), and without it the pages would stay stale once the network is back for as long as the socket stays refused.
 */
export const FALLBACK_PROBE_EVERY_TURNS = 4

/**
 * While the socket is down (`connecting`, `reconnecting`: a proxy that blocks it, a server whose socket path fails) no
 * event comes, and HTTP may still answer: without reading again, a page would show what it showed when the socket went
 * (a lesson confirmed since, the other person's messages never arriving) for as long as that lasts. So every
 * `FALLBACK_READ_INTERVAL_MS` what events feed is read again (RTK Query's polling, as a tag invalidation: only what a
 * page subscribes to is fetched), skipped while the page is hidden (`skipPollingIfUnfocused`) or while HTTP did not
 * answer either (the last answer failed for want of the server: the socket's return reads what was missed, any HTTP
 * answer meanwhile starts the reads again, and one turn in `FALLBACK_PROBE_EVERY_TURNS` reads all the same). A page
 * come back to an entry a turn passed over (kept, unread, while nobody showed it) has it read at once. It stops
 * once the socket is back and synced: the sync brings what was missed. `disconnected` (the app's own choice) and
 * `unauthorized` do not poll.
 */
export function buildFallbackReadsHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch, getState } = ctx.mwApi
  let timer: TimerHandle | null = null
  let stopped = false
  /** Whether HTTP answered last time it was asked (a read or a write: any answer the server gave). */
  let httpAnswers = true
  /** Turns skipped since HTTP last failed for want of the server. */
  let skipped = 0
  /**
   * Who reads what, as RTK Query's state will say it: a page come back to a cached entry is in that state up to half a
   * second later, and a turn meanwhile would pass it over, the page showing what it showed before the socket went.
   */
  const reads = watchedReads()
  /**
   * Entries a turn passed over (nobody showed them), kept as they were when the socket went: a page come back to one
   * would show that until the next turn, up to `FALLBACK_READ_INTERVAL_MS` more, so it is read at once.
   */
  const passedOver = new Set<string>()

  // Connected is not back until the sync: a socket refused right after its connect (a proxy closing it, a failing
  // socket path), again and again, replays nothing, and would otherwise put the next read off at every turn.
  const down = () => {
    const { status, syncing } = getState().socket.connection
    return !stopped && (status === 'connecting' || status === 'reconnecting' || (status === 'connected' && syncing))
  }
  const stop = () => {
    if (timer !== null) ctx.timers.clearTimeout(timer)
    timer = null
  }
  const tick = () => {
    timer = null
    if (!down()) return
    // The next turn first: the invalidation below comes back through this handler, which would start another.
    timer = ctx.timers.setTimeout(tick, FALLBACK_READ_INTERVAL_MS)
    if (!ctx.visibility.visible()) return
    if (!httpAnswers && ++skipped < FALLBACK_PROBE_EVERY_TURNS) return
    skipped = 0
    // Only tags some page reads: an invalidated entry nobody subscribes to is dropped, where it would have been kept
    // for the page coming back (`keepUnusedDataFor`).
    const state = getState() as never
    const subscriptions = subscriptionsOf(state, api.reducerPath)
    const read = (key: string) => reads.watched(key, subscriptions)
    const fed = catchUpTagsAt(true, null, ctx.view().queries) ?? []
    for (const { queryCacheKey } of api.util.selectInvalidatedBy(state, fed))
      if (!read(queryCacheKey)) passedOver.add(queryCacheKey)
    const tags = fed.filter((tag) =>
      api.util.selectInvalidatedBy(state, [tag]).some((entry) => read(entry.queryCacheKey)),
    )
    if (tags.length > 0) dispatch(api.util.invalidateTags(tags))
  }

  return (action) => {
    if (shutdown.match(action)) stopped = true
    if (shutdown.match(action) || sessionEnded.match(action)) {
      reads.clear()
      passedOver.clear()
    }
    const type = typeof action.type === 'string' ? action.type : ''
    if (type.startsWith(`${api.reducerPath}/`)) {
      const { requestStatus, arg, condition } = (action as { meta?: ReadMeta }).meta ?? {}
      // A subscription: a read made, or one its cached entry spared (`condition`).
      if (arg?.subscribe && arg.queryCacheKey !== undefined && (requestStatus === 'pending' || condition))
        reads.subscribed(arg.queryCacheKey, subscriptionsOf(getState(), api.reducerPath))
      const key = arg?.queryCacheKey
      if (key !== undefined && passedOver.has(key)) {
        // Read (or being read): as fresh as the pages the turns read.
        if (requestStatus === 'pending' || requestStatus === 'fulfilled') passedOver.delete(key)
        else if (condition && arg?.subscribe && down() && httpAnswers && ctx.visibility.visible()) {
          passedOver.delete(key)
          const { endpointName, originalArgs } = arg
          if (endpointName !== undefined)
            dispatch(api.util.prefetch(endpointName as never, originalArgs as never, { force: true }) as never)
        }
      }
      if (requestStatus === 'fulfilled') httpAnswers = true
      else if (requestStatus === 'rejected' && answeredByNoServer(action)) {
        if (httpAnswers) skipped = 0
        httpAnswers = false
      }
    }
    if (!down()) {
      stop()
      // The replay brings what they missed (a gap's catch-up drops them).
      passedOver.clear()
      // Back and synced: the server answered, and what HTTP did in an outage before this one says nothing of the next
      // (a send that found no network in a blip would otherwise skip the next outage's first turns, its pages stale).
      if (!httpAnswers && getState().socket.connection.status === 'connected') httpAnswers = true
    } else if (timer === null) timer = ctx.timers.setTimeout(tick, FALLBACK_READ_INTERVAL_MS)
  }
}

/** What of an api action's `meta` this handler reads. */
interface ReadMeta {
  requestStatus?: string
  arg?: { queryCacheKey?: string; subscribe?: boolean; endpointName?: string; originalArgs?: unknown }
  condition?: boolean
}

function answeredByNoServer(action: unknown): boolean {
  const { payload, meta } = action as { payload?: unknown; meta?: { condition?: boolean } }
  return !meta?.condition && failedForWantOfServer(payload)
}
