// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, expect, test } from 'vitest'
import { FALLBACK_READ_INTERVAL_MS } from '../../src/realtime/fallbackReads'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// While the socket is down and HTTP answers (a proxy that blocks the socket), the page reads the people and their
// presence again every 15 s (README, "Reads while the socket is down"): what such a read says is newer than anything
// the socket said before it went, and shown; what the socket said before the drop is not.

const page = pagePerTest('#/messages')
afterEach(() => {
  due.clear()
  bobRead.length = 0
  usersFail = false
})

const EARLIER = '2026-11-20T09:00:00.000Z'
let bobOnline = true
/** The reads of the people fail (the browser went offline too). */
let usersFail = false
/** What each read of the people said of Bob. */
const bobRead: boolean[] = []
const api = apiRoutes((_method, path) => {
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/users') {
    if (usersFail) return json(503, { error: { code: 'INTERNAL', message: 'unavailable' } })
    bobRead.push(bobOnline)
    return json(200, [
      { ...alice, online: true, lastSeenAt: null },
      { ...bob, online: bobOnline, lastSeenAt: bobOnline ? null : EARLIER },
    ])
  }
  return json(200, [])
})

/** The layer's timers, run by the test: only the fallback reads' turn is run here. */
const due = new Map<number, { fn: () => void; ms: number }>()
let next = 0
const timers = {
  setTimeout: (fn: () => void, ms: number) => {
    due.set(++next, { fn, ms })
    return next
  },
  clearTimeout: (handle: unknown) => void due.delete(handle as number),
}
function runTimersOf(ms: number) {
  for (const [handle, t] of [...due]) {
    if (t.ms !== ms) continue
    due.delete(handle)
    t.fn()
  }
}

const label = () => page.container.querySelector<HTMLElement>('[data-testid=presence]')

/**
 * The page open with the socket connected and caught up, Bob online by its snapshot; then the socket drops and stays
 * down, and nothing of what it said is shown.
 */
async function bobOnlineThenDropped() {
  const { store, sockets } = appStore(api, { realtime: { timers } })
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' }))
  act(() =>
    sockets.last.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: true, lastSeenAt: null }] }),
  )
  await eventually(() => expect(label()?.dataset.online).toBe('true'))
  act(() => sockets.last.serverDrop('transport close'))
  await eventually(() => expect(label()).toBeNull())
  return store
}

test('the socket never up, the presence the page read over HTTP is shown', async () => {
  bobOnline = true
  const { store } = appStore(api, { realtime: { timers } })
  renderApp(page.root, store)
  await eventually(() => expect(label()?.dataset.online).toBe('true'))
  expect(store.getState().socket.connection.status).not.toBe('connected')
  store.dispose()
})

test('after a drop, a read over HTTP shows who left meanwhile; the socket’s older word does not come back', async () => {
  bobOnline = true
  const store = await bobOnlineThenDropped()

  // Bob leaves; the next turn of the reads over HTTP says so.
  bobOnline = false
  act(() => runTimersOf(FALLBACK_READ_INTERVAL_MS))
  await eventually(() => expect(bobRead.at(-1)).toBe(false))
  await eventually(() => expect(label()?.dataset.online).toBe('false'))
  expect(label()!.textContent).toMatch(/last seen/)
  store.dispose()
})

test('a read over HTTP that fails after one that landed: its word is no longer the newest, and goes', async () => {
  bobOnline = true
  const store = await bobOnlineThenDropped()
  act(() => runTimersOf(FALLBACK_READ_INTERVAL_MS))
  await eventually(() => expect(bobRead.length).toBeGreaterThan(1))
  await eventually(() => expect(label()?.dataset.online).toBe('true'))

  // HTTP fails too now: nobody tells this browser who left since that read, so "online" must not stay.
  usersFail = true
  const failedBefore = store.getState().api.queries['getUsers(undefined)']?.status
  expect(failedBefore).toBe('fulfilled')
  act(() => runTimersOf(FALLBACK_READ_INTERVAL_MS))
  await eventually(() => expect(store.getState().api.queries['getUsers(undefined)']?.status).toBe('rejected'))
  await eventually(() => expect(label()).toBeNull())
  store.dispose()
})
