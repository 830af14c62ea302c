// @vitest-environment jsdom
import { act } from 'react'
import { createRoot, type Root } from 'react-dom/client'
import { Provider } from 'react-redux'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { saveRefreshToken } from '../../src/api'
import { AnnouncerProvider } from '../../src/app/Announcer'
import { App } from '../../src/app/App'
import { PageBoundary } from '../../src/app/PageBoundary'
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

/** A component that throws while drawing as long as `fragile.broken`. */
const fragile = { broken: true }
function Fragile() {
  if (fragile.broken) throw new Error('cannot draw')
  return <p>drawn</p>
}

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

  test('an answer of an unexpected shape is an error the page shows, and the rest of the app still works', async () => {
    window.history.replaceState(null, '', '#/lessons')
    const oddLessons = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      if (new URL(request.url).pathname === '/api/lessons') return json(200, { not: 'a list' })
      return json(200, [])
    }) as typeof fetch
    const store = makeStore({
      apiUrl: 'http://api.test',
      createSocket: fakeSockets().createSocket,
      storage: createMemoryStorage(),
      shareSocket: false,
      fetchFn: oddLessons,
      preloadedState: { auth: { token: 'token-1', user: alice } },
    })
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
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
      await eventually(() =>
        expect(container.querySelector('main [role=alert]')?.textContent).toContain('The server ran into a problem'),
      )
      // The frame is still there: the user can go elsewhere, or log out.
      expect([...container.querySelectorAll('nav a')].map((a) => a.textContent)).toContain('Messages')
      const logOut = [...container.querySelectorAll('button')].find((button) => button.textContent === 'Log out')
      act(() => logOut!.click())
      expect(store.getState().auth.user).toBeNull()
    } finally {
      consoleError.mockRestore()
      window.history.replaceState(null, '', '/')
      store.dispose()
    }
  })

  test('a page that throws while drawing leaves a message and a way to try again, not a blank app', () => {
    fragile.broken = true
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      act(() =>
        root.render(
          <I18nProvider>
            <nav>still here</nav>
            <PageBoundary>
              <Fragile />
            </PageBoundary>
          </I18nProvider>,
        ),
      )
      expect(container.querySelector('[role=alert]')?.textContent).toContain('This page could not be shown.')
      expect(container.querySelector('nav')?.textContent).toBe('still here')
      fragile.broken = false
      const again = [...container.querySelectorAll('button')].find((button) => button.textContent === 'Try again')
      act(() => again!.click())
      expect(container.textContent).toContain('drawn')
      expect(container.querySelector('[role=alert]')).toBeNull()
    } finally {
      consoleError.mockRestore()
    }
  })
})
