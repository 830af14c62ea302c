import { configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { api, loggedOut } from '../../src/api'
import type { ServerEventName } from '../../src/contract'
import {
  connect,
  connected,
  createSocketMiddleware,
  connectFailed,
  disconnect,
  disconnected,
  drainStarted,
  drainStopped,
  eventRejected,
  internalError,
  joinConversation,
  joined,
  joinFailed,
  leaveConversation,
  reconnecting,
  sendConfirmed,
  sendFailed,
  sendMessage,
  sendRetryScheduled,
  serverEventActions,
  sessionEnded,
  sessionExpired,
  shutdown,
  syncCaughtUp,
} from '../../src/realtime'
import { alice, contactRequest, conversation, lesson, message, T0 } from './support/fixtures'
import { type FakeSocket, fakeSockets } from './support/fakeSocket'
import { apiStateWith, loggedInState, mockStore, rootReducer, settle, socketOptions } from './support/mockStore'

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date(T0))
})
afterEach(() => {
  vi.useRealTimers()
})

/** `socket/connected` at any time (the backoff's fake timers moved the clock). */
const onlineAnyTime = (id: string, recovered = false) => ({
  ...connected({ socketId: id, recovered }),
  meta: { at: expect.any(String) as unknown as string },
})

/** The server's side of a connection: the handshake, then its sync (`sync:caughtUp`, nothing missed). */
function online(socket: FakeSocket, id?: string) {
  socket.serverConnect(id)
  socket.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
}
const caughtUp = syncCaughtUp({ offset: 0, epoch: 'e1', recovered: false })
const resumed = syncCaughtUp({ offset: 0, epoch: 'e1', recovered: true })

function connectedStore(...args: Parameters<typeof mockStore>) {
  const setup = mockStore(...args)
  setup.dispatch(connect())
  online(setup.sockets.last)
  setup.store.clearActions()
  return setup
}

