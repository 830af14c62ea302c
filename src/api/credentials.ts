import { parse, userSchema, type User } from '../contract'
import type { StorageLike } from '../realtime/outboxStorage'

// What the browser keeps of a session, and where: the access token and user (the `auth` state, restored by
// `makeStore`, read by other tabs) and, apart, the refresh token. The refresh token is written and read only here and
// by the api's `login`/`refreshToken` endpoints and the logout: it never enters Redux state or an action.

/** Where the session (`{ token, user }`) is saved. */
export const AUTH_STORAGE_KEY = 'talemy.auth'
/** Where the refresh token is saved, with the ids of the user and of the session it belongs to. */
export const REFRESH_STORAGE_KEY = 'talemy.refresh'

export interface StoredAuth {
  token: string
  user: User
}

/** The saved session, or undefined when there is none (or it is not well-formed). */
export function loadAuth(storage: StorageLike | undefined): StoredAuth | undefined {
  try {
    const raw = storage?.getItem(AUTH_STORAGE_KEY)
    if (!raw) return undefined
    const value = JSON.parse(raw) as { token?: unknown; user?: unknown }
    const user = parse(userSchema, value.user)
    if (typeof value.token !== 'string' || !value.token || !user.ok) return undefined
    return { token: value.token, user: user.value }
  } catch {
    return undefined
  }
}

/** Saves the session, or removes it when nobody is logged in. */
export function saveAuth(storage: StorageLike, auth: { token: string | null; user: User | null }): void {
  try {
    if (auth.token && auth.user)
      storage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: auth.token, user: auth.user }))
    else storage.removeItem(AUTH_STORAGE_KEY)
  } catch {
    // A full or disabled storage only costs the reload-stays-logged-in convenience.
  }
}

/**
 * Keeps `refreshToken` for `userId` (one per browser: the tabs share the session), and for `sessionId` when the access
 * token names one.
 *
 * @example saveRefreshToken(localStorage, 'user-alice', refreshToken, tokenSessionId(token))
 */
export function saveRefreshToken(
  storage: StorageLike | undefined,
  userId: string,
  refreshToken: string,
  sessionId?: string | null,
): void {
  try {
    storage?.setItem(
      REFRESH_STORAGE_KEY,
      JSON.stringify(sessionId ? { userId, refreshToken, sessionId } : { userId, refreshToken }),
    )
  } catch {
    // Without storage the session lasts as long as its access token.
  }
}

/**
 * The refresh token kept for `userId`, or null (none, or another user's). With `sessionId`, null too when it was kept
 * for another session of that user (a login in another tab since).
 */
export function loadRefreshToken(
  storage: StorageLike | undefined,
  userId: string | null | undefined,
  sessionId?: string | null,
): string | null {
  if (!userId) return null
  try {
    const value = JSON.parse(storage?.getItem(REFRESH_STORAGE_KEY) ?? 'null') as {
      userId?: unknown
      refreshToken?: unknown
      sessionId?: unknown
    } | null
    if (sessionId && value && typeof value.sessionId === 'string' && value.sessionId !== sessionId) return null
    return value && value.userId === userId && typeof value.refreshToken === 'string' && value.refreshToken
      ? value.refreshToken
      : null
  } catch {
    return null
  }
}

/**
 * Removes the refresh token when it is `userId`'s (and, with `sessionId`, that session's): another user's or another
 * session's, saved by another tab since, stays.
 */
export function clearRefreshToken(
  storage: StorageLike | undefined,
  userId: string | null | undefined,
  sessionId?: string | null,
): void {
  try {
    if (loadRefreshToken(storage, userId, sessionId) !== null) storage?.removeItem(REFRESH_STORAGE_KEY)
  } catch {
    // nothing to do
  }
}
