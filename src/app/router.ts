import { useMemo, useSyncExternalStore } from 'react'

/**
 * A tiny hash router: `#/messages`, `#/messages/<conversationId>`, `#/lessons`, `#/contact-requests`.
 * Hash routes need nothing from the server (any static host, `vite preview`, the API server's SPA fallback), and
 * four routes do not justify a router library.
 */
export type Route =
  | { page: 'messages'; conversationId: string | null }
  | { page: 'lessons' }
  | { page: 'contactRequests' }

export type Page = Route['page']

/**
 * Parses a location hash (`#/messages/c1`) into a route; anything unknown is the messages page. A query after the path
 * (`#/lessons?utm_source=mail`, a link's tracking) is not part of it: an id's own `?` comes encoded (`hrefFor`).
 */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#\/?/, '').split('?', 1)[0]!
  const parts = path.split('/').filter(Boolean).map(safeDecode)
  switch (parts[0]) {
    case 'lessons':
      return { page: 'lessons' }
    case 'contact-requests':
      return { page: 'contactRequests' }
    default:
      return { page: 'messages', conversationId: parts[0] === 'messages' ? (parts[1] ?? null) : null }
  }
}

/** The hash for a route: `hrefFor({ page: 'lessons' })` → `#/lessons`. */
export function hrefFor(route: Route): string {
  switch (route.page) {
    case 'lessons':
      return '#/lessons'
    case 'contactRequests':
      return '#/contact-requests'
    case 'messages':
      return route.conversationId ? `#/messages/${encodeURIComponent(route.conversationId)}` : '#/messages'
  }
}

export function navigate(route: Route): void {
  window.location.hash = hrefFor(route)
}

/**
 * The route belongs to the user it was opened for: once that user is gone (a logout here, or in another tab, which
 * logs this one out too; another user's login there), the hash goes, so the next user starts on their own messages
 * page, not on a conversation of the last user's. Unless the user left with "Log in again" (`keepRouteForNextLogin`):
 * then the route waits in this tab's history entry, off the URL, and comes back when that same user logs in again
 * here (or in another tab this one follows); anyone else starts on their own messages page. Returns the unsubscribe.
 *
 * @example forgetRouteWithUser(store)
 */
export function forgetRouteWithUser(store: {
  getState(): { auth: { user: { id: string } | null } }
  subscribe(listener: () => void): () => void
}): () => void {
  let userId = store.getState().auth.user?.id ?? null
  return store.subscribe(() => {
    const now = store.getState().auth.user?.id ?? null
    if (now === userId) return
    const left = userId
    userId = now
    const kept = keptRoute(window.history.state)
    const { pathname, search, hash } = window.location
    if (left !== null) {
      // History state survives a reload of the login page; only the route of the user who just left is kept.
      const keep = kept?.userId === left ? { [KEPT_ROUTE]: kept } : null
      if (hash || kept) window.history.replaceState(keep, '', pathname + search)
    } else if (kept) {
      // A link the user opened on the login page since goes first. The kept route is parsed and written back as one of
      // ours: only ever a hash of this page, whatever the history entry held (no way out of the app from here).
      const back = hash || (kept.userId === now ? hrefFor(parseHash(kept.href)) : '')
      window.history.replaceState(null, '', pathname + search + back)
    }
  })
}

/** The key of the route "Log in again" keeps in the tab's history entry. */
const KEPT_ROUTE = 'talemy:routeForNextLogin'

interface KeptRoute {
  userId: string
  href: string
  /** The email the user logged in with, for the login page to offer (`keptLoginEmail`). */
  email?: string
}

/**
 * Keeps `route` for `userId`'s next login in this tab: called as the user leaves an ended session with "Log in again",
 * so that logging in brings them back where they were (an open conversation) and not to the list, and with `email`
 * (the one they logged in with), which the login page offers meanwhile. Kept in the history entry, not the URL (the
 * login page shows no route) nor storage (another tab's next login is not this one's).
 *
 * @example keepRouteForNextLogin(user.id, route, 'alice@talemy.test'); dispatch(loggedOut({ keepOutbox: true }))
 */
export function keepRouteForNextLogin(userId: string, route: Route, email: string | null = null): void {
  const kept: KeptRoute = email ? { userId, href: hrefFor(route), email } : { userId, href: hrefFor(route) }
  window.history.replaceState({ [KEPT_ROUTE]: kept }, '')
}

function keptRoute(state: unknown): KeptRoute | null {
  const kept = (state as Record<string, unknown> | null)?.[KEPT_ROUTE] as Partial<KeptRoute> | undefined
  if (typeof kept?.userId !== 'string' || typeof kept.href !== 'string') return null
  return typeof kept.email === 'string' && kept.email
    ? { userId: kept.userId, href: kept.href, email: kept.email }
    : { userId: kept.userId, href: kept.href }
}

/**
 * The email of the user who left an ended session in this tab with "Log in again" (`keepRouteForNextLogin`), for the
 * login page to offer; null after a "Log out", which keeps nothing, and once anyone has logged in here since.
 */
export function keptLoginEmail(): string | null {
  return (typeof window === 'undefined' ? null : keptRoute(window.history.state)?.email) ?? null
}

/** The current route, outside React (the notifications middleware asks which page is open). */
export function currentRoute(): Route {
  return parseHash(typeof window === 'undefined' ? '' : window.location.hash)
}

/**
 * Follows the URL as soon as it changes. A link to another hash changes the URL during the click, and the browser
 * fires `popstate` right then, but `hashchange` only in a later task: a page that waited for `hashchange` left the
 * previous page on screen under the new URL, so a choice made at once (the Tutor select, which the lessons and
 * contact pages both have) landed in the page being left and was gone when the new one appeared. `hashchange` stays
 * for browsers that fire only that; a second notification for the same hash changes nothing.
 */
function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange)
  window.addEventListener('hashchange', onChange)
  return () => {
    window.removeEventListener('popstate', onChange)
    window.removeEventListener('hashchange', onChange)
  }
}

const getHash = () => window.location.hash

/** The current route; re-renders on `hashchange`. The same object while the hash stays, so effects can depend on it. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, getHash, () => '')
  return useMemo(() => parseHash(hash), [hash])
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}