describe('connecting', () => {
  test('connect creates one socket whose handshake reads the current token', () => {
    const { dispatch, store, sockets } = mockStore()
    dispatch(connect())
    dispatch(connect())
    expect(sockets.sockets).toHaveLength(1)
    const socket = sockets.last
    expect(socket.url).toBe('http://api.test')
    expect(socket.options).toMatchObject({ autoConnect: false, forceNew: true, reconnection: false })
    expect(socket.connectCalls).toBe(1)
    expect(socket.handshakeToken()).toBe('token-1')
    expect(store.getActions()).toEqual([connect(), connect()])
  })

  test('without a logged-in user, connect does nothing', () => {
    const { dispatch, store, sockets } = mockStore(rootReducer(undefined, { type: 'init' }))
    dispatch(connect())
    expect(sockets.sockets).toHaveLength(0)
    expect(store.getActions()).toEqual([])
    expect(store.getState().socket.connection.status).toBe('idle')
  })

  test('connected, a drop, attempts (the middleware’s backoff, one action each), connected again: the exact actions', () => {
    const { dispatch, store, sockets } = mockStore()
    dispatch(connect())
    const socket = sockets.last
    socket.serverConnect('sock-1')
    socket.serverDrop('transport close')
    // Full jitter with random 0.5: attempt 1 after 250 ms (0.5 × 500), attempt 2 after 500 ms (0.5 × 1000).
    vi.advanceTimersByTime(249)
    expect(socket.connectCalls).toBe(1)
    vi.advanceTimersByTime(1)
    expect(socket.connectCalls).toBe(2)
    socket.networkError()
    vi.advanceTimersByTime(500)
    expect(socket.connectCalls).toBe(3)
    socket.serverConnect('sock-2', true)
    expect(store.getActions()).toEqual([
      connect(),
      onlineAnyTime('sock-1'),
      disconnected({ reason: 'transport close' }),
      reconnecting({ attempt: 1 }),
      connectFailed({ code: 'NETWORK', message: 'xhr poll error' }),
      reconnecting({ attempt: 2 }),
      onlineAnyTime('sock-2', true),
    ])
    expect(store.getState().socket.connection).toEqual({
      status: 'connected',
      socketId: 'sock-2',
      error: null,
      attempt: 0,
      lastConnectedAt: '2026-11-24T08:00:00.750Z',
      offset: null,
      epoch: null,
      syncing: true,
      role: 'solo',
    })
    expect(sockets.sockets).toHaveLength(1)
  })

  test('disconnect closes the socket and removes every listener; connect makes a new one', () => {
    const { dispatch, store, sockets } = connectedStore()
    const first = sockets.last
    dispatch(disconnect())
    expect(first.disconnectCalls).toBe(1)
    expect(first.listenerCount() + first.io.listenerCount()).toBe(0)
    expect(store.getState().socket.connection.status).toBe('disconnected')
    dispatch(connect())
    expect(sockets.sockets).toHaveLength(2)
    expect(store.getState().socket.connection.status).toBe('connecting')
  })

  test('listeners do not pile up over many connect/disconnect cycles', () => {
    const { dispatch, sockets } = mockStore()
    dispatch(connect())
    const perSocket = sockets.last.listenerCount() + sockets.last.io.listenerCount()
    for (let i = 0; i < 200; i++) {
      sockets.last.serverConnect(`s${i}`)
      dispatch(disconnect())
      dispatch(connect())
    }
    const live = sockets.last
    expect(live.listenerCount() + live.io.listenerCount()).toBe(perSocket)
    expect(sockets.sockets.slice(0, -1).every((s) => s.listenerCount() + s.io.listenerCount() === 0)).toBe(true)
  })

  test('a refused handshake refreshes the token once, then reconnects with it', async () => {
    const refreshToken = vi.fn(async () => 'refreshed' as const)
    const { dispatch, store, sockets } = mockStore(undefined, { refreshToken })
    dispatch(connect())
    const socket = sockets.last
    socket.serverRefuse('UNAUTHORIZED')
    await settle()
    expect(refreshToken).toHaveBeenCalledTimes(1)
    expect(socket.connectCalls).toBe(2)
    expect(store.getState().socket.connection.status).toBe('connecting')
    // Refused again with the fresh token: the session is over.
    socket.serverRefuse('UNAUTHORIZED')
    await settle()
    expect(refreshToken).toHaveBeenCalledTimes(1)
    expect(store.getActions()).toEqual([
      connect(),
      connectFailed({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' }),
      connectFailed({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' }),
      sessionExpired({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' }),
    ])
    expect(store.getState().socket.connection.status).toBe('unauthorized')
    expect(socket.listenerCount()).toBe(0)
  })

  test('a refused handshake whose refresh is refused → unauthorized, and connect waits for a login', async () => {
    const { dispatch, store, sockets } = mockStore()
    dispatch(connect())
    sockets.last.serverRefuse('UNAUTHORIZED')
    await settle()
    expect(store.getState().socket.connection.status).toBe('unauthorized')
    dispatch(connect())
    expect(sockets.sockets).toHaveLength(1)
  })

  test('a server-side kick reconnects only after a token refresh', async () => {
    const refreshToken = vi.fn(async () => 'refreshed' as const)
    const { store, sockets } = connectedStore(undefined, { refreshToken })
    const socket = sockets.last
    socket.serverKick()
    expect(store.getState().socket.connection.status).toBe('reconnecting')
    // The refresh waits a jittered backoff first (random 0.5 × 500 ms): a kick may have come to every client at once.
    await vi.advanceTimersByTimeAsync(250)
    expect(refreshToken).toHaveBeenCalledTimes(1)
    expect(socket.connectCalls).toBe(2)
    expect(store.getActions()).toEqual([disconnected({ reason: 'io server disconnect' }), reconnecting({ attempt: 1 })])
  })

  test('another refusal (not UNAUTHORIZED) is retried with backoff, since Socket.IO will not', async () => {
    const { dispatch, store, sockets } = mockStore(undefined, { backoff: { baseMs: 1000, capMs: 30_000 } })
    dispatch(connect())
    const socket = sockets.last
    socket.serverRefuse('FORBIDDEN')
    expect(store.getActions()).toEqual([connect(), connectFailed({ code: 'FORBIDDEN', message: 'FORBIDDEN' })])
    vi.advanceTimersByTime(499) // random 0.5 × 1000
    expect(socket.connectCalls).toBe(1)
    vi.advanceTimersByTime(1)
    expect(socket.connectCalls).toBe(2)
    expect(store.getActions()).toEqual([
      connect(),
      connectFailed({ code: 'FORBIDDEN', message: 'FORBIDDEN' }),
      reconnecting({ attempt: 1 }),
    ])
  })

  test('a handshake refused INTERNAL (the server could not check the session) is retried with backoff on the same token: no refresh, never unauthorized', async () => {
    const refreshToken = vi.fn(async () => 'refreshed' as const)
    const { dispatch, store, sockets } = mockStore(undefined, {
      refreshToken,
      backoff: { baseMs: 1000, capMs: 30_000 },
    })
    dispatch(connect())
    const socket = sockets.last
    const refused = connectFailed({ code: 'INTERNAL', message: 'INTERNAL' })
    // Refused again and again (a database that stays down a while), each time after a longer wait.
    for (const [attempt, waitMs] of [
      [1, 500],
      [2, 1000],
      [3, 2000],
    ] as const) {
      socket.serverRefuse('INTERNAL')
      await settle()
      expect(store.getState().socket.connection).toMatchObject({
        status: 'connecting',
        error: { code: 'INTERNAL', message: 'INTERNAL' },
      })
      await vi.advanceTimersByTimeAsync(waitMs - 1) // random 0.5 × min(cap, 1000 · 2^(attempt-1))
      expect(socket.connectCalls).toBe(attempt)
      await vi.advanceTimersByTimeAsync(1)
      expect(socket.connectCalls).toBe(attempt + 1)
      expect(socket.handshakeToken()).toBe(store.getState().auth.token)
    }
    expect(refreshToken).not.toHaveBeenCalled()
    expect(store.getActions()).toEqual([
      connect(),
      refused,
      reconnecting({ attempt: 1 }),
      refused,
      reconnecting({ attempt: 2 }),
      refused,
      reconnecting({ attempt: 3 }),
    ])
    // The database is back: the same token gets in.
    socket.serverConnect()
    expect(store.getState().socket.connection.status).toBe('connected')
  })

  test('errors never escape: a throwing socket factory becomes an action', () => {
    const { dispatch, store } = mockStore(undefined, {
      createSocket: () => {
        throw new Error('boom')
      },
    })
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    // Restored even when an assertion fails: the files after this one in the thread would print no error at all.
    try {
      expect(() => dispatch(connect())).not.toThrow()
      expect(store.getActions()).toEqual([connect(), internalError({ where: 'middleware', message: 'boom' })])
    } finally {
      spy.mockRestore()
    }
  })
})

const payloads: Record<ServerEventName, unknown> = {
  'message:new': message(3),
  'message:sent': message(3, { senderId: alice.id, clientId: 'k1' }),
  'conversation:read': { conversationId: 'c1', unreadCount: 0 },
  'conversation:seen': { conversationId: 'c1', userId: 'bob', seq: 3 },
  'lesson:created': lesson('l1'),
  'lesson:statusUpdated': lesson('l1', { status: 'confirmed' }),
  'contactRequest:created': contactRequest('r1'),
  'contactRequest:statusUpdated': contactRequest('r1', { status: 'accepted' }),
}

describe('server events', () => {
  test.each(Object.entries(payloads) as [ServerEventName, unknown][])(
    '%s → socket/%s with the validated payload',
    (event, payload) => {
      const { store, sockets } = connectedStore()
      sockets.last.serverEmit(event, { ...(payload as object), unexpected: 'dropped' })
      expect(store.getActions()).toEqual([(serverEventActions[event] as (p: unknown) => unknown)(payload)])
    },
  )

  test.each<[string, ServerEventName, unknown, { path: string; message: string }[]]>([
    ['a wrong type', 'message:new', { ...message(3), seq: 'three' }, [{ path: 'seq', message: 'expected number' }]],
    [
      'a missing field',
      'lesson:created',
      { ...lesson('l1'), status: undefined },
      [{ path: 'status', message: 'is required' }],
    ],
    ['not an object', 'conversation:read', 'c1', [{ path: '', message: 'expected Object' }]],
    [
      'an unknown status',
      'contactRequest:statusUpdated',
      { ...contactRequest('r1'), status: 'maybe' },
      [{ path: 'status', message: expect.any(String) as unknown as string }],
    ],
  ])('%s → socket/eventRejected only, state unchanged', (_name, event, payload, issues) => {
    const { store, sockets } = connectedStore()
    const before = store.getState()
    sockets.last.serverEmit(event, payload)
    expect(store.getActions()).toEqual([eventRejected({ event, issues })])
    const after = store.getState()
    expect(after.api).toBe(before.api)
    expect(after.socket).toEqual(before.socket)
  })

  test('the event action comes before its cache patch', async () => {
    const seeded = await apiStateWith(async (dispatch) => {
      await dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1), message(2)]))
      await dispatch(
        api.util.upsertQueryData('getConversations', undefined, [conversation('c1', { lastMessage: message(2) })]),
      )
    })
    const { store, sockets } = connectedStore({ ...loggedInState(), api: seeded })
    const m3 = message(3)
    sockets.last.serverEmit('message:new', m3)
    // The event is in the store at once; its cache work follows at the end of the task.
    expect(store.getActions()).toEqual([serverEventActions['message:new'](m3)])
    await settle()
    expect(store.getActions()).toEqual([
      serverEventActions['message:new'](m3),
      // Each entry's next list as one root replace (see cacheWorkForBurst).
      api.internalActions.queryResultPatched({
        queryCacheKey: 'getMessages("c1")' as never,
        patches: [{ op: 'replace', path: [], value: [message(1), message(2), m3] }],
      }),
      api.internalActions.queryResultPatched({
        queryCacheKey: 'getConversations(undefined)' as never,
        patches: [
          {
            op: 'replace',
            path: [],
            value: [conversation('c1', { lastMessage: m3, unreadCount: 1, updatedAt: m3.createdAt })],
          },
        ],
      }),
    ])
    expect(
      api.endpoints.getMessages
        .select('c1')(store.getState())
        .data?.map((m) => m.seq),
    ).toEqual([1, 2, 3])
  })
})

describe('rooms', () => {
  test('join emits with an ack and a timeout; an ok ack → socket/joined', async () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(joinConversation({ conversationId: 'c1' }))
    const [packet] = sockets.last.sent('conversation:join')
    expect(packet).toMatchObject({ args: ['c1'], timeoutMs: 5000 })
    packet!.ack({ ok: true, data: null })
    await settle()
    expect(store.getActions()).toEqual([joinConversation({ conversationId: 'c1' }), joined({ conversationId: 'c1' })])
  })

  test.each([
    ['FORBIDDEN', []],
    ['NOT_FOUND', []],
  ] as const)('a join refused with %s → socket/joinFailed, the room is forgotten', async (code, rooms) => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(joinConversation({ conversationId: 'c1' }))
    sockets.last.sent('conversation:join')[0]!.ack({ ok: false, error: { code, message: 'no' } })
    await settle()
    expect(store.getActions()).toEqual([
      joinConversation({ conversationId: 'c1' }),
      joinFailed({ conversationId: 'c1', code }),
    ])
    expect(store.getState().socket.rooms).toEqual(rooms)
  })

  test('a join not answered in time → socket/joinFailed NETWORK, the room stays wanted', async () => {
    const { dispatch, store } = connectedStore()
    dispatch(joinConversation({ conversationId: 'c1' }))
    await vi.advanceTimersByTimeAsync(5000)
    expect(store.getActions()).toEqual([
      joinConversation({ conversationId: 'c1' }),
      joinFailed({ conversationId: 'c1', code: 'NETWORK' }),
    ])
    expect(store.getState().socket.rooms).toEqual(['c1'])
  })

  test('a join not answered in time is tried again after a backoff that grows (full jitter), until it is in', async () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(joinConversation({ conversationId: 'c1' }))
    const joins = () => sockets.last.sent('conversation:join')
    await vi.advanceTimersByTimeAsync(5000)
    // random 0.5: the first wait is 0.5 × 500 ms, the second 0.5 × 1000 ms.
    await vi.advanceTimersByTimeAsync(249)
    expect(joins()).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(joins().map((p) => p.args)).toEqual([['c1'], ['c1']])
    await vi.advanceTimersByTimeAsync(5000 + 499)
    expect(joins()).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    joins()[2]!.ack({ ok: true, data: null })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(joins()).toHaveLength(3)
    expect(store.getActions()).toEqual([
      joinConversation({ conversationId: 'c1' }),
      joinFailed({ conversationId: 'c1', code: 'NETWORK' }),
      joinFailed({ conversationId: 'c1', code: 'NETWORK' }),
      joined({ conversationId: 'c1' }),
    ])
  })

  test('a join the server could not do (INTERNAL) is tried again; RATE_LIMITED waits at least its retryAfterMs', async () => {
    const { dispatch, sockets } = connectedStore()
    const joins = () => sockets.last.sent('conversation:join')
    dispatch(joinConversation({ conversationId: 'c1' }))
    joins()[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await vi.advanceTimersByTimeAsync(250)
    expect(joins()).toHaveLength(2)
    joins()[1]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3000 } })
    await vi.advanceTimersByTimeAsync(2999)
    expect(joins()).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    expect(joins().map((p) => p.args)).toEqual([['c1'], ['c1'], ['c1']])
  })

  test('a failed join is not tried again once the room is left, or after a drop (the reconnect joins it, once)', async () => {
    const { dispatch, sockets } = connectedStore()
    const socket = sockets.last
    const joins = () => socket.sent('conversation:join').map((p) => p.args[0])
    dispatch(joinConversation({ conversationId: 'c1' }))
    dispatch(joinConversation({ conversationId: 'c2' }))
    socket.sent('conversation:join')[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    socket.sent('conversation:join')[1]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await settle()
    dispatch(leaveConversation({ conversationId: 'c1' }))
    socket.serverDrop()
    await vi.advanceTimersByTimeAsync(1000)
    expect(joins()).toEqual(['c1', 'c2'])
    online(socket, 'sock-2')
    expect(joins()).toEqual(['c1', 'c2', 'c2'])
    await vi.advanceTimersByTimeAsync(4000)
    expect(joins()).toEqual(['c1', 'c2', 'c2'])
  })

  test('a failed join waits for its retry no longer once the session ends (logout): no timer is left', async () => {
    const { dispatch, sockets } = connectedStore()
    dispatch(joinConversation({ conversationId: 'c1' }))
    sockets.last.sent('conversation:join')[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await settle()
    expect(vi.getTimerCount()).toBe(1)
    dispatch(loggedOut())
    expect(vi.getTimerCount()).toBe(0)
  })

  test('of two joins of a room in flight (join, leave, join) only the latest decides: one retry, at the first backoff', async () => {
    const { dispatch, sockets } = connectedStore()
    const joins = () => sockets.last.sent('conversation:join')
    dispatch(joinConversation({ conversationId: 'c1' }))
    dispatch(leaveConversation({ conversationId: 'c1' }))
    dispatch(joinConversation({ conversationId: 'c1' }))
    joins()[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    joins()[1]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await vi.advanceTimersByTimeAsync(250)
    expect(joins()).toHaveLength(3)
    joins()[2]!.ack({ ok: true, data: null })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(joins()).toHaveLength(3)
  })

  test('a new connection starts the backoff over: a failure after a reconnect waits the first wait again', async () => {
    const { dispatch, sockets } = connectedStore()
    const socket = sockets.last
    const joins = () => socket.sent('conversation:join')
    dispatch(joinConversation({ conversationId: 'c1' }))
    joins()[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await vi.advanceTimersByTimeAsync(250)
    joins()[1]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await settle()
    socket.serverDrop()
    await vi.advanceTimersByTimeAsync(250)
    online(socket, 'sock-2')
    expect(joins()).toHaveLength(3)
    joins()[2]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await vi.advanceTimersByTimeAsync(249)
    expect(joins()).toHaveLength(3)
    await vi.advanceTimersByTimeAsync(1)
    expect(joins()).toHaveLength(4)
  })

  test('leave emits conversation:leave', () => {
    const { dispatch, sockets } = connectedStore()
    dispatch(leaveConversation({ conversationId: 'c1' }))
    expect(sockets.last.sent('conversation:leave').map((p) => p.args)).toEqual([['c1']])
  })

  test('every wanted room is joined again after each (re)connect, and not while offline', async () => {
    const { dispatch, store, sockets } = mockStore()
    dispatch(joinConversation({ conversationId: 'c1' }))
    dispatch(connect())
    const socket = sockets.last
    expect(socket.sent('conversation:join')).toHaveLength(0)
    online(socket, 'sock-1')
    dispatch(joinConversation({ conversationId: 'c2' }))
    for (const p of socket.sent('conversation:join')) p.ack({ ok: true, data: null })
    await settle()
    socket.serverDrop()
    vi.advanceTimersByTime(250)
    // Joining marks a thread read: not before the connection has synced (what was missed may have to be read again).
    socket.serverConnect('sock-2')
    expect(socket.sent('conversation:join')).toHaveLength(2)
    socket.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    expect(socket.sent('conversation:join').map((p) => p.args[0])).toEqual(['c1', 'c2', 'c1', 'c2'])
    for (const p of socket.sent('conversation:join').slice(2)) p.ack({ ok: true, data: null })
    await settle()
    expect(store.getActions()).toEqual([
      joinConversation({ conversationId: 'c1' }),
      connect(),
      onlineAnyTime('sock-1'),
      caughtUp,
      joinConversation({ conversationId: 'c2' }),
      joined({ conversationId: 'c1' }),
      joined({ conversationId: 'c2' }),
      disconnected({ reason: 'transport close' }),
      reconnecting({ attempt: 1 }),
      onlineAnyTime('sock-2'),
      resumed,
      // No refetch after a reconnect: the server replays what was missed (a `sync:gap` alone refetches).
      joined({ conversationId: 'c1' }),
      joined({ conversationId: 'c2' }),
    ])
  })
})

describe('sending over the socket', () => {
  const send = (clientId: string, content = `text ${clientId}`) =>
    sendMessage({ conversationId: 'c1', content, clientId })
  const stored = (seq: number, clientId: string) =>
    message(seq, { senderId: alice.id, clientId, content: `text ${clientId}` })

  test('emits message:send with an ack; the ack confirms it', async () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(send('k1'))
    const [packet] = sockets.last.sent('message:send')
    expect(packet).toMatchObject({
      args: [{ conversationId: 'c1', content: 'text k1', clientId: 'k1' }],
      timeoutMs: 5000,
    })
    packet!.ack({ ok: true, data: stored(1, 'k1') })
    await settle()
    expect(store.getActions()).toEqual([
      send('k1'),
      drainStarted(),
      sendConfirmed({ message: stored(1, 'k1') }),
      drainStopped(),
    ])
    expect(store.getState().socket.outbox).toEqual([])
  })

  test.each(['INVALID', 'FORBIDDEN', 'NOT_FOUND'] as const)('a refusal (%s) marks it failed', async (code) => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(send('k1'))
    sockets.last.sent('message:send')[0]!.ack({ ok: false, error: { code, message: 'refused' } })
    await settle()
    expect(store.getActions()).toEqual([
      send('k1'),
      drainStarted(),
      sendFailed({ clientId: 'k1', error: { code, message: 'refused' } }),
      drainStopped(),
    ])
    expect(store.getState().socket.outbox[0]).toMatchObject({ status: 'failed' })
  })

  test('RATE_LIMITED keeps it pending and tries again after retryAfterMs', async () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(send('k1'))
    const error = { code: 'RATE_LIMITED' as const, message: 'slow down' }
    sockets.last.sent('message:send')[0]!.ack({ ok: false, error: { ...error, retryAfterMs: 1500 } })
    await settle()
    expect(store.getActions()).toEqual([
      send('k1'),
      drainStarted(),
      sendRetryScheduled({ clientId: 'k1', attempt: 1, delayMs: 1500, error }),
    ])
    await vi.advanceTimersByTimeAsync(1499)
    expect(sockets.last.sent('message:send')).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(sockets.last.sent('message:send').map((p) => p.args[0])).toEqual([
      { conversationId: 'c1', content: 'text k1', clientId: 'k1' },
      { conversationId: 'c1', content: 'text k1', clientId: 'k1' },
    ])
  })

  test('content the server would refuse fails at once, without a round trip', () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(send('k1', ''))
    expect(sockets.last.sent('message:send')).toHaveLength(0)
    expect(store.getActions()).toEqual([
      send('k1', ''),
      sendFailed({ clientId: 'k1', error: { code: 'INVALID', message: 'content: must not be empty' } }),
    ])
  })

  test('one at a time per conversation, in the order written', async () => {
    const { dispatch, sockets } = connectedStore()
    dispatch(send('k1'))
    dispatch(send('k2'))
    dispatch(sendMessage({ conversationId: 'c2', content: 'elsewhere', clientId: 'k3' }))
    expect(sockets.last.sent('message:send').map((p) => (p.args[0] as { clientId: string }).clientId)).toEqual([
      'k1',
      'k3',
    ])
    sockets.last.sent('message:send')[0]!.ack({ ok: true, data: stored(1, 'k1') })
    await settle()
    expect(sockets.last.sent('message:send').map((p) => (p.args[0] as { clientId: string }).clientId)).toEqual([
      'k1',
      'k3',
      'k2',
    ])
  })

  test('the next send of a conversation goes once message:sent confirms the one in flight, before its ack', async () => {
    const { dispatch, sockets } = connectedStore()
    dispatch(send('k1'))
    dispatch(send('k2'))
    // The server stored k1 and told every socket of the sender; its ack is still on its way.
    sockets.last.serverEmit('message:sent', stored(1, 'k1'))
    await settle()
    const clientIds = () => sockets.last.sent('message:send').map((p) => (p.args[0] as { clientId: string }).clientId)
    expect(clientIds()).toEqual(['k1', 'k2'])
    // The late ack changes nothing: k2 is not sent twice, nor k1 again.
    sockets.last.sent('message:send')[0]!.ack({ ok: true, data: stored(1, 'k1') })
    await settle()
    expect(clientIds()).toEqual(['k1', 'k2'])
  })

  test('an ack that confirms another message is not trusted: the send is retried after a backoff, not at once', async () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(send('k1'))
    sockets.last.sent('message:send')[0]!.ack({ ok: true, data: stored(1, 'another') })
    await settle()
    expect(store.getActions()[2]).toMatchObject({
      type: sendRetryScheduled.type,
      payload: { clientId: 'k1', error: { code: 'INTERNAL' } },
    })
    expect(sockets.last.sent('message:send')).toHaveLength(1)
    expect(store.getState().socket.outbox.map((m) => m.clientId)).toEqual(['k1'])
  })

  test('a malformed ack is not trusted: the send is retried', async () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(send('k1'))
    sockets.last.sent('message:send')[0]!.ack({ ok: true, data: { id: 42 } })
    await settle()
    expect(store.getActions()[2]).toMatchObject({
      type: sendRetryScheduled.type,
      payload: { clientId: 'k1', error: { code: 'INTERNAL' } },
    })
  })
})

