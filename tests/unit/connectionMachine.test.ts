import { describe, expect, test } from 'vitest'
import { reconnecting, sessionExpired, shutdown, type ConnectionError } from '../../src/realtime/actions'
import {
  connectionTransition,
  type ConnectionEffect,
  type ConnectionEvent,
  type ConnectionMachineState,
} from '../../src/realtime/connectionMachine'

const step = connectionTransition({ canRefresh: true })
const stepWithoutRefresh = connectionTransition({ canRefresh: false })

const REFUSED: ConnectionError = { code: 'UNAUTHORIZED', message: 'missing or invalid token' }
const NETWORK: ConnectionError = { code: 'NETWORK', message: 'xhr poll error' }
const KICKED: ConnectionError = { code: 'UNAUTHORIZED', message: 'Disconnected by the server' }

const closed: ConnectionMachineState = { status: 'closed' }
/** After `shutdown`: closed for good. */
const stopped: ConnectionMachineState = { status: 'closed', stopped: true }
const open: ConnectionMachineState = { status: 'open', attempt: 0 }
/** Open before its first sync, from a run of `attempt` attempts. */
const openUnsynced = (attempt: number): ConnectionMachineState => ({ status: 'open', attempt })
const handshaking = (attempt = 0, refreshed = false): ConnectionMachineState => ({
  status: 'handshaking',
  attempt,
  refreshed,
})
/** An attempt begun at a retry trigger, on the network as it is then. */
const handshakingAtSignal = (attempt: number, refreshed = false): ConnectionMachineState => ({
  ...(handshaking(attempt, refreshed) as Extract<ConnectionMachineState, { status: 'handshaking' }>),
  atSignal: true,
})
const waiting = (
  attempt: number,
  then: 'attempt' | 'refresh' = 'attempt',
  refreshed = false,
): ConnectionMachineState => ({
  status: 'waiting',
  attempt,
  refreshed,
  then,
})
/** Waiting out the wait the server asked for (a handshake refused for its budget): no retry trigger cuts it short. */
const rateWaiting = (attempt: number): ConnectionMachineState => ({
  ...(waiting(attempt) as Extract<ConnectionMachineState, { status: 'waiting' }>),
  rate: true,
})
const stalled = (attempt: number, refreshed = false): ConnectionMachineState => ({
  status: 'stalled',
  attempt,
  refreshed,
})
const refreshing = (attempt: number, counted = false, error = REFUSED): ConnectionMachineState => ({
  status: 'refreshing',
  attempt,
  counted,
  error,
})

const tryAgain = (attempt: number): ConnectionEffect[] => [
  { type: 'dispatch', action: reconnecting({ attempt }) },
  { type: 'handshake' },
]
const cancel: ConnectionEffect = { type: 'cancelTimer' }

type Row = [
  name: string,
  from: ConnectionMachineState,
  event: ConnectionEvent,
  to: ConnectionMachineState,
  effects: ConnectionEffect[],
]

