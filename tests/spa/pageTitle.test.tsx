// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { loggedOut } from '../../src/app/authSlice'
import { navigate } from '../../src/app/router'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// The document's title is what a screen reader says first of a page, what names its tab and its history entries: each
// page has its own (WCAG 2.4.2), in the chosen language, as a full page load of it would have.

const page = pagePerTest('#/messages')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const api = apiRoutes((_method, path) => {
  if (path === '/api/users') return json(200, [alice, bob])
  if (path === '/api/conversations') return json(200, [conversation('c1', { unreadCount: 2 })])
  return json(200, [])
})

describe('the document title', () => {
  test('names the page that is open, in the chosen language, and follows navigation and the language switch', async () => {
    const { store } = appStore(api)
    renderApp(page.root, store)
    await eventually(() => expect(document.title).toBe('(2) Messages · Talemy'))
    act(() => navigate({ page: 'lessons' }))
    await eventually(() => expect(document.title).toBe('(2) Lessons · Talemy'))
    act(() => navigate({ page: 'contactRequests' }))
    await eventually(() => expect(document.title).toBe('(2) Contact requests · Talemy'))
    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-fr]')!.click())
    await eventually(() => expect(document.title).toBe('(2) Demandes de contact · Talemy'))
    act(() => navigate({ page: 'lessons' }))
    await eventually(() => expect(document.title).toBe('(2) Cours · Talemy'))
    store.dispose()
  })
})

describe('the login page title', () => {
  test('names the login page in the chosen language and follows the switch', async () => {
    const { store } = appStore(api, { preloadedState: { auth: { token: null, user: null } } })
    renderApp(page.root, store)
    await eventually(() => expect(document.title).toBe('Log in · Talemy'))
    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-fr]')!.click())
    await eventually(() => expect(document.title).toBe('Connexion · Talemy'))
    store.dispose()
  })

  // Its h1 said "Talemy" only: a screen reader's list of headings, or the heading focus lands on after a logout,
  // named the site and not the page (WCAG 2.4.6), as the pages past the login do ("Messages").
  test('is in its h1, in the chosen language', async () => {
    const { store } = appStore(api, { preloadedState: { auth: { token: null, user: null } } })
    renderApp(page.root, store)
    // As a screen reader reads it: without the brand's letter, hidden from it.
    const h1 = () => {
      const heading = page.container.querySelector('h1')?.cloneNode(true) as HTMLElement | undefined
      for (const hidden of heading?.querySelectorAll('[aria-hidden=true]') ?? []) hidden.remove()
      return heading?.textContent?.trim()
    }
    await eventually(() => expect(h1()).toBe('Log in to Talemy'))
    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=lang-fr]')!.click())
    await eventually(() => expect(h1()).toBe('Connexion à Talemy'))
    store.dispose()
  })

  test('is the login page title again after a logout', async () => {
    const { store } = appStore(api)
    renderApp(page.root, store)
    await eventually(() => expect(document.title).toBe('(2) Messages · Talemy'))
    act(() => store.dispatch(loggedOut({ keepOutbox: false })))
    await eventually(() => expect(document.title).toBe('Log in · Talemy'))
    store.dispose()
  })
})
