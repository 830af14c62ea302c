/**
 * A value kept beside the store for `useSyncExternalStore`: short-lived view state (the toasts, the unsaved-outbox
 * notice) that is not the app's state, with the listeners told when it changes.
 *
 * @example const notice = createViewState(0); useSyncExternalStore(notice.subscribe, notice.get)
 */
export function createViewState<T>(initial: T) {
  let value = initial
  const listeners = new Set<() => void>()
  return {
    get: (): T => value,
    set(next: T): void {
      if (Object.is(next, value)) return
      value = next
      for (const listener of listeners) listener()
    },
    subscribe(listener: () => void): () => void {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
  }
}
