import type { Timers } from '../../../../src/realtime/timers'
import type { manualVisibility } from '../../../../src/realtime/tabs/visibility'

/**
 * A page's timers as Chrome runs them: while the page is hidden, a timer falls due only at the next whole minute
 * (intensive throttling); shown again, those overdue run at once.
 */
export function pageTimers(visibility: ReturnType<typeof manualVisibility>): Timers {
  interface Handle {
    id: ReturnType<typeof setTimeout> | null
    run: () => void
    deferred: boolean
  }
  const deferred = new Set<Handle>()
  visibility.subscribe(() => {
    if (!visibility.visible()) return
    for (const h of [...deferred]) {
      deferred.delete(h)
      if (h.id !== null) clearTimeout(h.id)
      h.id = setTimeout(h.run, 0)
    }
  })
  return {
    setTimeout(fn, ms) {
      const h: Handle = { id: null, run: () => {}, deferred: false }
      h.run = () => {
        deferred.delete(h)
        const now = Date.now()
        if (!visibility.visible() && now % 60_000 !== 0) {
          deferred.add(h)
          h.id = setTimeout(h.run, 60_000 - (now % 60_000))
          return
        }
        h.id = null
        fn()
      }
      h.id = setTimeout(h.run, ms)
      return h
    },
    clearTimeout(handle) {
      const h = handle as Handle
      deferred.delete(h)
      if (h.id !== null) clearTimeout(h.id)
      h.id = null
      h.run = () => {}
    },
  }
}
