import type { UnknownAction } from '@reduxjs/toolkit'
import type { RefreshOutcome } from '../api'
import { SOCKET_PING_INTERVAL_MS, SOCKET_PING_TIMEOUT_MS } from '../contract'
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff'
import { reconnecting, sessionExpired, shutdown, type ConnectionError, type DisconnectReason } from './actions'
import type { ConnectionStatus } from './socketSlice'
import type { TabRole } from './tabs/protocol'

/**
 * Where the socket is in its life, as the middleware sees it (the slice's `ConnectionStatus` is what the app sees).
 * `attempt` counts handshake retries since the last success; `refreshed` says a token refresh was already spent on
 * this run of attempts (refused again with a fresh token means the session is over).
 */
export type ConnectionMachineState =
  /** No socket. `stopped`: after `shutdown` (the store disposed, the page gone) none is opened again. */
  | { status: 'closed'; stopped?: true }
  /**
   * `socket.connect()` was called; its `connect` or `connect_error` is awaited. `signalled`: a retry trigger came
   * meanwhile (the network back, the tab shown): should this attempt, begun before it, fail, the next goes at once.
   * `atSignal`: begun at a retry trigger, on the network as it was then (the network back does not make it again).
   */
  | { status: 'handshaking'; attempt: number; refreshed: boolean; signalled?: true; atSignal?: true }
  /** `attempt`: of the run that got here, until the stream proves sound (`synced`): a kick at once backs off more. */
  | { status: 'open'; attempt: number }
  /** A backoff timer runs; when it ends (or a retry trigger cuts it short) comes an attempt, or after a kick a refresh. */
  | { status: 'waiting'; attempt: number; refreshed: boolean; then: 'attempt' | 'refresh'; rate?: true }
  /** A token refresh is in flight; then the handshake (`counted`: as an attempt of its own, after a kick). */
  /** `signalled`: as for `handshaking`, a retry trigger came while the refresh was out. */
  | { status: 'refreshing'; attempt: number; counted: boolean; error: ConnectionError; signalled?: true }
  /** A socket that is not trying (dropped by its own client, or given up): `connect` or a new token starts it again. */
  | { status: 'stalled'; attempt: number; refreshed: boolean }

export const initialConnectionMachineState: ConnectionMachineState = { status: 'closed' }

/** What the runner feeds the machine: actions (with what it read from the store) and the answers of its effects. */
export type ConnectionEvent =
  /** `connect` or a login; `allowed` is false without a token or while `unauthorized`. */
  | { type: 'open'; allowed: boolean }
  /** `disconnect`, logout, `sessionExpired` (`expired`). */
  | { type: 'close'; expired?: boolean }
  /** `socket/shutdown`: closed for good, a late login neither opens a socket. */
  | { type: 'shutdown' }
  /** Any action after the shutdown, with the slice's status after it. */
  | { type: 'afterShutdown'; connectionStatus: ConnectionStatus }
  /**
   * `token`: the store's now; `handshakeToken`: the one Socket.IO read from `auth` for this handshake (null: none read,
   * as in a follower's proxy). Left out, nothing is compared.
   */
  | { type: 'connected'; token?: string | null; handshakeToken?: string | null }
  /** The server's first `sync:*` on this socket: the connection works, the next drop starts a new run of attempts. */
  | { type: 'synced' }
  /**
   * `retryAfterMs`: the server refused for its handshake budget and said how long to wait. `jitter` (here, on
   * `disconnected` and `refreshDone`): the runner's random draw in [0, 1) for a backoff that may follow.
   */
  | { type: 'connectFailed'; error: ConnectionError; retryAfterMs?: number; jitter?: number }
  | { type: 'disconnected'; reason: DisconnectReason; jitter?: number }
  /**
   * The browser came online, the tab became visible. `silentForMs`: with a live socket, how long since the server was
   * last heard (its handshake or its last ping), on the wall clock. `asked`: a follower tab asked for the socket.
   * `network`: the network is back (`online`, a wake), and a connection opened before may be dead.
   */
  | { type: 'retryNow'; silentForMs?: number; asked?: true; network?: true }
  | { type: 'timerFired' }
  | { type: 'refreshDone'; outcome: RefreshOutcome; connectionStatus: ConnectionStatus; jitter?: number }
  /** The app got a new token (this tab's refresh, or another tab's). */
  | { type: 'tokenRefreshed'; token: string | null; connectionStatus: ConnectionStatus }
  /** An HTTP request could not get a fresh token. */
  | { type: 'refreshFailed'; connectionStatus: ConnectionStatus }
  /** Logged events were missing and did not come: resume from the applied offset on a new socket. */
  | { type: 'resync' }
  /** The socket's connection stalled in its upgrade (`upgradeWatch.ts`): nothing passes on it any more. */
  | { type: 'transportStalled' }
  /**
   * This tab took over the browser's socket, or handed it over: the socket is made again for its new part (`role`:
   * `'leader'`, a socket of its own to the server; `'follower'`, the proxy to the holder's).
   */
  | { type: 'roleChanged'; role: TabRole }

