// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// French elides "de" before a vowel or a mute h: "d’Alice", never "de Alice". A name is the user's, and can start
// with either, so the French sentences that put a name after "de" ("De Alice", "Nouveau message de Alice") are worded
// so that no "de" comes before it. Bob, the tutor, reads them in French here; Alice is the student.

const page = pagePerTest()
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

const api = apiRoutes((_method, path) => {
  if (path === '/api/users') return json(200, [alice, bob])
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1, { senderId: alice.id })])
  if (path === '/api/contact-requests') return json(200, [contactRequest('r1')])
  return json(200, [])
})

/** Bob's page at `hash`, in French. */
function bobsPage(hash: string) {
  window.localStorage.setItem(LOCALE_STORAGE_KEY, 'fr')
  window.history.replaceState(null, '', hash)
  const app = appStore(api, { preloadedState: { auth: { token: 'token-1', user: bob } } })
  renderApp(page.root, app.store)
  act(() => app.sockets.last.serverConnect())
  return app
}

const noDeBeforeAVowel = /\b[Dd]e\s+[AEIOUYÀÂÉÈÊËÎÏÔÙÛÜaeiouyh]/

describe('a name after "de" in French', () => {
  test('a contact request’s title names its student without "De Alice"', async () => {
    const { store } = bobsPage('#/contact-requests')
    const title = await eventually(() => {
      const h3 = page.container.querySelector('[data-testid=contact-request] h3')
      expect(h3?.textContent).toContain('Alice')
      return h3!.textContent!
    })
    expect(title).not.toMatch(noDeBeforeAVowel)
    store.dispose()
  })

  test('a new message in the open thread is said without "de Alice"', async () => {
    const { store, sockets } = bobsPage('#/messages/c1')
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const said = politeSaid()
    act(() => sockets.last.serverEmit('message:new', message(2, { senderId: alice.id, content: 'Bonjour' })))
    await eventually(() => expect(said.some((s) => s.includes('Alice') && s.includes('Bonjour'))).toBe(true))
    expect(said.filter((s) => s.includes('Bonjour'))[0]).not.toMatch(noDeBeforeAVowel)
    store.dispose()
  })
})
