import { SOCKET_PING_TIMEOUT_MS } from '../contract'

/** Why the middleware tries again at once instead of waiting for its backoff. */
export type RetryReason = 'online' | 'visible' | 'wake'

/** How often the browser's triggers look at the wall clock for a wake. */
export const WAKE_TICK_MS = 5_000
/**
 * How much later than due a look must come to be a wake: the wall clock ran on while the page's timers stood still (a
 * laptop asleep with the page open). A shown page's timers are not slowed by the browser; a hidden one's are (once a
 * minute), so a hidden page's looks say nothing: its being shown is the signal. A sleep longer than the server's ping
 * timeout can have held a ping unanswered past it (the server dropped the socket): such a sleep is a wake (the live
 * socket's silence on the wall clock then says whether to replace it), not only one past the whole heartbeat.
 */
export const WAKE_LATE_MS = SOCKET_PING_TIMEOUT_MS

/**
 * Where "try again now" comes from, swappable like TanStack's `onlineManager.setEventListener`: `setup` subscribes
 * to its source, calls `retryNow` on each signal and returns its cleanup.
 *
 * @example const triggers: RetryTriggers = (retryNow) => { const t = setInterval(() => retryNow('online'), 1000); return () => clearInterval(t) }
 */
export type RetryTriggers = (retryNow: (reason: RetryReason) => void) => () => void

/**
 * The browser's: the window's `online` event, the document becoming visible, and a wake (a page shown all along, on a
 * network the browser never saw go: a laptop on a wire, woken; its socket's own ping timeout runs on timers that stood
 * still, up to 20 s more of "online"). Nothing outside a browser.
 *
 * @example const stop = browserRetryTriggers((reason) => dispatch(retryNow({ reason }))); … stop()
 */
export const browserRetryTriggers: RetryTriggers = (retryNow) => {
  if (typeof window === 'undefined' || typeof window.addEventListener !== 'function') return () => {}
  const onOnline = () => retryNow('online')
  const onVisibility = () => {
    if (typeof document !== 'undefined' && document.visibilityState === 'visible') retryNow('visible')
  }
  let lookedAt = Date.now()
  const look = setInterval(() => {
    const late = Date.now() - lookedAt - WAKE_TICK_MS
    lookedAt = Date.now()
    if (late > WAKE_LATE_MS && (typeof document === 'undefined' || document.visibilityState !== 'hidden'))
      retryNow('wake')
  }, WAKE_TICK_MS)
  window.addEventListener('online', onOnline)
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisibility)
  return () => {
    clearInterval(look)
    window.removeEventListener('online', onOnline)
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisibility)
  }
}

/**
 * A trigger source driven by hand (tests, or an app with its own connectivity signal).
 *
 * @example
 * const triggers = manualRetryTriggers()
 * createSocketMiddleware({ …, retryTriggers: triggers.setup })
 * triggers.fire('online') // waiting reconnects and network retries go now
 */
export function manualRetryTriggers() {
  const listeners = new Set<(reason: RetryReason) => void>()
  const setup: RetryTriggers = (retryNow) => {
    listeners.add(retryNow)
    return () => void listeners.delete(retryNow)
  }
  return {
    setup,
    fire(reason: RetryReason) {
      for (const listener of [...listeners]) listener(reason)
    },
    get listeners() {
      return listeners.size
    },
  }
}
