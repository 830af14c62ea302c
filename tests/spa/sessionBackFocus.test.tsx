// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { saveRefreshToken, tokenRefreshed } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { eventually } from './support/eventually'
import { alice } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

/** An API whose session is over: lists load empty, everything else (the refresh too) is refused. */
const endedSession = apiRoutes((method, path) => {
  if (method === 'GET') return json(200, [])
  if (path === '/api/auth/logout') return new Response(null, { status: 204 })
  return json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
})

const page = pagePerTest()
const button = (name: string) =>
  [...page.container.querySelectorAll('button')].find((candidate) => candidate.textContent === name)

describe('"Log in again" focused when another tab’s login of the same user brings this tab back', () => {
  test('focus stays in the header (on "Log out" beside it), not dropped to the page’s body', async () => {
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'refresh-old')
    const { store, sockets } = appStore(endedSession, {
      storage,
      preloadedState: { auth: { token: 'old', user: alice } },
    })
    renderApp(page.root, store)
    act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
    await eventually(() => expect(button('Log in again')).toBeDefined())
    act(() => button('Log in again')!.focus())
    expect(document.activeElement).toBe(button('Log in again'))
    // The same user logs in in another tab: sessionSync hands this tab the new token (unauthorized → connecting).
    act(() => void store.dispatch(tokenRefreshed({ token: 'new' })))
    await eventually(() => expect(button('Log in again')).toBeUndefined())
    expect(document.activeElement).toBe(button('Log out'))
    store.dispose()
  })
})
