import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import type { Id } from '../../contract'
import { answeredStatus } from '../../api/answeredStatus'
import { errorCode } from './errors'

/**
 * Whether a failed create may have been made all the same: no answer (`NETWORK`), or a 5xx, the server's or a
 * gateway's (its commit's answer lost on the way from the database, a timeout while the server was still at it). A 4xx
 * was answered before anything was written.
 */
const mayHaveBeenMade = (refusal: unknown) => errorCode(refusal) === 'NETWORK' || (answeredStatus(refusal) ?? 0) >= 500

/**
 * A form's create whose answer never came (the connection reset, the request timed out: `NETWORK`), or came as a 5xx,
 * may have been made all the same: the server's `…:created` event then brings it into the list, where the page shows
 * it, while the form would go on saying that the server could not be reached (or had failed). `whenMade.made` is
 * called with that item, once the list holds it and no request of the form's is under way (`whenMade.busy`): one the
 * list did not hold when the request went (an identical one made earlier is not this one), that is what was asked
 * (`isAsked`). With no list when the request went (its read slow, or failed), nothing tells an earlier identical one
 * from this: none is.
 *
 * @example const lost = useMadeDespiteLostAnswer(lessons, (l, b) => l.subject === b.subject, { busy, made: say })
 *   lost.failed(refusal, booking, listedBefore)
 */
export function useMadeDespiteLostAnswer<T extends { id: Id }, A>(
  list: readonly T[] | undefined,
  isAsked: (item: T, asked: A) => boolean,
  whenMade: { busy: boolean; made: (item: T, asked: A) => void },
) {
  const [lost, setLost] = useState<{ asked: A; listed: ReadonlySet<Id> } | null>(null)
  const item = lost ? list?.find((x) => !lost.listed.has(x.id) && isAsked(x, lost.asked)) : undefined
  const failed = useCallback((refusal: unknown, asked: A, listed: readonly T[] | undefined) => {
    if (mayHaveBeenMade(refusal) && listed) setLost({ asked, listed: new Set(listed.map((x) => x.id)) })
  }, [])
  const forget = useCallback(() => setLost(null), [])
  const made = useRef(whenMade.made)
  useEffect(() => {
    made.current = whenMade.made
  })
  const { busy } = whenMade
  useEffect(() => {
    if (!lost || !item || busy) return
    setLost(null)
    made.current(item, lost.asked)
  }, [lost, item, busy])
  return useMemo(
    () => ({
      /** The request for `asked` failed with `refusal`; `listed`: the list as it was when the request went. */
      failed,
      /** A new request goes, or its answer came: the lost one is no longer waited for. */
      forget,
    }),
    [failed, forget],
  )
}
