import { useCallback, useState } from 'react'
import { errorCode } from './errors'
import { useForgetOnReconnect } from './reconnected'
import { useSaidWhenShown } from './statusSaid'

/**
 * `read` (a forced read of a list, for `reread`) once no read of that list is under way (`running`, RTK Query's running
 * query for the entry): RTK Query hands a read under way to a new one of the same entry, forced or not, and that one
 * may have left before the change the refusal is about, bringing back the status the card already shows.
 *
 * @example readAfterUnderWay(() => dispatch(api.util.getRunningQueryThunk('getLessons', undefined)), forcedRead)
 */
export async function readAfterUnderWay<T>(running: () => Promise<unknown> | undefined, read: () => Promise<T>) {
  let under = running()
  while (under) {
    await under
    const next = running()
    if (next === under) break
    under = next
  }
  return read()
}

/**
 * Why a card's last change did not happen, once known; `changed`: the card was read again and shows another status;
 * `done`: the status read again is the one asked for (the user's own earlier try whose answer was lost, or their other
 * tab): nothing to explain; `unread`: the read failed, and what the card is now is not known.
 */
interface Refusal {
  error: unknown
  changed: boolean
  done: boolean
  unread: boolean
}

/**
 * A card's own status change and its refusal. INVALID is a change the other side (or the user's other tab or device)
 * made first, with no socket event to say it yet: the card is read again (`reread`, the status it has now) before the
 * refusal is shown. When the read shows another status, the card is about to show it (a frame later), and `note` says
 * why the user's change did not happen, drawn by the card and said after the new status; else the refusal is the
 * `error` to show, only while the card still shows the status it was asked from. NOT_FOUND: the item is gone from the
 * server (`gone`); the card offers no action on it any more, as a vanished thread offers no composer. `reread` rejects
 * when the card cannot be read (`unread`): the change was not made, and why is not known.
 *
 * @example const { attempt, forget, error, changedMeanwhile, gone } = useStatusChange(lesson.status, rereadStatus, t('lessons.changedMeanwhile'))
 *   const updated = await attempt(status, () => update({ id: lesson.id, status }).unwrap()) // null when refused
 */
export function useStatusChange<S extends string>(status: S, reread: () => Promise<S | undefined>, note: string) {
  /** The status the last change was asked from. */
  const [changedFrom, setChangedFrom] = useState<S | null>(null)
  const [refusal, setRefusal] = useState<Refusal | null>(null)
  const attempt = async <T>(asked: S, request: () => Promise<T>): Promise<T | null> => {
    setChangedFrom(status)
    setRefusal(null)
    return request().catch(async (refused: unknown) => {
      // Until read again the refusal is not shown: an alert telling the user to check what they entered would be said
      // first.
      let changed = false
      let done = false
      let unread = false
      if (errorCode(refused) === 'INVALID') {
        const now = await reread().catch(() => {
          unread = true
          return undefined
        })
        changed = now !== undefined && now !== status
        done = now === asked
      }
      setRefusal({ error: refused, changed, done, unread })
      return null
    })
  }
  const forget = useCallback(() => setRefusal(null), [])
  // A change that could not reach the server says so until the connection is back, as the forms' requests do. Never
  // busy: a new try clears the refusal before it goes.
  useForgetOnReconnect(refusal?.error, false, forget)
  const changedMeanwhile =
    changedFrom !== null && changedFrom !== status && errorCode(refusal?.error) === 'INVALID' && !refusal?.done
  // Focus is on the card, whose name is its title, and the note is no live region.
  useSaidWhenShown(changedMeanwhile, note)
  const error = changedFrom === status && !refusal?.changed && !refusal?.done ? refusal?.error : undefined
  return {
    attempt,
    /**
     * The user took back the change the refusal was about (the question's "Keep"): its words would stay under the
     * card's buttons as if something were wrong with the card now.
     */
    forget,
    error,
    changedMeanwhile,
    /**
     * `error` is a refusal (INVALID) whose card could not be read again: words that ask the user to check what they
     * entered would blame a press of a button; the card's own say the change was not made, and could not be explained.
     */
    unread: error !== undefined && refusal?.unread === true,
    /** The server no longer has the item: each press would be refused the same way, so no action is offered. */
    gone: changedFrom === status && errorCode(refusal?.error) === 'NOT_FOUND',
  }
}
