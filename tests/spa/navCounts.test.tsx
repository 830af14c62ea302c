// @vitest-environment jsdom
import { afterEach, expect, test } from 'vitest'
import { api } from '../../src/api'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// The counts on the Lessons and Contact requests links are what waits for the viewer: a tutor's lessons to confirm and
// requests to answer (the contract: the tutor confirms, and only the tutor accepts or declines). A student's own
// booking or request waiting for the tutor is nothing for her to do: she saw "1 pending" on both links, as if
// something were hers to answer.

const page = pagePerTest('#/messages')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** `me` on the messages page, Alice's pending request to Bob and her pending lesson with him both loaded. */
async function withPendingBetweenAliceAndBob(me: User) {
  const fetchFn = apiRoutes((_method, path) => {
    if (path === '/api/users') return json(200, [alice, bob])
    if (path === '/api/lessons') {
      return json(200, [lesson('l1', { status: 'pending' }), lesson('l2', { status: 'confirmed' })])
    }
    if (path === '/api/contact-requests') {
      return json(200, [contactRequest('r1', { status: 'pending' }), contactRequest('r0', { status: 'accepted' })])
    }
    return json(200, [])
  })
  const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: me } } })
  renderApp(page.root, store)
  await eventually(() => {
    expect(api.endpoints.getLessons.select()(store.getState()).data).toHaveLength(2)
    expect(api.endpoints.getContactRequests.select()(store.getState()).data).toHaveLength(2)
  })
  return store
}

const count = (tab: string) => page.container.querySelector(`[data-testid=nav-${tab}-count]`)

test('a student waiting on the tutor has no count on Lessons nor Contact requests', async () => {
  const store = await withPendingBetweenAliceAndBob(alice)
  expect(count('lessons')).toBeNull()
  expect(count('contactRequests')).toBeNull()
  store.dispose()
})

test.each([
  ['en', '1 awaiting your confirmation', '1 awaiting your answer'],
  ['fr', '1 en attente de votre confirmation', '1 en attente de votre réponse'],
] as const)(
  '(%s) the tutor sees his pending lesson to confirm and request to answer, said as such',
  async (locale, toConfirm, toAnswer) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const store = await withPendingBetweenAliceAndBob(bob)
    await eventually(() => expect(count('lessons')).not.toBeNull())
    expect(count('lessons')!.querySelector('[aria-hidden]')!.textContent).toBe('1')
    expect(count('lessons')!.querySelector('.sr-only')!.textContent!.trim()).toBe(toConfirm)
    expect(count('contactRequests')!.querySelector('[aria-hidden]')!.textContent).toBe('1')
    expect(count('contactRequests')!.querySelector('.sr-only')!.textContent!.trim()).toBe(toAnswer)
    store.dispose()
  },
)