describe('a store listener that throws', () => {
  test('in a store that notifies at once: a server event still gets its cache work, and the error is reported', async () => {
    const sockets = fakeSockets()
    const reported: unknown[] = []
    const recording: Middleware = () => (next) => (action) => {
      if (internalError.match(action)) reported.push(action.payload)
      return next(action)
    }
    const store = configureStore({
      reducer: rootReducer,
      preloadedState: loggedInState(),
      middleware: (gDM) =>
        gDM({ serializableCheck: false, immutableCheck: false })
          .prepend(recording)
          .concat(api.middleware, createSocketMiddleware(socketOptions(sockets))),
      // No auto-batching: listeners run inside every dispatch.
      enhancers: (gDE) => gDE({ autoBatch: false }),
    })
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    store.dispatch(connect())
    sockets.last.serverConnect()
    let thrown = false
    store.subscribe(() => {
      if (thrown) return
      thrown = true
      throw new Error('a listener failed')
    })
    const unsubscribe = store.subscribe(() => undefined)
    sockets.last.serverEmit('message:new', message(2))
    await settle()
    const thread = api.endpoints.getMessages.select('c1')(store.getState()).data ?? []
    expect(thread.map((m) => m.id)).toEqual(['m1', 'm2'])
    // The error itself reached the socket's binding, which reports it.
    expect(reported).toEqual([{ where: 'message:new', message: 'a listener failed' }])
    unsubscribe()
  })
})

