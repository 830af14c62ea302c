import type { Dispatch, UnknownAction } from '@reduxjs/toolkit'
import { AUTH_STORAGE_KEY, loadAuth, saveAuth } from '../api'
import { shutdown, type StorageLike } from '../realtime'
import { loggedOut, tokenRefreshed, type AuthState } from './authSlice'

interface SessionStore {
  getState(): { auth: AuthState }
  dispatch: Dispatch<UnknownAction>
  subscribe(listener: () => void): () => void
}

/**
 * Keeps the session in `storage` (every change of `auth` is saved) and, when `tabs` is the page's `window` and
 * `storage` its `localStorage`, in step with the other tabs: another tab logging out logs this one out, a token it
 * refreshed is used here too, another user logging in there ends this tab's session; the page going away lets the
 * drain lock go. Returns what undoes it all (the store subscription and the window listeners).
 *
 * @example const stop = syncSession(store, localStorage, window); stop()
 */
export function syncSession(
  store: SessionStore,
  storage: StorageLike,
  tabs?: Pick<Window, 'addEventListener' | 'removeEventListener'>,
): () => void {
  let saved = store.getState().auth
  /** Set while this tab leaves a session another tab replaced: storage holds theirs, which must stay. */
  let leavingForAnotherTab = false
  const unsubscribe = store.subscribe(() => {
    const auth = store.getState().auth
    if (auth === saved) return
    saved = auth
    if (!leavingForAnotherTab) saveAuth(storage, auth)
  })
  if (!tabs) return unsubscribe

  const onStorage = (event: StorageEvent) => {
    if (event.key !== AUTH_STORAGE_KEY) return
    const { token, user } = store.getState().auth
    if (!token) return
    if (event.newValue === null) {
      store.dispatch(loggedOut())
      return
    }
    const other = loadAuth(storage)
    if (!other) return
    if (other.user?.id !== user?.id) {
      // Another user logged in there: this tab leaves too (it adopts nothing: the user logs in again here), without
      // removing the stored session (theirs) nor this user's stored outbox (nobody asked them to drop it).
      leavingForAnotherTab = true
      try {
        store.dispatch(loggedOut({ keepOutbox: true }))
      } finally {
        leavingForAnotherTab = false
      }
      return
    }
    if (other.token && other.token !== token) store.dispatch(tokenRefreshed({ token: other.token }))
  }
  // The page goes away: the drain lock (a lease where there are no Web Locks) is let go at once for the other tabs.
  // A page kept in the back/forward cache (`persisted`) may come back alive, so it keeps its store.
  const onPageHide = (event: Event) => {
    if (!(event as PageTransitionEvent).persisted) store.dispatch(shutdown())
  }
  tabs.addEventListener('storage', onStorage)
  tabs.addEventListener('pagehide', onPageHide)
  return () => {
    unsubscribe()
    tabs.removeEventListener('storage', onStorage)
    tabs.removeEventListener('pagehide', onPageHide)
  }
}
