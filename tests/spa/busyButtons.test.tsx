// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { eventually } from './support/eventually'
import type { Message } from '../../src/contract'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import {
  apiRoutes,
  appStore,
  fieldLabelled,
  focusLeavesDisabledControls,
  json,
  pagePerTest,
  renderApp,
  type,
} from './support/page'

// A button pressed from the keyboard stays where focus is while its request runs: were it `disabled` meanwhile, the
// browser would move focus to <body> (WCAG 2.4.3), and the keyboard user would start over from the top of the page.

const page = pagePerTest()
let undoFixup: () => void
beforeEach(() => {
  undoFixup = focusLeavesDisabledControls()
})
afterEach(() => undoFixup())

/** A request held until the test lets it go. */
function held() {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  return { gate, release }
}

const button = (name: string) => [...page.container.querySelectorAll('button')].find((b) => b.textContent === name)

/** Presses `el` as the keyboard does, focus on it. */
function press(el: HTMLButtonElement) {
  el.focus()
  act(() => el.click())
}

/**
 * Alice's thread with Bob open, "Load earlier messages" shown: the thread reads `latest`, an earlier page `earlier`
 * (called when it is asked for: it may wait, or fail).
 */
async function threadWithEarlier(latest: Message[], earlier: () => Promise<Response> | Response) {
  const api = apiRoutes(async (_method, path, req) => {
    if (path === '/api/conversations') return json(200, [conversation('c1')])
    if (path === '/api/users') return json(200, [alice, bob])
    if (path === '/api/conversations/c1/messages')
      return new URL(req.url).searchParams.get('before') === null ? json(200, latest) : earlier()
    return json(200, [])
  })
  window.history.replaceState(null, '', '#/messages/c1')
  const { store, sockets } = appStore(api)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(button('Load earlier messages')).toBeDefined())
  return store
}

describe('a button busy with its request keeps keyboard focus', () => {
  test('"Log in" refused (wrong password): focus is still on it when the error is shown', async () => {
    const request = held()
    const api = apiRoutes(async (_method, path) => {
      if (path === '/api/auth/login') {
        await request.gate
        return json(401, { error: { code: 'UNAUTHORIZED', message: 'wrong credentials' } })
      }
      return json(200, [])
    })
    const { store } = appStore(api, { preloadedState: { auth: { token: null, user: null } } })
    renderApp(page.root, store)
    type(fieldLabelled(page.container, 'Email') as HTMLInputElement, 'alice@talemy.test')
    type(fieldLabelled(page.container, 'Password') as HTMLInputElement, 'wrong')
    press(button('Log in')!)
    await eventually(() => expect(button('Logging in…')).toBeDefined())
    request.release()
    await eventually(() =>
      expect(page.container.querySelector('[role=alert]')?.textContent).toBe('Wrong email or password.'),
    )
    expect(document.activeElement).toBe(button('Log in'))
    store.dispose()
  })

  test('"Start" a conversation that fails: focus is still on it when the error is shown', async () => {
    window.history.replaceState(null, '', '#/messages')
    const request = held()
    const api = apiRoutes(async (method, path) => {
      if (path === '/api/users') return json(200, [alice, bob])
      if (method === 'POST' && path === '/api/conversations') {
        await request.gate
        return json(500, { error: { code: 'INTERNAL', message: 'boom' } })
      }
      return json(200, [])
    })
    const { store } = appStore(api)
    renderApp(page.root, store)
    const who = fieldLabelled(page.container, 'Write to', HTMLSelectElement)
    await eventually(() => expect(who.options).toHaveLength(2))
    act(() => {
      who.value = bob.id
      who.dispatchEvent(new Event('change', { bubbles: true }))
    })
    const start = button('Start')!
    press(start)
    request.release()
    await eventually(() =>
      expect(page.container.querySelector('.new-conv [role=alert]')?.textContent).toBe(
        'The server ran into a problem. Please try again.',
      ),
    )
    expect(document.activeElement).toBe(start)
    store.dispose()
  })

  test('"Load earlier messages" that brings a page with more before it: focus is still on it', async () => {
    const request = held()
    const store = await threadWithEarlier([message(3)], async () => {
      await request.gate
      return json(200, [message(2)])
    })
    press(button('Load earlier messages')!)
    await eventually(() => expect(button('Loading…')).toBeDefined())
    request.release()
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2))
    await eventually(() => expect(button('Load earlier messages')).toBeDefined())
    expect(document.activeElement).toBe(button('Load earlier messages'))
    store.dispose()
  })

  test('"Load earlier messages" that brings the first message: focus goes to the thread, not to <body>', async () => {
    const store = await threadWithEarlier([message(2)], () => json(200, [message(1)]))
    press(button('Load earlier messages')!)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(2))
    expect(button('Load earlier messages')).toBeUndefined()
    expect(document.activeElement).toBe(page.container.querySelector('[data-testid=message-list]'))
    store.dispose()
  })

  test('"Load earlier messages" that fails says so (an alert), and keeps focus on the button to try again', async () => {
    const store = await threadWithEarlier([message(2)], () =>
      json(500, { error: { code: 'INTERNAL', message: 'boom' } }),
    )
    press(button('Load earlier messages')!)
    const alert = () => page.container.querySelector('.load-earlier [role=alert]')?.textContent
    await eventually(() => expect(alert()).toBe('The server ran into a problem. Please try again.'))
    expect(document.activeElement).toBe(button('Load earlier messages'))
    store.dispose()
  })
})