describe('a reducer that throws on a send', () => {
  test('with the socket down: the pending copy put in its thread ahead of the reducer goes again (nothing would send it)', async () => {
    const sockets = fakeSockets()
    let failing = true
    const store = configureStore({
      reducer: (state: ReturnType<typeof rootReducer> | undefined, action: UnknownAction) => {
        if (failing && sendMessage.match(action)) throw new Error('a reducer failed')
        return rootReducer(state, action)
      },
      preloadedState: loggedInState(),
      middleware: (gDM) =>
        gDM({
          serializableCheck: false,
          immutableCheck: false,
          // The send taken goes over HTTP, the socket being down: left unanswered, so that neither its failure nor its
          // retries reach the files this worker runs next.
          thunk: { extraArgument: { apiUrl: 'http://api.test', fetchFn: () => new Promise<Response>(() => {}) } },
        }).concat(api.middleware, createSocketMiddleware(socketOptions(sockets))),
    })
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    const thread = () => (api.endpoints.getMessages.select('c1')(store.getState()).data ?? []).map((m) => m.id)
    expect(() => store.dispatch(sendMessage({ conversationId: 'c1', content: 'x', clientId: 'k1' }))).toThrow(
      'a reducer failed',
    )
    expect(store.getState().socket.outbox).toEqual([])
    expect(thread()).toEqual(['m1'])
    failing = false
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'x', clientId: 'k2' }))
    expect(thread()).toEqual(['m1', 'k2'])
    store.dispatch(shutdown())
  })
})

describe('logout', () => {
  test('disconnects, forgets rooms and pending sends, resets the api state', async () => {
    const { dispatch, store, sockets } = connectedStore()
    dispatch(joinConversation({ conversationId: 'c1' }))
    dispatch(sendMessage({ conversationId: 'c1', content: 'bye', clientId: 'k1' }))
    store.clearActions()
    const socket = sockets.last
    dispatch(loggedOut())
    expect(store.getActions()).toEqual([loggedOut(), sessionEnded(), drainStopped(), api.util.resetApiState()])
    expect(socket.disconnectCalls).toBe(1)
    expect(socket.listenerCount() + socket.io.listenerCount()).toBe(0)
    expect(store.getState().socket).toEqual(rootReducer(undefined, { type: 'init' }).socket)
    // A late ack for the old session changes nothing.
    socket.sent('message:send')[0]!.ack({ ok: true, data: message(1, { clientId: 'k1' }) })
    await settle()
    expect(store.getActions()).toHaveLength(4)
  })
})
