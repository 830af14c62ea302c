import { useEffect, type RefObject } from 'react'
import { focusElement } from '../../app/focus'

/** The narrow layout of `styles.css`: one pane at a time, the thread's when one is open. */
export const NARROW_LAYOUT = '(max-width: 720px)'

/**
 * With a thread open, a window narrowed to one pane (a rotated tablet, a window made smaller) hides the conversation
 * list: keyboard focus in it went to <body> (the browser's focus fix-up), and the next Tab started again from the top.
 * It goes to the composer, as when a thread opens on a phone. Only when focus was in the list's pane: a rotation must
 * not bring up the on-screen keyboard of someone who was not in it.
 */
export function useFocusKeptWhenNarrowed(pane: RefObject<HTMLElement | null>, threadOpen: boolean): void {
  useEffect(() => {
    if (!threadOpen || typeof window.matchMedia !== 'function') return
    const narrow = window.matchMedia(NARROW_LAYOUT)
    const inPane = (node: EventTarget | Element | null) => node instanceof Node && !!pane.current?.contains(node)
    // Kept from the last focus move: by the time the layout changes, the fix-up may have put focus on <body> already.
    let focusInPane = inPane(document.activeElement)
    const moved = (event: FocusEvent) => {
      focusInPane = inPane(event.target)
    }
    const changed = () => {
      const active = document.activeElement
      if (!narrow.matches || !focusInPane || (active !== document.body && active !== null && !inPane(active))) return
      const main = document.getElementById('main')
      if (main) focusElement(main, 'composer')?.focus()
    }
    document.addEventListener('focusin', moved)
    narrow.addEventListener('change', changed)
    return () => {
      document.removeEventListener('focusin', moved)
      narrow.removeEventListener('change', changed)
    }
  }, [pane, threadOpen])
}
