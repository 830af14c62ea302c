import { combineReducers, configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { expect, test, vi } from 'vitest'
import { api, saveRefreshToken } from '../../src/api'
import { createSessionMiddleware } from '../../src/api/sessionMiddleware'
import { authSlice, loggedIn, loggedOut } from '../../src/app/authSlice'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import {
  connect,
  createMemoryLock,
  outboxStorageKey,
  selectIsConnected,
  sendMessage,
  shutdown,
} from '../../src/realtime'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, pendingMessage } from './support/fixtures'
import { deadUrl, httpStubPerTest, type StubReply, type StubRequest } from './support/httpStub'
import { settle } from './support/mockStore'

// `socket/shutdown` (`store.dispose()`, the page going away) stops the store's socket and session work for good: what
// was in flight then opens or schedules nothing after it.

let reply: (req: StubRequest) => StubReply | Promise<StubReply>
const stub = httpStubPerTest((req) => reply(req))

/** A store with a socket of its own (fake sockets) and memory storage; `over` adds or replaces options. */
function soloStore(over: Partial<Parameters<typeof trackedStore>[0]> = {}) {
  const sockets = fakeSockets()
  const store = trackedStore({
    apiUrl: 'http://api.test',
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    ...over,
  })
  return { store, sockets }
}

test('a login answered after dispose() opens no socket', async () => {
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => (release = r))
  reply = async (req) => {
    if (req.url === '/api/auth/login') {
      await gate
      return { status: 200, body: { token: 'token-1', refreshToken: 'refresh-1', user: alice } }
    }
    return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no' } } }
  }
  const { store, sockets } = soloStore({ apiUrl: stub.url })
  const login = store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
  await eventually(() => expect(stub.requests.map((r) => r.url)).toContain('/api/auth/login'))
  store.dispose()
  release()
  await login
  await settle()
  expect(store.getState().auth.user).toEqual(alice)
  expect(sockets.sockets.filter((s) => s.active)).toHaveLength(0)
  // Nothing will connect: the status must not say a connection is under way (it never started: idle).
  expect(store.getState().socket.connection.status).toBe('idle')
})

test('socket/connect after dispose() opens no socket and leaves the status disconnected', async () => {
  const { store, sockets } = soloStore({ preloadedState: { auth: { token: 'token-1', user: alice } } })
  await settle()
  store.dispose()
  store.dispatch(connect())
  await settle()
  expect(sockets.sockets.filter((s) => s.active)).toHaveLength(0)
  expect(store.getState().socket.connection.status).toBe('disconnected')
})

test('socket/connect after dispose() sends nothing of the stored outbox (over HTTP) and takes no drain lock', async () => {
  reply = () => ({ status: 200, body: {} })
  const storage = createMemoryStorage()
  const drainLock = createMemoryLock()
  const actions: string[] = []
  const record: Middleware = () => (next) => (action) => {
    if (typeof action === 'object') actions.push((action as UnknownAction).type)
    return next(action)
  }
  const { store } = soloStore({
    apiUrl: stub.url,
    storage,
    realtime: { drainLock },
    extraMiddleware: [record],
    preloadedState: { auth: { token: 'token-1', user: alice } },
  })
  await settle()
  store.dispose()
  // Another tab of the user's left a send in storage.
  storage.setItem(outboxStorageKey(alice.id), JSON.stringify([pendingMessage('k1')]))
  actions.length = 0
  store.dispatch(connect())
  await settle()
  // Nothing read back, shown or sent: no `outboxRestored`, no drain, no HTTP send (`postMessage`).
  expect(actions).toEqual(['socket/connect', 'socket/shutdown'])
  expect(drainLock.holder(`talemy.outbox.${alice.id}`)).toBe(null)
})

test('a refresh in flight at shutdown schedules nothing after it', async () => {
  const pending: (() => void)[] = []
  const setTimeout = vi.fn((cb: () => void) => (pending.push(cb), pending.length))
  const storage = createMemoryStorage()
  saveRefreshToken(storage, alice.id, 'refresh-1')
  const apiUrl = await deadUrl()
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    actions.push(action as UnknownAction)
    return next(action)
  }
  const store = configureStore({
    reducer: combineReducers({ auth: authSlice.reducer, api: api.reducer }),
    middleware: (gDM) =>
      gDM({ thunk: { extraArgument: { apiUrl, storage } } }).concat(
        record,
        api.middleware,
        createSessionMiddleware({ apiUrl, storage, timers: { setTimeout, clearTimeout: vi.fn() } }),
      ),
  })
  // A token without a lifetime cannot be scheduled: one that is due at once.
  const due = `e30.${Buffer.from(JSON.stringify({ iat: 1, exp: 2 })).toString('base64url')}.sig`
  store.dispatch(loggedIn({ token: due, user: alice }))
  expect(setTimeout).toHaveBeenCalledTimes(1)
  pending[0]!() // the scheduled refresh starts; the API is unreachable: it will be 'unavailable'
  store.dispatch(shutdown())
  await eventually(() => expect(actions.some((a) => api.endpoints.refreshToken.matchRejected(a))).toBe(true))
  await settle()
  expect(setTimeout).toHaveBeenCalledTimes(1)
})

