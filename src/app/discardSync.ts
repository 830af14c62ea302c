import type { Dispatch, UnknownAction } from '@reduxjs/toolkit'
import {
  createOutboxStorage,
  discardedStorageKey,
  discardMessage,
  type PendingMessage,
  type StorageLike,
} from '../realtime'

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
  const stored = createOutboxStorage(storage)
  /** Drops the sends this tab holds that the user's stored discards name (read as the outbox reads them). */
  const dropNamed = () => {
    const userId = store.getState().auth.user?.id
    if (!userId) return
    const discarded = stored.discarded(userId)
    for (const { clientId } of store.getState().socket.outbox)
      if (discarded.has(clientId)) store.dispatch(discardMessage({ clientId }))
  }
  const onStorage = (event: StorageEvent) => {
    const userId = store.getState().auth.user?.id
    if (userId && event.key === discardedStorageKey(userId)) dropNamed()
  }
  const onPageShow = (event: Event) => {
    if ((event as PageTransitionEvent).persisted) dropNamed()
  }
  tabs.addEventListener('storage', onStorage)
  tabs.addEventListener('pageshow', onPageShow)
  return () => {
    tabs.removeEventListener('storage', onStorage)
    tabs.removeEventListener('pageshow', onPageShow)
  }
}