/** What the runner does for the machine, through its injected edges. */
export type ConnectionEffect =
  /** Create and bind the socket (listeners, holder, retry triggers); no handshake yet. */
  | { type: 'createSocket' }
  | { type: 'handshake' }
  /** Unbind and close the socket; `expired`: because the session is over (the other tabs are told so). */
  | { type: 'destroySocket'; expired?: boolean }
  /**
   * Wait `delayMs`, then `timerFired`: the full-jitter backoff of `attempt` drawn with the event's `jitter`, and at least
   * `atLeastMs` (the server's wait). No `jitter` in the event, no `delayMs`.
   */
  | { type: 'startTimer'; attempt: number; atLeastMs?: number; delayMs?: number }
  | { type: 'cancelTimer' }
  /** Get a fresh token, then `refreshDone`. */
  | { type: 'refreshToken' }
  /** `session:renew` on the live socket. */
  | { type: 'renewSession'; token: string }
  | { type: 'dispatch'; action: UnknownAction }

export interface ConnectionMachineConfig {
  /** Whether a token refresh is possible at all (`refreshToken: false` makes every refusal final). */
  canRefresh: boolean
  /** The reconnect backoff. Default `DEFAULT_BACKOFF`. */
  backoff?: BackoffOptions
  /** How long a live socket may go without a ping from the server. Default `HEARTBEAT_SILENCE_MS`. */
  heartbeatMs?: number
}

/**
 * Socket.IO's heartbeat as the server runs it: a ping every `SOCKET_PING_INTERVAL_MS`, and the connection held dead
 * when none came within `SOCKET_PING_TIMEOUT_MS` more. Socket.IO's client counts it on a timer, which stands still
 * while the machine sleeps; the wall clock does not.
 */
export const HEARTBEAT_SILENCE_MS = SOCKET_PING_INTERVAL_MS + SOCKET_PING_TIMEOUT_MS

type Result = [ConnectionMachineState, ConnectionEffect[]]

const KICKED: ConnectionError = { code: 'UNAUTHORIZED', message: 'Disconnected by the server' }
const NOT_RENEWED: ConnectionError = { code: 'UNAUTHORIZED', message: 'The session could not be renewed' }

/** A socket that exists and is not connected, with where its run of attempts stands. */
type Trying = Extract<ConnectionMachineState, { status: 'handshaking' | 'waiting' | 'stalled' }>

const cancelIfWaiting = (state: ConnectionMachineState): ConnectionEffect[] =>
  state.status === 'waiting' ? [{ type: 'cancelTimer' }] : []

/**
 * One attempt, now: `socket/reconnecting { attempt }` then the handshake. `counted` false: the run's count (the
 * backoff's exponent) stays where it was (a follower's ask, see `retryNow`). `atSignal`: made at a retry trigger.
 */
function attemptNow(
  run: { attempt: number; refreshed: boolean },
  cancel: ConnectionEffect[] = [],
  counted = true,
  atSignal = false,
): Result {
  const attempt = run.attempt + 1
  return [
    {
      status: 'handshaking',
      attempt: counted ? attempt : run.attempt,
      refreshed: run.refreshed,
      ...(atSignal ? { atSignal: true } : {}),
    },
    [...cancel, { type: 'dispatch', action: reconnecting({ attempt }) }, { type: 'handshake' }],
  ]
}

/** A wait before the next attempt (or refresh): its delay drawn with the event's `jitter`, at least `atLeastMs`. */
function scheduleRetry(
  attempt: number,
  refreshed: boolean,
  then: 'attempt' | 'refresh',
  config: ConnectionMachineConfig,
  jitter: number | undefined,
  atLeastMs?: number,
): Result {
  const next = attempt + 1
  const backoff = config.backoff ?? DEFAULT_BACKOFF
  const delayMs =
    jitter === undefined
      ? undefined
      : Math.max(
          backoffDelay(next, backoff, () => jitter),
          atLeastMs ?? 0,
        )
  const timer: ConnectionEffect = { type: 'startTimer', attempt: next, atLeastMs, delayMs }
  if (atLeastMs === undefined) return [{ status: 'waiting', attempt, refreshed, then }, [timer]]
  // The server's wait: no retry trigger cuts it short (it would only be refused again).
  return [{ status: 'waiting', attempt, refreshed, then, rate: true }, [timer]]
}

