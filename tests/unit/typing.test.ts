import { combineReducers, configureStore } from '@reduxjs/toolkit'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { api, loggedIn, refreshFailed } from '../../src/api'
import { authSlice } from '../../src/app/authSlice'
import {
  connect,
  disconnect,
  createSocketMiddleware,
  presenceSlice,
  selectPresence,
  selectTyping,
  sendMessage,
  sendTyping,
  socketSlice,
} from '../../src/realtime'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob, message } from './support/fixtures'
import { socketOptions } from './support/mockStore'

// Typing and presence in the layer: the send throttle (one `typing` per conversation every 2 s) and the "is typing"
// line's expiry (5 s after the last notice, or at once when that person's message arrives), on fake timers.

const reducer = combineReducers({
  auth: authSlice.reducer,
  socket: socketSlice.reducer,
  presence: presenceSlice.reducer,
  api: api.reducer,
})

function setup() {
  return setupWith({})
}

function setupWith(over: Parameters<typeof socketOptions>[1]) {
  const sockets = fakeSockets()
  const store = configureStore({
    reducer,
    preloadedState: { auth: { token: 'token-1', user: alice } } as never,
    middleware: (gDM) =>
      gDM({ serializableCheck: false, immutableCheck: false }).concat(
        api.middleware,
        createSocketMiddleware(socketOptions(sockets, over) as never),
      ),
  })
  store.dispatch(connect())
  sockets.last.serverConnect()
  return { store, socket: sockets.last, sockets }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('sending typing notices', () => {
  test('sends at most one every 2 seconds per conversation while the user types', () => {
    const { store, socket } = setup()
    for (let i = 0; i < 10; i++) {
      store.dispatch(sendTyping({ conversationId: 'c1' }))
      vi.advanceTimersByTime(190)
    }
    expect(socket.sent('typing').map((p) => p.args)).toEqual([[{ conversationId: 'c1' }]])
    store.dispatch(sendTyping({ conversationId: 'c2' }))
    expect(socket.sent('typing')).toHaveLength(2)
    vi.advanceTimersByTime(100) // 2,000 ms after the first
    store.dispatch(sendTyping({ conversationId: 'c1' }))
    expect(socket.sent('typing').map((p) => p.args[0])).toEqual([
      { conversationId: 'c1' },
      { conversationId: 'c2' },
      { conversationId: 'c1' },
    ])
  })

  test('a sent message ends the burst: the next keystroke notifies at once', () => {
    const { store, socket } = setup()
    store.dispatch(sendTyping({ conversationId: 'c1' }))
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }))
    store.dispatch(sendTyping({ conversationId: 'c1' }))
    expect(socket.sent('typing')).toHaveLength(2)
  })

  test('sends nothing while the socket is down (a late notice is noise)', () => {
    const { store, socket } = setup()
    socket.serverDrop()
    store.dispatch(sendTyping({ conversationId: 'c1' }))
    expect(socket.sent('typing')).toEqual([])
  })
})

describe('showing who is typing', () => {
  test('shows a notice until 5 seconds after the last one', () => {
    const { store, socket } = setup()
    socket.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    expect(selectTyping(store.getState(), 'c1')).toEqual([bob.id])
    vi.advanceTimersByTime(4_000)
    socket.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    vi.advanceTimersByTime(4_999)
    expect(selectTyping(store.getState(), 'c1')).toEqual([bob.id])
    vi.advanceTimersByTime(1)
    expect(selectTyping(store.getState(), 'c1')).toEqual([])
  })

  test("goes at once when that person's message arrives, and its timer with it", () => {
    const { store, socket } = setup()
    // As after every handshake: logged events are applied once the store knows where the log stands.
    socket.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    socket.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    socket.serverEmit('message:new', message(1, { conversationId: 'c1', senderId: bob.id }), { offset: 1 })
    expect(selectTyping(store.getState(), 'c1')).toEqual([])
    // He types again: the first notice's timer is gone, so this one shows its full 5 seconds.
    vi.advanceTimersByTime(3_000)
    socket.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    vi.advanceTimersByTime(4_000)
    expect(selectTyping(store.getState(), 'c1')).toEqual([bob.id])
  })

  // The server may send a user's logged events out of offset order (its own node's before another node's): the layer
  // holds those above a hole. A notice that came after them on the socket is newer than they are: Bob's message (7),
  // then his typing again; when 6 fills the hole, his message must not end the notice that followed it.
  test('a notice that came after a held message of its sender stands once the hole fills', () => {
    const { store, socket } = setup()
    socket.serverEmit('sync:caughtUp', { offset: 5, epoch: 'e1' })
    socket.serverEmit('message:new', message(2, { conversationId: 'c1', senderId: bob.id }), { offset: 7 })
    socket.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    socket.serverEmit('conversation:read', { conversationId: 'c2', unreadCount: 0 }, { offset: 6 })
    expect(store.getState().socket.connection.offset).toBe(7)
    expect(selectTyping(store.getState(), 'c1')).toEqual([bob.id])
    // Its 5 seconds count from when it shows: ended by its timer, as any other.
    vi.advanceTimersByTime(5_000)
    expect(selectTyping(store.getState(), 'c1')).toEqual([])
  })

  test('a notice behind a hole that does not fill goes with the held events: the resume replays them', () => {
    const { store, socket, sockets } = setup()
    socket.serverEmit('sync:caughtUp', { offset: 5, epoch: 'e1' })
    socket.serverEmit('message:new', message(2, { conversationId: 'c1', senderId: bob.id }), { offset: 7 })
    socket.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    vi.advanceTimersByTime(2_000)
    expect(sockets.sockets).toHaveLength(2)
    sockets.last.serverConnect()
    sockets.last.serverEmit('message:new', message(1, { conversationId: 'c1', senderId: 'u-carol' }), { offset: 6 })
    sockets.last.serverEmit('message:new', message(2, { conversationId: 'c1', senderId: bob.id }), { offset: 7 })
    sockets.last.serverEmit('sync:caughtUp', { offset: 7, epoch: 'e1' })
    expect(store.getState().socket.connection.offset).toBe(7)
    expect(selectTyping(store.getState(), 'c1')).toEqual([])
  })

  test('rejects a malformed notice without changing anything', () => {
    const { store, socket } = setup()
    socket.serverEmit('typing', { conversationId: 'c1' })
    expect(selectTyping(store.getState(), 'c1')).toEqual([])
  })
})

