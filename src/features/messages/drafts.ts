import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit'
import { createContext, type SetStateAction, useContext, useState } from 'react'
import type { ApiExtra } from '../../api'

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
  /**
   * The forms' Idempotency-Keys by request (`useSubmissionKeys`): a request sent again after a lost answer, from the
   * fields kept here, must carry the key it first went with.
   */
  keys: Map<string, string>
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
      if (drafts) {
        drafts.fields[key] = value
        saveDrafts(drafts)
      }
      return value
    })
  return [value, set]
}

/**
 * The drafts a user left with "Log in again", waiting for the next login in this tab (in memory; the tab's storage has
 * them too, for a reload meanwhile: `saveDrafts`).
 */
let kept: { userId: string; epoch: string | null; drafts: Drafts } | null = null

/**
 * Keeps `drafts` for `userId`'s next login in this tab: the session ended under them, not their wish to write, as
 * "Log in again" keeps their unsent messages and the page they were on.
 *
 * @example keepDraftsForNextLogin(user.id, drafts); dispatch(loggedOut({ keepOutbox: true }))
 */
export function keepDraftsForNextLogin(userId: string, drafts: Drafts): void {
  kept = { userId, epoch: owners.get(drafts)?.epoch ?? null, drafts }
}

/**
 * Where the browser keeps, per user, a mark their "Log out" renews (`renewDraftsEpoch`). A visit's drafts carry the
 * mark it began with: a tab that never heard that logout (discarded by the browser meanwhile, which reloads it on
 * return with its session storage) finds another mark at the next login there, and drops what it kept.
 */
const draftsEpochKey = (userId: string) => `talemy.drafts.epoch.${userId}`

/** `userId`'s mark in the browser's storage (the store's), or null: none, or storage blocked. */
export function draftsEpochOf(userId: string): ThunkAction<string | null, unknown, unknown, UnknownAction> {
  return (_dispatch, _getState, extra) => {
    try {
      return ((extra ?? {}) as ApiExtra).storage?.getItem(draftsEpochKey(userId)) ?? null
    } catch {
      return null
    }
  }
}

/** `userId` chose "Log out": the drafts any tab keeps of theirs are not for their next visit. */
export function renewDraftsEpoch(userId: string): ThunkAction<void, unknown, unknown, UnknownAction> {
  return (_dispatch, _getState, extra) => {
    try {
      const mark = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}`
      ;((extra ?? {}) as ApiExtra).storage?.setItem(draftsEpochKey(userId), mark)
    } catch {
      // blocked: the tabs that hear the logout drop theirs all the same
    }
  }
}

/**
 * Where the tab's drafts wait through a reload (F5, or the browser discarding a background tab, which reloads it on
 * return): the tab's session storage, which no other tab reads and which goes with the tab. One user's at a time.
 */
const STORED_DRAFTS = 'talemy.drafts'
/** Whose drafts each visit holds, and the mark it began with (`draftsEpochOf`), for `saveDrafts`. */
const owners = new WeakMap<Drafts, { userId: string; epoch: string | null }>()

function tabStorage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage
  } catch {
    // A blocked storage throws on access.
    return null
  }
}

/** Writes `drafts` (a visit's, from `draftsForVisitOf`) to the tab's storage; best effort (full or blocked: memory). */
export function saveDrafts(drafts: Drafts): void {
  const owner = owners.get(drafts)
  const storage = tabStorage()
  if (owner === undefined || !storage) return
  try {
    const { messages, fields, keys } = drafts
    storage.setItem(STORED_DRAFTS, JSON.stringify({ ...owner, messages: [...messages], fields, keys: [...keys] }))
  } catch {
    // kept in memory only
  }
}

/** The drafts the tab's storage holds for `userId` since `epoch`, else none (another user's are dropped). */
function storedDraftsOf(userId: string, epoch: string | null): Drafts {
  const storage = tabStorage()
  try {
    const raw = storage?.getItem(STORED_DRAFTS)
    if (raw) {
      const stored = JSON.parse(raw) as {
        userId?: unknown
        epoch?: unknown
        messages?: unknown
        fields?: unknown
        keys?: unknown
      }
      if (stored.userId === userId && (stored.epoch ?? null) === epoch) {
        const fields = stored.fields !== null && typeof stored.fields === 'object' ? stored.fields : {}
        return {
          messages: stringPairs(stored.messages),
          fields: fields as Partial<FormFields>,
          keys: stringPairs(stored.keys),
        }
      }
      storage?.removeItem(STORED_DRAFTS)
    }
  } catch {
    // unreadable: none
  }
  return { messages: new Map(), fields: {}, keys: new Map() }
}

/** A stored list of `[string, string]` pairs as a map, what is not such a pair left out. */
function stringPairs(stored: unknown): Map<string, string> {
  const map = new Map<string, string>()
  for (const pair of Array.isArray(stored) ? stored : [])
    if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string') map.set(pair[0], pair[1])
  return map
}

/** Forgets the drafts the tab's storage holds: the user logged out. */
export function forgetStoredDrafts(): void {
  try {
    tabStorage()?.removeItem(STORED_DRAFTS)
  } catch {
    // blocked: nothing was stored
  }
}

/**
 * The drafts of `userId`'s visit that begins with their mark `epoch` (`draftsEpochOf`): those kept for them, else those
 * the tab stored for them before a reload, else none; neither if they chose "Log out" since. Whoever logs in next takes
 * what was kept (`forgetKeptDrafts`, once the visit is drawn), so another user's login drops it.
 */
export function draftsForVisitOf(userId: string, epoch: string | null): Drafts {
  const drafts = kept?.userId === userId && kept.epoch === epoch ? kept.drafts : storedDraftsOf(userId, epoch)
  owners.set(drafts, { userId, epoch })
  return drafts
}

export function forgetKeptDrafts(): void {
  kept = null
}
