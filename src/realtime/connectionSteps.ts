import { isFulfilled, type UnknownAction } from '@reduxjs/toolkit'
import { api } from '../api'
import {
  connect,
  connected,
  connectFailed,
  disconnect,
  disconnected,
  resumeStalled,
  retryNow,
  transportStalled,
  roleChanged,
  sessionEnded,
  sessionExpired,
  sessionStarted,
  shutdown,
  syncCaughtUp,
  syncGap,
} from './actions'
import type { ConnectionEvent } from './connectionMachine'
import type { ConnectionStatus } from './socketSlice'

/**
 * What the connection runner does for one action, in order: an event of the connection machine, or a step of the
 * session around it (the machine knows sockets, not users).
 */
export type ConnectionStep =
  | { type: 'event'; event: ConnectionEvent }
  /** Join the browser's election again and `open`, allowed if there is a token and the session is not expired. */
  | { type: 'open' }
  /** A new session begins: answers for the old one (a refresh, a handshake) are nobody's. */
  | { type: 'nextSession' }
  | { type: 'dispatch'; action: UnknownAction }
  /** Stay out of the browser's election (this tab chose to disconnect). */
  | { type: 'leaveElection' }
  /** Nothing opens a socket again (`shutdown`: the store disposed, the page gone). */
  | { type: 'stop' }

/** What the mapping reads besides the action, when an action needs it: the store after the action, and the runner. */
export interface ConnectionFacts<S> {
  status(): ConnectionStatus
  token(): string | null
  /** A login of another user than the one of `prevState`, after a user. */
  userChanged(prevState: S): boolean
  /** The machine waits out a backoff before its next attempt. */
  waiting(): boolean
  /** A socket is open, of another kind than this tab's part in the browser calls for (held or a follower's proxy). */
  wrongKind(): boolean
  /** The open socket is the browser's one, held by this tab. */
  holding(): boolean
}

/** What the mapping reads of the middleware's options: the app's own actions. */
export interface ConnectionStepOptions {
  loggedIn: { match(action: unknown): boolean }
  loggedOut: { match(action: unknown): boolean }
  tokenRefreshed?: { match(action: unknown): boolean }
  refreshFailed?: { match(action: unknown): boolean }
}

const event = (e: ConnectionEvent): ConnectionStep => ({ type: 'event', event: e })
const CLOSE = event({ type: 'close' })
const LEAVE_ELECTION: ConnectionStep = { type: 'leaveElection' }
const NEXT_SESSION: ConnectionStep = { type: 'nextSession' }
const OPEN: ConnectionStep = { type: 'open' }
/**
 * Most actions: one shared answer (the hot path of a burst: bench/README.md,
 * "Measurements behind choices in the source").
 */
const NONE: readonly ConnectionStep[] = Object.freeze([])

/** The session ends: the socket closes, and the next user must see none of this user's data. */
const endSession = (): ConnectionStep[] => [
  CLOSE,
  NEXT_SESSION,
  { type: 'dispatch', action: sessionEnded() },
  { type: 'dispatch', action: api.util.resetApiState() },
]

const fulfilledMatchers = Object.values(api.endpoints).map((endpoint) => endpoint.matchFulfilled)
/** An answer of the API over HTTP (any endpoint's request fulfilled). */
const answeredOverHttp = (action: unknown): boolean => isFulfilled(action) && fulfilledMatchers.some((m) => m(action))

/**
 * The connection runner's steps for one action, in order (none for most actions): the one place an action becomes
 * connection work. `prevState`: the state before the action was reduced; `facts` read the state after it.
 *
 * @example connectionStepsOf(disconnect(), prev, facts, options) // [close, leaveElection]
 */
export function connectionStepsOf<S>(
  action: UnknownAction,
  prevState: S,
  facts: ConnectionFacts<S>,
  options: ConnectionStepOptions,
): readonly ConnectionStep[] {
  // A new token while `unauthorized` (another tab's login of this user, heard through storage or adopted by a
  // refresh) starts this tab's session again, as a login would; while the session lives it only renews the socket.
  const refreshed = options.tokenRefreshed?.match(action) === true
  if (options.loggedIn.match(action) || (refreshed && facts.status() === 'unauthorized' && facts.token())) {
    return [
      ...(facts.userChanged(prevState) ? endSession() : []),
      CLOSE,
      NEXT_SESSION,
      { type: 'dispatch', action: sessionStarted() },
      OPEN,
    ]
  }
  if (options.loggedOut.match(action)) return endSession()
  if (connect.match(action)) return [OPEN]
  // This tab's choice, not the browser's: once its socket is closed, a holder hands the browser's one to a tab that
  // still wants it, and this tab stays out of the election until it opens again (logout and expiry are every tab's).
  if (disconnect.match(action)) return [CLOSE, LEAVE_ELECTION]
  if (sessionExpired.match(action)) return [event({ type: 'close', expired: true })]
  if (shutdown.match(action)) return [{ type: 'stop' }, CLOSE, NEXT_SESSION]
  if (options.refreshFailed?.match(action)) return [event({ type: 'refreshFailed', connectionStatus: facts.status() })]
  if (refreshed) return [event({ type: 'tokenRefreshed', token: facts.token(), connectionStatus: facts.status() })]
  if (roleChanged.match(action))
    return facts.wrongKind() ? [event({ type: 'roleChanged', role: action.payload.role })] : NONE
  if (resumeStalled.match(action)) return [event({ type: 'resync' })]
  if (transportStalled.match(action)) return [event({ type: 'transportStalled' })]
  if (retryNow.match(action)) {
    const { reason } = action.payload
    if (reason === 'asked') return [event({ type: 'retryNow', asked: true })]
    return [
      event(reason === 'online' || reason === 'wake' ? { type: 'retryNow', network: true } : { type: 'retryNow' }),
    ]
  }
  if (connected.match(action)) return [event({ type: 'connected' })]
  if (syncCaughtUp.match(action) || syncGap.match(action)) return [event({ type: 'synced' })]
  if (connectFailed.match(action)) {
    const { retryAfterMs, ...error } = action.payload
    return [event({ type: 'connectFailed', error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) })]
  }
  if (disconnected.match(action)) {
    const dropped = event({ type: 'disconnected', reason: action.payload.reason })
    // The app's own `disconnect()` on the browser's socket (`useSocket().socket` in the holder; the layer unbinds before
    // it closes one): deliberate, as in a solo store, so this tab's choice as `socket/disconnect` is. Still holding the
    // lock, it would keep the other tabs waiting for a socket that nothing connects again.
    return action.payload.reason === 'io client disconnect' && facts.holding()
      ? [dropped, CLOSE, LEAVE_ELECTION]
      : [dropped]
  }
  // The server answers over HTTP (a send that fell back, a page's read): it is back, so the socket need not wait out a
  // backoff of up to 30 s. Once per wait: the attempt ends it.
  if (facts.waiting() && answeredOverHttp(action))
    return [{ type: 'dispatch', action: retryNow({ reason: 'reachable' }) }]
  return NONE
}
