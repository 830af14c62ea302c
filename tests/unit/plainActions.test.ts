import type { UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { firstNonPlain } from '../support/plainData'
import { trackedStore } from '../support/trackedStores'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob } from './support/fixtures'
import { startHttpStub } from './support/httpStub'

// CONTRACT: nothing non-serializable enters the state or an action (DevTools shows every one), and a disposed store
// gets no action from timers the layer left behind.

let stub: Awaited<ReturnType<typeof startHttpStub>>
beforeEach(async () => {
  stub = await startHttpStub(() => ({ status: 200, body: [] }))
})
afterEach(async () => {
  await stub.close()
})

test('every action an HTTP query dispatches is plain data', async () => {
  const seen: UnknownAction[] = []
  const store = trackedStore({
    apiUrl: stub.url,
    createSocket: fakeSockets().createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
    extraMiddleware: [
      () => (next) => (action) => (typeof action === 'object' && seen.push(action as UnknownAction), next(action)),
    ],
  })
  await store.dispatch(api.endpoints.getConversations.initiate())
  const problems = seen.map((a) => [a.type, firstNonPlain(a, 'action')]).filter(([, p]) => p !== null)
  expect(problems).toEqual([])
  store.dispose()
})

test('no typing timer outlives dispose()', () => {
  vi.useFakeTimers()
  try {
    const sockets = fakeSockets()
    const late: string[] = []
    let disposed = false
    const store = trackedStore({
      apiUrl: 'http://api.test',
      createSocket: sockets.createSocket,
      storage: createMemoryStorage(),
      shareSocket: false,
      preloadedState: { auth: { token: 'token-1', user: alice } },
      extraMiddleware: [
        () => (next) => (action) => {
          if (disposed) late.push((action as { type: string }).type)
          return next(action)
        },
      ],
    })
    sockets.last.serverConnect()
    sockets.last.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    store.dispose()
    disposed = true
    vi.advanceTimersByTime(10_000)
    expect(late).toEqual([])
  } finally {
    vi.useRealTimers()
  }
})
