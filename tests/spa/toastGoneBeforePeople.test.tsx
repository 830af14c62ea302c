// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { createToaster } from '../../src/features/notifications/toaster'
import { serverEventActions } from '../../src/realtime'
import type { Timers } from '../../src/realtime/timers'
import { eventually } from './support/eventually'
import { alice, bob, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A toast waits for the people to be read before it is said, so it names who it is about. One whose time (8 s) ran
// out while the people were still being read (a slow /api/users) was never said: by the time they were read, it was
// gone, and only the toasts still shown were said. It is now said once the people are read, even if gone.

const page = pagePerTest()

describe('a toast gone before the people are read', () => {
  test('is said once they are read, with the name', async () => {
    let answerPeople: (response: Response) => void = () => {}
    const people = new Promise<Response>((resolve) => {
      answerPeople = resolve
    })
    const fetchFn = apiRoutes((_method, path) => (path === '/api/users' ? people : json(200, [])))
    // The toasts' timers, run when the test says.
    const due: (() => void)[] = []
    const timers: Timers = {
      setTimeout: (callback) => due.push(callback),
      clearTimeout: () => {},
    }
    window.history.replaceState(null, '', '#/messages')
    const toaster = createToaster({ timers })
    const { store } = appStore(fetchFn, {
      preloadedState: { auth: { token: 'token-1', user: bob } },
      extraMiddleware: [toaster.middleware],
    })
    renderApp(page.root, store, toaster)
    await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
    const said = politeSaid()
    act(() => void store.dispatch(serverEventActions['lesson:created'](lesson('l1', { subject: 'Algebra' }))))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(1))
    // Its time runs out, the people still being read.
    act(() => {
      for (const run of due.splice(0)) run()
    })
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(0))
    expect(said).toEqual([])
    await act(async () => answerPeople(json(200, [alice, bob])))
    await eventually(() => expect(said).toEqual(['New lesson request from Alice: Algebra']))
    store.dispose()
  })
})
