import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { loggedIn, loggedOut } from '../../../src/app/authSlice'
import {
  type AppSocket,
  connect,
  disconnect,
  outboxStorageKey,
  selectPendingMessages,
  sendMessage,
  socketHolderRequested,
} from '../../../src/realtime'
import type { FakeSocket } from '../support/fakeSocket'
import { alice, message } from '../support/fixtures'
import { aBrowser, connectedTabs, HEARTBEAT_MS, handshake, serve, settle, type Tab } from './support/tabStores'

// `socket/disconnect` is one tab's choice, not the browser's: a holder that disconnects hands the browser's socket to
// a tab that still wants it, and stays out of the election until its next `connect`. Stores with the real middleware,
// fake sockets, the in-memory channel and lock, on fake timers (heartbeat 100 ms: a follower would steal after 300).

const LOCK = 'talemy.socket.x'

/** What `useSocket().socket` gives the app in `tab`. */
const appSocket = (tab: Tab) =>
  (tab.store.dispatch(socketHolderRequested()) as unknown as { get(): AppSocket | null }).get()

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

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

  test('in a follower that then closes with a send over HTTP still unsent: the holder sends it, no reload needed', async () => {
    const b = aBrowser({ sharedOutbox: true })
    const [one, two] = await connectedTabs(b, ['t1', 't2'])
    two!.store.dispatch(disconnect())
    await settle(HEARTBEAT_MS)
    // Without a socket the tab sends over HTTP, which reaches no server here (RTK Query says so on the console, muted):
    // k1 waits in storage to go again.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      two!.store.dispatch(sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }))
      await settle(HEARTBEAT_MS)
      expect(selectPendingMessages(two!.store.getState()).map((m) => m.clientId)).toEqual(['k1'])
      // The page goes (its goodbye, then the browser lets its locks go).
      two!.dispose()
      b.edges.crash('t2')
      await settle(10 * HEARTBEAT_MS)
    } finally {
      quiet.mockRestore()
    }
    // The holder, still connected, takes over what it left and sends it on the browser's socket.
    const sends = one!.own[0]!.sent('message:send')
    expect(sends.map((p) => (p.args[0] as { clientId: string }).clientId)).toEqual(['k1'])
    sends[0]!.ack({ ok: true, data: message(1, { senderId: alice.id, clientId: 'k1', conversationId: 'c1' }) })
    await settle()
    expect(b.storage!.getItem(outboxStorageKey(alice.id))).toBeNull()
    one!.dispose()
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

  // Socket.IO's `disconnect()` from the client is deliberate and never retried by itself: the app's own call on the
  // socket it holds (`useSocket().socket`, the real one in the holder) is this tab's choice, as `socket/disconnect`.
  test('the app’s own socket.disconnect() in the holder: this tab is disconnected, a follower takes the socket over', async () => {
    const b = aBrowser()
    const [one, two, three] = await connectedTabs(b, ['t1', 't2', 't3'])
    const first = one!.own[0]!
    expect(appSocket(one!)).toBe(first)

    appSocket(one!)!.disconnect()
    await settle(HEARTBEAT_MS / 2)
    expect(one!.conn()).toMatchObject({ status: 'disconnected', role: 'follower' })
    expect(b.edges.locks.holder(LOCK)).toBe('t2')
    expect(appSocket(one!)).toBeNull()
    expect(two!.own).toHaveLength(1)
    serve(two!.own[0]!, 'sock-2', 3)
    await settle(HEARTBEAT_MS)
    expect([two!.conn(), three!.conn()]).toMatchObject([
      { status: 'connected', role: 'leader' },
      { status: 'connected', role: 'follower' },
    ])

    // Not retried: no handshake, no part in the election, until `connect`.
    await settle(10 * HEARTBEAT_MS)
    expect(one!.conn().status).toBe('disconnected')
    expect(first.connectCalls).toBe(1)
    expect(b.edges.locks.waiting(LOCK)).toEqual(['t3'])
    one!.store.dispatch(connect())
    await settle(HEARTBEAT_MS)
    expect(one!.conn()).toMatchObject({ status: 'connected', role: 'follower' })
    expect(b.sockets.sockets).toHaveLength(2)
  })

  test('the app’s own socket.disconnect() in a holder alone: disconnected, not retried; connect brings it back', async () => {
    const b = aBrowser()
    const [one] = await connectedTabs(b, ['t1'])
    appSocket(one!)!.disconnect()
    await settle(10 * HEARTBEAT_MS)
    expect(one!.conn()).toMatchObject({ status: 'disconnected', error: null })
    expect(one!.own[0]!.connectCalls).toBe(1)

    one!.store.dispatch(connect())
    await settle(HEARTBEAT_MS)
    expect(one!.conn().role).toBe('leader')
    serve(one!.own.at(-1)!, 'sock-2', 3)
    await settle()
    expect(one!.conn().status).toBe('connected')
  })

  test('the app’s own socket.disconnect() then socket.connect() in a holder alone: connected again, no socket left open unheard', async () => {
    const b = aBrowser()
    const [one] = await connectedTabs(b, ['t1'])
    const socket = appSocket(one!)!
    // Socket.IO's way offline and back, on the socket the app was given (one handler, so still in hand).
    socket.disconnect()
    socket.connect()
    await settle(HEARTBEAT_MS)
    const open = b.sockets.sockets.filter((s) => s.active)
    expect(open).toHaveLength(1)
    serve(open[0]!, 'sock-2', 3)
    await settle()
    expect(one!.conn()).toMatchObject({ status: 'connected', role: 'leader' })
    expect(appSocket(one!)).toBe(open[0])
  })

  // Socket.IO's `disconnect()` on a socket not yet connected fires no `disconnect`: what the holder's is while the
  // server cannot be reached, when an app is most likely to give up on it.
  test.each([
    ['during a handshake', (_socket: FakeSocket) => {}],
    ['while it waits out a backoff', (socket: FakeSocket) => socket.networkError()],
  ])(
    'the app’s own socket.disconnect() in a holder not connected (%s): disconnected, a follower takes over',
    async (_name, before) => {
      const b = aBrowser()
      const one = b.openTab('t1')
      one.store.dispatch(connect())
      await settle()
      const two = b.openTab('t2')
      two.store.dispatch(connect())
      await settle(HEARTBEAT_MS)
      const first = one.own[0]!
      before(first)
      await settle()
      expect([one.conn().role, two.conn().role, first.connected]).toEqual(['leader', 'follower', false])

      appSocket(one)!.disconnect()
      await settle(10 * HEARTBEAT_MS)
      expect(one.conn()).toMatchObject({ status: 'disconnected', role: 'follower' })
      expect(first.connectCalls).toBe(1)
      expect(b.edges.locks.holder(LOCK)).toBe('t2')
      expect(two.own).toHaveLength(1)
    },
  )
})