const rows: Row[] = [
  // open
  [
    'open creates the socket and handshakes',
    closed,
    { type: 'open', allowed: true },
    handshaking(),
    [{ type: 'createSocket' }, { type: 'handshake' }],
  ],
  ['open without a token (or unauthorized) does nothing', closed, { type: 'open', allowed: false }, closed, []],
  [
    'open while waiting tries now',
    waiting(2),
    { type: 'open', allowed: true },
    handshaking(3),
    [cancel, ...tryAgain(3)],
  ],
  ['open while stalled tries now', stalled(1), { type: 'open', allowed: true }, handshaking(2), tryAgain(2)],
  ['open while open does nothing', open, { type: 'open', allowed: true }, open, []],
  ['open while handshaking does nothing', handshaking(1), { type: 'open', allowed: true }, handshaking(1), []],
  ['open while refreshing does nothing', refreshing(1), { type: 'open', allowed: true }, refreshing(1), []],
  // close
  ['close destroys the socket', open, { type: 'close' }, closed, [{ type: 'destroySocket' }]],
  [
    'close for a session that is over says so',
    open,
    { type: 'close', expired: true },
    closed,
    [{ type: 'destroySocket', expired: true }],
  ],
  [
    'close while waiting also stops the timer',
    waiting(1),
    { type: 'close' },
    closed,
    [cancel, { type: 'destroySocket' }],
  ],
  ['close while refreshing forgets the refresh', refreshing(1), { type: 'close' }, closed, [{ type: 'destroySocket' }]],
  ['close when closed does nothing', closed, { type: 'close' }, closed, []],
  // shutdown
  ['shutdown closes the socket for good', open, { type: 'shutdown' }, stopped, [{ type: 'destroySocket' }]],
  [
    'shutdown while waiting also stops the timer',
    waiting(1),
    { type: 'shutdown' },
    stopped,
    [cancel, { type: 'destroySocket' }],
  ],
  ['shutdown without a socket: closed for good', closed, { type: 'shutdown' }, stopped, []],
  ['a second shutdown does nothing', stopped, { type: 'shutdown' }, stopped, []],
  ['a close after the shutdown does nothing', stopped, { type: 'close' }, stopped, []],
  [
    'open after the shutdown does nothing (a late login neither)',
    stopped,
    { type: 'open', allowed: true },
    stopped,
    [],
  ],
  [
    'an action after the shutdown that left the slice connecting (a connect) is closed for good',
    stopped,
    { type: 'afterShutdown', connectionStatus: 'connecting' },
    stopped,
    [{ type: 'dispatch', action: shutdown() }],
  ],
  [
    'any other action after the shutdown does nothing',
    stopped,
    { type: 'afterShutdown', connectionStatus: 'disconnected' },
    stopped,
    [],
  ],
  // connected
  [
    'connected ends the handshake (the refresh budget starts over; the attempts once the stream has synced)',
    handshaking(3, true),
    { type: 'connected' },
    openUnsynced(3),
    [],
  ],
  ['connected while waiting stops the timer', waiting(1), { type: 'connected' }, openUnsynced(1), [cancel]],
  [
    'connected with a token refreshed after the handshake read auth renews the socket with it',
    handshaking(1),
    { type: 'connected', token: 't2', handshakeToken: 't1' },
    openUnsynced(1),
    [{ type: 'renewSession', token: 't2' }],
  ],
  [
    'connected with the token the handshake carried: no renewal',
    handshaking(1),
    { type: 'connected', token: 't1', handshakeToken: 't1' },
    openUnsynced(1),
    [],
  ],
  [
    'connected without a handshake read here (a follower’s proxy): no renewal',
    handshaking(1),
    { type: 'connected', token: 't2', handshakeToken: null },
    openUnsynced(1),
    [],
  ],
  [
    'connected without a token (logged out meanwhile): no renewal',
    handshaking(1),
    { type: 'connected', token: null, handshakeToken: 't1' },
    openUnsynced(1),
    [],
  ],
  [
    'connected after close, with a newer token, is ignored',
    closed,
    { type: 'connected', token: 't2', handshakeToken: 't1' },
    closed,
    [],
  ],
  ['the first sync ends the run of attempts', openUnsynced(3), { type: 'synced' }, open, []],
  ['a sync on a sound socket changes nothing', open, { type: 'synced' }, open, []],
  ['a sync while not open changes nothing', handshaking(2), { type: 'synced' }, handshaking(2), []],
  [
    'kicked before its first sync, a socket backs off from the run it was on (no retry every few hundred ms)',
    openUnsynced(4),
    { type: 'disconnected', reason: 'io server disconnect' },
    waiting(4, 'refresh'),
    [{ type: 'startTimer', attempt: 5 }],
  ],
  [
    'a network failure after a refresh lets a later refusal refresh again (its fresh token may have expired offline)',
    handshaking(2, true),
    { type: 'connectFailed', error: NETWORK },
    waiting(2),
    [{ type: 'startTimer', attempt: 3 }],
  ],
  ['connected after close is ignored', closed, { type: 'connected' }, closed, []],
  // connectFailed
  [
    'a network failure backs off',
    handshaking(0),
    { type: 'connectFailed', error: NETWORK },
    waiting(0),
    [{ type: 'startTimer', attempt: 1 }],
  ],
  [
    'the backoff grows with the attempt',
    handshaking(3),
    { type: 'connectFailed', error: NETWORK },
    waiting(3),
    [{ type: 'startTimer', attempt: 4 }],
  ],
  [
    'a refusal refreshes the token once',
    handshaking(0),
    { type: 'connectFailed', error: REFUSED },
    refreshing(0),
    [{ type: 'refreshToken' }],
  ],
  [
    'a second refusal with a fresh token ends the session',
    handshaking(0, true),
    { type: 'connectFailed', error: REFUSED },
    stalled(0, true),
    [{ type: 'dispatch', action: sessionExpired(REFUSED) }],
  ],
  [
    'a failure while already waiting changes nothing',
    waiting(1),
    { type: 'connectFailed', error: NETWORK },
    waiting(1),
    [],
  ],
  ['a failure while open is ignored', open, { type: 'connectFailed', error: NETWORK }, open, []],
  [
    // A follower's proxy, in its own backoff, told by the holder that the server refused it for its handshake budget:
    // taking the socket over before its next attach would try at once, against a server that asked clients to wait.
    'a refusal for the handshake budget while waiting out a backoff waits, from now, at least the retryAfterMs it names',
    waiting(1),
    { type: 'connectFailed', error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' }, retryAfterMs: 5000 },
    rateWaiting(1),
    [{ type: 'cancelTimer' }, { type: 'startTimer', attempt: 2, atLeastMs: 5000 }],
  ],
  [
    'a refusal for the handshake budget while already waiting out the server’s wait changes nothing',
    rateWaiting(1),
    { type: 'connectFailed', error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' }, retryAfterMs: 5000 },
    rateWaiting(1),
    [],
  ],
  [
    'a refusal for the handshake budget waits at least the retryAfterMs it names',
    handshaking(2),
    { type: 'connectFailed', error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' }, retryAfterMs: 5000 },
    rateWaiting(2),
    [{ type: 'startTimer', attempt: 3, atLeastMs: 5000 }],
  ],
  // the backoff's delay, drawn from the event's jitter (full jitter below min(30 s, 500 ms · 2^(attempt-1)))
  [
    'a network failure waits its jittered delay',
    handshaking(3),
    { type: 'connectFailed', error: NETWORK, jitter: 0.5 },
    waiting(3),
    [{ type: 'startTimer', attempt: 4, delayMs: 2000 }],
  ],
  [
    'a drop waits its jittered delay',
    open,
    { type: 'disconnected', reason: 'transport close', jitter: 0.9 },
    waiting(0),
    [{ type: 'startTimer', attempt: 1, delayMs: 450 }],
  ],
  [
    'an unreachable refresh waits its jittered delay',
    refreshing(1),
    { type: 'refreshDone', outcome: 'unavailable', connectionStatus: 'reconnecting', jitter: 0.5 },
    waiting(1),
    [{ type: 'startTimer', attempt: 2, delayMs: 500 }],
  ],
  [
    'the server’s wait, when longer than the jittered delay, is the delay',
    handshaking(2),
    {
      type: 'connectFailed',
      error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' },
      retryAfterMs: 5000,
      jitter: 0.5,
    },
    rateWaiting(2),
    [{ type: 'startTimer', attempt: 3, atLeastMs: 5000, delayMs: 5000 }],
  ],
  [
    'the jittered delay, when longer than the server’s wait, is the delay',
    handshaking(2),
    { type: 'connectFailed', error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' }, retryAfterMs: 100, jitter: 0.5 },
    rateWaiting(2),
    [{ type: 'startTimer', attempt: 3, atLeastMs: 100, delayMs: 1000 }],
  ],
  [
    'a draw that leads to no wait changes nothing',
    waiting(1),
    { type: 'disconnected', reason: 'transport close', jitter: 0.5 },
    waiting(1),
    [],
  ],
  // disconnected
  [
    'a drop backs off from attempt 0',
    open,
    { type: 'disconnected', reason: 'transport close' },
    waiting(0),
    [{ type: 'startTimer', attempt: 1 }],
  ],
  [
    'a server kick waits, then refreshes',
    open,
    { type: 'disconnected', reason: 'io server disconnect' },
    waiting(0, 'refresh'),
    [{ type: 'startTimer', attempt: 1 }],
  ],
  [
    "our own client's disconnect stalls",
    open,
    { type: 'disconnected', reason: 'io client disconnect' },
    stalled(0),
    [],
  ],
  [
    "the app's own disconnect() while waiting (Socket.IO fires no disconnect then: the layer says it) ends the wait: stalled",
    waiting(2, 'attempt', true),
    { type: 'disconnected', reason: 'io client disconnect' },
    stalled(2, true),
    [{ type: 'cancelTimer' }],
  ],
  [
    "our own client's disconnect while a refresh is out: stalled, the refresh's answer leads to no attempt",
    refreshing(2),
    { type: 'disconnected', reason: 'io client disconnect' },
    stalled(2),
    [],
  ],
  [
    'a drop while waiting keeps the wait',
    waiting(2),
    { type: 'disconnected', reason: 'transport close' },
    waiting(2),
    [],
  ],
  [
    'a drop while handshaking backs off',
    handshaking(2),
    { type: 'disconnected', reason: 'transport error' },
    waiting(2),
    [{ type: 'startTimer', attempt: 3 }],
  ],
  // retryNow and the timer
  ['retryNow cuts the wait short', waiting(1), { type: 'retryNow' }, handshakingAtSignal(2), [cancel, ...tryAgain(2)]],
  ['the timer ends the wait', waiting(1), { type: 'timerFired' }, handshaking(2), tryAgain(2)],
  [
    'after a kick the wait ends with a counted refresh',
    waiting(0, 'refresh'),
    { type: 'timerFired' },
    refreshing(0, true, KICKED),
    [{ type: 'refreshToken' }],
  ],
  [
    'after a kick, retryNow cuts the wait short with a counted refresh',
    waiting(2, 'refresh'),
    { type: 'retryNow' },
    refreshing(2, true, KICKED),
    [cancel, { type: 'refreshToken' }],
  ],
  [
    'after a kick, a wait whose run already spent its refresh ends the session',
    waiting(2, 'refresh', true),
    { type: 'timerFired' },
    stalled(2, true),
    [{ type: 'dispatch', action: sessionExpired(KICKED) }],
  ],
  [
    'a refusal while waiting refreshes, the timer cancelled',
    waiting(2),
    { type: 'connectFailed', error: REFUSED },
    refreshing(2, false, REFUSED),
    [cancel, { type: 'refreshToken' }],
  ],
  [
    'a refusal of a stalled socket refreshes',
    stalled(2),
    { type: 'connectFailed', error: REFUSED },
    refreshing(2, false, REFUSED),
    [{ type: 'refreshToken' }],
  ],
  [
    'a network failure of a stalled socket backs off',
    stalled(2, true),
    { type: 'connectFailed', error: NETWORK },
    waiting(2),
    [{ type: 'startTimer', attempt: 3 }],
  ],
  [
    'a drop of a stalled socket backs off, keeping its run and refresh',
    stalled(2, true),
    { type: 'disconnected', reason: 'transport close' },
    waiting(2, 'attempt', true),
    [{ type: 'startTimer', attempt: 3 }],
  ],
  ['retryNow when not waiting does nothing', open, { type: 'retryNow' }, open, []],
  [
    'retryNow on a live socket whose last ping is recent enough does nothing',
    open,
    { type: 'retryNow', silentForMs: 20_000 },
    open,
    [],
  ],
  [
    'retryNow on a live socket silent past its heartbeat (a sleep) replaces it with one that resumes',
    open,
    { type: 'retryNow', silentForMs: 20_001 },
    handshaking(1),
    [{ type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(1)],
  ],
  [
    'retryNow while waiting cuts the wait short whatever the silence',
    waiting(1),
    { type: 'retryNow', silentForMs: 600_000 },
    handshakingAtSignal(2),
    [cancel, ...tryAgain(2)],
  ],
  [
    'a follower asking for the socket cuts the wait short with an attempt not counted in the run (its exponent)',
    waiting(2),
    { type: 'retryNow', asked: true },
    handshakingAtSignal(2),
    [cancel, ...tryAgain(3)],
  ],
  [
    'a follower asking during an attempt is met by it',
    handshaking(2),
    { type: 'retryNow', asked: true },
    handshaking(2),
    [],
  ],
  [
    'a follower asking during a wait the server asked for waits',
    rateWaiting(2),
    { type: 'retryNow', asked: true },
    rateWaiting(2),
    [],
  ],
  [
    'retryNow while handshaking is kept for that attempt',
    handshaking(2),
    { type: 'retryNow' },
    { ...handshaking(2), signalled: true } as ConnectionMachineState,
    [],
  ],
  [
    'the network back (online, a wake) during an attempt is one more attempt at once, on a new socket',
    handshaking(2, true),
    { type: 'retryNow', network: true },
    handshakingAtSignal(3),
    [{ type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(3)],
  ],
  [
    'the network back during an attempt another trigger came during is made again too',
    { ...handshaking(2), signalled: true } as ConnectionMachineState,
    { type: 'retryNow', network: true },
    handshakingAtSignal(3),
    [{ type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(3)],
  ],
  [
    'the network back during an attempt begun at a trigger is kept for that attempt',
    handshakingAtSignal(2),
    { type: 'retryNow', network: true },
    { ...handshakingAtSignal(2), signalled: true } as ConnectionMachineState,
    [],
  ],
  [
    'a network failure of an attempt signalled meanwhile tries again at once',
    { ...handshaking(2, true), signalled: true } as ConnectionMachineState,
    { type: 'connectFailed', error: NETWORK },
    handshaking(3),
    tryAgain(3),
  ],
  [
    'a transport lost by an attempt signalled meanwhile (before the server answered) tries again at once',
    { ...handshaking(2, true), signalled: true } as ConnectionMachineState,
    { type: 'disconnected', reason: 'transport close' },
    handshaking(3, true),
    tryAgain(3),
  ],
  [
    'a kick of an attempt signalled meanwhile still waits and refreshes: the signal only hurries a network failure',
    { ...handshaking(2), signalled: true } as ConnectionMachineState,
    { type: 'disconnected', reason: 'io server disconnect' },
    waiting(2, 'refresh'),
    [{ type: 'startTimer', attempt: 3 }],
  ],
  [
    'a refusal for the budget of an attempt signalled meanwhile still waits what the server asked',
    { ...handshaking(2), signalled: true } as ConnectionMachineState,
    { type: 'connectFailed', error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' }, retryAfterMs: 5_000 },
    rateWaiting(2),
    [{ type: 'startTimer', attempt: 3, atLeastMs: 5_000 }],
  ],
  ['retryNow does not cut short a wait the server asked for', rateWaiting(2), { type: 'retryNow' }, rateWaiting(2), []],
  [
    'a new token does not cut short a wait the server asked for',
    rateWaiting(2),
    { type: 'tokenRefreshed', token: 'token-2', connectionStatus: 'reconnecting' },
    rateWaiting(2),
    [],
  ],
  ['the timer ends a wait the server asked for', rateWaiting(2), { type: 'timerFired' }, handshaking(3), tryAgain(3)],
  ['a stale timer when not waiting does nothing', handshaking(1), { type: 'timerFired' }, handshaking(1), []],
  // refreshDone
  [
    'a fresh token continues the refused attempt',
    refreshing(1),
    { type: 'refreshDone', outcome: 'refreshed', connectionStatus: 'reconnecting' },
    handshaking(1, true),
    [{ type: 'handshake' }],
  ],
  [
    'after a kick the fresh token starts an attempt of its own',
    refreshing(0, true, KICKED),
    { type: 'refreshDone', outcome: 'refreshed', connectionStatus: 'reconnecting' },
    handshaking(1, true),
    tryAgain(1),
  ],
  [
    'a refused refresh ends the session',
    refreshing(1),
    { type: 'refreshDone', outcome: 'refused', connectionStatus: 'reconnecting' },
    stalled(1, true),
    [{ type: 'dispatch', action: sessionExpired(REFUSED) }],
  ],
  [
    'a refused refresh when already unauthorized says nothing more',
    refreshing(1),
    { type: 'refreshDone', outcome: 'refused', connectionStatus: 'unauthorized' },
    stalled(1, true),
    [],
  ],
  [
    'an unreachable refresh backs off, and may refresh again later',
    refreshing(1),
    { type: 'refreshDone', outcome: 'unavailable', connectionStatus: 'reconnecting' },
    waiting(1),
    [{ type: 'startTimer', attempt: 2 }],
  ],
  [
    'retryNow while refreshing is kept for that refresh',
    refreshing(1),
    { type: 'retryNow' },
    { ...refreshing(1), signalled: true } as ConnectionMachineState,
    [],
  ],
  [
    'an unreachable refresh signalled meanwhile (it began on the network that was gone) tries again at once',
    { ...refreshing(1), signalled: true } as ConnectionMachineState,
    { type: 'refreshDone', outcome: 'unavailable', connectionStatus: 'reconnecting' },
    handshaking(2),
    tryAgain(2),
  ],
  [
    'a refused refresh signalled meanwhile still ends the session: the signal only hurries a network failure',
    { ...refreshing(1), signalled: true } as ConnectionMachineState,
    { type: 'refreshDone', outcome: 'refused', connectionStatus: 'reconnecting' },
    stalled(1, true),
    [{ type: 'dispatch', action: sessionExpired(REFUSED) }],
  ],
  [
    'a fresh token of a refresh signalled meanwhile continues the refused attempt, as without the signal',
    { ...refreshing(1), signalled: true } as ConnectionMachineState,
    { type: 'refreshDone', outcome: 'refreshed', connectionStatus: 'reconnecting' },
    handshaking(1, true),
    [{ type: 'handshake' }],
  ],
  [
    'a refused handshake signalled meanwhile refreshes, as without the signal',
    { ...handshaking(2), signalled: true } as ConnectionMachineState,
    { type: 'connectFailed', error: { code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' } },
    refreshing(2, false, { code: 'UNAUTHORIZED', message: 'UNAUTHORIZED' }),
    [{ type: 'refreshToken' }],
  ],
  [
    'a refresh answer when not refreshing is ignored',
    open,
    { type: 'refreshDone', outcome: 'refused', connectionStatus: 'connected' },
    open,
    [],
  ],
  // tokenRefreshed
  [
    'a live socket is renewed in place',
    open,
    { type: 'tokenRefreshed', token: 't2', connectionStatus: 'connected' },
    open,
    [{ type: 'renewSession', token: 't2' }],
  ],
  ['no token, no renewal', open, { type: 'tokenRefreshed', token: null, connectionStatus: 'connected' }, open, []],
  [
    'a waiting socket tries now with the new token',
    waiting(2),
    { type: 'tokenRefreshed', token: 't2', connectionStatus: 'reconnecting' },
    handshaking(3),
    [cancel, ...tryAgain(3)],
  ],
  [
    'a stalled socket tries now with the new token',
    stalled(0, true),
    { type: 'tokenRefreshed', token: 't2', connectionStatus: 'connecting' },
    handshaking(1, true),
    tryAgain(1),
  ],
  [
    'a handshake under way is not doubled',
    handshaking(1),
    { type: 'tokenRefreshed', token: 't2', connectionStatus: 'reconnecting' },
    handshaking(1),
    [],
  ],
  [
    'an unauthorized (stalled) socket waits for a login, not a token',
    stalled(0, true),
    { type: 'tokenRefreshed', token: 't2', connectionStatus: 'unauthorized' },
    stalled(0, true),
    [],
  ],
  // refreshFailed (HTTP)
  [
    'a refresh refused over HTTP ends the session',
    open,
    { type: 'refreshFailed', connectionStatus: 'connected' },
    open,
    [
      {
        type: 'dispatch',
        action: sessionExpired({ code: 'UNAUTHORIZED', message: 'The session could not be renewed' }),
      },
    ],
  ],
  [
    'a refresh refused over HTTP before any connection changes nothing',
    closed,
    { type: 'refreshFailed', connectionStatus: 'idle' },
    closed,
    [],
  ],
  // resync (events missing and not coming: resume from the applied offset)
  [
    'a live socket is replaced by a new one that resumes',
    open,
    { type: 'resync' },
    handshaking(1),
    [{ type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(1)],
  ],
  ['a socket backing off resumes at its own handshake: nothing more', waiting(2), { type: 'resync' }, waiting(2), []],
  ['a handshake under way resumes anyway: nothing more', handshaking(1), { type: 'resync' }, handshaking(1), []],
  ['no socket, nothing to resume', closed, { type: 'resync' }, closed, []],
  // transportStalled (the connection stuck in its upgrade to WebSocket: nothing passes on it any more)
  [
    'a live socket is replaced by a new one that resumes',
    open,
    { type: 'transportStalled' },
    handshaking(1),
    [{ type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(1)],
  ],
  [
    'a handshake is made again at once on a new socket, counted in its run (a refresh already spent stays spent)',
    handshaking(3, true),
    { type: 'transportStalled' },
    handshaking(4, true),
    [{ type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(4)],
  ],
  [
    'a handshake a trigger came during is made again the same way',
    { status: 'handshaking', attempt: 2, refreshed: false, signalled: true },
    { type: 'transportStalled' },
    handshaking(3),
    [{ type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(3)],
  ],
  ...(
    [
      ['a socket backing off', waiting(2)],
      ['a stalled socket', stalled(1)],
      ['a refresh in flight', refreshing(2)],
      ['no socket', closed],
    ] as [string, ConnectionMachineState][]
  ).map(
    ([name, from]): Row => [
      `${name}: no attempt under way, nothing to do`,
      from,
      { type: 'transportStalled' },
      from,
      [],
    ],
  ),
  // roleChanged (this tab took over the browser's socket, or handed it over)
  ...(
    [
      ['a live socket', open, []],
      ['a handshake under way', handshaking(2, true), []],
      ['a socket backing off (its timer cancelled)', waiting(3), [cancel]],
      ['a stalled socket', stalled(1, true), []],
      ['a refresh in flight (its answer is for the old socket)', refreshing(2), []],
    ] as [string, ConnectionMachineState, ConnectionEffect[]][]
  ).flatMap(([name, from, first]) =>
    (['leader', 'follower'] as const).map(
      (role): Row => [
        `a new part (${role}): ${name} is replaced by one of the new kind that resumes`,
        from,
        { type: 'roleChanged', role },
        handshaking(1),
        [...first, { type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(1)],
      ],
    ),
  ),
  [
    'taking the socket over within the wait the server asked for: the new socket waits out the rest of it (its timer runs on)',
    rateWaiting(2),
    { type: 'roleChanged', role: 'leader' },
    rateWaiting(2),
    [{ type: 'destroySocket' }, { type: 'createSocket' }],
  ],
  [
    'handing the socket over within the wait the server asked for: the proxy, which never meets the server, attaches at once',
    rateWaiting(2),
    { type: 'roleChanged', role: 'follower' },
    handshaking(1),
    [cancel, { type: 'destroySocket' }, { type: 'createSocket' }, ...tryAgain(1)],
  ],
  [
    'a new part without a socket: the next open makes the right kind',
    closed,
    { type: 'roleChanged', role: 'leader' },
    closed,
    [],
  ],
]

describe('connectionTransition', () => {
  test.each(rows)('%s', (_name, from, event, to, effects) => {
    expect(step(from, event)).toEqual([to, effects])
  })

  test.each<[string, ConnectionMachineState, ConnectionEvent]>([
    ['a refusal', handshaking(0), { type: 'connectFailed', error: REFUSED }],
  ])('without a refresher %s ends the session at once', (_name, from, event) => {
    expect(stepWithoutRefresh(from, event)).toEqual([
      stalled(0),
      [{ type: 'dispatch', action: sessionExpired(REFUSED) }],
    ])
  })

  test('without a refresher a server kick is an ordinary drop', () => {
    expect(stepWithoutRefresh(open, { type: 'disconnected', reason: 'io server disconnect' })).toEqual([
      waiting(0),
      [{ type: 'startTimer', attempt: 1 }],
    ])
  })

  test('the delay follows the configured backoff', () => {
    const slow = connectionTransition({ canRefresh: true, backoff: { baseMs: 10_000, capMs: 15_000 } })
    expect(slow(handshaking(2), { type: 'connectFailed', error: NETWORK, jitter: 0.5 })).toEqual([
      waiting(2),
      [{ type: 'startTimer', attempt: 3, delayMs: 7_500 }],
    ])
  })

  test('the function is pure: the state it was given is not changed', () => {
    const from = waiting(1)
    const copy = structuredClone(from)
    step(from, { type: 'retryNow' })
    expect(from).toEqual(copy)
  })
})
