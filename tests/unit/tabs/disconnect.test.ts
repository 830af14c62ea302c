import { configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { loggedIn, loggedOut } from '../../../src/app/authSlice'
import { api } from '../../../src/api'
import {
  connect,
  createSocketMiddleware,
  disconnect,
  manualRetryTriggers,
  selectConnection,
  type TabsOptions,
} from '../../../src/realtime'
import { shutdown } from '../../../src/realtime/actions'
import { manualVisibility } from '../../../src/realtime/tabs/visibility'
import { fakeSockets, type FakeSocket } from '../support/fakeSocket'
import { alice, message } from '../support/fixtures'
import { loggedInState, rootReducer, socketOptions } from '../support/mockStore'
import { browser } from './support/browser'

// `socket/disconnect` is one tab's choice, not the browser's: a holder that disconnects hands the browser's socket to
// a tab that still wants it, and stays out of the election until its next `connect`. Stores with the real middleware,
// fake sockets, the in-memory channel and lock, on fake timers (heartbeat 100 ms: a follower would steal after 300).

const HEARTBEAT_MS = 100
const LOCK = 'talemy.socket.x'

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

function aBrowser() {
  const edges = browser()
  const sockets = fakeSockets()
  function openTab(tabId: string) {
    const tabs: TabsOptions = {
      channelName: 'x',
      ...edges.tab(tabId),
      visibility: manualVisibility(true),
      tabId,
      heartbeatMs: HEARTBEAT_MS,
    }
    const actions: UnknownAction[] = []
    const record: Middleware = () => (next) => (action) => {
      actions.push(action as UnknownAction)
      return next(action)
    }
    const mine: FakeSocket[] = []
    const store = configureStore({
      reducer: rootReducer,
      preloadedState: loggedInState(),
      middleware: (gDM) =>
        gDM({ serializableCheck: false, immutableCheck: false })
          .prepend(record)
          .concat(
            api.middleware,
            createSocketMiddleware(
              socketOptions(sockets, {
                createSocket: (url, options) => {
                  const socket = sockets.createSocket(url, options)
                  mine.push(socket as unknown as FakeSocket)
                  return socket
                },
                tabs,
                retryTriggers: manualRetryTriggers().setup,
                backoff: { baseMs: 10, capMs: 20 },
              }),
            ),
          ),
    })
    return {
      tabId,
      store,
      /** The real sockets this tab made (as the holder). */
      own: mine,
      conn: () => selectConnection(store.getState()),
      /** The `message:new` offsets this tab's store got. */
      received: () =>
        actions.filter((a) => a.type === 'socket/message:new').map((a) => (a.meta as { offset?: number }).offset),
      dispose: () => store.dispatch(shutdown()),
    }
  }
  return { edges, sockets, openTab }
}

type Tab = ReturnType<ReturnType<typeof aBrowser>['openTab']>

async function settle(ms = 0) {
  await vi.advanceTimersByTimeAsync(ms)
  for (let i = 0; i < 30; i++) await Promise.resolve()
}

/** What `socket`'s handshake would carry now (its `auth` callback, as Socket.IO calls it). */
function handshake(socket: FakeSocket): unknown {
  let data: unknown
  ;(socket.options.auth as (cb: (d: object) => void) => void)((d) => (data = d))
  return data
}

/** `socket` connects as the server's `id` and says the store is caught up at `offset` (after replaying `replay`). */
function serve(socket: FakeSocket, id: string, offset: number, replay: number[] = []) {
  socket.serverConnect(id)
  for (const o of replay) socket.serverEmit('message:new', message(o), { offset: o })
  socket.serverEmit('sync:caughtUp', { offset, epoch: 'e1' })
}

/** Tabs opened one after the other, each connected; the first holds the browser's socket, caught up at offset 3. */
async function connectedTabs(b: ReturnType<typeof aBrowser>, ids: string[]): Promise<Tab[]> {
  const tabs: Tab[] = []
  for (const id of ids) {
    const tab = b.openTab(id)
    tab.store.dispatch(connect())
    await settle()
    if (tabs.length === 0) serve(tab.own[0]!, 'sock-1', 3)
    tabs.push(tab)
    await settle(HEARTBEAT_MS)
  }
  await settle(HEARTBEAT_MS)
  expect(tabs.map((t) => [t.conn().role, t.conn().status])).toEqual(
    tabs.map((_, i) => [i === 0 ? 'leader' : 'follower', 'connected']),
  )
  return tabs
}

describe('socket/disconnect with one socket per browser', () => {
  test('in the holder: a follower takes the socket over at once, the others ride on it, nothing is lost', async () => {
    const b = aBrowser()
    const [one, two, three] = await connectedTabs(b, ['t1', 't2', 't3'])
    const first = one!.own[0]!
    // An event the old socket brought: every tab has applied offset 4.
    first.serverEmit('message:new', message(4), { offset: 4 })
    await settle()
    expect([one!.received(), two!.received(), three!.received()]).toEqual([[4], [4], [4]])

    one!.store.dispatch(disconnect())
    // The holder closes its socket first, then lets the lock go: the next tab takes over without waiting for missed
    // heartbeats (300 ms here).
    expect(first.disconnectCalls).toBe(1)
    expect(b.edges.locks.holder(LOCK)).not.toBe('t1')
    await settle(HEARTBEAT_MS / 2)
    expect(two!.conn().role).toBe('leader')
    expect(three!.conn().role).toBe('follower')
    expect(two!.own).toHaveLength(1)
    const second = two!.own[0]!
    // It resumes from its own offset; an event logged meanwhile (5) is replayed, then live events follow.
    expect(handshake(second)).toEqual({ token: 'token-1', offset: 4, epoch: 'e1' })
    serve(second, 'sock-2', 5, [5])
    await settle(HEARTBEAT_MS)
    expect([two!.conn().status, three!.conn().status]).toEqual(['connected', 'connected'])
    second.serverEmit('message:new', message(6), { offset: 6 })
    await settle()
    expect([two!.received(), three!.received()]).toEqual([
      [4, 5, 6],
      [4, 5, 6],
    ])

    // The tab that disconnected stays so: no socket, no events, and no part in the election.
    await settle(10 * HEARTBEAT_MS)
    expect(one!.conn()).toMatchObject({ status: 'disconnected', role: 'follower' })
    expect(one!.own).toHaveLength(1)
    expect(one!.received()).toEqual([4])
    expect(b.edges.locks.waiting(LOCK)).toEqual(['t3'])
    expect(b.sockets.sockets).toHaveLength(2)

    // `connect` in it again: it rides on the new holder's socket as a follower, from its own offset.
    one!.store.dispatch(connect())
    await settle(HEARTBEAT_MS)
    expect(one!.conn()).toMatchObject({ status: 'connected', role: 'follower' })
    expect(one!.received()).toEqual([4, 5, 6])
    second.serverEmit('message:new', message(7), { offset: 7 })
    await settle()
    expect([one!.received(), two!.received(), three!.received()]).toEqual([
      [4, 5, 6, 7],
      [4, 5, 6, 7],
      [4, 5, 6, 7],
    ])
    expect(one!.own).toHaveLength(1)
    expect(b.sockets.sockets).toHaveLength(2)
    expect(b.edges.locks.waiting(LOCK)).toEqual(['t3', 't1'])
  })

  test('in a follower: it leaves the lock’s queue, so when the holder goes the socket goes to a tab that wants it', async () => {
    const b = aBrowser()
    const [one, two, three] = await connectedTabs(b, ['t1', 't2', 't3'])
    two!.store.dispatch(disconnect())
    await settle(HEARTBEAT_MS)
    expect(two!.conn()).toMatchObject({ status: 'disconnected', role: 'follower' })
    expect(one!.conn().status).toBe('connected')

    one!.dispose()
    await settle(HEARTBEAT_MS)
    expect(three!.conn().role).toBe('leader')
    expect(three!.own).toHaveLength(1)
    serve(three!.own[0]!, 'sock-2', 3)
    await settle(HEARTBEAT_MS)
    expect(three!.conn().status).toBe('connected')
    expect(two!.conn()).toMatchObject({ status: 'disconnected', role: 'follower' })
    expect(two!.own).toHaveLength(0)
  })

  test('in a tab alone: it is simply disconnected; connect makes it the holder again, with a socket of its own', async () => {
    const b = aBrowser()
    const [one] = await connectedTabs(b, ['t1'])
    const first = one!.own[0]!
    one!.store.dispatch(disconnect())
    await settle(10 * HEARTBEAT_MS)
    expect(one!.conn()).toMatchObject({ status: 'disconnected', error: null })
    expect(first.disconnectCalls).toBe(1)
    expect(b.sockets.sockets).toHaveLength(1)

    one!.store.dispatch(connect())
    await settle(HEARTBEAT_MS)
    expect(one!.conn().role).toBe('leader')
    expect(one!.own).toHaveLength(2)
    serve(one!.own[1]!, 'sock-2', 4, [4])
    await settle()
    expect(one!.conn().status).toBe('connected')
    expect(one!.received()).toEqual([4])
    expect(b.sockets.sockets).toHaveLength(2)
  })

  test('logout is the whole browser’s, as before: the holder keeps its part, and the next login brings the socket back', async () => {
    const b = aBrowser()
    const [one, two] = await connectedTabs(b, ['t1', 't2'])
    // Every tab follows a logout (the storage event), the holder first.
    one!.store.dispatch(loggedOut())
    two!.store.dispatch(loggedOut())
    await settle(10 * HEARTBEAT_MS)
    expect([one!.conn(), two!.conn()]).toMatchObject([
      { status: 'idle', role: 'leader' },
      { status: 'idle', role: 'follower' },
    ])
    expect(b.edges.locks.holder(LOCK)).toBe('t1')
    expect(b.sockets.sockets).toHaveLength(1)

    // A login (followed by every tab): the holder opens the browser's socket again, the follower rides on it.
    one!.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    two!.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    await settle()
    expect(one!.own).toHaveLength(2)
    serve(one!.own[1]!, 'sock-2', 3)
    await settle(HEARTBEAT_MS)
    expect([one!.conn(), two!.conn()]).toMatchObject([
      { status: 'connected', role: 'leader' },
      { status: 'connected', role: 'follower' },
    ])
    expect(b.sockets.sockets).toHaveLength(2)
  })
})
