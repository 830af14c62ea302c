// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { bob, contactRequest, lesson } from '../unit/support/fixtures'
import { messagesPageWithToasts, pagePerTest, saidIn } from './support/page'

// The toast list was itself a live region holding each toast's close button, named "Dismiss: {toast}": a screen reader
// read every toast twice, its text and then the button's name. A toast is now said once, through the announcer, and
// the list is no live region.

const page = pagePerTest()
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

/** The live regions a screen reader reads as they change (`aria-live="off"` is none). */
const LIVE = '[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]'

async function toastsSaid() {
  const { store } = await messagesPageWithToasts(page, bob)
  const polite = saidIn('[data-testid=announcer-polite]')
  const assertive = saidIn('[data-testid=announcer-assertive]')
  const toastCount = (n: number) =>
    eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(n))
  // The same words twice in a row: two toasts, each said (a region ignores a text it holds already).
  act(() => void store.dispatch(serverEventActions['lesson:created'](lesson('l1', { subject: 'Algebra' }))))
  await toastCount(1)
  await eventually(() => expect(polite).toHaveLength(1))
  act(() => void store.dispatch(serverEventActions['lesson:created'](lesson('l2', { subject: 'Algebra' }))))
  await toastCount(2)
  await eventually(() => expect(polite).toHaveLength(2))
  // A third, different one: once it is said, anything the first two were to say again would have been said too.
  act(() => void store.dispatch(serverEventActions['contactRequest:created'](contactRequest('r1'))))
  await toastCount(3)
  await eventually(() => expect(polite).toHaveLength(3))
  const toasts = [...page.container.querySelectorAll<HTMLElement>('[data-testid=toast]')]
  return { store, polite, assertive, toasts }
}

describe('each toast is said once, politely, through the announcer', () => {
  for (const [locale, algebra, request] of [
    ['en', 'New lesson request from Alice: Algebra', 'New contact request from Alice'],
    ['fr', 'Nouvelle demande de cours (Alice)\u202f: Algebra', 'Nouvelle demande de contact\u202f: Alice'],
  ] as const) {
    test(locale, async () => {
      window.localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      const { store, polite, assertive, toasts } = await toastsSaid()
      expect(polite).toEqual([algebra, algebra, request])
      expect(assertive).toEqual([])
      for (const toast of toasts) expect(toast.closest(LIVE)).toBeNull()
      // Still distinct close buttons (tests/spa/toastDismissNames.test.tsx).
      expect(toasts.map((t) => t.querySelector('a')!.textContent)).toEqual([algebra, algebra, request])
      store.dispose()
    })
  }
})
