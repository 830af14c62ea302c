import type { UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test } from 'vitest'
import {
  connect,
  connected,
  connectFailed,
  socketSlice,
  disconnect,
  disconnected,
  discardMessage,
  initialSocketState,
  joinConversation,
  joinFailed,
  leaveConversation,
  outboxKept,
  outboxRestored,
  reconnecting,
  roleChanged,
  retryMessage,
  selectConnection,
  selectIsConnected,
  selectKeptUnsent,
  selectPendingMessages,
  sendConfirmed,
  sendFailed,
  sendMessage,
  sendRetryScheduled,
  serverEventActions,
  sessionEnded,
  sessionExpired,
  sessionStarted,
  shutdown,
  type ConnectionStatus,
  type SocketState,
} from '../../src/realtime'
import { outboxWithSend } from '../../src/realtime/socketSlice'
import { alice, message, pendingMessage } from './support/fixtures'

const reducer = socketSlice.reducer
const withStatus = (status: ConnectionStatus, over: Partial<SocketState['connection']> = {}): SocketState => ({
  ...initialSocketState,
  connection: { ...initialSocketState.connection, status, ...over },
})
const statusAfter = (from: ConnectionStatus, action: UnknownAction) =>
  reducer(withStatus(from), action).connection.status

const ok = connected({ socketId: 's1', recovered: false })
const refused = connectFailed({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' })
const expired = sessionExpired({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' })

describe('connection status: exactly the contract transitions', () => {
  test.each<[ConnectionStatus, string, UnknownAction, ConnectionStatus]>([
    ['idle', 'connect', connect(), 'connecting'],
    ['idle', 'login', sessionStarted(), 'connecting'],
    ['connecting', 'connected', ok, 'connected'],
    ['connected', 'a drop', disconnected({ reason: 'transport close' }), 'reconnecting'],
    ['connected', 'a server kick', disconnected({ reason: 'io server disconnect' }), 'reconnecting'],
    ['reconnecting', 'an attempt', reconnecting({ attempt: 2 }), 'reconnecting'],
    ['reconnecting', 'connected', ok, 'connected'],
    ['connected', 'disconnect', disconnect(), 'disconnected'],
    ['reconnecting', 'disconnect', disconnect(), 'disconnected'],
    ['disconnected', 'connect', connect(), 'connecting'],
    ['disconnected', 'login', sessionStarted(), 'connecting'],
    ['connecting', 'a refusal (a refresh may follow)', refused, 'connecting'],
    ['connecting', 'refused and the refresh failed', expired, 'unauthorized'],
    ['reconnecting', 'refused and the refresh failed', expired, 'unauthorized'],
    ['unauthorized', 'connect (waits for a login)', connect(), 'unauthorized'],
    ['unauthorized', 'a stale connected', ok, 'unauthorized'],
    ['unauthorized', 'login', sessionStarted(), 'connecting'],
    // Every socket the layer closes is unbound first: a `connected` then is the app's own `connect()` on its socket.
    ['disconnected', 'connected (the app’s own socket.connect())', ok, 'connected'],
    ['idle', 'a stale connected', ok, 'idle'],
    ['idle', 'disconnect', disconnect(), 'idle'],
    // The socket is unbound before it closes at a shutdown: no `disconnected` follows to say so.
    ['connected', 'shutdown (the store disposed)', shutdown(), 'disconnected'],
    ['reconnecting', 'shutdown', shutdown(), 'disconnected'],
    ['connecting', 'shutdown', shutdown(), 'disconnected'],
    ['idle', 'shutdown', shutdown(), 'idle'],
    ['unauthorized', 'shutdown', shutdown(), 'unauthorized'],
    ['connected', 'logout', sessionEnded(), 'idle'],
    ['unauthorized', 'logout', sessionEnded(), 'idle'],
    ['connected', 'connect again', connect(), 'connected'],
    [
      'connecting',
      'a network failure while the manager retries',
      connectFailed({ code: 'NETWORK', message: 'xhr poll error' }),
      'connecting',
    ],
  ])('%s + %s → %s', (from, _name, action, to) => {
    expect(statusAfter(from, action)).toBe(to)
  })

  test('connected records socketId, lastConnectedAt (from the action) and clears error and attempt', () => {
    const action = connected({ socketId: 'abc', recovered: true })
    const state = reducer(withStatus('reconnecting', { attempt: 3, error: { code: 'NETWORK', message: 'x' } }), action)
    // Syncing until the server's `sync:*`; the offset (none yet) is kept across handshakes.
    expect(selectConnection({ socket: state })).toEqual({
      status: 'connected',
      socketId: 'abc',
      error: null,
      attempt: 0,
      lastConnectedAt: action.meta.at,
      offset: null,
      epoch: null,
      syncing: true,
      role: 'solo',
    })
    expect(typeof action.meta.at).toBe('string')
    expect(selectIsConnected({ socket: state })).toBe(true)
  })

  test('a drop clears socketId; attempts are counted', () => {
    let state = reducer(withStatus('connected', { socketId: 's1' }), disconnected({ reason: 'ping timeout' }))
    expect(state.connection).toMatchObject({ status: 'reconnecting', socketId: null, attempt: 0 })
    state = reducer(state, reconnecting({ attempt: 4 }))
    expect(state.connection.attempt).toBe(4)
    expect(selectIsConnected({ socket: state })).toBe(false)
  })

  test('a refusal is recorded as the error', () => {
    expect(reducer(withStatus('connecting'), refused).connection.error).toEqual({
      code: 'UNAUTHORIZED',
      message: 'UNAUTHORIZED',
    })
  })
})

describe('role: this tab’s part in the browser’s one socket', () => {
  test('solo by default; roleChanged sets it; a connect keeps it; it outlives the session (it is the browser’s)', () => {
    let state = reducer(undefined, { type: '@@INIT' })
    expect(selectConnection({ socket: state }).role).toBe('solo')
    state = reducer(state, roleChanged({ role: 'follower' }))
    state = reducer(state, sessionStarted())
    state = reducer(state, connected({ socketId: 'holder-socket', recovered: false }))
    expect(selectConnection({ socket: state })).toMatchObject({ role: 'follower', status: 'connected' })
    state = reducer(state, roleChanged({ role: 'leader' }))
    state = reducer(state, sessionEnded())
    expect(selectConnection({ socket: state })).toMatchObject({ role: 'leader', status: 'idle', socketId: null })
  })
})

describe('rooms', () => {
  test('join adds once, leave removes', () => {
    let state = reducer(undefined, joinConversation({ conversationId: 'c1' }))
    state = reducer(state, joinConversation({ conversationId: 'c1' }))
    state = reducer(state, joinConversation({ conversationId: 'c2' }))
    expect(state.rooms).toEqual(['c1', 'c2'])
    expect(reducer(state, leaveConversation({ conversationId: 'c1' })).rooms).toEqual(['c2'])
  })

  test.each([
    ['FORBIDDEN', []],
    ['NOT_FOUND', []],
    ['NETWORK', ['c1']],
  ] as const)('a join failing with %s leaves rooms %j', (code, rooms) => {
    const state = reducer(
      reducer(undefined, joinConversation({ conversationId: 'c1' })),
      joinFailed({ conversationId: 'c1', code }),
    )
    expect(state.rooms).toEqual(rooms)
  })

  test('logout forgets rooms and pending sends', () => {
    let state = reducer(undefined, joinConversation({ conversationId: 'c1' }))
    state = reducer(state, sendMessage({ conversationId: 'c1', content: 'hi' }))
    expect(reducer(state, sessionEnded())).toEqual(initialSocketState)
  })
})

describe('outbox', () => {
  const send = (clientId: string) => sendMessage({ conversationId: 'c1', content: `text ${clientId}`, clientId })

  test('sendMessage generates a clientId when not given (a UUID)', () => {
    const a = sendMessage({ conversationId: 'c1', content: 'x' })
    const b = sendMessage({ conversationId: 'c1', content: 'x' })
    expect(a.payload.clientId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(a.payload.clientId).not.toBe(b.payload.clientId)
    expect(a.payload).toEqual({ conversationId: 'c1', content: 'x', clientId: a.payload.clientId })
  })

  test('outboxWithSend is the outbox the reducer leaves (what the outbox machine reads before the reducer runs)', () => {
    const one = reducer(undefined, send('k1'))
    for (const [state, action] of [
      [initialSocketState, send('k1')],
      [one, send('k2')],
      [one, send('k1')],
    ] as const) {
      const predicted = outboxWithSend(state.outbox, action)
      expect(predicted).toEqual(reducer(state, action).outbox)
      // A clientId queued already leaves the outbox as it was, as the reducer does.
      if (state.outbox.some((m) => m.clientId === action.payload.clientId)) expect(predicted).toBe(state.outbox)
    }
  })

  test('restored or adopted sends take their place by when they were written, this page’s own among them', () => {
    const entry = (clientId: string, createdAt: string) => pendingMessage(clientId, { content: clientId, createdAt })
    let state = reducer(undefined, outboxRestored({ entries: [entry('own-2', '2030-01-01T00:00:02.000Z')] }))
    state = reducer(state, outboxRestored({ entries: [entry('own-5', '2030-01-01T00:00:05.000Z')] }))
    // Another tab's, written before and after this page's own (a follower that closed, an old holder).
    state = reducer(
      state,
      outboxRestored({
        entries: [
          entry('other-1', '2030-01-01T00:00:01.000Z'),
          entry('other-3', '2030-01-01T00:00:03.000Z'),
          entry('own-5', '2030-01-01T00:00:05.000Z'),
          entry('other-7', '2030-01-01T00:00:07.000Z'),
        ],
      }),
    )
    expect(state.outbox.map((m) => m.clientId)).toEqual(['other-1', 'own-2', 'other-3', 'own-5', 'other-7'])
  })

  test('written in one millisecond: restored or adopted sends take their place by where storage holds them', () => {
    const at = '2030-01-01T00:00:00.000Z'
    const entry = (clientId: string) => pendingMessage(clientId, { content: clientId, createdAt: at })
    const own = reducer(undefined, outboxRestored({ entries: [entry('own-1'), entry('own-3')] }))
    const storedOrder = ['own-1', 'other-2', 'own-3', 'other-4']
    const state = reducer(own, outboxRestored({ entries: [entry('other-2'), entry('other-4')], storedOrder }))
    expect(state.outbox.map((m) => m.clientId)).toEqual(storedOrder)
    // Without the stored order (an older caller), what is restored goes first, as before.
    const unordered = reducer(own, outboxRestored({ entries: [entry('other-2')] }))
    expect(unordered.outbox.map((m) => m.clientId)).toEqual(['other-2', 'own-1', 'own-3'])
  })

  test('pending messages, oldest first, once per clientId', () => {
    let state = reducer(undefined, send('k1'))
    state = reducer(state, send('k2'))
    state = reducer(state, send('k1'))
    expect(selectPendingMessages({ socket: state }).map((m) => [m.clientId, m.status, m.attempts])).toEqual([
      ['k1', 'pending', 0],
      ['k2', 'pending', 0],
    ])
  })

  test.each<[string, UnknownAction, unknown]>([
    ['confirmed by the ack', sendConfirmed({ message: message(1, { senderId: alice.id, clientId: 'k1' }) }), ['k2']],
    [
      'confirmed by message:sent',
      serverEventActions['message:sent'](message(1, { senderId: alice.id, clientId: 'k1' })),
      ['k2'],
    ],
    ['discarded', discardMessage({ clientId: 'k1' }), ['k2']],
    [
      'a retry scheduled keeps it',
      sendRetryScheduled({ clientId: 'k1', attempt: 1, delayMs: 10, error: { code: 'NETWORK', message: 'x' } }),
      ['k1', 'k2'],
    ],
  ])('%s', (_name, action, remaining) => {
    const state = reducer(reducer(reducer(undefined, send('k1')), send('k2')), action)
    expect(state.outbox.map((m) => m.clientId)).toEqual(remaining)
  })

  test('failed with the error, then retried as pending', () => {
    let state = reducer(undefined, send('k1'))
    state = reducer(
      state,
      sendRetryScheduled({ clientId: 'k1', attempt: 1, delayMs: 10, error: { code: 'NETWORK', message: 'x' } }),
    )
    expect(state.outbox[0]?.attempts).toBe(1)
    state = reducer(state, sendFailed({ clientId: 'k1', error: { code: 'FORBIDDEN', message: 'not a participant' } }))
    expect(state.outbox[0]).toMatchObject({
      status: 'failed',
      error: { code: 'FORBIDDEN', message: 'not a participant' },
    })
    state = reducer(state, retryMessage({ clientId: 'k1' }))
    expect(state.outbox[0]).toMatchObject({ status: 'pending', error: null, attempts: 0 })
  })
})

describe('unsent sends kept in the page alone (outboxKept)', () => {
  test('counted per user, ended by a count of 0, and outliving the session (the page holds them)', () => {
    let state = reducer(undefined, outboxKept({ userId: 'u1', count: 2 }))
    state = reducer(state, outboxKept({ userId: 'u2', count: 1 }))
    expect(selectKeptUnsent({ socket: state })).toBe(3)
    state = reducer(state, sessionEnded())
    expect(state.kept).toEqual({ u1: 2, u2: 1 })
    state = reducer(state, outboxKept({ userId: 'u1', count: 0 }))
    expect(state.kept).toEqual({ u2: 1 })
    expect(selectKeptUnsent({ socket: state })).toBe(1)
  })
})
