// @vitest-environment jsdom
import { act } from 'react'
import { createRoot, type Root } from 'react-dom/client'
import { Provider } from 'react-redux'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { AnnouncerProvider } from '../../src/app/Announcer'
import { App } from '../../src/app/App'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { I18nProvider } from '../../src/i18n'
import { eventually } from '../unit/support/eventually'
import { fakeSockets } from '../unit/support/fakeSocket'
import { alice, bob, conversation, message } from '../unit/support/fixtures'

// The open thread, for someone who does not see it: what the announcer says.
;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

const api = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const request = input instanceof Request ? input : new Request(input, init)
  const path = new URL(request.url).pathname
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
  if (path === '/api/users') return json(200, [alice, bob])
  return json(200, [])
}) as typeof fetch

let container: HTMLElement
let root: Root
beforeEach(() => {
  window.history.replaceState(null, '', '#/messages/c1')
  container = document.createElement('div')
  document.body.append(container)
  root = createRoot(container)
})
afterEach(() => {
  act(() => root.unmount())
  container.remove()
  window.history.replaceState(null, '', '/')
})

describe('the announcer in an open thread', () => {
  test('says a send the server refused, at once (assertive), in the words shown beside it', async () => {
    const sockets = fakeSockets()
    const store = makeStore({
      apiUrl: 'http://api.test',
      createSocket: sockets.createSocket,
      storage: createMemoryStorage(),
      shareSocket: false,
      fetchFn: api,
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
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const textarea = container.querySelector('textarea')!
    const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!
    act(() => {
      setValue.call(textarea, 'hello')
      textarea.dispatchEvent(new Event('input', { bubbles: true }))
    })
    act(() => container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.click())
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    await act(async () => {
      sockets.last
        .sent('message:send')[0]!
        .ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } })
    })
    await eventually(() => expect(container.querySelector('[data-status=failed]')).not.toBeNull())
    const shown = container.querySelector('[data-status=failed] .msg-state')!.textContent!
    expect(shown).toMatch(/^Not sent: /)
    expect(container.querySelector('[data-testid=announcer-assertive]')!.textContent).toBe(shown)
    store.dispose()
  })
})
