// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { loggedIn, loggedOut } from '../../src/app/authSlice'
import type { User } from '../../src/contract'
import { eventually } from './support/eventually'
import { alice, bob, lesson, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, pressToChange, renderApp, threadApi } from './support/page'

// The next user of this browser tab sees nothing of the user before: not in the DOM, not in the cache.

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }

/** Another tab's login as Bob, as this tab follows it (`sessionSync`): Alice's session ends, Bob's starts. */
const bobTakesOver = (store: ReturnType<typeof appStore>['store']) =>
  act(() => {
    store.dispatch(loggedOut({ keepOutbox: true }))
    store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
  })

describe('after one user leaves and the next one comes', () => {
  const page = pagePerTest('#/messages/c1')

  test('the live regions no longer hold what was said to the user before (a message of theirs)', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    const polite = () => document.querySelector('[data-testid=announcer-polite]')!.textContent
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    act(() => sockets.last.serverEmit('message:new', message(2, { content: 'my exam results are bad' })))
    await eventually(() => expect(polite()).toContain('my exam results are bad'))
    act(() => page.container.querySelector<HTMLButtonElement>('.account .btn-quiet')!.click())
    expect(store.getState().auth.user).toBeNull()
    expect(polite()).not.toContain('my exam results are bad')
    store.dispose()
  })
})

describe('an answer to the user before, landing after the next one logged in', () => {
  const page = pagePerTest('#/lessons')

  // Sound today (RTK Query aborts running mutations at `resetApiState`); kept so a page patching the cache after an
  // await never puts the user before’s answer into the next user’s lists.
  test('a lesson status change of the previous user never enters the next user’s lessons', async () => {
    let answerPatch: (response: Response) => void = () => {}
    let patched = 0
    const fetchFn = apiRoutes((method, path, request) => {
      const auth = request.headers.get('authorization')
      if (method === 'PATCH') {
        patched++
        return new Promise<Response>((resolve) => (answerPatch = resolve))
      }
      if (path === '/api/lessons')
        return json(200, auth === 'Bearer token-bob' ? [] : [lesson('l1', { tutorId: carol.id, subject: 'Private' })])
      if (path === '/api/users') return json(200, [alice, bob, carol])
      return json(200, [])
    })
    const { store } = appStore(fetchFn)
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=lesson]')).toHaveLength(1))
    pressToChange(page.container.querySelector('[data-testid=lesson]')!, 'Cancel lesson')
    await eventually(() => expect(patched).toBe(1))
    bobTakesOver(store)
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([]))
    const lateAnswer = json(200, lesson('l1', { tutorId: carol.id, subject: 'Private', status: 'cancelled' }))
    act(() => answerPatch(lateAnswer))
    // The base query has read the late answer; whatever would follow from it has had every microtask to happen in.
    await eventually(() => expect(lateAnswer.bodyUsed).toBe(true))
    await act(async () => {})
    expect(store.getState().auth.user?.id).toBe(bob.id)
    expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([])
    expect(page.container.textContent).not.toContain('Private')
    store.dispose()
  })
})
