import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit'
import type { ApiExtra } from '../api'
import { createOutboxStorage, selectPendingMessages, type SocketRootState } from '../realtime'

/**
 * How many of the logged-in user's messages are unsent in any of their tabs: this store's, and those the others keep
 * in the shared storage. A logout clears the stored ones for every tab, so that is what to ask about.
 *
 * @example const unsent = store.dispatch(countUnsent()) // ask before logging out when > 0
 */
export function countUnsent(): ThunkAction<
  number,
  SocketRootState & { auth: { user: { id: string } | null } },
  unknown,
  UnknownAction
> {
  return (_dispatch, getState, extra) => {
    const state = getState()
    const clientIds = new Set(selectPendingMessages(state).map((message) => message.clientId))
    const { storage } = (extra ?? {}) as ApiExtra
    const userId = state.auth.user?.id
    if (storage && userId)
      for (const stored of createOutboxStorage(storage).load(userId)) clientIds.add(stored.clientId)
    return clientIds.size
  }
}