describe('presence', () => {
  test('takes the snapshot, then each change', () => {
    const { store, socket } = setup()
    socket.serverEmit('presence:snapshot', {
      users: [{ userId: bob.id, online: false, lastSeenAt: '2026-01-01T10:00:00.000Z' }],
    })
    expect(selectPresence(store.getState(), bob.id)).toEqual({ online: false, lastSeenAt: '2026-01-01T10:00:00.000Z' })
    socket.serverEmit('presence:changed', { userId: bob.id, online: true, lastSeenAt: '2026-01-01T10:00:00.000Z' })
    expect(selectPresence(store.getState(), bob.id)?.online).toBe(true)
  })

  // The snapshot is the server's whole word on whose presence the user may know: someone it leaves out (no shared
  // conversation any more, as after a database reset) is no longer shown as the last change said.
  test('forgets whoever a new snapshot leaves out', () => {
    const { store, socket } = setup()
    socket.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: true, lastSeenAt: null }] })
    socket.serverEmit('presence:changed', { userId: 'u-carol', online: true, lastSeenAt: null })
    socket.serverDrop()
    socket.serverConnect('sock-2')
    socket.serverEmit('presence:snapshot', { users: [{ userId: 'u-carol', online: false, lastSeenAt: null }] })
    expect(selectPresence(store.getState(), bob.id)).toBeUndefined()
    expect(selectPresence(store.getState(), 'u-carol')).toEqual({ online: false, lastSeenAt: null })
  })

  // The layer closes the socket itself, unbound first (no `disconnected` comes): the app's own `disconnect`, or the
  // session found over while the socket was live (a refused refresh). Whatever it said before may be old by the time a
  // socket connects again (a login the next morning): until that connection's snapshot it is stale, as after a drop.
  test.each([
    [
      'the app disconnects, then connects again',
      (store: ReturnType<typeof setup>['store']) => {
        store.dispatch(disconnect())
        store.dispatch(connect())
      },
    ],
    [
      'the session ends under a live socket, and the same user logs in again',
      (store: ReturnType<typeof setup>['store']) => {
        store.dispatch(refreshFailed())
        expect(store.getState().socket.connection.status).toBe('unauthorized')
        store.dispatch(loggedIn({ token: 'token-2', user: alice }))
      },
    ],
  ])('what the socket said before %s is stale until the new snapshot', (_, closeAndOpen) => {
    const { store, sockets } = setupWith({ refreshFailed })
    sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    sockets.last.serverEmit('presence:snapshot', { users: [{ userId: bob.id, online: true, lastSeenAt: null }] })
    expect(store.getState().presence.stale).toBe(false)

    const before = sockets.last
    closeAndOpen(store)
    expect(before.connected).toBe(false)
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    expect(store.getState().socket.connection.status).toBe('connected')
    expect(store.getState().presence.stale).toBe(true)

    sockets.last.serverEmit('presence:snapshot', {
      users: [{ userId: bob.id, online: false, lastSeenAt: '2026-01-02T00:00:00.000Z' }],
    })
    expect(store.getState().presence.stale).toBe(false)
    expect(selectPresence(store.getState(), bob.id)?.online).toBe(false)
  })
})
