// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// A cancel or decline the server refuses leaves its question open, with the refusal said under it: the user may say
// yes again. Choosing "Keep" instead ends what the refusal was about; the card's buttons are back as before, and words
// telling that the cancel (or decline) failed, still standing under them, read as if something were wrong with the
// card now.

const page = pagePerTest('#/lessons')

const CASES = [
  {
    name: 'a lesson’s cancel refused (FORBIDDEN)',
    hash: '#/lessons',
    testId: 'lesson',
    me: alice as User,
    list: '/api/lessons',
    item: lesson('l1', { status: 'confirmed' }),
    press: 'Cancel lesson',
    yes: 'Yes, cancel lesson',
    no: 'Keep lesson',
    refusal: json(403, { error: { code: 'FORBIDDEN', message: 'not yours' } }),
    said: 'You are not allowed to do that.',
  },
  {
    name: 'a request’s decline that failed (INTERNAL)',
    hash: '#/contact-requests',
    testId: 'contact-request',
    me: bob as User,
    list: '/api/contact-requests',
    item: contactRequest('r1'),
    press: 'Decline',
    yes: 'Yes, decline',
    no: 'Keep request',
    refusal: json(500, { error: { code: 'INTERNAL', message: 'boom' } }),
    said: 'The server ran into a problem. Please try again.',
  },
]

describe.each(CASES)('$name, then Keep', (c) => {
  test.each(['the safe answer', 'Escape'])('%s: the refusal goes with the question', async (how) => {
    let patches = 0
    const fetchFn = apiRoutes((method, path) => {
      if (method === 'PATCH') {
        patches++
        return c.refusal.clone()
      }
      if (path === c.list) return json(200, [c.item])
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', c.hash)
    const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: c.me } } })
    renderApp(page.root, store)
    const card = () => page.container.querySelector<HTMLElement>(`[data-testid=${c.testId}]`)!
    await eventually(() => expect(card()).not.toBeNull())
    const button = (name: string) => [...card().querySelectorAll('button')].find((b) => b.textContent === name) ?? null
    const alerts = () => [...card().querySelectorAll('[role=alert]')].map((a) => a.textContent)

    act(() => button(c.press)!.click())
    await eventually(() => expect(button(c.yes)).not.toBeNull())
    act(() => button(c.yes)!.click())
    // Refused: said, and the question still open (a yes again may go through).
    await eventually(() => expect(alerts()).toEqual([c.said]))
    expect(patches).toBe(1)
    expect(card().querySelector('fieldset')).not.toBeNull()
    await eventually(() => expect(button(c.no)!.getAttribute('aria-disabled')).toBeNull())

    act(() => button(c.no)!.focus())
    if (how === 'Escape')
      act(() => {
        document.activeElement!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
      })
    else act(() => button(c.no)!.click())
    await eventually(() => expect(card().querySelector('fieldset')).toBeNull())
    expect(document.activeElement).toBe(button(c.press))
    expect(alerts()).toEqual([])
    expect(card().textContent).not.toContain(c.said)
    store.dispose()
  })
})

// The same words under the question of another change read as its answer: "You are not allowed to do that." under
// "Cancel “Algebra” with Alice?" tells the tutor they may not cancel, when it was their Confirm that was refused.
describe.each([
  {
    name: 'a lesson’s Confirm refused, then Cancel lesson',
    hash: '#/lessons',
    testId: 'lesson',
    list: '/api/lessons',
    item: lesson('l1'),
    first: 'Confirm',
    next: 'Cancel lesson',
  },
  {
    name: 'a request’s Accept refused, then Decline',
    hash: '#/contact-requests',
    testId: 'contact-request',
    list: '/api/contact-requests',
    item: contactRequest('r1'),
    first: 'Accept',
    next: 'Decline',
  },
])('$name', (c) => {
  test('the question asked next does not stand over the earlier refusal', async () => {
    const fetchFn = apiRoutes((method, path) => {
      if (method === 'PATCH') return json(403, { error: { code: 'FORBIDDEN', message: 'not yours' } })
      if (path === c.list) return json(200, [c.item])
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', c.hash)
    const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: bob } } })
    renderApp(page.root, store)
    const card = () => page.container.querySelector<HTMLElement>(`[data-testid=${c.testId}]`)!
    await eventually(() => expect(card()).not.toBeNull())
    const button = (name: string) => [...card().querySelectorAll('button')].find((b) => b.textContent === name) ?? null
    const alerts = () => [...card().querySelectorAll('[role=alert]')].map((a) => a.textContent)

    act(() => button(c.first)!.click())
    await eventually(() => expect(alerts()).toEqual(['You are not allowed to do that.']))
    await eventually(() => expect(button(c.next)!.getAttribute('aria-disabled')).toBeNull())
    act(() => button(c.next)!.click())
    await eventually(() => expect(card().querySelector('fieldset')).not.toBeNull())
    expect(alerts()).toEqual([])
    store.dispose()
  })
})
