import type { RefCallback } from 'react'
import { hrefFor, type Route } from './router'

/** Where keyboard focus goes after a navigation: the page's h1, the open conversation's composer, or nowhere. */
export type FocusTarget = 'heading' | 'composer' | null

/**
 * Where focus lands when the route becomes `now` (`before` is `null` for the first page after login or a load):
 * opening a conversation puts the cursor in its composer, anything else starts at the page's h1 (as a full page
 * load would start reading there); the same route again moves nothing.
 *
 * @example focusTargetAfter({ page: 'messages', conversationId: null }, { page: 'lessons' }) // 'heading'
 */
export function focusTargetAfter(before: Route | null, now: Route): FocusTarget {
  if (before && hrefFor(before) === hrefFor(now)) return null
  return now.page === 'messages' && now.conversationId ? 'composer' : 'heading'
}

/** The element for a target inside the main region (the composer's textarea, the page's h1). */
export function focusElement(main: HTMLElement, target: Exclude<FocusTarget, null>): HTMLElement | null {
  return main.querySelector<HTMLElement>(target === 'composer' ? '.composer textarea' : 'h1')
}

/** The header's "Log in again" (there only while the session is over): where a control the session's end took goes. */
export const LOG_IN_AGAIN_ID = 'log-in-again'

/**
 * A ref for a button that goes away once it has done its work ("Try again"): if it had keyboard focus when React removes
 * it, `to()` takes it, else the page's main region, where what replaced it is (a removed focused element leaves focus
 * on <body>, and the next Tab would start again from the top). The ref's cleanup runs while React removes the button,
 * before it leaves the page: focus is still on it.
 *
 * @example <button ref={focusAfterRemoval()} onClick={retry}>Try again</button>
 */
export function focusAfterRemoval(to: () => HTMLElement | null = () => null): RefCallback<HTMLElement> {
  return (el) => {
    if (!el) return
    return () => {
      if (el === document.activeElement) (to() ?? el.closest<HTMLElement>('main'))?.focus()
    }
  }
}
