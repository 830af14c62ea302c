// @vitest-environment jsdom
import type { UnknownAction } from '@reduxjs/toolkit'
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { api as apiSlice } from '../../src/api'
import { createToaster } from '../../src/features/notifications/toaster'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A new lesson or contact request that arrives while its own page is open makes no toast (its card is right there),
// but a screen reader user hears nothing of a card appearing: the page says it, once, politely. A status change is
// said by its card, so it is not said here too.

const page = pagePerTest()
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const api = apiRoutes((_method, path) => {
  if (path === '/api/users') return json(200, [alice, bob])
  return json(200, [])
})

/** Alice (the tutor of what arrives here) on `hash`, with the toaster the app has; by default nothing is listed. */
async function openAs(hash: string, fetchFn = api) {
  window.history.replaceState(null, '', hash)
  const toaster = createToaster()
  const { store } = appStore(fetchFn, { extraMiddleware: [toaster.middleware] })
  renderApp(page.root, store, toaster)
  await eventually(() => expect(page.container.querySelector('main h1, main h2')).not.toBeNull())
  // The people are read (news of a request names its student).
  await eventually(() => expect(apiSlice.endpoints.getUsers.select()(store.getState()).data).toBeDefined())
  return { store, toaster, said: politeSaid() }
}

const request = contactRequest('r9', { studentId: bob.id, tutorId: alice.id })
const booking = lesson('l9', { studentId: bob.id, tutorId: alice.id, subject: 'Algebra' })

describe('news for the page that is open', () => {
  test.each([
    {
      name: 'a new contact request, on the requests page (en)',
      locale: 'en',
      hash: '#/contact-requests',
      event: () => serverEventActions['contactRequest:created'](request),
      said: 'New contact request from Bob',
    },
    {
      name: 'a new lesson request, on the lessons page (fr)',
      locale: 'fr',
      hash: '#/lessons',
      event: () => serverEventActions['lesson:created'](booking),
      said: 'Nouvelle demande de cours (Bob)\u202f: Algebra',
    },
  ])('$name: said once, and no toast', async (c) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, c.locale)
    const { store, toaster, said } = await openAs(c.hash)
    act(() => void store.dispatch(c.event()))
    await eventually(() => expect(said).toEqual([c.said]))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })

  test('a status change on its page is not said by the toaster (its card says it)', async () => {
    const { store, said } = await openAs('#/contact-requests')
    act(
      () => void store.dispatch(serverEventActions['contactRequest:statusUpdated']({ ...request, status: 'declined' })),
    )
    act(() => void store.dispatch(serverEventActions['contactRequest:created'](request)))
    // The creation is said; the status change of a card not drawn (the list was empty) is said by nobody here.
    await eventually(() => expect(said).toContain('New contact request from Bob'))
    expect(said.filter((s) => /declined|refusée/i.test(s))).toEqual([])
    store.dispose()
  })

  test('on another page it is a toast, said once (as the toast, not again as news of the page)', async () => {
    const { store, toaster, said } = await openAs('#/messages')
    act(() => void store.dispatch(serverEventActions['contactRequest:created'](request)))
    expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual(['toast.contactRequested'])
    await eventually(() => expect(said).toEqual(['New contact request from Bob']))
    // Anything else said meanwhile would come before a later toast's words.
    act(() => void store.dispatch(serverEventActions['lesson:created'](booking)))
    await eventually(() => expect(said).toHaveLength(2))
    expect(said).toEqual(['New contact request from Bob', 'New lesson request from Bob: Algebra'])
    store.dispose()
  })
})

// A created event whose card the list holds already is no news: the server replays it on a resume, or the list's read
// that held it landed before it. Said (or a toast) again, it would announce a card that has been there all along.
describe('a created event for a card already listed', () => {
  const subjects = ['', 'Algebra', 'Geometry', 'Chemistry']
  const lessonN = (n: number) => lesson(`l${n}`, { studentId: bob.id, tutorId: alice.id, subject: subjects[n]! })
  const requestN = (n: number) => contactRequest(`r${n}`, { studentId: bob.id, tutorId: alice.id })
  /** The API with the first lesson and the first request listed. */
  const listingFirst = apiRoutes((_method, path) => {
    if (path === '/api/users') return json(200, [alice, bob])
    if (path === '/api/lessons') return json(200, [lessonN(1)])
    if (path === '/api/contact-requests') return json(200, [requestN(1)])
    return json(200, [])
  })
  const lists = [
    {
      name: 'lessons',
      hash: '#/lessons',
      card: '[data-testid=lesson]',
      created: (n: number) => serverEventActions['lesson:created'](lessonN(n)),
      news: (n: number) => ({ id: 'toast.lessonRequested', values: { subject: subjects[n] } }),
      said: (n: number) => `New lesson request from Bob: ${subjects[n]}`,
    },
    {
      name: 'contact requests',
      hash: '#/contact-requests',
      card: '[data-testid=contact-request]',
      created: (n: number) => serverEventActions['contactRequest:created'](requestN(n)),
      news: (_n: number) => ({ id: 'toast.contactRequested' }),
      said: (_n: number) => 'New contact request from Bob',
    },
  ]
  const cards = (selector: string) => page.container.querySelectorAll(selector)
  /** Dispatches the events, and lets the layer's cache work for them (a microtask) land inside `act`. */
  const arrive = (store: ReturnType<typeof appStore>['store'], ...actions: UnknownAction[]) =>
    act(async () => {
      for (const action of actions) store.dispatch(action)
    })

  test.each(lists)('$name, on its page: not said again; a new one is said once', async (c) => {
    const { store, toaster, said } = await openAs(c.hash, listingFirst)
    await eventually(() => expect(cards(c.card)).toHaveLength(1))
    await arrive(store, c.created(1), c.created(2))
    // The new card drawn: both events were handled, and the one listed already was not said.
    await eventually(() => expect(cards(c.card)).toHaveLength(2))
    await eventually(() => expect(said).toEqual([c.said(2)]))
    // The new one's own replay, now that it is listed, is no news either; the next new one is.
    await arrive(store, c.created(2), c.created(3))
    await eventually(() => expect(cards(c.card)).toHaveLength(3))
    await eventually(() => expect(said).toEqual([c.said(2), c.said(3)]))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })

  test.each(lists)('$name, from another page: no toast again; a new one is a toast, once', async (c) => {
    const { store, toaster, said } = await openAs(c.hash, listingFirst)
    await eventually(() => expect(cards(c.card)).toHaveLength(1))
    // Left for the messages page: the list stays cached (and patched by events) for a while.
    act(() => page.container.querySelector<HTMLAnchorElement>('[data-testid=nav-messages]')!.click())
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    await arrive(store, c.created(1), c.created(2))
    // The toaster runs within each dispatch: both were handled, and only the new one is a toast.
    expect(toaster.getSnapshot().map((t) => t.message)).toEqual([c.news(2)])
    await arrive(store, c.created(2), c.created(3))
    expect(toaster.getSnapshot().map((t) => t.message)).toEqual([c.news(2), c.news(3)])
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(2))
    // Each toast is said once (tests/spa/toastSaidOnce.test.tsx), the card listed already never.
    await eventually(() => expect(said).toEqual([c.said(2), c.said(3)]))
    store.dispose()
  })
})
