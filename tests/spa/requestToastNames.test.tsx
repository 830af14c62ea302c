// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { api } from '../../src/api'
import { createToaster } from '../../src/features/notifications/toaster'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A student who wrote to two tutors, on another page, got "Contact request accepted" and "Contact request declined"
// as toasts: which tutor answered is the news, and nothing said it (the requests page names them, 737dc91). A tutor
// got "New contact request", from nobody in particular, as a toast or said on the requests page. Each names the other
// person now.

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const dan: User = { id: 'u-dan', name: 'Dan', role: 'student' }
const page = pagePerTest()
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

async function openAs(me: User, hash: string, locale: 'en' | 'fr') {
  localStorage.setItem(LOCALE_STORAGE_KEY, locale)
  window.history.replaceState(null, '', hash)
  // Toasts that stay for the whole test: a failure shows what they said, not an empty region.
  const toaster = createToaster({ ttlMs: 600_000 })
  const fetchFn = apiRoutes((_method, path) => json(200, path === '/api/users' ? [alice, bob, carol, dan] : []))
  const { store } = appStore(fetchFn, {
    preloadedState: { auth: { token: 'token-1', user: me } },
    extraMiddleware: [toaster.middleware],
  })
  renderApp(page.root, store, toaster)
  await eventually(() => expect(page.container.querySelector('main h1')).not.toBeNull())
  // The people are read, as they are long before any news comes to a page in use.
  await act(async () => {
    await store.dispatch(api.endpoints.getUsers.initiate(undefined, { subscribe: false }))
  })
  expect(api.endpoints.getUsers.select()(store.getState()).data).toHaveLength(4)
  return { store, said: politeSaid() }
}

const toastTexts = () =>
  [...page.container.querySelectorAll('[data-testid=toast] a')].map((toast) => toast.textContent ?? '')

describe('contact-request news names the other person', () => {
  test.each([
    ['en', ['Contact request (Bob) accepted', 'Contact request (Carol) declined']],
    ['fr', ['Demande de contact (Bob) acceptée', 'Demande de contact (Carol) refusée']],
  ] as const)(
    '(%s) a student on another page: each answer’s toast says which tutor it is from',
    async (locale, texts) => {
      const { store } = await openAs(alice, '#/lessons', locale)
      const updatedAt = '2026-11-24T09:00:00.000Z'
      act(() => {
        store.dispatch(
          serverEventActions['contactRequest:statusUpdated'](contactRequest('r1', { status: 'accepted', updatedAt })),
        )
        store.dispatch(
          serverEventActions['contactRequest:statusUpdated'](
            contactRequest('r2', { tutorId: carol.id, status: 'declined', updatedAt }),
          ),
        )
      })
      await eventually(() => expect(toastTexts()).toEqual(texts))
      store.dispose()
    },
  )

  test.each([
    ['en', ['New contact request from Alice', 'New contact request from Dan']],
    ['fr', ['Nouvelle demande de contact\u202f: Alice', 'Nouvelle demande de contact\u202f: Dan']],
  ] as const)('(%s) a tutor on another page: each new request’s toast says who sent it', async (locale, texts) => {
    const { store } = await openAs(bob, '#/lessons', locale)
    act(() => {
      store.dispatch(serverEventActions['contactRequest:created'](contactRequest('r1')))
      store.dispatch(serverEventActions['contactRequest:created'](contactRequest('r2', { studentId: dan.id })))
    })
    await eventually(() => expect(toastTexts()).toEqual(texts))
    store.dispose()
  })

  test('a tutor on the requests page: each new request is said with who sent it', async () => {
    const { store, said } = await openAs(bob, '#/contact-requests', 'en')
    act(() => {
      store.dispatch(serverEventActions['contactRequest:created'](contactRequest('r1')))
      store.dispatch(serverEventActions['contactRequest:created'](contactRequest('r2', { studentId: dan.id })))
    })
    await eventually(() =>
      expect([...said].sort()).toEqual(['New contact request from Alice', 'New contact request from Dan']),
    )
    store.dispose()
  })
})
