/** RTK Query's `subscriptions` state: per cache key, its subscribers (by request id). */
export type SubscriptionsView = Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>

const NO_SUBSCRIPTIONS: SubscriptionsView = {}

/** RTK Query's `subscriptions` in the root state, under its `reducerPath` (none before its first action). */
export function subscriptionsOf(state: unknown, reducerPath: string): SubscriptionsView {
  return (
    (state as Record<string, { subscriptions?: SubscriptionsView } | undefined>)[reducerPath]?.subscriptions ??
    NO_SUBSCRIPTIONS
  )
}

/** Whether anyone subscribes to a cached read, as RTK Query's state says it, and as it will say it shortly. */
export interface WatchedReads {
  /** `queryCacheKey` was just subscribed to (a read's action with `meta.arg.subscribe`); `now`: the state after it. */
  subscribed(queryCacheKey: string, now: SubscriptionsView): void
  /** Whether anyone subscribes to `queryCacheKey`, given the state's `now`. */
  watched(queryCacheKey: string, now: SubscriptionsView): boolean
  /** Everything noted forgotten (a new session, a reset api state). */
  clear(): void
}

/**
 * RTK Query writes who subscribes into its state up to half a second after the fact (its documented lazy sync): a page
 * that has just come back to a failed read would look unwatched until then. So a subscription seen in the actions
 * counts until the state changes after it: the state's next `subscriptions` holds it (or its end).
 *
 * @example const reads = watchedReads(); reads.subscribed('getLessons(undefined)', subs); reads.watched('getLessons(undefined)', subs) // true
 */
export function watchedReads(): WatchedReads {
  /** Cache key → the `subscriptions` state at its subscription, which did not say so yet. */
  const pending = new Map<string, SubscriptionsView>()
  return {
    subscribed(queryCacheKey, now) {
      for (const [key, at] of pending) if (at !== now) pending.delete(key)
      pending.set(queryCacheKey, now)
    },
    watched(queryCacheKey, now) {
      if (Object.keys(now[queryCacheKey] ?? {}).length > 0) return true
      const at = pending.get(queryCacheKey)
      if (at === undefined) return false
      if (at === now) return true
      pending.delete(queryCacheKey)
      return false
    },
    clear: () => pending.clear(),
  }
}
