import { useMemo, useRef } from 'react'
import { newClientId } from '../../realtime'

/**
 * The Idempotency-Key of each request a form sends: the server creates one thing per key, however often it is sent.
 * The key goes with what is sent: the same request sent again (after a lost answer, a timeout, an error) takes the
 * same key, so a booking the server kept but whose answer never came is answered, not made twice. A request that
 * says something else is another request with its own key; one that succeeded lets go of its key, so the same words
 * sent afterwards are a new request (a second booking, meant). Kept for as long as the form is on the page.
 *
 * @example const keys = useSubmissionKeys(); const sent = await create({ ...body, idempotencyKey: keys.keyFor(body) })
 */
export function useSubmissionKeys() {
  // By request (its JSON): changing the words and coming back to them finds the first key again, for the first
  // request may have been kept.
  const keys = useRef(new Map<string, string>())
  return useMemo(
    () => ({
      keyFor(request: unknown): string {
        const sent = JSON.stringify(request)
        let key = keys.current.get(sent)
        if (key === undefined) {
          key = newClientId()
          keys.current.set(sent, key)
        }
        return key
      },
      succeeded(request: unknown): void {
        keys.current.delete(JSON.stringify(request))
      },
    }),
    [],
  )
}
