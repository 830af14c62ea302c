// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { createToaster } from '../../src/features/notifications/toaster'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { serverEventActions } from '../../src/realtime'
import { eventually } from '../unit/support/eventually'
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

/** Alice (the tutor of what arrives here) on `hash`, with the toaster the app has. */
async function openAs(hash: string) {
  window.history.replaceState(null, '', hash)
  const toaster = createToaster()
  const { store } = appStore(api, { extraMiddleware: [toaster.middleware] })
  renderApp(page.root, store, toaster)
  await eventually(() => expect(page.container.querySelector('main h1, main h2')).not.toBeNull())
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
      said: 'New contact request',
    },
    {
      name: 'a new lesson request, on the lessons page (fr)',
      locale: 'fr',
      hash: '#/lessons',
      event: () => serverEventActions['lesson:created'](booking),
      said: 'Nouvelle demande de cours\u202f: Algebra',
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
    await eventually(() => expect(said).toContain('New contact request'))
    expect(said.filter((s) => /declined|refusée/i.test(s))).toEqual([])
    store.dispose()
  })

  test('on another page it is a toast, and not said by the page', async () => {
    const { store, toaster, said } = await openAs('#/messages')
    act(() => void store.dispatch(serverEventActions['contactRequest:created'](request)))
    expect(toaster.getSnapshot().map((t) => t.message.id)).toEqual(['toast.contactRequested'])
    await act(async () => {})
    expect(said.filter((s) => s === 'New contact request')).toEqual([])
    store.dispose()
  })
})
