import { createAction } from '@reduxjs/toolkit'
import type { User } from '../contract'

// The session actions live here, not in `src/app/`, so that `src/api/` and `src/realtime/` never import the app:
// the api's `login`/`refreshToken` dispatch them, the app's auth slice reduces them, and the realtime middleware is
// told about them through its options.

/**
 * A user logged in; the realtime middleware connects by itself.
 *
 * @example dispatch(loggedIn({ token, user }))
 */
export const loggedIn = createAction<{ token: string; user: User }>('auth/loggedIn')

/**
 * A fresh token replaces the current one; the next socket handshake and HTTP request use it.
 *
 * @example dispatch(tokenRefreshed({ token }))
 */
export const tokenRefreshed = createAction<{ token: string; user?: User }>('auth/tokenRefreshed')

/**
 * The user logged out: the socket closes, rooms and pending sends are forgotten, the api cache is reset. The user's
 * stored outbox is cleared too, unless `keepOutbox` (a logout nobody asked for, e.g. another tab logged in as someone
 * else: the unsent messages wait in storage for the user's next login).
 *
 * @example dispatch(loggedOut())
 */
// Pure: the layer matches logout through its options and never builds this one; an unused copy is left out.
export const loggedOut = /* @__PURE__ */ createAction('auth/loggedOut', (options: { keepOutbox?: boolean } = {}) => ({
  payload: undefined,
  meta: { keepOutbox: options.keepOutbox === true },
}))

/**
 * A token refresh was refused (the session cannot be renewed): the realtime layer shows `unauthorized` and keeps the
 * user's unsent messages until they log in again.
 *
 * @example dispatch(refreshFailed())
 */
export const refreshFailed = createAction('auth/refreshFailed')
