import { useCallback, useLayoutEffect, useRef, useState, type ReactNode, type RefCallback, type RefObject } from 'react'

/**
 * A change that cannot be undone (a lesson cancelled, a request declined: their statuses are final) asks once more
 * before it goes: WCAG 3.3.4 wants such a change reversible, checked or confirmed, and a slip on a phone or Enter on
 * the wrong card would otherwise end a booking for both people. `asking` is the status asked about while the card
 * still shows `current`: a change from elsewhere (the other person's, another tab's) ends the question, since what it
 * asked about is no longer there to do. Call it before `useCardKeepsFocus`: taken back, the question hands focus to the
 * button that asked it (`data-action`), which the card's own keeping would otherwise hand to the card.
 *
 * @example const step = useConfirmStep(lesson.status, cardRef); <button data-action="cancelled" onClick={() => step.ask('cancelled')}>
 */
export function useConfirmStep<S extends string>(current: S, cardRef: RefObject<HTMLElement | null>) {
  const [asked, setAsked] = useState<{ status: S; at: S } | null>(null)
  const backTo = useRef<S | null>(null)
  useLayoutEffect(() => {
    const status = backTo.current
    if (status === null) return
    backTo.current = null
    cardRef.current?.querySelector<HTMLElement>(`[data-action="${status}"]`)?.focus()
  })
  return {
    asking: asked !== null && asked.at === current ? asked.status : null,
    ask: (status: S) => setAsked({ status, at: current }),
    back: () => {
      if (asked) backTo.current = asked.status
      setAsked(null)
    },
  }
}

/** The question in place of a card's buttons, its safe answer focused; Escape is that answer too. */
export function ConfirmStep({
  question,
  yes,
  no,
  busy,
  onYes,
  onNo,
  keepFocus,
}: {
  question: ReactNode
  yes: string
  no: string
  /**
   * The change is on its way: neither answer does anything more, nor Escape, until it is drawn or refused
   * (aria-disabled keeps focus on them, see the cards).
   */
  busy: boolean
  onYes: () => void
  onNo: () => void
  /** The card's `useCardKeepsFocus` ref: the question goes when the change is drawn, or when another's comes first. */
  keepFocus: RefCallback<HTMLElement>
}) {
  const noRef = useRef<HTMLButtonElement | null>(null)
  const noButton = useCallback<RefCallback<HTMLButtonElement>>(
    (el) => {
      noRef.current = el
      return keepFocus(el)
    },
    [keepFocus],
  )
  useLayoutEffect(() => noRef.current?.focus(), [])
  // The yes is on its way and cannot be called back: taken back now, the card's buttons would come again as if nothing
  // went, and the change a moment later all the same.
  const back = () => {
    if (!busy) onNo()
  }
  return (
    // A group named by its question (a fieldset's legend): a screen reader says it as focus comes in. Escape from
    // either button is the safe answer, as in a dialog.
    <fieldset
      className="card-confirm"
      onKeyDown={(event) => {
        if (event.key !== 'Escape') return
        event.preventDefault()
        back()
      }}
    >
      <legend>{question}</legend>
      <div className="card-actions">
        <button
          ref={keepFocus}
          type="button"
          className="btn btn-small btn-danger"
          aria-disabled={busy || undefined}
          onClick={onYes}
        >
          {yes}
        </button>
        <button ref={noButton} type="button" className="btn btn-small" aria-disabled={busy || undefined} onClick={back}>
          {no}
        </button>
      </div>
    </fieldset>
  )
}
