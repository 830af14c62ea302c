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
 * Where the email the user logged in with is kept, with their id (one for the browser, as the session), until the next
 * login or their "Log out": the server's `User` has no email, and "Log in again" offers it on the login page.
 */
export const LOGIN_EMAIL_STORAGE_KEY = 'talemy.loginEmail'

/** Keeps the email `userId` logged in with (as typed: the server compares them lower-cased). */
export function saveLoginEmail(storage: StorageLike | undefined, userId: string, email: string): void {
  try {
    storage?.setItem(LOGIN_EMAIL_STORAGE_KEY, JSON.stringify({ userId, email }))
  } catch {
    // A full or disabled storage only costs typing the email again after the session ends.
  }
}

/** The email `userId` logged in with in this browser, or null (none kept, another user's, or not well-formed). */
export function loadLoginEmail(storage: StorageLike | undefined, userId: string): string | null {
  try {
    const value = JSON.parse(storage?.getItem(LOGIN_EMAIL_STORAGE_KEY) ?? 'null') as {
      userId?: unknown
      email?: unknown
    } | null
    return value?.userId === userId && typeof value.email === 'string' && value.email ? value.email : null
  } catch {
    return null
  }
}

/** Forgets the email kept by `saveLoginEmail`. */
export function clearLoginEmail(storage: StorageLike | undefined): void {
  try {
    storage?.removeItem(LOGIN_EMAIL_STORAGE_KEY)
  } catch {
    // nothing to do
  }
}

/** A refresh token entry as kept: `{ userId, refreshToken, sessionId? }`. */
interface Entry {
  userId: string
  refreshToken: string
  sessionId?: string
}

/** The entry `raw` holds, or null when it is none (nothing, not JSON, not of that shape). */
function entryOf(raw: string | null): Entry | null {
  try {
    const value = JSON.parse(raw ?? 'null') as { userId?: unknown; refreshToken?: unknown; sessionId?: unknown } | null
    if (!value || typeof value.userId !== 'string' || typeof value.refreshToken !== 'string' || !value.refreshToken)
      return null
    return typeof value.sessionId === 'string'
      ? { userId: value.userId, refreshToken: value.refreshToken, sessionId: value.sessionId }
      : { userId: value.userId, refreshToken: value.refreshToken }
  } catch {
    return null
  }
}

/** `entry` is `userId`'s, and (when both name one) `sessionId`'s. */
const isOf = (entry: Entry | null, userId: string, sessionId?: string | null): entry is Entry =>
  entry !== null && entry.userId === userId && !(sessionId && entry.sessionId && entry.sessionId !== sessionId)

/** The two entries are of one session (the same user, and the same session where both name one). */
const sameOwner = (a: Entry | null, b: Entry): boolean => isOf(a, b.userId, b.sessionId ?? null)

/**
 * A refresh token the storage refused (full: `QuotaExceededError`; disabled: `SecurityError`), kept in this tab's memory
 * for its life instead, per storage: `entry`, and `shadowed`, what storage held once the write failed (null: nothing,
 * or unreadable). It stands for its session until storage holds another token of that same session than `shadowed`
 * (another tab of the session rotated it and could write it): a stale token of the session (a rotation that could
 * not be written) would be refused as stolen past the server's reuse window. Another user's or session's entry in
 * storage (another tab's login there) is theirs and does not replace it.
 */
const keptInMemory = new WeakMap<object, { entry: Entry; shadowed: string | null }>()

/** What storage holds under the refresh key; null for nothing or for a storage that cannot be read. */
function readStored(storage: StorageLike | undefined): string | null {
  try {
    return storage?.getItem(REFRESH_STORAGE_KEY) ?? null
  } catch {
    return null
  }
}

/** The token this tab keeps in memory for its session, unless another tab of that session has since stored a newer one. */
function keptFor(storage: StorageLike | undefined): Entry | null {
  const kept = storage && keptInMemory.get(storage)
  if (!storage || !kept) return null
  const stored = readStored(storage)
  if (stored !== kept.shadowed && sameOwner(entryOf(stored), kept.entry)) {
    keptInMemory.delete(storage)
    return null
  }
  return kept.entry
}

/**
 * Keeps `refreshToken` for `userId` (one per browser: the tabs share the session), and for `sessionId` when the access
 * token names one. A storage that refuses it leaves it in this tab's memory (the session then lasts the tab's life),
 * and the same session's stale one that storage may hold is removed if it can be.
 *
 * @example saveRefreshToken(localStorage, 'user-alice', refreshToken, tokenSessionId(token))
 */
export function saveRefreshToken(
  storage: StorageLike | undefined,
  userId: string,
  refreshToken: string,
  sessionId?: string | null,
): void {
  if (!storage) return
  const entry: Entry = sessionId ? { userId, refreshToken, sessionId } : { userId, refreshToken }
  try {
    storage.setItem(REFRESH_STORAGE_KEY, JSON.stringify(entry))
    keptInMemory.delete(storage)
    return
  } catch {
    // Refused: kept in memory below.
  }
  try {
    if (sameOwner(entryOf(readStored(storage)), entry)) storage.removeItem(REFRESH_STORAGE_KEY)
  } catch {
    // A disabled storage: what it holds cannot be read either.
  }
  keptInMemory.set(storage, { entry, shadowed: readStored(storage) })
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
  const kept = keptFor(storage)
  if (isOf(kept, userId, sessionId)) return kept.refreshToken
  const stored = entryOf(readStored(storage))
  return isOf(stored, userId, sessionId) ? stored.refreshToken : null
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
  if (!userId) return
  if (storage && isOf(keptFor(storage), userId, sessionId)) keptInMemory.delete(storage)
  try {
    if (isOf(entryOf(readStored(storage)), userId, sessionId)) storage?.removeItem(REFRESH_STORAGE_KEY)
  } catch {
    // nothing to do
  }
}
