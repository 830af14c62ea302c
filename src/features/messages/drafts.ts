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
