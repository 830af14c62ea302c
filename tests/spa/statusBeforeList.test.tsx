// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api as apiSlice } from '../../src/api'
import { createToaster } from '../../src/features/notifications/toaster'
import { serverEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A status change on its own page is said by its card (`useStatusSaid`), and so the toaster says nothing there. While
// the page's list is still being read, or its read failed, there is no card: Bob's cancellation (or his answer to
// Alice's request) was said nowhere, neither as a toast nor in the live region, and the card drawn later simply showed
// it, as if it had always been so. It is now said by the toaster, as a new card's news is on its page.

const page = pagePerTest()

const cancelled = lesson('l1', { status: 'cancelled', updatedAt: '2026-11-24T09:00:00.000Z' })
const declined = contactRequest('r1', { status: 'declined', updatedAt: '2026-11-24T09:00:00.000Z' })

const pages = [
  {
    name: 'lessons',
    hash: '#/lessons',
    list: '/api/lessons',
    card: '[data-testid=lesson]',
    event: () => serverEventActions['lesson:statusUpdated'](cancelled),
    item: cancelled,
    said: 'Lesson “Algebra” (Bob) was cancelled',
  },
  {
    name: 'contact requests',
    hash: '#/contact-requests',
    list: '/api/contact-requests',
    card: '[data-testid=contact-request]',
    event: () => serverEventActions['contactRequest:statusUpdated'](declined),
    item: declined,
    said: 'Contact request (Bob) declined',
  },
]

/** Alice on `hash`, whose list read is answered by `answerList` (held, or failed). */
async function openAs(hash: string, list: string, answerList: () => Promise<Response> | Response) {
  window.history.replaceState(null, '', hash)
  const fetchFn = apiRoutes((_method, path) => {
    if (path === '/api/users') return json(200, [alice, bob])
    if (path === list) return answerList()
    return json(200, [])
  })
  const toaster = createToaster()
  const { store } = appStore(fetchFn, { extraMiddleware: [toaster.middleware] })
  renderApp(page.root, store, toaster)
  await eventually(() => expect(page.container.querySelector('main h1')).not.toBeNull())
  await eventually(() => expect(apiSlice.endpoints.getUsers.select()(store.getState()).data).toBeDefined())
  return { store, toaster, said: politeSaid() }
}

describe('a status change on its page before its list is drawn', () => {
  test.each(pages)('$name, the list still being read: said once, also once the card is drawn', async (c) => {
    let answer: (response: Response) => void = () => {}
    const held = new Promise<Response>((resolve) => {
      answer = resolve
    })
    const { store, toaster, said } = await openAs(c.hash, c.list, () => held)
    act(() => void store.dispatch(c.event()))
    await eventually(() => expect(said).toEqual([c.said]))
    // The read answers with the change: the card is drawn as it is now, and nothing says it again.
    await act(async () => answer(json(200, [c.item])))
    await eventually(() => expect(page.container.querySelectorAll(c.card)).toHaveLength(1))
    expect(said).toEqual([c.said])
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })

  test.each(pages)('$name, the list not read (it failed): said', async (c) => {
    const { store, toaster, said } = await openAs(c.hash, c.list, () =>
      json(500, { error: { code: 'INTERNAL', message: 'boom' } }),
    )
    await eventually(() => expect(page.container.querySelector('[role=alert]')).not.toBeNull())
    act(() => void store.dispatch(c.event()))
    await eventually(() => expect(said).toContain(c.said))
    expect(said.filter((s) => s === c.said)).toHaveLength(1)
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })
})

// Alice's lessons page has its list, read before Bob's lesson was made (its `lesson:created` missed, in a gap the
// server could not replay). Bob then cancels it: no card says it (there is none; the event rereads the list, whose card
// comes drawn as cancelled), and the toaster said nothing either, the list being drawn. It is now said when the list
// holds no card for it.
describe('a status change on its page for a card its list does not hold', () => {
  test.each(pages)('$name: said once, also once the reread draws the card', async (c) => {
    let reads = 0
    const { store, toaster, said } = await openAs(c.hash, c.list, () => json(200, reads++ === 0 ? [] : [c.item]))
    const listed = c.name === 'lessons' ? apiSlice.endpoints.getLessons : apiSlice.endpoints.getContactRequests
    await eventually(() => expect(listed.select()(store.getState()).data).toEqual([]))
    act(() => void store.dispatch(c.event()))
    await eventually(() => expect(page.container.querySelectorAll(c.card)).toHaveLength(1))
    await eventually(() => expect(said).toEqual([c.said]))
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })
})
