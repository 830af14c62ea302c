/** Why the middleware tries again at once instead of waiting for its backoff. */
export type RetryReason = 'online' | 'visible'

/**
 * Where "try again now" comes from, swappable like TanStack's `onlineManager.setEventListener`: `setup` subscribes
 * to its source, calls `retryNow` on each signal and returns its cleanup.
 *
 * @example const triggers: RetryTriggers = (retryNow) => { const t = setInterval(() => retryNow('online'), 1000); return () => clearInterval(t) }
 */
export type RetryTriggers = (retryNow: (reason: RetryReason) => void) => () => void

/**
 * The browser's: the window's `online` event, and the document becoming visible. Nothing outside a browser.
 *
 * @example const stop = browserRetryTriggers((reason) => dispatch(retryNow({ reason }))); … stop()
 */
export const browserRetryTriggers: RetryTriggers = (retryNow) => {
  if (typeof window === 'undefined' || typeof window.addEventListener !== 'function') return () => {}
  const onOnline = () => retryNow('online')
  const onVisibility = () => {
    if (typeof document !== 'undefined' && document.visibilityState === 'visible') retryNow('visible')
  }
  window.addEventListener('online', onOnline)
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisibility)
  return () => {
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
