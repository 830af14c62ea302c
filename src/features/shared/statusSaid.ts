import { useLayoutEffect, useRef, type RefObject } from 'react'
import { useAnnounce } from '../../app/Announcer'

/**
 * Says `text` politely each time a card's `status` changes while it is drawn, once: the user's own change (however
 * its answer and the server's event race) as much as the other person's, which elsewhere a toast would say. Answers
 * the status drawn now, for handlers that need to know whether their change is on screen already.
 *
 * @example const drawn = useStatusSaid(lesson.status, t('toast.lessonStatus', { subject, status: lesson.status }))
 */
export function useStatusSaid<S>(status: S, text: string): RefObject<S> {
  const announce = useAnnounce()
  const drawn = useRef(status)
  useLayoutEffect(() => {
    if (drawn.current === status) return
    drawn.current = status
    announce(text)
  }, [status, text, announce])
  return drawn
}

/**
 * Says `text` politely each time `shown` turns true (a note drawn without a live region of its own), once: in the
 * same commit as a card's status, after it.
 *
 * @example useSaidWhenShown(changedMeanwhile, t('lessons.changedMeanwhile'))
 */
export function useSaidWhenShown(shown: boolean, text: string): void {
  const announce = useAnnounce()
  const said = useRef(false)
  useLayoutEffect(() => {
    if (shown && !said.current) announce(text)
    said.current = shown
  }, [shown, text, announce])
}
