// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { loggedIn } from '../../src/app/authSlice'
import { selectConnection } from '../../src/realtime'
import { TUTOR_CARD_CHANGES } from './support/cardChanges'
import { eventually } from './support/eventually'
import { alice, bob } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type, tutorChosen } from './support/page'

// A change pressed once the session had ended is refused with "Your session has ended. Log in again.", rightly. The
// user then logs in again in another tab: this tab follows into the new session (the same user, so the page stays),
// the header's "Log in again" goes, and the card went on telling them to log in.

const page = pagePerTest('#/lessons')
const tutor = { ...bob, role: 'tutor' as const }

describe.each(TUTOR_CARD_CHANGES)('%s once the session had ended', (_case, hash, testId, list, item, press) => {
  test('its "Your session has ended" goes once a login in another tab brings this one back', async () => {
    window.history.replaceState(null, '', hash)
    const api = apiRoutes(async (method, path, request) => {
      const live = request.headers.get('authorization') === 'Bearer token-new'
      if (method !== 'GET' && !live) return json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
      if (path === list) return json(200, [item])
      if (path === '/api/users') return json(200, [alice, tutor])
      return json(200, [])
    })
    const { store, sockets } = appStore(api, { preloadedState: { auth: { token: 'token-old', user: tutor } } })
    renderApp(page.root, store)
    const card = () => page.container.querySelector<HTMLElement>(`[data-testid=${testId}]`)
    await eventually(() => expect(card()).not.toBeNull())
    const button = () => [...card()!.querySelectorAll('button')].find((b) => b.textContent === press)
    const sessionWords = () =>
      [...card()!.querySelectorAll('[role=alert]')].find((e) => /session has ended/.test(e.textContent ?? ''))

    act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
    act(() => button()!.click())
    await eventually(() => expect(sessionWords(), card()!.textContent ?? '').toBeDefined())

    // What `syncSession` does when another tab of this user logs in.
    act(() => void store.dispatch(loggedIn({ token: 'token-new', user: tutor })))
    act(() => sockets.last.serverConnect('sock-2'))
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('connected'))
    await eventually(() => expect(sessionWords()).toBeUndefined())
    expect(button()).toBeDefined()
    store.dispose()
  })
})

test('the booking form’s "Your session has ended" goes the same way', async () => {
  const api = apiRoutes(async (method, path, request) => {
    const live = request.headers.get('authorization') === 'Bearer token-new'
    if (method !== 'GET' && !live) return json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } })
    if (path === '/api/users') return json(200, [alice, tutor])
    return json(200, [])
  })
  const { store, sockets } = appStore(api, { preloadedState: { auth: { token: 'token-old', user: alice } } })
  renderApp(page.root, store)
  const select = await tutorChosen(page.container, tutor.id)
  type(fieldLabelled(page.container, 'Subject') as HTMLInputElement, 'Algebra')
  const sessionWords = () =>
    [...page.container.querySelectorAll('[role=alert]')].find((e) => /session has ended/.test(e.textContent ?? ''))

  act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
  await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
  act(() => select.closest('form')!.requestSubmit())
  await eventually(() => expect(sessionWords(), page.container.textContent ?? '').toBeDefined())

  act(() => void store.dispatch(loggedIn({ token: 'token-new', user: alice })))
  act(() => sockets.last.serverConnect('sock-2'))
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  await eventually(() => expect(selectConnection(store.getState()).status).toBe('connected'))
  await eventually(() => expect(sessionWords()).toBeUndefined())
  store.dispose()
})