/** A fresh token, then the handshake; a second refusal in one run of attempts (or no refresher) ends the session. */
function refreshThenHandshake(
  state: Trying,
  error: ConnectionError,
  counted: boolean,
  config: ConnectionMachineConfig,
  cancel = cancelIfWaiting(state),
): Result {
  if (!config.canRefresh || state.refreshed) {
    return [
      { status: 'stalled', attempt: state.attempt, refreshed: state.refreshed },
      [...cancel, { type: 'dispatch', action: sessionExpired(error) }],
    ]
  }
  return [{ status: 'refreshing', attempt: state.attempt, counted, error }, [...cancel, { type: 'refreshToken' }]]
}

/** The wait is over (its timer, or cut short by a retry trigger). */
function endWait(
  state: Extract<ConnectionMachineState, { status: 'waiting' }>,
  timerRuns: boolean,
  config: ConnectionMachineConfig,
): Result {
  const cancel: ConnectionEffect[] = timerRuns ? [{ type: 'cancelTimer' }] : []
  if (state.then === 'refresh')
    return refreshThenHandshake({ ...state, status: 'stalled' }, KICKED, true, config, cancel)
  // Cut short by a trigger: begun on the network as it is now.
  return attemptNow(state, cancel, true, timerRuns)
}

const STOPPED: ConnectionMachineState = { status: 'closed', stopped: true }

/** The socket is closed (its timer cancelled, if waiting); `expired`: the session is over. */
const destroy = (state: ConnectionMachineState, expired?: boolean): ConnectionEffect[] => [
  ...cancelIfWaiting(state),
  { type: 'destroySocket', ...(expired ? { expired: true } : {}) },
]

/** The socket is made anew (its timer cancelled, if waiting) and the first attempt of a new run goes at once. */
const newSocket = (state: ConnectionMachineState): Result => [
  { status: 'handshaking', attempt: 1, refreshed: false },
  [
    ...destroy(state),
    { type: 'createSocket' },
    { type: 'dispatch', action: reconnecting({ attempt: 1 }) },
    { type: 'handshake' },
  ],
]

/**
 * The connection's transitions: pure, `(state, event) → [state, effects]` (Elm's `update`, XState's `transition`).
 * Reconnection is the middleware's, not Socket.IO's: after a drop or a failed handshake a full-jitter backoff, then
 * an attempt; a refused handshake refreshes the token once; a server-side kick waits a backoff too (a kick may come to
 * every client at once), then refreshes and tries.
 *
 * @example
 * const step = connectionTransition({ canRefresh: true })
 * step({ status: 'closed' }, { type: 'open', allowed: true }) // [{ status: 'handshaking', … }, [createSocket, handshake]]
 */
