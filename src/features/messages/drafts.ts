import { createContext, type SetStateAction, useContext, useState } from 'react'

/** The fields of the booking and contact-request forms a visit keeps (see `useDraftField`). */
interface FormFields {
  'booking.tutorId': string
  'booking.subject': string
  'booking.startsAt': string
  'booking.duration': number
  'request.tutorId': string
  'request.message': string
}

/** What one logged-in user's visit has typed and not sent (see `DraftsContext`). */
export interface Drafts {
  /** The composer's unsent text per conversation id. */
  messages: Map<string, string>
  /** The forms' fields as the user last set them (apart from the messages: a conversation id is any string). */
  fields: Partial<FormFields>
}

/**
 * Where each conversation's half-written message waits while the user is in another conversation or page: the thread
 * (and its composer) is drawn afresh for each conversation, so its own state would take the text with it; the forms'
 * fields wait there too. The layout provides it, keyed by user, so a logout leaves nothing for the next user.
 */
export const DraftsContext = createContext<Drafts | null>(null)

/** The drafts of the user's visit, or `null` outside the layout (nothing is kept). */
export function useDrafts(): Drafts | null {
  return useContext(DraftsContext)
}

/**
 * A form field's state, as `useState`, that outlives the form as the composer's draft does: another page opened
 * meanwhile, or the session's end and "Log in again" (`keepDraftsForNextLogin`).
 *
 * @example const [subject, setSubject] = useDraftField('booking.subject', '')
 */
export function useDraftField<K extends keyof FormFields>(
  key: K,
  initial: FormFields[K] | (() => FormFields[K]),
): [FormFields[K], (next: SetStateAction<FormFields[K]>) => void] {
  const drafts = useDrafts()
  const [value, setValue] = useState<FormFields[K]>(() => {
    const kept = drafts?.fields[key]
    if (kept !== undefined) return kept
    return typeof initial === 'function' ? initial() : initial
  })
  const set = (next: SetStateAction<FormFields[K]>) =>
    setValue((now) => {
      // Idempotent, so an updater run twice (StrictMode) keeps the same.
      const value = typeof next === 'function' ? next(now) : next
      if (drafts) drafts.fields[key] = value
      return value
    })
  return [value, set]
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
  return kept?.userId === userId ? kept.drafts : { messages: new Map(), fields: {} }
}

export function forgetKeptDrafts(): void {
  kept = null
}
