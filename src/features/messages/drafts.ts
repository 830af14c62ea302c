import { createContext, useContext } from 'react'

/** The composer's unsent text per conversation id, for one logged-in user's visit (see `DraftsContext`). */
export type Drafts = Map<string, string>

/**
 * Where each conversation's half-written message waits while the user is in another conversation or page: the thread
 * (and its composer) is drawn afresh for each conversation, so its own state would take the text with it. The layout
 * provides it, keyed by user, so a logout leaves nothing for the next user.
 */
export const DraftsContext = createContext<Drafts | null>(null)

/** The drafts of the user's visit, or `null` outside the layout (nothing is kept). */
export function useDrafts(): Drafts | null {
  return useContext(DraftsContext)
}

/** The drafts a user left with "Log in again", waiting for the next login in this tab (memory only, never storage). */
let kept: { userId: string; drafts: Drafts } | null = null

/**
 * Keeps `drafts` for `userId`'s next login in this tab: the session ended under them, not their wish to write, as
 * "Log in again" keeps their unsent messages and the page they were on.
 *
 * @example keepDraftsForNextLogin(user.id, drafts); dispatch(loggedOut({ keepOutbox: true }))
 */
export function keepDraftsForNextLogin(userId: string, drafts: Drafts): void {
  kept = { userId, drafts }
}

/**
 * The drafts of `userId`'s visit that begins: those kept for them, else none. Whoever logs in next takes what was kept
 * (`forgetKeptDrafts`, once the visit is drawn), so another user's login drops it.
 */
export function draftsForVisitOf(userId: string): Drafts {
  return kept?.userId === userId ? kept.drafts : new Map()
}

export function forgetKeptDrafts(): void {
  kept = null
}
