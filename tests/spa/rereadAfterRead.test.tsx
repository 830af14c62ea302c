// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import { api } from '../../src/api'
import type { ContactRequest, Lesson } from '../../src/contract'
import { disconnect } from '../../src/realtime'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// A status change refused (INVALID: the other side changed it first) reads the card again to show it as it is now. A
// read of the list already under way (a refetch after a reconnect or an event) was taken for that reread: it had left
// before the other side's change, so it brought the old status back, and the card stayed on it under an error telling
// the user to check what they entered, with nothing left to read it again.

const page = pagePerTest('#/lessons')

test.each([
  {
    name: 'a lesson',
    hash: '#/lessons',
    testId: 'lesson',
    press: 'Confirm',
    list: '/api/lessons',
    tag: 'Lesson' as const,
    before: lesson('l1') as Lesson | ContactRequest,
    now: lesson('l1', { status: 'cancelled', updatedAt: '2026-11-24T09:00:00.000Z' }) as Lesson | ContactRequest,
  },
  {
    name: 'a request',
    hash: '#/contact-requests',
    testId: 'contact-request',
    press: 'Accept',
    list: '/api/contact-requests',
    tag: 'ContactRequest' as const,
    before: contactRequest('r1'),
    now: contactRequest('r1', { status: 'declined', updatedAt: '2026-11-24T09:00:00.000Z' }),
  },
])('$name: a read under way when the change is refused is not taken for the reread', async (c) => {
  let current = c.before
  let reads = 0
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const fetchFn = apiRoutes(async (method, path) => {
    if (method === 'PATCH') {
      current = c.now
      return json(400, { error: { code: 'INVALID', message: 'no such step' } })
    }
    if (path === c.list) {
      reads++
      // What the server had when the read arrived; the second read is held, under way while the user presses.
      const answer = current
      if (reads === 2) await held
      return json(200, [answer])
    }
    if (path === '/api/users') return json(200, [alice, bob])
    return json(200, [])
  })
  window.history.replaceState(null, '', c.hash)
  const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: bob } } })
  // No socket (the app's own choice): no event, no catch-up and no fallback turn reads the list meanwhile; the pages'
  // reads alone are seen.
  act(() => void store.dispatch(disconnect()))
  renderApp(page.root, store)
  const card = () => page.container.querySelector(`[data-testid=${c.testId}]`)!
  const shown = () => card().querySelector(`[data-testid=${c.testId}-status]`)!.textContent
  await eventually(() => expect(card()).not.toBeNull())
  act(() => void store.dispatch(api.util.invalidateTags([c.tag])))
  await eventually(() => expect(reads).toBe(2))

  act(() => [...card().querySelectorAll('button')].find((b) => b.textContent === c.press)!.click())
  // The refusal has come, and the page waits for a read.
  await eventually(() => expect(current).toBe(c.now))
  await act(async () => {})
  release()
  // The read under way lands with the status before the change; the card is read again after it.
  await eventually(() => expect(reads).toBe(3))
  await eventually(() => expect(shown()).toBe(c.now.status))
  expect(card().textContent).not.toMatch(/Check what you entered/)
  expect(card().querySelector('[data-testid=changed-meanwhile]')).not.toBeNull()
  store.dispose()
})
