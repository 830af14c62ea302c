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

/** Bob on the messages page, the people still being read, a toast raised: its timers run when the test says. */
async function toastBeforePeople() {
  let answerPeople: (response: Response) => void = () => {}
  const people = new Promise<Response>((resolve) => {
    answerPeople = resolve
  })
  const fetchFn = apiRoutes((_method, path) => (path === '/api/users' ? people : json(200, [])))
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
  return {
    store,
    said,
    runTimers: () =>
      act(() => {
        for (const run of due.splice(0)) run()
      }),
    answerPeople: () => act(async () => answerPeople(json(200, [alice, bob]))),
  }
}

describe('a toast gone before the people are read', () => {
  test('is said once they are read, with the name', async () => {
    const { store, said, runTimers, answerPeople } = await toastBeforePeople()
    // Its time runs out, the people still being read.
    runTimers()
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(0))
    expect(said).toEqual([])
    await answerPeople()
    await eventually(() => expect(said).toEqual(['New lesson request from Alice: Algebra']))
    store.dispose()
  })

  // Dismissed by the user (its close button, which reads it out), it was said all the same once the people came.
  test('is not said when the user dismissed it', async () => {
    const { store, said, runTimers, answerPeople } = await toastBeforePeople()
    act(() => page.container.querySelector<HTMLButtonElement>('[data-testid=toast] .toast-close')!.click())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(0))
    // A later toast is said, and the dismissed one is not.
    act(() => void store.dispatch(serverEventActions['lesson:created'](lesson('l2', { subject: 'Physics' }))))
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=toast]')).toHaveLength(1))
    runTimers()
    await answerPeople()
    await eventually(() => expect(said).toEqual(['New lesson request from Alice: Physics']))
    store.dispose()
  })
})
