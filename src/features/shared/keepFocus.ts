import { useCallback, useLayoutEffect, useRef, type RefCallback, type RefObject } from 'react'

/**
 * Keeps a keyboard user's place in a card when the control they are on goes away, whatever took it: their own
 * change, the other person's, or their own in another tab (a status event removes the card's buttons). A focused
 * element that is removed leaves focus on `<body>`, and the next Tab starts again from the top of the page (WCAG 2.4.3);
 * here the card itself takes focus once the change is drawn (after a re-sort has moved it: a move blurs in browsers).
 * Give the returned ref to each control that may go.
 *
 * @example const keep = useCardKeepsFocus(cardRef); <button ref={keep}>Confirm</button>
 */
export function useCardKeepsFocus(cardRef: RefObject<HTMLElement | null>): RefCallback<HTMLElement> {
  const lost = useRef(false)
  // The ref's cleanup runs while React removes the control, before the element leaves the page: focus is still on it.
  const keep = useCallback<RefCallback<HTMLElement>>((el) => {
    if (!el) return
    return () => {
      if (el.contains(document.activeElement)) lost.current = true
    }
  }, [])
  // After every drawing of the card: the control gone, the list in its new order.
  useLayoutEffect(() => {
    if (!lost.current) return
    lost.current = false
    const focused = document.activeElement
    if (focused === null || focused === document.body) cardRef.current?.focus()
  })
  return keep
}

/**
 * Whether keyboard focus is still where a change of `card`'s was asked (in the card, or nowhere: its button gone), so
 * that the card may take it once the change is drawn. A user who went on meanwhile (the next card's button, a field)
 * stays there: pulled back, they would press the wrong card's button or lose their place (WCAG 3.2.2).
 *
 * @example if (stillAt(cardRef.current)) cardRef.current?.focus()
 */
export function stillAt(card: HTMLElement | null): boolean {
  const focused = document.activeElement
  return card !== null && (focused === null || focused === document.body || card.contains(focused))
}
