// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// French agrees a past participle with the person it is about: "vu" is said of a man, "vue" of a woman. Someone's
// "last seen" was "vu à 09:30" whoever it was, so Bob read of Alice, his student, "vu à 09:30"; the app knows nobody's
// gender, so the French words are now ones that agree with anyone.

const page = pagePerTest('#/messages')
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

const api = apiRoutes((_method, path) => {
  if (path === '/api/users') return json(200, [alice, bob])
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1, { senderId: alice.id })])
  return json(200, [])
})

test.each([
  ['today', new Date().toISOString(), /^hors ligne depuis \d\d:\d\d$/],
  ['an earlier day', '2025-01-20T12:00:00.000Z', /^hors ligne depuis le 20 janv\. 2025 à \d\d:00$/],
])('(fr) Alice last seen %s is said in words that agree with her', async (_when, lastSeenAt, text) => {
  window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
  const { store, sockets } = appStore(api, { preloadedState: { auth: { token: 'token-1', user: bob } } })
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('presence:snapshot', { users: [{ userId: alice.id, online: false, lastSeenAt }] }))
  const label = () => page.container.querySelector<HTMLElement>('[data-testid=presence]')
  await eventually(() => expect(label()?.dataset.online).toBe('false'))
  const said = label()!.textContent!.replace(/\s/g, ' ')
  expect(said).not.toMatch(/^vu /)
  expect(said).toMatch(text)
  store.dispose()
})
