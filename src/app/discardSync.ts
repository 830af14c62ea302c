import type { Dispatch, UnknownAction } from '@reduxjs/toolkit'
import { discardedStorageKey, discardMessage, type PendingMessage } from '../realtime'

interface OutboxStore {
  getState(): { auth: { user: { id: string } | null }; socket: { outbox: readonly PendingMessage[] } }
  dispatch: Dispatch<UnknownAction>
}

/**
 * A send the user discarded in another tab goes from this one too, at once (the other tab names it in storage, see
 * `recordDiscard`): without this, a tab still showing it would drop it only at its next try. Returns what undoes it.
 *
 * @example const stop = syncDiscards(store, window); stop()
 */
export function syncDiscards(
  store: OutboxStore,
  tabs: Pick<Window, 'addEventListener' | 'removeEventListener'>,
): () => void {
  const onStorage = (event: StorageEvent) => {
    const userId = store.getState().auth.user?.id
    if (!userId || event.key !== discardedStorageKey(userId) || !event.newValue) return
    let named: unknown
    try {
      named = JSON.parse(event.newValue)
    } catch {
      return
    }
    if (!Array.isArray(named)) return
    const discarded = new Set(named)
    for (const { clientId } of store.getState().socket.outbox)
      if (discarded.has(clientId)) store.dispatch(discardMessage({ clientId }))
  }
  tabs.addEventListener('storage', onStorage)
  return () => tabs.removeEventListener('storage', onStorage)
}
