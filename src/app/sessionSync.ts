import type { Dispatch, UnknownAction } from '@reduxjs/toolkit'
import { AUTH_STORAGE_KEY, loadAuth, sameSession, saveAuth, tokenSessionId } from '../api'
import { shutdown, type StorageLike } from '../realtime'
import { loggedIn, loggedOut, tokenRefreshed, type AuthState } from './authSlice'

interface SessionStore {
  getState(): { auth: AuthState }
  dispatch: Dispatch<UnknownAction>
  subscribe(listener: () => void): () => void
}

/**
 * Keeps the session in `storage` (every change of `auth` is saved) and, when `tabs` is the page's `window` and
 * `storage` its `localStorage`, in step with the other tabs: another tab logging out logs this one out, a token it
 * refreshed is used here too, a login there (of the same user, or of another, which first ends this tab's session)
 * logs this one in too; the page going away lets the drain lock go. Returns what undoes it all (the store subscription and the window listeners).
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
    const left = saved
    saved = auth
    if (leavingForAnotherTab) return
    // A logout removes the stored session only if it is the one this tab left: another user's, or another session of
    // this user's, stored by a tab this one has not heard from yet (a page back from the back/forward cache, a tab
    // that hears a logout late, after the login that followed it), stays.
    if (!auth.token) {
      const stored = loadAuth(storage)
      if (stored && (stored.user.id !== (left.user?.id ?? null) || !sameSession(stored.token, left.token))) return
    }
    saveAuth(storage, auth)
  })
  if (!tabs) return unsubscribe

  const onStorage = (event: StorageEvent) => {
    if (event.key === AUTH_STORAGE_KEY) follow(event.newValue)
  }
  /** Follows the session another tab stored (`stored`: its raw value, null when it logged out). */
  const follow = (stored: string | null) => {
    const { token, user } = store.getState().auth
    const other = stored === null ? undefined : loadAuth(storage)
    // One decision, every tab follows: a login elsewhere logs this tab in too (with tabs sharing one socket, the
    // holder must follow, or a follower that logged in would wait for a socket nobody opens).
    if (!token) {
      if (other) store.dispatch(loggedIn(other))
      return
    }
    if (stored === null) {
      // The tab where the user chose has decided about the stored sends (cleared at "Log out", kept at "Log in
      // again"): storage is shared, so this one leaves it as it is.
      store.dispatch(loggedOut({ keepOutbox: true }))
      return
    }
    if (!other) return
    if (other.user?.id !== user?.id) {
      // Another user logged in there: this tab leaves its user's session (their data and socket go, their unsent
      // messages stay stored for their next login), then follows into the new one.
      leavingForAnotherTab = true
      try {
        store.dispatch(loggedOut({ keepOutbox: true }))
      } finally {
        leavingForAnotherTab = false
      }
      store.dispatch(loggedIn(other))
      return
    }
    if (!other.token || other.token === token) return
    // A token of another session of this user (a login there while this tab was live): this tab's socket belongs to
    // the old session, which the server would refuse to renew with it, so this tab starts the new session as a login.
    const mine = tokenSessionId(token)
    const theirs = tokenSessionId(other.token)
    if (mine && theirs && mine !== theirs) {
      store.dispatch(loggedIn(other))
      return
    }
    // The same session's new token: a refresh, or a login there after this tab's session expired (the realtime layer
    // then starts this tab's session again, as at a login).
    store.dispatch(tokenRefreshed({ token: other.token }))
  }
  // A page kept in the back/forward cache (`persisted`) may come back alive, so it keeps its store; back, it heard no
  // storage event meanwhile, so it catches up with what is stored now.
  const onPageHide = (event: Event) => {
    if (!(event as PageTransitionEvent).persisted) store.dispatch(shutdown())
  }
  // (`follow` changes nothing when storage holds what this tab has.)
  const onPageShow = (event: Event) => {
    if ((event as PageTransitionEvent).persisted) follow(storage.getItem(AUTH_STORAGE_KEY))
  }
  tabs.addEventListener('storage', onStorage)
  tabs.addEventListener('pagehide', onPageHide)
  tabs.addEventListener('pageshow', onPageShow)
  return () => {
    unsubscribe()
    tabs.removeEventListener('storage', onStorage)
    tabs.removeEventListener('pagehide', onPageHide)
    tabs.removeEventListener('pageshow', onPageShow)
  }
}
