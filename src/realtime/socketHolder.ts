import type { AppSocket } from './types'

/**
 * The live socket, outside Redux (a socket is not serializable): the middleware sets it, `useSocket` reads it with
 * `useSyncExternalStore`. Shaped like TanStack's managers: `get`, `subscribe` returning its own unsubscribe.
 *
 * @example const holder = createSocketHolder(); const off = holder.subscribe(() => holder.get()); holder.set(socket)
 */
export interface SocketHolder {
  get(): AppSocket | null
  subscribe(listener: () => void): () => void
}

export interface WritableSocketHolder extends SocketHolder {
  set(socket: AppSocket | null): void
}

/**
 * A holder with no socket yet, which the middleware `set`s (one per store): every change is told to its listeners.
 *
 * @example const holder = createSocketHolder(); holder.subscribe(() => render(holder.get())); holder.set(socket)
 */
export function createSocketHolder(): WritableSocketHolder {
  let current: AppSocket | null = null
  const listeners = new Set<() => void>()
  return {
    get: () => current,
    subscribe(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    set(socket) {
      if (socket === current) return
      current = socket
      for (const listener of [...listeners]) listener()
    },
  }
}

/** A holder that never has a socket, for a store without the middleware. */
export const emptySocketHolder: SocketHolder = { get: () => null, subscribe: () => () => {} }

export function isSocketHolder(value: unknown): value is SocketHolder {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SocketHolder).get === 'function' &&
    typeof (value as SocketHolder).subscribe === 'function'
  )
}
