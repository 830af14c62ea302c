import type { UnknownAction } from '@reduxjs/toolkit'
import { expect, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { eventRejected, internalError, selectPresence, selectTyping } from '../../src/realtime'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob } from './support/fixtures'

// The store keys plain objects by ids (who is typing where, who is online; RTK Query its subscriptions). An event
// whose id was `constructor` reached the typing reducer, which found `Object` there and threw: an internal error in
// place of the event, on every replay. Such an id is refused as malformed, with the other bad payloads, and the
// store goes on.

test.each([
  ['typing', { conversationId: 'constructor', userId: bob.id }, 'conversationId'],
  ['typing', { conversationId: 'c1', userId: 'toString' }, 'userId'],
  ['presence:changed', { userId: '__proto__', online: true, lastSeenAt: null }, 'userId'],
])('%s %j is rejected naming %s, and the next one is applied', (event, payload, field) => {
  const sockets = fakeSockets()
  const seen: UnknownAction[] = []
  const store = trackedStore({
    apiUrl: 'http://api.test',
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    preloadedState: { auth: { token: 'token-1', user: alice } },
    extraMiddleware: [() => (next) => (action) => (seen.push(action as UnknownAction), next(action))],
  })
  sockets.last.serverConnect()
  sockets.last.serverEmit(event, payload)
  expect(seen.filter((a) => internalError.match(a))).toEqual([])
  expect(seen.filter((a) => eventRejected.match(a)).map((a) => a.payload)).toMatchObject([
    { event, issues: [{ path: field }] },
  ])
  expect(Object.getPrototypeOf(store.getState().presence.users)).toBe(Object.prototype)

  sockets.last.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
  sockets.last.serverEmit('presence:changed', { userId: bob.id, online: true, lastSeenAt: null })
  expect(selectTyping(store.getState(), 'c1')).toEqual([bob.id])
  expect(selectPresence(store.getState(), bob.id)).toMatchObject({ online: true })
  store.dispose()
})
