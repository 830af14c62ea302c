// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A student who wrote to two tutors hears each answer said on the requests page: which tutor answered is the news.
// A lesson's change names its subject; a request's said only "Contact request accepted", and two answered in one
// burst (a replay after a reconnect) were "Contact request accepted", "Contact request declined": a screen-reader user
// could not tell whose was which without going through every card again (WCAG 4.1.3).

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const api = apiRoutes(async (_method, path) => {
  if (path === '/api/users')
    return json(
      200,
      [alice, bob, carol].map((u) => ({ ...u, online: false, lastSeenAt: null })),
    )
  if (path === '/api/contact-requests')
    return json(200, [contactRequest('r1'), contactRequest('r2', { tutorId: carol.id })])
  return json(200, [])
})

const page = pagePerTest('#/contact-requests')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

test.each([
  ['en', [/^Contact request \(Bob\) accepted$/, /^Contact request \(Carol\) declined$/]],
  ['fr', [/^Demande de contact \(Bob\) acceptée$/, /^Demande de contact \(Carol\) refusée$/]],
] as const)('(%s) each answered request is said with the name of the person it is with', async (locale, texts) => {
  localStorage.setItem(LOCALE_STORAGE_KEY, locale)
  const { store, sockets } = appStore(api)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=contact-request]')).toHaveLength(2))
  // The cards' names are there (the people are read) before the answers come.
  await eventually(() => expect(page.container.textContent).toContain('Carol'))
  const said = politeSaid()
  act(() => {
    const updatedAt = '2026-11-24T09:00:00.000Z'
    sockets.last.serverEmit('contactRequest:statusUpdated', contactRequest('r1', { status: 'accepted', updatedAt }))
    sockets.last.serverEmit(
      'contactRequest:statusUpdated',
      contactRequest('r2', { tutorId: carol.id, status: 'declined', updatedAt }),
    )
  })
  await eventually(() => expect(said).toHaveLength(2))
  expect([...said].sort()).toEqual(texts.map((text) => expect.stringMatching(text)))
  store.dispose()
})