export const connectionTransition =
  (config: ConnectionMachineConfig) =>
  (state: ConnectionMachineState, event: ConnectionEvent): Result => {
    const same: Result = [state, []]
    switch (event.type) {
      case 'open':
        if (!event.allowed || (state.status === 'closed' && state.stopped)) return same
        if (state.status === 'closed') {
          return [
            { status: 'handshaking', attempt: 0, refreshed: false },
            [{ type: 'createSocket' }, { type: 'handshake' }],
          ]
        }
        // Backing off (or stalled): an explicit connect tries now.
        return state.status === 'waiting' || state.status === 'stalled'
          ? attemptNow(state, cancelIfWaiting(state))
          : same

      case 'close':
        if (state.status === 'closed') return same
        return [{ status: 'closed' }, destroy(state, event.expired)]
      case 'shutdown':
        if (state.status === 'closed') return state.stopped ? same : [STOPPED, []]
        return [STOPPED, destroy(state)]

      case 'afterShutdown':
        // A `connect` after the shutdown moved the slice to `connecting`, which nothing will end: it is closed for good.
        return state.status === 'closed' && state.stopped && event.connectionStatus === 'connecting'
          ? [state, [{ type: 'dispatch', action: shutdown() }]]
          : same

      case 'connected': {
        if (state.status === 'closed') return same
        const effects = cancelIfWaiting(state)
        // A token refreshed after the handshake read `auth` found no live socket to renew: the socket holds the older
        // one, and the server would end it at that token's expiry.
        const { token, handshakeToken } = event
        if (token && typeof handshakeToken === 'string' && token !== handshakeToken)
          effects.push({ type: 'renewSession', token })
        return [{ status: 'open', attempt: state.attempt }, effects]
      }

      case 'synced':
        return state.status === 'open' && state.attempt !== 0 ? [{ status: 'open', attempt: 0 }, []] : same

      case 'connectFailed':
        if (state.status !== 'handshaking' && state.status !== 'waiting' && state.status !== 'stalled') return same
        if (event.error.code === 'UNAUTHORIZED') return refreshThenHandshake(state, event.error, false, config)
        // The network failed (not the token): a refusal after it may refresh again, the token it refreshed having
        // perhaps expired meanwhile (a long time offline).
        if (state.status === 'waiting') {
          // Told the server's wait (a follower's proxy, by its holder) while in a backoff of its own: the wait runs
          // from now, and no retry trigger cuts it short (a takeover meanwhile would try against a server that said wait).
          if (event.retryAfterMs === undefined || state.rate || state.then !== 'attempt') return same
          const [waited, effects] = scheduleRetry(
            state.attempt,
            false,
            'attempt',
            config,
            event.jitter,
            event.retryAfterMs,
          )
          return [waited, [{ type: 'cancelTimer' }, ...effects]]
        }
        // The attempt began on the network that was gone (Chrome fails it with ERR_NETWORK_CHANGED right after
        // `online`): the signal was for the next one, which a backoff of up to 30 s would otherwise hold back.
        if (state.status === 'handshaking' && state.signalled && event.retryAfterMs === undefined)
          return attemptNow({ attempt: state.attempt, refreshed: false })
        return scheduleRetry(state.attempt, false, 'attempt', config, event.jitter, event.retryAfterMs)

      case 'disconnected': {
        // The app closed the socket between attempts (its own `disconnect()`: Socket.IO fires no `disconnect` then, the
        // runner says it): deliberate, so the wait (or refresh) under way leads to no attempt.
        if ((state.status === 'waiting' || state.status === 'refreshing') && event.reason === 'io client disconnect')
          return [
            { status: 'stalled', attempt: state.attempt, refreshed: state.status === 'waiting' && state.refreshed },
            cancelIfWaiting(state),
          ]
        if (state.status === 'closed' || state.status === 'waiting' || state.status === 'refreshing') return same
        // A socket dropped before its first sync keeps counting its run (a server that kicks every socket at once
        // after the handshake is backed off more and more, not retried every few hundred ms).
        const attempt = state.attempt
        const refreshed = state.status === 'open' ? false : state.refreshed
        // Our own client closed it (not through `disconnect`, which unbinds first): nothing to retry.
        if (event.reason === 'io client disconnect') return [{ status: 'stalled', attempt, refreshed }, []]
        // Socket.IO does not reconnect after a server-side kick; we do, and only with a fresh token.
        const kicked = event.reason === 'io server disconnect' && config.canRefresh
        // A transport lost before the server answered is a network failure like `connect_error`'s (above).
        if (state.status === 'handshaking' && state.signalled && event.reason !== 'io server disconnect')
          return attemptNow({ attempt, refreshed })
        return scheduleRetry(attempt, refreshed, kicked ? 'refresh' : 'attempt', config, event.jitter)
      }

      case 'retryNow':
        // A live socket the server has not pinged for longer than the heartbeat allows (the laptop slept: the server
        // dropped it meanwhile, and Socket.IO's ping timeout is on a timer that stood still) would say "online" until
        // that timer ran out, up to 20 s after the wake, with nothing delivered: a new one resumes from the offset.
        if (state.status === 'open')
          return event.silentForMs !== undefined && event.silentForMs > (config.heartbeatMs ?? HEARTBEAT_SILENCE_MS)
            ? newSocket(state)
            : same
        // Followers ask for the socket as their own waits end, one draw each: ten tabs would make ten attempts, each
        // raising the exponent, and the next wait would reach the cap (30 s) within a second of a server restart. An
        // ask is met by an attempt under way, and an attempt it makes is not counted: the run is the holder's own.
        if (event.asked) {
          if (state.status !== 'waiting' || state.rate || state.then !== 'attempt') return same
          // A follower's wake passed on after its ask is one more signal of the same return.
          return attemptNow(state, [{ type: 'cancelTimer' }], false, true)
        }
        // An attempt begun before the network came back (before a sleep, or on the network that went) may neither
        // connect nor fail: its connection half-open, it would hold the next one back until Socket.IO's connect timeout
        // (20 s of "reconnecting…"). It is made again at once on a new socket; not one begun at a trigger, which the
        // other signals of the same return (`online`, the wake's tick, a follower's wake) would make again and again.
        // A refusal after it may refresh again, as after a network failure (the token may have expired meanwhile).
        if (state.status === 'handshaking' && event.network && !state.atSignal) {
          return attemptNow(
            { attempt: state.attempt, refreshed: false },
            [...destroy(state), { type: 'createSocket' }],
            true,
            true,
          )
        }
        if (state.status === 'handshaking' || state.status === 'refreshing')
          return state.signalled ? same : [{ ...state, signalled: true }, []]
        return state.status === 'waiting' && !state.rate ? endWait(state, true, config) : same
      case 'timerFired':
        return state.status === 'waiting' ? endWait(state, false, config) : same

      case 'refreshDone':
        if (state.status !== 'refreshing') return same
        if (event.outcome === 'refreshed') {
          const run = { attempt: state.attempt, refreshed: true }
          return state.counted ? attemptNow(run) : [{ status: 'handshaking', ...run }, [{ type: 'handshake' }]]
        }
        if (event.outcome === 'refused') {
          const effects: ConnectionEffect[] =
            event.connectionStatus === 'unauthorized' ? [] : [{ type: 'dispatch', action: sessionExpired(state.error) }]
          return [{ status: 'stalled', attempt: state.attempt, refreshed: true }, effects]
        }
        // The refresh endpoint could not be reached: back off, and a refusal after that may refresh again. Unless the
        // network came back (or the tab showed) while it was out: it began on the network that was gone.
        if (state.signalled) return attemptNow({ attempt: state.attempt, refreshed: false })
        return scheduleRetry(state.attempt, false, 'attempt', config, event.jitter)

      case 'tokenRefreshed':
        // A live socket is renewed in place: same socket, rooms and events, no reconnect.
        if (state.status === 'open') return event.token ? [state, [{ type: 'renewSession', token: event.token }]] : same
        // A socket waiting to try again tries now with the new token (e.g. one another tab got); not within the wait
        // the server asked for, which is its handshake budget's, not the token's.
        if (
          ((state.status === 'waiting' && !state.rate) || state.status === 'stalled') &&
          (event.connectionStatus === 'connecting' || event.connectionStatus === 'reconnecting')
        ) {
          return attemptNow(state, cancelIfWaiting(state))
        }
        return same

      case 'resync':
        // Only a live socket: one that is (re)connecting resumes from the offset at its handshake anyway. The old
        // socket is unbound before it closes, so its `disconnect` feeds nothing; the new one is a plain attempt.
        return state.status === 'open' ? newSocket(state) : same

      case 'transportStalled': {
        // A live socket resumes from the offset on a new one, as after a gap. An attempt is made again at once on a
        // new socket, counted in its run: the server answered it (a refusal or a network down would say so), and a
        // stall shows only at the server's upgrade timeout (10 s), which spaces these attempts on its own.
        if (state.status === 'open') return newSocket(state)
        if (state.status !== 'handshaking') return same
        const attempt = state.attempt + 1
        return [
          { status: 'handshaking', attempt, refreshed: state.refreshed },
          [
            ...destroy(state),
            { type: 'createSocket' },
            { type: 'dispatch', action: reconnecting({ attempt }) },
            { type: 'handshake' },
          ],
        ]
      }

      case 'roleChanged':
        // Whatever it was doing (a refresh in flight included: its answer is for the old socket and is dropped), a
        // socket of the new kind resumes from the store's offset. Closed stays closed: the next `open` makes the kind.
        // Within a wait the server asked for (told by the holder before this tab took over, or its own), a tab taking
        // the browser's socket over waits out what is left of it: the timer runs on, its end is the attempt. A tab
        // handing it over does not: its proxy never meets the server, and the new holder may be connected already.
        if (state.status === 'waiting' && state.rate && event.role === 'leader')
          return [state, [{ type: 'destroySocket' }, { type: 'createSocket' }]]
        return state.status === 'closed' ? same : newSocket(state)

      case 'refreshFailed':
        if (event.connectionStatus === 'idle' || event.connectionStatus === 'unauthorized') return same
        return [state, [{ type: 'dispatch', action: sessionExpired(NOT_RENEWED) }]]
    }
  }
