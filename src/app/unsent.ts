import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit'
import { loadLoginEmail, type ApiExtra } from '../api'
import { createOutboxStorage, droppedStorageKey, selectPendingMessages, type SocketRootState } from '../realtime'

/** What `countUnsent` reads beside the api's thunk argument. */
export interface UnsentExtra {
  /** The sends of a user that the other tabs hold in their memory alone, storage refusing them (`unsentTabs.ts`). */
  heldElsewhere?: (userId: string) => ReadonlySet<string>
}

/**
 * How many of the logged-in user's messages are unsent in any of their tabs: this store's, those the others keep in
 * the shared storage, and those they hold in their memory alone (storage refused them). A logout drops them all, for
 * every tab, so that is what to ask about.
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
    const { storage, heldElsewhere } = (extra ?? {}) as ApiExtra & UnsentExtra
    const userId = state.auth.user?.id
    if (storage && userId)
      for (const stored of createOutboxStorage(storage).load(userId)) clientIds.add(stored.clientId)
    if (heldElsewhere && userId) for (const held of heldElsewhere(userId)) clientIds.add(held)
    return clientIds.size
  }
}

/**
 * Whether the user's last logout was their "Log out" (in any tab), which drops what is theirs, rather than a logout
 * nobody asked for ("Log in again", another user's login): its mark stays until their next session begins.
 *
 * @example if (!store.dispatch(loggedOutByChoice(user.id))) keepRouteForNextLogin(user.id, route)
 */
export function loggedOutByChoice(userId: string): ThunkAction<boolean, unknown, unknown, UnknownAction> {
  return (_dispatch, _getState, extra) => {
    const { storage } = (extra ?? {}) as ApiExtra
    try {
      return storage?.getItem(droppedStorageKey(userId)) != null
    } catch {
      return false
    }
  }
}

/**
 * The email `userId` logged in with in this browser, kept until their "Log out" (`saveLoginEmail`), or null: what
 * "Log in again" offers them on the login page.
 *
 * @example keepRouteForNextLogin(user.id, route, store.dispatch(loginEmailOf(user.id)))
 */
export function loginEmailOf(userId: string): ThunkAction<string | null, unknown, unknown, UnknownAction> {
  return (_dispatch, _getState, extra) => loadLoginEmail(((extra ?? {}) as ApiExtra).storage, userId)
}
