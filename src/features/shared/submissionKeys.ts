import { useMemo, useRef } from 'react'
import { newClientId } from '../../realtime'
import { saveDrafts, useDrafts } from '../messages/drafts'

/**
 * The Idempotency-Key of each request a form sends: the server creates one thing per key, however often it is sent.
 * The key goes with what is sent: the same request sent again (after a lost answer, a timeout, an error) takes the
 * same key, so a booking the server kept but whose answer never came is answered, not made twice. A request that
 * says something else is another request with its own key; one that succeeded lets go of its key, so the same words
 * sent afterwards are a new request (a second booking, meant). Kept with the user's drafts, as the form's fields are:
 * the user who goes to another page (or reloads) after a lost answer and comes back to send the fields kept there again
 * sends the request the server may have kept; outside the layout (no drafts), for as long as the form is on the page.
 *
 * @example const keys = useSubmissionKeys(); const sent = await create({ ...body, idempotencyKey: keys.keyFor(body) })
 */
export function useSubmissionKeys() {
  // By request (its JSON): changing the words and coming back to them finds the first key again, for the first
  // request may have been kept.
  const drafts = useDrafts()
  const own = useRef(new Map<string, string>())
  return useMemo(() => {
    const keys = drafts?.keys ?? own.current
    const saved = () => {
      if (drafts) saveDrafts(drafts)
    }
    return {
      keyFor(request: unknown): string {
        const sent = JSON.stringify(request)
        let key = keys.get(sent)
        if (key === undefined) {
          key = newClientId()
          keys.set(sent, key)
          saved()
        }
        return key
      },
      succeeded(request: unknown): void {
        if (keys.delete(JSON.stringify(request))) saved()
      },
    }
  }, [drafts])
}
