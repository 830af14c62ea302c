// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// The API's answers are checked against the contract, a read's as a write's: one of another shape (a proxy's, a server
// of another version) is the server's problem said on the page, never put into the cache, where every page drawing
// from it would then fail on it.

const page = pagePerTest('#/lessons')

describe('a status change answered with something that is not the contract’s entity', () => {
  test.each([
    {
      name: 'a lesson',
      hash: '#/lessons',
      list: '/api/lessons',
      item: lesson('l1'),
      testId: 'lesson',
      press: 'Confirm',
      cached: (store: ReturnType<typeof appStore>['store']) => api.endpoints.getLessons.select()(store.getState()).data,
    },
    {
      name: 'a contact request',
      hash: '#/contact-requests',
      list: '/api/contact-requests',
      item: contactRequest('r1'),
      testId: 'contact-request',
      press: 'Accept',
      cached: (store: ReturnType<typeof appStore>['store']) =>
        api.endpoints.getContactRequests.select()(store.getState()).data,
    },
  ])('$name: the card says the server’s problem and the cache keeps only the contract’s entities', async (c) => {
    const fetchFn = apiRoutes(async (method, path) => {
      // A 200 whose body is not the updated entity.
      if (method === 'PATCH') return json(200, { ok: true })
      if (path === c.list) return json(200, [c.item])
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', c.hash)
    const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: bob } } })
    renderApp(page.root, store)
    const cards = () => page.container.querySelectorAll(`[data-testid=${c.testId}]`)
    await eventually(() => expect(cards()).toHaveLength(1))
    act(() => [...cards()[0]!.querySelectorAll('button')].find((b) => b.textContent === c.press)!.click())
    await eventually(() =>
      expect(page.container.querySelector('[role=alert]')?.textContent).toBe(
        'The server ran into a problem. Please try again.',
      ),
    )
    expect(c.cached(store)).toEqual([c.item])
    expect(cards()).toHaveLength(1)
    store.dispose()
  })
})

describe('a conversation started, answered with something that is not a conversation', () => {
  test('the form says the server’s problem and the page stays where it is (no conversation “undefined” opened)', async () => {
    const fetchFn = apiRoutes(async (method, path) => {
      if (method === 'POST' && path === '/api/conversations') return json(200, { ok: true })
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    window.history.replaceState(null, '', '#/messages')
    const { store } = appStore(fetchFn)
    renderApp(page.root, store)
    const who = () => page.container.querySelector<HTMLSelectElement>('.new-conv select')
    await eventually(() => expect(who()?.querySelectorAll('option').length).toBeGreaterThan(1))
    act(() => {
      who()!.value = bob.id
      who()!.dispatchEvent(new Event('change', { bubbles: true }))
    })
    act(() => page.container.querySelector<HTMLButtonElement>('.new-conv button[type=submit]')!.click())
    await eventually(() =>
      expect(page.container.querySelector('.new-conv [role=alert]')?.textContent).toBe(
        'The server ran into a problem. Please try again.',
      ),
    )
    expect(window.location.hash).toBe('#/messages')
    store.dispose()
  })
})
