import type { Visibility } from './protocol'

/**
 * The page's visibility (`document.visibilityState`); always visible where there is no document.
 *
 * @example createSocketMiddleware({ …, visibility: documentVisibility() }) // the default in a browser
 */
export function documentVisibility(): Visibility {
  const doc = typeof document === 'undefined' ? undefined : document
  return {
    visible: () => doc === undefined || doc.visibilityState !== 'hidden',
    subscribe(listener) {
      if (!doc) return () => {}
      doc.addEventListener('visibilitychange', listener)
      return () => doc.removeEventListener('visibilitychange', listener)
    },
  }
}

/**
 * A visibility driven by hand (tests): `set(false)` hides the "tab".
 *
 * @example const page = manualVisibility(); createSocketMiddleware({ …, visibility: page }); page.set(false)
 */
export function manualVisibility(initial = true): Visibility & { set(visible: boolean): void } {
  let visible = initial
  const listeners = new Set<() => void>()
  return {
    visible: () => visible,
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    set(next) {
      if (next === visible) return
      visible = next
      for (const listener of [...listeners]) listener()
    },
  }
}
