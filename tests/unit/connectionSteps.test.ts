import { createAction, type UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import * as actions from '../../src/realtime/actions'
import { connectionStepsOf, type ConnectionFacts, type ConnectionStep } from '../../src/realtime/connectionSteps'
import type { ConnectionStatus } from '../../src/realtime/socketSlice'
import { message, messagesFetched } from './support/fixtures'

const loggedIn = createAction<{ userId: string }>('auth/loggedIn')
const loggedOut = createAction<void>('auth/loggedOut')
const tokenRefreshed = createAction<void>('auth/tokenRefreshed')
const refreshFailed = createAction<void>('auth/refreshFailed')
const options = { loggedIn, loggedOut, tokenRefreshed, refreshFailed }

interface Prev {
  userId: string | null
}
/** The facts as a table row gives them: the store after the action (status, token, user) and the runner. */
const facts = (
  over: Partial<{
    status: ConnectionStatus
    token: string | null
    userNow: string | null
    waiting: boolean
    wrongKind: boolean
    holding: boolean
  }> = {},
): ConnectionFacts<Prev> => {
  const f = {
    status: 'connected' as ConnectionStatus,
    token: 'tok',
    userNow: 'u1',
    waiting: false,
    wrongKind: false,
    holding: false,
    ...over,
  }
  return {
    status: () => f.status,
    token: () => f.token,
    userChanged: (prev) => prev.userId !== null && prev.userId !== f.userNow,
    waiting: () => f.waiting,
    wrongKind: () => f.wrongKind,
    holding: () => f.holding,
  }
}

const event = (e: Extract<ConnectionStep, { type: 'event' }>['event']): ConnectionStep => ({ type: 'event', event: e })
const close = event({ type: 'close' })
const endSession: ConnectionStep[] = [
  close,
  { type: 'nextSession' },
  { type: 'dispatch', action: actions.sessionEnded() },
  { type: 'dispatch', action: api.util.resetApiState() },
]
const startSession: ConnectionStep[] = [
  close,
  { type: 'nextSession' },
  { type: 'dispatch', action: actions.sessionStarted() },
  { type: 'open' },
]
const fetched = messagesFetched('c1', [message(1)])
const sync = { offset: 3, epoch: 'e1' }

describe('connectionStepsOf: an action → the connection runner’s steps, in order', () => {
  const rows: [string, UnknownAction, Prev, ConnectionFacts<Prev>, ConnectionStep[]][] = [
    ['a first login: a new session, opened', loggedIn({ userId: 'u1' }), { userId: null }, facts(), startSession],
    [
      'the same user logging in again: a new session, the data kept',
      loggedIn({ userId: 'u1' }),
      { userId: 'u1' },
      facts(),
      startSession,
    ],
    [
      'another user logging in: the first one’s session and data end first',
      loggedIn({ userId: 'u2' }),
      { userId: 'u1' },
      facts({ userNow: 'u2' }),
      [...endSession, ...startSession],
    ],
    [
      'a new token while unauthorized (another tab’s login): a new session, as a login',
      tokenRefreshed(),
      { userId: 'u1' },
      facts({ status: 'unauthorized' }),
      startSession,
    ],
    [
      'a new token while the session lives: the socket is renewed',
      tokenRefreshed(),
      { userId: 'u1' },
      facts({ status: 'connected', token: 'tok2' }),
      [event({ type: 'tokenRefreshed', token: 'tok2', connectionStatus: 'connected' })],
    ],
    [
      'a token refresh that left no token while unauthorized: no session',
      tokenRefreshed(),
      { userId: 'u1' },
      facts({ status: 'unauthorized', token: null }),
      [event({ type: 'tokenRefreshed', token: null, connectionStatus: 'unauthorized' })],
    ],
    ['logout: the session and its data end', loggedOut(), { userId: 'u1' }, facts(), endSession],
    ['connect', actions.connect(), { userId: 'u1' }, facts(), [{ type: 'open' }]],
    [
      'disconnect: closed, and this tab stands aside from the election',
      actions.disconnect(),
      { userId: 'u1' },
      facts(),
      [close, { type: 'leaveElection' }],
    ],
    [
      'sessionExpired: closed as expired',
      actions.sessionExpired({ code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'close', expired: true })],
    ],
    [
      'shutdown: stopped first, then closed, and answers for the session are nobody’s',
      actions.shutdown(),
      { userId: 'u1' },
      facts(),
      [{ type: 'stop' }, close, { type: 'nextSession' }],
    ],
    [
      'the app’s refresh failed',
      refreshFailed(),
      { userId: 'u1' },
      facts({ status: 'reconnecting' }),
      [event({ type: 'refreshFailed', connectionStatus: 'reconnecting' })],
    ],
    [
      'a role the open socket does not fit: made again',
      actions.roleChanged({ role: 'leader' }),
      { userId: 'u1' },
      facts({ wrongKind: true }),
      [event({ type: 'roleChanged', role: 'leader' })],
    ],
    [
      'a role the open socket fits (or none open): nothing',
      actions.roleChanged({ role: 'leader' }),
      { userId: 'u1' },
      facts({ wrongKind: false }),
      [],
    ],
    [
      'resumeStalled: resync',
      actions.resumeStalled({ offset: 3, held: 2 }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'resync' })],
    ],
    ['transportStalled', actions.transportStalled(), { userId: 'u1' }, facts(), [event({ type: 'transportStalled' })]],
    [
      'retryNow: the network back',
      actions.retryNow({ reason: 'online' }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'retryNow', network: true })],
    ],
    [
      'retryNow: a wake',
      actions.retryNow({ reason: 'wake' }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'retryNow', network: true })],
    ],
    [
      'retryNow: the tab shown',
      actions.retryNow({ reason: 'visible' }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'retryNow' })],
    ],
    [
      'connected',
      actions.connected({ socketId: 's1', recovered: false }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'connected' })],
    ],
    [
      'sync:caughtUp: synced',
      actions.syncCaughtUp({ ...sync, recovered: true }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'synced' })],
    ],
    ['sync:gap: synced', actions.syncGap(sync), { userId: 'u1' }, facts(), [event({ type: 'synced' })]],
    [
      'connectFailed',
      actions.connectFailed({ code: 'NETWORK', message: 'xhr poll error' }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'connectFailed', error: { code: 'NETWORK', message: 'xhr poll error' } })],
    ],
    [
      'disconnected',
      actions.disconnected({ reason: 'transport close' }),
      { userId: 'u1' },
      facts(),
      [event({ type: 'disconnected', reason: 'transport close' })],
    ],
    [
      'the app’s own socket.disconnect() on a socket of this store’s own: disconnected, nothing more',
      actions.disconnected({ reason: 'io client disconnect' }),
      { userId: 'u1' },
      facts({ holding: false }),
      [event({ type: 'disconnected', reason: 'io client disconnect' })],
    ],
    [
      'the app’s own socket.disconnect() on the browser’s socket it holds: closed, and it stands aside (as disconnect)',
      actions.disconnected({ reason: 'io client disconnect' }),
      { userId: 'u1' },
      facts({ holding: true }),
      [event({ type: 'disconnected', reason: 'io client disconnect' }), close, { type: 'leaveElection' }],
    ],
    [
      'the browser’s socket it holds dropped by the network: only the event (the machine retries)',
      actions.disconnected({ reason: 'transport close' }),
      { userId: 'u1' },
      facts({ holding: true }),
      [event({ type: 'disconnected', reason: 'transport close' })],
    ],
    [
      'an API answer over HTTP while waiting out a backoff: the server is reachable',
      fetched,
      { userId: 'u1' },
      facts({ waiting: true }),
      [{ type: 'dispatch', action: actions.retryNow({ reason: 'reachable' }) }],
    ],
    ['an API answer over HTTP while not waiting: nothing', fetched, { userId: 'u1' }, facts({ waiting: false }), []],
    ['any other action', { type: 'other/thing' }, { userId: 'u1' }, facts({ waiting: true }), []],
  ]
  test.each(rows)('%s', (_name, action, prev, rowFacts, steps) => {
    expect(connectionStepsOf(action, prev, rowFacts, options)).toEqual(steps)
  })

  test('most actions allocate nothing: one shared, frozen empty answer', () => {
    const a = connectionStepsOf({ type: 'other/thing' }, { userId: 'u1' }, facts(), options)
    expect(connectionStepsOf({ type: 'other/else' }, { userId: 'u1' }, facts(), options)).toBe(a)
    expect(Object.isFrozen(a)).toBe(true)
  })
})
