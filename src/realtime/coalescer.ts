import type { CacheTag } from './cacheWork'
import { hostTimers, type Timers } from './timers'

/** The timer functions a coalescer uses (injectable for fake timers; the host's by default). */
export type { Timers }

/** Gathers tags and flushes them at most once per window. */
export interface TagCoalescer {
  /** Adds tags (deduplicated by type and id); the first tag of a window starts it. */
  add(tags: readonly CacheTag[]): void
  /** Flushes what is gathered now (nothing when empty). */
  flush(): void
  /** Forgets what is gathered without flushing (a session ended). */
  cancel(): void
  /** How many distinct tags wait. */
  readonly size: number
}

/**
 * Tags invalidated by events, gathered and flushed at most once per `windowMs` (trailing edge): a burst of events
 * that each invalidate the same list costs one refetch. `windowMs` 0 flushes at once.
 *
 * @example const c = createTagCoalescer((tags) => dispatch(api.util.invalidateTags(tags)), 250); c.add([{ type: 'Lesson', id: 'LIST' }])
 */
export function createTagCoalescer(
  flushTags: (tags: CacheTag[]) => void,
  windowMs = 250,
  timers: Timers = hostTimers,
): TagCoalescer {
  let pending = new Map<string, CacheTag>()
  let timer: unknown = null

  function flush() {
    if (timer !== null) timers.clearTimeout(timer)
    timer = null
    if (pending.size === 0) return
    const tags = [...pending.values()]
    pending = new Map()
    flushTags(tags)
  }

  return {
    add(tags) {
      for (const tag of tags) pending.set(`${tag.type}\u0000${tag.id}`, tag)
      if (pending.size === 0) return
      if (windowMs <= 0) return flush()
      if (timer === null) timer = timers.setTimeout(flush, windowMs)
    },
    flush,
    cancel() {
      if (timer !== null) timers.clearTimeout(timer)
      timer = null
      pending = new Map()
    },
    get size() {
      return pending.size
    },
  }
}
