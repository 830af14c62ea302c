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

/** Parses a location hash (`#/messages/c1`) into a route; anything unknown is the messages page. */
export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(safeDecode)
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
 * page, not on a conversation of the last user's. Returns the unsubscribe.
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
    if (userId !== null && now !== userId && window.location.hash)
      window.history.replaceState(null, '', window.location.pathname + window.location.search)
    userId = now
  })
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
