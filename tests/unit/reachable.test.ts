import { afterEach, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { retryNow, selectConnection } from '../../src/realtime'
import { fakeSockets } from './support/fakeSocket'
import { alice } from './support/fixtures'

// The server answers over HTTP while the socket waits out its backoff (up to 30 s after a long outage): the server is
// back, so the socket tries now, as it does when the browser says it is online again.

const stores: { dispose(): void }[] = []
afterEach(() => {
  for (const store of stores.splice(0)) store.dispose()
})

function droppedStore(answer: () => Response | Promise<Response>) {
  const sockets = fakeSockets()
  const actions: string[] = []
  const store = trackedStore({
    apiUrl: 'http://api.test',
    storage: createMemoryStorage(),
    createSocket: sockets.createSocket,
    shareSocket: false,
    fetchFn: (async () => answer()) as typeof fetch,
    preloadedState: { auth: { token: 't-alice', user: alice } },
    extraMiddleware: [() => (next) => (action) => (actions.push((action as { type: string }).type), next(action))],
    // An hour's backoff: whatever connects in this test, no timer did it.
    realtime: { retryTriggers: () => () => {}, backoff: { baseMs: 3_600_000, capMs: 3_600_000 } },
  })
  stores.push(store)
  sockets.last.serverConnect()
  sockets.last.serverDrop('transport close')
  expect(selectConnection(store.getState()).status).toBe('reconnecting')
  return { store, sockets, actions }
}

test('an API answer while the socket backs off: the attempt goes at once, said as retryNow("reachable")', async () => {
  const { store, sockets, actions } = droppedStore(() => Response.json(alice))
  const before = sockets.last.connectCalls
  await store.dispatch(api.endpoints.getMe.initiate())
  expect(sockets.last.connectCalls).toBe(before + 1)
  expect(actions.filter((type) => type === retryNow.type)).toHaveLength(1)
})

test.each([
  ['a network failure', () => Promise.reject(new TypeError('Failed to fetch'))],
  ['a server error', () => Response.json({ error: { code: 'INTERNAL', message: 'x' } }, { status: 500 })],
])('%s over HTTP changes nothing: the backoff goes on', async (_, answer) => {
  const { store, sockets, actions } = droppedStore(answer)
  const before = sockets.last.connectCalls
  await store.dispatch(api.endpoints.getMe.initiate())
  expect(sockets.last.connectCalls).toBe(before)
  expect(actions).not.toContain(retryNow.type)
})
