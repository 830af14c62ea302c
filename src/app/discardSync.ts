import type { Dispatch, UnknownAction } from '@reduxjs/toolkit'
import { discardedStorageKey, discardMessage, type PendingMessage, type StorageLike } from '../realtime'

interface OutboxStore {
  getState(): { auth: { user: { id: string } | null }; socket: { outbox: readonly PendingMessage[] } }
  dispatch: Dispatch<UnknownAction>
}

/**
 * A send the user discarded in another tab goes from this one too, at once (the other tab names it in storage, see
 * `recordDiscard`): without this, a tab still showing it would drop it only at its next try. A page back from the
 * back/forward cache heard no storage event meanwhile: it reads the list as stored then. Returns what undoes it.
 *
 * @example const stop = syncDiscards(store, localStorage, window); stop()
 */
export function syncDiscards(
  store: OutboxStore,
  storage: StorageLike,
  tabs: Pick<Window, 'addEventListener' | 'removeEventListener'>,
): () => void {
  const key = () => {
    const userId = store.getState().auth.user?.id
    return userId ? discardedStorageKey(userId) : null
  }
  /** Drops the sends this tab holds that `stored` (the list's text) names. */
  const dropNamed = (stored: string | null) => {
    if (!stored) return
    let named: unknown
    try {
      named = JSON.parse(stored)
    } catch {
      return
    }
    if (!Array.isArray(named)) return
    const discarded = new Set(named)
    for (const { clientId } of store.getState().socket.outbox)
      if (discarded.has(clientId)) store.dispatch(discardMessage({ clientId }))
  }
  const onStorage = (event: StorageEvent) => {
    if (event.key !== null && event.key === key()) dropNamed(event.newValue)
  }
  const onPageShow = (event: Event) => {
    const stored = key()
    if (!(event as PageTransitionEvent).persisted || stored === null) return
    try {
      dropNamed(storage.getItem(stored))
    } catch {
      // unreadable: each send is still looked up before its next try
    }
  }
  tabs.addEventListener('storage', onStorage)
  tabs.addEventListener('pageshow', onPageShow)
  return () => {
    tabs.removeEventListener('storage', onStorage)
    tabs.removeEventListener('pageshow', onPageShow)
  }
}
