// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { createToaster } from '../../src/features/notifications/toaster'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A toast waits for the people to be read before it is said, so it names who it is about. News said on the page that
// is open (a new card, a status change while the list is being read) did not wait: just after the page opened, with
// the people still being read, a screen reader heard "New contact request from Someone" (or "Lesson “Algebra”
// (Someone) was cancelled"), and nothing said it again with the name. It now waits as a toast does.

const page = pagePerTest()

const cases = [
  {
    name: 'a new contact request, on the requests page',
    hash: '#/contact-requests',
    event: () =>
      serverEventActions['contactRequest:created'](contactRequest('r9', { tutorId: alice.id, studentId: bob.id })),
    said: 'New contact request from Bob',
  },
  {
    name: 'a cancellation, on the lessons page (its list still being read)',
    hash: '#/lessons',
    event: () =>
      serverEventActions['lesson:statusUpdated'](
        lesson('l1', { status: 'cancelled', updatedAt: '2026-11-24T09:00:00.000Z' }),
      ),
    said: 'Lesson “Algebra” (Bob) was cancelled',
  },
]

describe('news said on its page while the people are still being read', () => {
  test.each(cases)('$name: said once they are read, with the name', async (c) => {
    let answerPeople: (response: Response) => void = () => {}
    const people = new Promise<Response>((resolve) => {
      answerPeople = resolve
    })
    // The lists are read only after the people (as a slow server may answer them).
    const fetchFn = apiRoutes(async (_method, path) => {
      if (path === '/api/users') return people
      await people
      return json(200, [])
    })
    window.history.replaceState(null, '', c.hash)
    const toaster = createToaster()
    const { store } = appStore(fetchFn, { extraMiddleware: [toaster.middleware] })
    renderApp(page.root, store, toaster)
    await eventually(() => expect(page.container.querySelector('main h1')).not.toBeNull())
    const said = politeSaid()
    act(() => void store.dispatch(c.event()))
    await act(async () => answerPeople(json(200, [alice, bob])))
    await eventually(() => expect(said).toEqual([c.said]))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })
})
