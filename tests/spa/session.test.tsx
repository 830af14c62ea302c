// @vitest-environment jsdom
import { act } from 'react'
import { createRoot, type Root } from 'react-dom/client'
import { Provider } from 'react-redux'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { saveRefreshToken } from '../../src/api'
import { AnnouncerProvider } from '../../src/app/Announcer'
import { App } from '../../src/app/App'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { I18nProvider } from '../../src/i18n'
import { outboxStorageKey, selectConnection, sendMessage } from '../../src/realtime'
import { eventually } from '../unit/support/eventually'
import { fakeSockets } from '../unit/support/fakeSocket'
import { alice, conversation } from '../unit/support/fixtures'

// The page once the session is over: what "Log in again" keeps.
;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

/** An API whose session is over: lists load empty, everything else (the refresh too) is refused. */
const endedSession = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const request = input instanceof Request ? input : new Request(input, init)
  if (request.method === 'GET') return json(200, [])
  if (new URL(request.url).pathname === '/api/auth/logout') return new Response(null, { status: 204 })
  return json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
}) as typeof fetch

let container: HTMLElement
let root: Root
const confirmBefore = window.confirm
beforeEach(() => {
  container = document.createElement('div')
  document.body.append(container)
  root = createRoot(container)
})
afterEach(() => {
  act(() => root.unmount())
  container.remove()
  window.confirm = confirmBefore
})

describe('the session is over', () => {
  test('"Log in again" keeps the unsent messages for that user’s next login, without asking to discard them', async () => {
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'refresh-old')
    const sockets = fakeSockets()
    const store = makeStore({
      apiUrl: 'http://api.test',
      createSocket: sockets.createSocket,
      storage,
      shareSocket: false,
      fetchFn: endedSession,
      preloadedState: { auth: { token: 'old', user: alice } },
    })
    act(() =>
      root.render(
        <Provider store={store}>
          <I18nProvider>
            <AnnouncerProvider>
              <App />
            </AnnouncerProvider>
          </I18nProvider>
        </Provider>,
      ),
    )
    act(() => void store.dispatch(sendMessage({ conversationId: 'c1', content: 'kept for later', clientId: 'k1' })))
    act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
    const asked: string[] = []
    window.confirm = (text?: string) => {
      asked.push(String(text))
      return true
    }
    const again = [...container.querySelectorAll('button')].find((button) => button.textContent === 'Log in again')
    act(() => again!.click())
    expect(asked).toEqual([])
    expect(store.getState().auth.user).toBeNull()
    expect(
      (JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]') as { clientId: string }[]).map(
        (m) => m.clientId,
      ),
    ).toEqual(['k1'])
    store.dispose()
  })

  test('the page title keeps no count of the last user’s unread messages once they have logged out', async () => {
    const withUnread = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      const path = new URL(request.url).pathname
      if (path === '/api/conversations') return json(200, [conversation('c1', { unreadCount: 3 })])
      if (request.method === 'GET') return json(200, [])
      return new Response(null, { status: 204 })
    }) as typeof fetch
    const store = makeStore({
      apiUrl: 'http://api.test',
      createSocket: fakeSockets().createSocket,
      storage: createMemoryStorage(),
      shareSocket: false,
      fetchFn: withUnread,
      preloadedState: { auth: { token: 'token-1', user: alice } },
    })
    act(() =>
      root.render(
        <Provider store={store}>
          <I18nProvider>
            <AnnouncerProvider>
              <App />
            </AnnouncerProvider>
          </I18nProvider>
        </Provider>,
      ),
    )
    await eventually(() => expect(document.title).toBe('(3) Talemy'))
    const logOut = [...container.querySelectorAll('button')].find((button) => button.textContent === 'Log out')
    act(() => logOut!.click())
    expect(store.getState().auth.user).toBeNull()
    expect(document.title).toBe('Talemy')
    store.dispose()
  })
})