/** A store whose extra middleware dispatches `socket/shutdown` right after it sees an action of `type` (re-entrantly). */
function storeShuttingDownOn(type: string) {
  const shutdownOn: Middleware = (mw) => (next) => (action) => {
    const result = next(action)
    if ((action as UnknownAction).type === type) mw.dispatch(shutdown())
    return result
  }
  return soloStore({ extraMiddleware: [shutdownOn] })
}

test('a shutdown dispatched from inside a login (a middleware reacting to sessionStarted) stops that login opening a socket', async () => {
  const { store, sockets } = storeShuttingDownOn('socket/sessionStarted')
  store.dispatch(loggedIn({ token: 'token-1', user: alice }))
  await settle()
  expect(sockets.sockets).toHaveLength(0)
})

test('a shutdown dispatched from inside a logout (a middleware reacting to sessionEnded) still clears that user’s data', async () => {
  const { store } = storeShuttingDownOn('socket/sessionEnded')
  store.dispatch(loggedIn({ token: 'token-1', user: alice }))
  await settle()
  await store.dispatch(api.util.upsertQueryData('getLessons', undefined, []))
  expect(Object.keys(store.getState().api.queries)).not.toHaveLength(0)
  store.dispatch(loggedOut())
  await settle()
  expect(store.getState().api.queries).toEqual({})
})

test('a store disposed while connected says it is no longer connected (its socket is closed without a disconnect event)', async () => {
  const { store, sockets } = soloStore()
  store.dispatch(loggedIn({ token: 'token-1', user: alice }))
  await settle()
  sockets.sockets[0]!.serverConnect()
  await settle()
  expect(selectIsConnected(store.getState())).toBe(true)
  store.dispose()
  await settle()
  expect(sockets.sockets[0]!.active).toBe(false)
  expect(store.getState().socket.connection.status).toBe('disconnected')
  expect(selectIsConnected(store.getState())).toBe(false)
})

test('dispose() by a store listener inside a send’s dispatch (the send gone ahead, its lock taken) lets the drain lock go', async () => {
  const drainLock = createMemoryLock()
  const { store, sockets } = soloStore({
    realtime: { drainLock },
    preloadedState: { auth: { token: 'token-1', user: alice } },
  })
  await settle()
  sockets.last.serverConnect()
  await settle()
  // Redux calls a store listener inside the dispatch of an action that is not auto-batched: the send has gone ahead
  // (emitted, the lock taken), its reducer has run, its handlers have not.
  let disposed = false
  store.subscribe(() => {
    if (disposed || store.getState().socket.outbox.length === 0) return
    disposed = true
    store.dispose()
  })
  store.dispatch(sendMessage({ conversationId: 'c1', content: 'Hi', clientId: 'k1' }))
  await settle()
  expect(disposed).toBe(true)
  expect(sockets.last.emitted.some((p) => p.event === 'message:send')).toBe(true)
  // Disposed, it holds the user's drain lock for no one: the user's other tabs could never send again.
  expect(drainLock.holder(`talemy.outbox.${alice.id}`)).toBe(null)
})

// Another tab of the browser holds the refresh lock (it is refreshing) when this store's socket is refused and it
// queues for the lock; the store is disposed meanwhile. Once the lock comes, nobody is left to use a token: a refresh
// from it would still rotate the browser's one refresh token.
test('a refresh waiting for the refresh lock at shutdown is given up: no POST /api/auth/refresh after it', async () => {
  reply = () => ({ status: 200, body: { token: 'token-2', refreshToken: 'refresh-2', user: alice } })
  const storage = createMemoryStorage()
  saveRefreshToken(storage, alice.id, 'refresh-1')
  const drainLock = createMemoryLock()
  let releaseOther: () => void = () => {}
  drainLock.request(`talemy.refresh.${alice.id}`, (release) => (releaseOther = release))
  const { store, sockets } = soloStore({
    apiUrl: stub.url,
    storage,
    realtime: { drainLock },
    preloadedState: { auth: { token: 'token-1', user: alice } },
  })
  sockets.last.serverRefuse('UNAUTHORIZED')
  await settle()
  store.dispose()
  releaseOther()
  await settle()
  // The refresh is over once the lock is free again (held, it would be across its POST).
  await eventually(() => expect(drainLock.holder(`talemy.refresh.${alice.id}`)).toBe(null))
  expect(stub.requests.map((r) => r.url)).not.toContain('/api/auth/refresh')
})
