import { rmSync } from 'node:fs'
import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { afterAll, afterEach, expect, test, vi } from 'vitest'
import { api, loadAuth } from '../../src/api'
import { loggedIn } from '../../src/app/authSlice'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { manualRetryTriggers, selectConnection, sendMessage, type TabsOptions } from '../../src/realtime'
import { manualVisibility } from '../../src/realtime/tabs/visibility'
import { browser as tabsBrowser } from '../unit/tabs/support/browser'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir } from '../server/support/server'
import { hangBound } from '../support/hangBound'

// A laptop that slept with the page open, against the reference server: the access token expired meanwhile on the
// server's clock, the session's refresh timer stood still, the socket is dead though Socket.IO does not know it yet.

const servers: { server: RunningServer; dir: string }[] = []
const stops: (() => void)[] = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})
afterAll(async () => {
  for (const { server, dir } of servers.splice(0)) {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

const until = (predicate: () => boolean, timeout = hangBound()) =>
  vi.waitFor(
    () => {
      if (!predicate()) throw new Error('not yet')
    },
    { timeout, interval: 10 },
  )

/** The reference server on `now`'s clock (tokens for 60 s), and a `fetch` that notes each request's path. */
async function serverOnClock(now: () => number) {
  const dir = freshDataDir()
  const server = await startServer({
    port: 0,
    dataDir: dir,
    now,
    tokenTtlSeconds: 60,
    rateLimit: { perSecond: 1000, burst: 1000 },
  })
  servers.push({ server, dir })
  const requests: string[] = []
  const fetchFn: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    requests.push(new URL(url).pathname)
    return fetch(input, init)
  }
  return { server, requests, fetchFn }
}

test('woken past the token’s expiry: one refresh, the socket back, nothing said or shown that was not so', async () => {
  let clock = Date.now()
  const { server, requests, fetchFn } = await serverOnClock(() => clock)
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    if (typeof action === 'object' && action !== null) actions.push(action as UnknownAction)
    return next(action)
  }
  const triggers = manualRetryTriggers()
  let handshakes = 0
  const store = makeStore({
    apiUrl: server.url,
    storage: createMemoryStorage(),
    fetchFn,
    extraMiddleware: [record],
    // The session's refresh timer never fires: it stood still while the machine slept.
    session: { now: () => clock, timers: { setTimeout: () => ({}), clearTimeout: () => undefined } },
    realtime: { retryTriggers: triggers.setup, now: () => clock },
    createSocket: (url, options) => {
      const socket = io(url, { ...options, transports: ['websocket'] })
      const connect = socket.connect.bind(socket)
      socket.connect = () => {
        handshakes++
        return connect()
      }
      return socket
    },
  })
  stops.push(() => store.dispose())
  const bob = makeStore({ apiUrl: server.url, storage: createMemoryStorage(), shareSocket: false })
  stops.push(() => bob.dispose())
  await bob.dispatch(api.endpoints.login.initiate({ email: 'bob@talemy.test', password: 'talemy' }))
  const bobId = bob.getState().auth.user!.id
  await store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
  await until(() => selectConnection(store.getState()).status === 'connected')
  const created = await store.dispatch(api.endpoints.createConversation.initiate({ participantId: bobId }))
  const conversationId = (created as { data: { id: string } }).data.id
  const thread = store.dispatch(api.endpoints.getMessages.initiate(conversationId))
  stops.push(() => thread.unsubscribe())
  await thread
  await until(() => selectConnection(store.getState()).syncing === false)

  // Asleep two minutes: the token (60 s) has expired on the server's clock.
  clock += 120_000
  const expired = store.getState().auth.token
  const statuses: string[] = []
  const unsubscribe = store.subscribe(() => {
    const status = selectConnection(store.getState()).status
    if (statuses.at(-1) !== status) statuses.push(status)
  })
  stops.push(unsubscribe)
  requests.length = 0
  handshakes = 0
  const from = actions.length
  // The wake: the network back; the user sends at once.
  triggers.fire('online')
  const { payload } = store.dispatch(sendMessage({ conversationId, content: 'back from sleep' }))
  await until(
    () => selectConnection(store.getState()).status === 'connected' && !selectConnection(store.getState()).syncing,
  )
  await until(
    () =>
      (api.endpoints.getMessages.select(conversationId)(store.getState()).data ?? []).find(
        (m) => m.clientId === payload.clientId,
      )?.status === 'sent',
  )
  const after = actions.slice(from).map((a) => a.type)
  expect(store.getState().auth.token).not.toBe(expired)
  // One refresh (a read refused with the expired token at the wake joins it). The handshake that went with the expired
  // token is refused, and goes again with the new one: two at most.
  expect(requests.filter((r) => r === '/api/auth/refresh')).toHaveLength(1)
  expect(handshakes).toBeLessThanOrEqual(2)
  // Nothing says the session ended or the page is offline: "reconnecting…" while the dead socket is made anew, true.
  expect(
    after.filter((t) => t === 'socket/sessionExpired' || t === 'auth/refreshFailed' || t === 'auth/loggedOut'),
  ).toEqual([])
  expect(statuses).toEqual(['connected', 'reconnecting', 'connected'])
  // The send typed at the wake is not shown as failed, and is stored once.
  expect(after).not.toContain('socket/sendFailed')
  const atBob = await bob.dispatch(api.endpoints.getMessages.initiate(conversationId, { forceRefetch: true }))
  expect((atBob.data ?? []).filter((m) => m.clientId === payload.clientId)).toHaveLength(1)
})

test('three tabs of one browser woken at once past the token’s expiry: one refresh for the browser, no tab logged out, the send once', async () => {
  let slept = 0
  const clock = () => Date.now() + slept
  const { server, requests, fetchFn } = await serverOnClock(clock)
  const storage = createMemoryStorage()
  const edges = tabsBrowser()
  const tabs = ['tab-1', 'tab-2', 'tab-3'].map((tabId) => {
    const triggers = manualRetryTriggers()
    const actions: UnknownAction[] = []
    const record: Middleware = () => (next) => (action) => {
      if (typeof action === 'object' && action !== null) actions.push(action as UnknownAction)
      return next(action)
    }
    const options: TabsOptions = {
      channelName: 'wake',
      ...edges.tab(tabId),
      visibility: manualVisibility(true),
      tabId,
      heartbeatMs: 100,
    }
    const store = makeStore({
      apiUrl: server.url,
      storage,
      fetchFn,
      extraMiddleware: [record],
      session: { now: clock, timers: { setTimeout: () => ({}), clearTimeout: () => undefined } },
      realtime: { retryTriggers: triggers.setup, now: clock, tabs: options },
      createSocket: (url, o) => io(url, { ...o, transports: ['websocket'] }),
    })
    stops.push(() => {
      edges.crash(tabId)
      store.dispose()
    })
    return { store, triggers, actions }
  })
  const bob = makeStore({ apiUrl: server.url, storage: createMemoryStorage(), shareSocket: false })
  stops.push(() => bob.dispose())
  await bob.dispatch(api.endpoints.login.initiate({ email: 'bob@talemy.test', password: 'talemy' }))
  const bobId = bob.getState().auth.user!.id
  const [first] = tabs as [(typeof tabs)[0]]
  await first.store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
  for (const t of tabs.slice(1)) t.store.dispatch(loggedIn(loadAuth(storage)!))
  const conn = (t: (typeof tabs)[0]) => selectConnection(t.store.getState())
  await until(
    () =>
      tabs.every((t) => conn(t).status === 'connected') && tabs.filter((t) => conn(t).role === 'leader').length === 1,
  )
  const created = await first.store.dispatch(api.endpoints.createConversation.initiate({ participantId: bobId }))
  const conversationId = (created as { data: { id: string } }).data.id
  for (const t of tabs) {
    const sub = t.store.dispatch(api.endpoints.getMessages.initiate(conversationId))
    stops.push(() => sub.unsubscribe())
    await sub
  }
  await until(() => tabs.every((t) => conn(t).status === 'connected' && !conn(t).syncing))

  slept = 120_000
  const expired = first.store.getState().auth.token
  const statuses = tabs.map((t) => {
    const seen: string[] = [conn(t).status]
    stops.push(
      t.store.subscribe(() => {
        if (seen.at(-1) !== conn(t).status) seen.push(conn(t).status)
      }),
    )
    return seen
  })
  requests.length = 0
  const marks = tabs.map((t) => t.actions.length)
  for (const t of tabs) t.triggers.fire('online')
  const { payload } = tabs[1]!.store.dispatch(sendMessage({ conversationId, content: 'back from sleep' }))
  const sentIn = (t: (typeof tabs)[0]) =>
    (api.endpoints.getMessages.select(conversationId)(t.store.getState()).data ?? []).filter(
      (m) => m.clientId === payload.clientId,
    )
  await until(
    () =>
      tabs.every((t) => conn(t).status === 'connected' && t.store.getState().auth.token !== expired) &&
      sentIn(tabs[1]!)[0]?.status === 'sent',
  )
  const bobThread = await bob.dispatch(api.endpoints.getMessages.initiate(conversationId, { forceRefetch: true }))
  const after = tabs.map((t, i) =>
    t.actions
      .slice(marks[i])
      .map((a) => a.type)
      .filter((type) => !type.startsWith('api/')),
  )
  expect(requests.filter((r) => r === '/api/auth/refresh')).toHaveLength(1)
  expect(
    after.flat().filter((t) => t === 'socket/sessionExpired' || t === 'auth/refreshFailed' || t === 'auth/loggedOut'),
  ).toEqual([])
  expect(after.flat()).not.toContain('socket/sendFailed')
  expect((bobThread.data ?? []).filter((m) => m.clientId === payload.clientId)).toHaveLength(1)
  expect(statuses.flat().filter((s) => s === 'unauthorized' || s === 'idle' || s === 'disconnected')).toEqual([])
})
