// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { TUTOR_CARD_CHANGES } from './support/cardChanges'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, conversation, lesson, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type, tutorChosen } from './support/page'

// "Could not reach the server. Check your connection." said for a request made while the connection was down is wrong
// once it is back (the header says "online"), and stayed until the next press.

const page = pagePerTest('#/messages')

/** The messages page connected, Bob chosen in "Write to": `start()` is its button, `alert()` what the form says. */
async function writingToBob(api: ReturnType<typeof apiRoutes>) {
  const { store, sockets } = appStore(api)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  const who = fieldLabelled(page.container, 'Write to', HTMLSelectElement)
  await eventually(() => expect(who.options).toHaveLength(2))
  act(() => {
    who.value = bob.id
    who.dispatchEvent(new Event('change', { bubbles: true }))
  })
  const start = () => [...page.container.querySelectorAll('button')].find((b) => b.textContent === 'Start')!
  const alert = () => page.container.querySelector('.new-conv [role=alert]')
  return { store, sockets, start, alert }
}

describe('"Start" pressed while the connection was down', () => {
  test('its "Could not reach the server" goes once the connection is back, and the next press opens it', async () => {
    let reachable = true
    const api = apiRoutes((method, path) => {
      if (path === '/api/users') return json(200, [alice, bob])
      if (method === 'POST' && path === '/api/conversations') {
        if (!reachable) throw new TypeError('Failed to fetch')
        return json(201, conversation('c1'))
      }
      if (path === '/api/conversations') return json(200, [])
      if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
      return json(200, [])
    })
    const { store, sockets, start, alert } = await writingToBob(api)

    act(() => sockets.last.serverDrop())
    reachable = false
    act(() => start().click())
    await eventually(() => expect(alert()?.textContent).toMatch(/reach the server/))

    reachable = true
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(alert()).toBeNull())
    act(() => start().click())
    await eventually(() => expect(window.location.hash).toBe('#/messages/c1'))
    store.dispose()
  })

  // A server that lets each socket connect and drops it before its sync (its session check failing, the database
  // down) is not back: the badge goes on saying "reconnecting…", and the form said it could reach the server.
  test('its "Could not reach the server" stays while a socket connects and is dropped before its sync', async () => {
    let reachable = true
    const api = apiRoutes((method, path) => {
      if (path === '/api/users') return json(200, [alice, bob])
      if (method === 'POST' && path === '/api/conversations' && !reachable) throw new TypeError('Failed to fetch')
      return json(200, [])
    })
    const { store, sockets, start, alert } = await writingToBob(api)
    const badge = () => page.container.querySelector('[data-testid=connection-badge] .badge-text')?.textContent
    act(() => sockets.last.serverDrop())
    reachable = false
    act(() => start().click())
    await eventually(() => expect(alert()?.textContent).toMatch(/reach the server/))

    act(() => sockets.last.serverConnect('sock-2'))
    // A render after the connect has had its effects.
    await act(async () => {})
    expect(badge()).toBe('reconnecting…')
    expect(alert()?.textContent).toMatch(/reach the server/)
    act(() => sockets.last.serverDrop())

    act(() => sockets.last.serverConnect('sock-3'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(alert()).toBeNull())
    store.dispose()
  })

  test('a refusal of the server (not the connection) stays when the connection comes back: it still holds', async () => {
    const api = apiRoutes((method, path) => {
      if (path === '/api/users') return json(200, [alice, bob])
      if (method === 'POST' && path === '/api/conversations')
        return json(404, { error: { code: 'NOT_FOUND', message: 'no such user' } })
      return json(200, [])
    })
    const { store, sockets, start, alert } = await writingToBob(api)
    act(() => start().click())
    await eventually(() => expect(alert()?.textContent).toBeTruthy())
    const refusal = alert()!.textContent
    expect(refusal).not.toMatch(/reach the server/)

    act(() => sockets.last.serverDrop())
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(store.getState().socket.connection.status).toBe('connected'))
    // A render after the reconnect has had its effects: the refusal is still said.
    await act(async () => {})
    expect(alert()?.textContent).toBe(refusal)
    store.dispose()
  })
})

const tutor = { ...bob, role: 'tutor' as const }

describe.each([
  ['the booking form', '#/lessons', 'Subject'],
  ['the contact-request form', '#/contact-requests', 'Message'],
] as const)('%s sent while the connection was down', (_form, hash, label) => {
  test('its "Could not reach the server" goes once the connection is back', async () => {
    window.history.replaceState(null, '', hash)
    let reachable = true
    const api = apiRoutes(async (method, path) => {
      if (path === '/api/users') return json(200, [alice, tutor])
      if (method !== 'POST') return json(200, [])
      if (!reachable) throw new TypeError('Failed to fetch')
      return path === '/api/lessons' ? json(201, lesson('l1')) : json(201, contactRequest('r1'))
    })
    const { store, sockets } = appStore(api)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const select = await tutorChosen(page.container, tutor.id)
    type(fieldLabelled(page.container, label) as HTMLInputElement | HTMLTextAreaElement, 'Algebra')
    const form = select.closest('form')!
    const reachMessage = () =>
      [...page.container.querySelectorAll('.form-error')].find((e) => /reach the server/.test(e.textContent ?? ''))

    act(() => sockets.last.serverDrop())
    reachable = false
    act(() => form.requestSubmit())
    await eventually(() => expect(reachMessage(), page.container.textContent ?? '').toBeDefined())

    reachable = true
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(reachMessage()).toBeUndefined())
    store.dispose()
  })
})

describe.each(TUTOR_CARD_CHANGES)('%s while the connection was down', (_case, hash, testId, list, item, press) => {
  test('its "Could not reach the server" goes once the connection is back, as the forms’ does', async () => {
    window.history.replaceState(null, '', hash)
    let reachable = true
    const api = apiRoutes(async (method, path) => {
      if (method === 'PATCH' && !reachable) throw new TypeError('Failed to fetch')
      if (path === list) return json(200, [item])
      if (path === '/api/users') return json(200, [alice, tutor])
      return json(200, [])
    })
    const { store, sockets } = appStore(api, { preloadedState: { auth: { token: 'token-1', user: tutor } } })
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    const card = () => page.container.querySelector<HTMLElement>(`[data-testid=${testId}]`)
    await eventually(() => expect(card()).not.toBeNull())
    const button = () => [...card()!.querySelectorAll('button')].find((b) => b.textContent === press)
    const reachMessage = () =>
      [...card()!.querySelectorAll('[role=alert]')].find((e) => /reach the server/.test(e.textContent ?? ''))

    act(() => sockets.last.serverDrop())
    reachable = false
    act(() => button()!.click())
    await eventually(() => expect(reachMessage(), card()!.textContent ?? '').toBeDefined())

    reachable = true
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(reachMessage()).toBeUndefined())
    // Nothing changed meanwhile: the card offers the same change again.
    expect(button()).toBeDefined()
    store.dispose()
  })
})
