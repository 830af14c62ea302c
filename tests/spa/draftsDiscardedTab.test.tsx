// @vitest-environment jsdom
import { act } from 'react'
import { createRoot } from 'react-dom/client'
import { afterEach, expect, test } from 'vitest'
import { loggedIn, loggedOut } from '../../src/app/authSlice'
import { navigate } from '../../src/app/router'
import { createMemoryStorage } from '../../src/app/store'
import { forgetKeptDrafts } from '../../src/features/messages/drafts'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp, type } from './support/page'

// A background tab the browser discarded (to save memory) runs nothing until the user comes back to it, when it is
// loaded again with its own session storage, drafts included. Meanwhile its user's "Log out" in another tab, which
// leaves nothing of theirs behind in the tabs that hear it, never reached that one: the next login there, theirs, found
// the text they had logged out from. A logout nobody chose ("Log in again") keeps them, as in a live tab.

const page = pagePerTest('#/messages/c1')
afterEach(() => sessionStorage.clear())

const api = apiRoutes((_method, path) => {
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
  if (path === '/api/users') return json(200, [alice, bob])
  return json(200, [])
})

const composer = () =>
  eventually(() => {
    const el = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')
    expect(el).not.toBeNull()
    return el!
  })

test.each([
  ['"Log out" there', '', false],
  ['"Log in again" there', 'half written', true],
] as const)('a discarded tab, back after %s, finds at the next login: %j', async (_, found, keepOutbox) => {
  // The browser's storage, which both tabs share; each has its own session storage.
  const storage = createMemoryStorage()
  const discarded = appStore(api, { storage })
  renderApp(page.root, discarded.store)
  act(() => discarded.sockets.last.serverConnect())
  type(await composer(), 'half written')
  act(() => page.root.unmount())
  discarded.store.dispose()
  const itsSessionStorage = sessionStorage.getItem('talemy.drafts')

  // The other tab, where the user ends their session.
  sessionStorage.clear()
  const other = appStore(api, { storage })
  const otherRoot = createRoot(page.container)
  renderApp(otherRoot, other.store)
  act(() => other.sockets.last.serverConnect())
  await composer()
  const end = keepOutbox ? 'Log in again' : 'Log out'
  if (keepOutbox) act(() => void other.store.dispatch(loggedOut({ keepOutbox: true })))
  else {
    const logOut = [...page.container.querySelectorAll('button')].find((b) => b.textContent === end)!
    act(() => logOut.click())
  }
  await eventually(() => expect(page.container.querySelector('[data-testid=composer]')).toBeNull())
  act(() => otherRoot.unmount())
  other.store.dispose()

  // Back to the discarded tab: loaded again (its memory afresh, the other tab's not shared), logged out, and the user
  // logs in there.
  forgetKeptDrafts()
  sessionStorage.clear()
  if (itsSessionStorage !== null) sessionStorage.setItem('talemy.drafts', itsSessionStorage)
  const back = appStore(api, { storage, preloadedState: {} })
  const backRoot = createRoot(page.container)
  renderApp(backRoot, back.store)
  expect(back.store.getState().auth.user).toBeNull()
  act(() => void back.store.dispatch(loggedIn({ token: 'token-2', user: alice })))
  act(() => navigate({ page: 'messages', conversationId: 'c1' }))
  expect((await composer()).value).toBe(found)
  act(() => backRoot.unmount())
  back.store.dispose()
})
