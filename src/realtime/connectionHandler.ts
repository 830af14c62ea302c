import type { Dispatch, MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { refreshSession, type RefreshOutcome } from '../api'
import type { HandshakeAuth } from '../contract'
import { connect, disconnected, renewFailed, retryNow, transportStalled } from './actions'
import { emitWithAck } from './ack'
import { backoffDelay } from './backoff'
import { bindSocket, disownAppSocket, watchAppDisconnect } from './bindSocket'
import {
  connectionTransition,
  initialConnectionMachineState,
  type ConnectionEffect,
  type ConnectionEvent,
  type ConnectionMachineState,
} from './connectionMachine'
import { connectionStepsOf, type ConnectionFacts, type ConnectionStep } from './connectionSteps'
import type { SocketRootState } from './socketSlice'
import type { Context, Handler } from './context'
import type { TimerHandle } from './timers'
import { browserRetryTriggers } from './triggers'
import type { AppSocket } from './types'
import { watchStalledUpgrade, type UpgradingManager } from './upgradeWatch'
import type { TabsSocket } from './tabs/tabsLink'
import { SESSION_EXPIRED_REASON, type ResumePoint } from './tabs/protocol'

/**
 * The default refresh: the api's single-flight `refreshSession` (the `refreshToken` mutation, which dispatches the
 * app's `auth/tokenRefreshed`), shared with the HTTP requests that got a 401 at the same time.
 */
export function refreshWithApi(mwApi: MiddlewareAPI<Dispatch<UnknownAction>, unknown>): Promise<RefreshOutcome> {
  return (mwApi.dispatch as unknown as (t: ReturnType<typeof refreshSession>) => Promise<RefreshOutcome>)(
    refreshSession(),
  )
}

/**
 * Owns the socket's life: `connectionSteps.ts` (pure) maps each action to events of the connection machine
 * (`connectionMachine.ts`, pure) and the session's steps around it (a login closes the previous user's socket and data,
 * a logout ends the session), and this runner performs them and the machine's effects through the context's edges
 * (socket factory, timers, refresher, dispatch, the tabs' election).
 */
export function buildConnectionHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { mwApi, options, timers } = ctx
  const { dispatch, getState } = mwApi
  const refresher = options.refreshToken === false ? null : (options.refreshToken ?? refreshWithApi)
  const triggers = options.retryTriggers ?? browserRetryTriggers
  const transition = connectionTransition({ canRefresh: refresher !== null, backoff: ctx.backoff })
  let state: ConnectionMachineState = initialConnectionMachineState
  let unbind: (() => void) | null = null
  let timer: TimerHandle | null = null
  /** What the current socket is: a socket of our own, the browser's one (held here), or a follower's proxy. */
  let kind: 'own' | 'held' | 'proxy' | null = null
  let closeKind: ((reason: string) => void) | null = null

  const status = () => getState().socket.connection.status
  /**
   * When the server was last heard on this tab's own socket (its handshake, its pings), on the wall clock; null with
   * no such socket (none, or a follower's proxy, whose holder watches it).
   */
  let lastHeardAt: number | null = null
  /** The current socket's manager says each of the server's pings (`lastHeardAt` is kept only then). */
  let pinged = false
  /** The token the last handshake carried (Socket.IO reads `auth` when the transport opens, before the answer). */
  let handshakeToken: string | null = null

  /** While a handshake's refusal for its token is fed to the machine: the token it carried (`refreshToken`). */
  let refusedToken: string | null = null

  /** The handshake's `auth`: the token, and the offset to resume from (with its epoch) once the store has one. */
  const handshakeAuth = (current: S): HandshakeAuth => {
    const token = options.selectToken(current) ?? ''
    handshakeToken = token
    const own = { offset: current.socket.connection.offset, epoch: current.socket.connection.epoch }
    // Holding the browser's socket: maybe from a lower point a follower waits at (its store drops what this one has).
    const { offset, epoch } = handshakeFrom ? handshakeFrom(own) : own
    return offset !== null && epoch !== null ? { token, offset, epoch } : { token }
  }
  /** The held socket's hub's say in where its handshake resumes from (`TabsSocket.handshakeFrom`). */
  let handshakeFrom: ((own: ResumePoint) => ResumePoint) | null = null

  function send(event: ConnectionEvent) {
    const [next, effects] = transition(state, event)
    // Set before the effects run: a dispatched action may feed the machine again (re-entrantly) from the new state.
    state = next
    for (const effect of effects) perform(effect)
  }

  function cancelTimer() {
    if (timer !== null) timers.clearTimeout(timer)
    timer = null
  }

  function perform(effect: ConnectionEffect) {
    switch (effect.type) {
      case 'createSocket':
        return createSocket()
      case 'handshake':
        return ctx.socket?.connect()
      case 'destroySocket':
        return destroySocket(effect.expired === true)
      case 'startTimer': {
        cancelTimer()
        const handle = timers.setTimeout(() => {
          if (timer !== handle) return
          timer = null
          send({ type: 'timerFired' })
        }, effect.delayMs ?? 0)
        timer = handle
        return
      }
      case 'cancelTimer':
        return cancelTimer()
      case 'refreshToken':
        return refreshToken()
      case 'renewSession':
        return renewSession(effect.token)
      case 'dispatch':
        dispatch(effect.action)
        return
    }
  }

  function createSocket() {
    // A follower's proxy never reads `auth` here: nothing of an earlier socket's handshake is compared with it.
    handshakeToken = null
    const current = getState()
    const url = typeof options.apiUrl === 'function' ? options.apiUrl(current) : options.apiUrl
    const createOwn = () =>
      (options.createSocket ?? io)(url, {
        ...options.socketOptions,
        autoConnect: false,
        // The machine reconnects with its own backoff (and the online/visible triggers): Socket.IO's would put
        // clients in lockstep after a few attempts, and report an attempt twice.
        reconnection: false,
        // Each store owns its own connection: never share io()'s cached manager with another store (or tab in tests).
        forceNew: true,
        // Read at every handshake, reconnects included, so a refreshed token is used without recreating the socket,
        // and the offset applied so far is resumed from.
        auth: (cb: (data: object) => void) => cb(handshakeAuth(getState())),
      }) as AppSocket
    const userId = options.selectUserId?.(current) ?? null
    // Shared by the browser's tabs (held here, or a follower's proxy), or a socket of this store's own.
    const made: TabsSocket =
      ctx.tabs && userId !== null
        ? ctx.tabs.makeSocket(createOwn, userId, () => {
            const { offset, epoch } = getState().socket.connection
            return { offset, epoch }
          })
        : { socket: createOwn(), exposed: null, close: () => {} }
    handshakeFrom = made.handshakeFrom ?? null
    const { socket } = made
    kind = !ctx.tabs || userId === null ? 'own' : made.exposed ? 'held' : 'proxy'
    const exposed = kind === 'own' ? socket : made.exposed
    ctx.socket = socket
    const unbindSocket = bindSocket(socket, dispatch, ctx.resume)
    const unwatch = exposed
      ? watchAppDisconnect(exposed, () => dispatch(disconnected({ reason: 'io client disconnect' })))
      : () => {}
    ctx.holder.set(exposed)
    // The server's pings (Socket.IO's Manager says each): the wall-clock sign that the socket still lives.
    const manager = exposed?.io as {
      on?(e: 'ping' | 'error', l: (error?: unknown) => void): unknown
      off?(e: 'ping' | 'error', l: (error?: unknown) => void): unknown
      opts?: { transports?: unknown }
    }
    const heard = () => {
      lastHeardAt = ctx.now()
    }
    // Without a manager to say its pings (a stand-in socket), the silence cannot be told from a sleep: not tracked.
    pinged = typeof manager?.on === 'function'
    manager?.on?.('ping', heard)
    const timedOut = (error: unknown) => startOnPollingAfterTimeout(manager, error)
    manager?.on?.('error', timedOut)
    const unping = () => {
      manager?.off?.('ping', heard)
      manager?.off?.('error', timedOut)
    }
    // The same manager (absent for a stand-in socket or a follower's proxy, whose holder watches the real one).
    const unstall = pinged
      ? watchStalledUpgrade(manager as UpgradingManager, () => {
          // As in bindSocket: a throwing reducer must not escape into Engine.IO's handler of the WebSocket's close.
          try {
            dispatch(transportStalled())
          } catch (error) {
            ctx.report('transportStalled', error)
          }
        })
      : () => {}
    const untrigger = triggers((reason) => dispatch(retryNow({ reason })))
    unbind = () => {
      unping()
      unstall()
      untrigger()
      unwatch()
      unbindSocket()
    }
    closeKind = made.close
  }

  function destroySocket(expired = false) {
    const socket = ctx.socket
    const given = ctx.holder.get()
    ctx.socket = null
    cancelRenewal()
    kind = null
    lastHeardAt = null
    // Listeners first: our own disconnect is already in state (`socket/disconnect`, logout), no event needed.
    unbind?.()
    unbind = null
    socket?.disconnect()
    // The hub tells the followers, the proxy tells the holder; after the socket itself is closed. A session that is over
    // is said as such: the followers share it, and would otherwise wait for a holder that never comes back.
    closeKind?.(expired ? SESSION_EXPIRED_REASON : 'closed')
    closeKind = null
    ctx.holder.set(null)
    // The app may still hold it (taken in the handler that called its `disconnect()`): opened again, it is a connect.
    if (given) disownAppSocket(given, () => dispatch(connect()))
  }

  /** The kind of socket this tab's part calls for (null: no socket is open, the next `open` makes the right one). */
  const wantedKind = (): typeof kind => (ctx.tabs ? (ctx.tabs.role() === 'leader' ? 'held' : 'proxy') : 'own')

  function refreshToken() {
    if (!refresher) return
    const socket = ctx.socket
    const session = ctx.session
    // The handshake refused for its token read it before a refresh answered (one that raced it: a wake's overdue
    // refresh goes with the wake's handshake, and an HTTP answer often lands before the socket's refusal): the token
    // is new already, so the handshake only goes again with it, as a 401 is only retried (`authorizedQuery`).
    // Rotating once more would cost the server a second lookup and the refresh budget a second token.
    const current = facts.token()
    const renewed = refusedToken !== null && current !== null && current !== refusedToken
    ;(renewed ? Promise.resolve<RefreshOutcome>('refreshed') : refresher(mwApi))
      .catch((): RefreshOutcome => 'unavailable')
      .then((outcome) => {
        // An answer for a socket or session that is gone is nobody's.
        if (session !== ctx.session || socket !== ctx.socket) return
        send({ type: 'refreshDone', outcome, connectionStatus: status(), jitter: ctx.random() })
      })
      .catch((e: unknown) => ctx.report('refresh', e))
  }

  /** The wait before a renewal goes again (it got no answer, or the server could not check it), and its count. */
  let renewTimer: TimerHandle | null = null
  let renewFailures = 0

  function cancelRenewal() {
    if (renewTimer !== null) timers.clearTimeout(renewTimer)
    renewTimer = null
    renewFailures = 0
  }

  function renewSession(token: string) {
    // A newer token supersedes a renewal that waits to go again.
    cancelRenewal()
    emitRenewal(token)
  }

  function emitRenewal(token: string) {
    const socket = ctx.socket
    if (!socket) return
    const session = ctx.session
    // Should the server refuse it, the socket ends at its old token's expiry and comes back through a refresh (a kick).
    void emitWithAck(socket, { event: 'session:renew', payload: { token } }, ctx.ackTimeoutMs).then((result) => {
      if (result.kind === 'ok') {
        renewFailures = 0
        return
      }
      const final = result.kind === 'error' && result.error.code !== 'INTERNAL' && result.error.code !== 'RATE_LIMITED'
      if (final) return dispatch(renewFailed({ code: result.error.code, message: result.error.message }))
      // No answer in time, or the server could not check the session (its database): not the token's fault. Left so,
      // the socket would keep its old token until the server ended it at that token's expiry (a kick, one more
      // rotation, "reconnecting…"). It goes again on the same live socket while its token is still the latest; a
      // socket that dropped meanwhile carries the latest token in its next handshake.
      const current = () =>
        session === ctx.session && socket === ctx.socket && state.status === 'open' && facts.token() === token
      if (!current() || renewTimer !== null) return
      const atLeastMs = result.kind === 'error' ? (result.error.retryAfterMs ?? 0) : 0
      const delayMs = Math.max(backoffDelay(++renewFailures, ctx.backoff, ctx.random), atLeastMs)
      const handle = timers.setTimeout(() => {
        if (renewTimer !== handle) return
        renewTimer = null
        if (current()) emitRenewal(token)
      }, delayMs)
      renewTimer = handle
    })
  }

  /** After `socket/shutdown` (the store disposed, the page gone): the machine opens nothing again. */
  const stopped = () => state.status === 'closed' && state.stopped === true

  function step(next: ConnectionStep) {
    switch (next.type) {
      case 'event': {
        const e = next.event
        // What the machine needs of the edges besides the action: the handshake's token beside the current one (a
        // socket that got an older one is renewed), a random draw (for the backoff's full jitter).
        if (e.type === 'connected') {
          if (kind !== 'proxy' && pinged) lastHeardAt = ctx.now()
          return send({ ...e, token: facts.token(), handshakeToken })
        }
        // A follower's proxy has no connection of its own to make again: its holder hears the same `online`, and this
        // page's wake is passed on to it (`onFollowerRetry`).
        if (e.type === 'retryNow' && e.network && kind === 'proxy') return send({ type: 'retryNow' })
        // How long the live socket has been silent: a trigger after a sleep finds it dead by the wall clock.
        if (e.type === 'retryNow' && lastHeardAt !== null && state.status === 'open')
          return send({ ...e, silentForMs: ctx.now() - lastHeardAt })
        if (e.type === 'connectFailed') {
          // The token the refused handshake carried, for the refresh that refusal leads to (none for a follower's proxy).
          refusedToken = e.error.code === 'UNAUTHORIZED' ? handshakeToken : null
          try {
            return send({ ...e, jitter: ctx.random() })
          } finally {
            refusedToken = null
          }
        }
        if (e.type === 'disconnected') return send({ ...e, jitter: ctx.random() })
        return send(e)
      }
      case 'open': {
        // Nor joins the election (stopped with the store), not even for the rest of an action whose steps dispatched the
        // shutdown (a middleware reacting to `sessionStarted`); its other steps (a logout's `resetApiState`) still run.
        if (stopped()) return
        // A tab that stood aside (`disconnect`) takes part in the browser's election again.
        ctx.tabs?.join()
        const allowed = Boolean(options.selectToken(getState())) && status() !== 'unauthorized'
        return send({ type: 'open', allowed })
      }
      case 'nextSession':
        ctx.session += 1
        return
      case 'dispatch':
        dispatch(next.action)
        return
      case 'leaveElection':
        return ctx.tabs?.leave()
      case 'stop':
        return send({ type: 'shutdown' })
    }
  }

  /**
   * What the mapping reads, read when an action needs it; one object for every action (the hot path of a burst:
   * bench/README.md, "Measurements behind choices in the source").
   */
  const facts: ConnectionFacts<S> = {
    status,
    token: () => options.selectToken(getState()) ?? null,
    userChanged: (prevState) => {
      const before = options.selectUserId?.(prevState) ?? null
      return before !== null && before !== (options.selectUserId?.(getState()) ?? null)
    },
    waiting: () => state.status === 'waiting',
    wrongKind: () => kind !== null && kind !== wantedKind(),
    holding: () => kind === 'held',
  }

  return (action, prevState) => {
    if (stopped()) return send({ type: 'afterShutdown', connectionStatus: status() })
    const steps = connectionStepsOf(action, prevState, facts, options)
    // Indexed, not `for…of`: every action comes here (the hot path of a burst:
    // bench/README.md, "Measurements behind choices in the source").
    for (let i = 0; i < steps.length; i++) step(steps[i]!)
  }
}

/**
 * A socket that starts on a WebSocket and may fall back (`transports: ['websocket', 'polling']` with
 * `tryAllTransports`, the page's) moves on when the WebSocket fails, but one that neither opens nor fails (a proxy
 * holding the upgrade) ends only at the manager's connect timeout, and each attempt after it would wait as long: from
 * the first such timeout on, its manager's attempts start on long-polling (which still upgrades to a WebSocket where
 * one opens).
 */
function startOnPollingAfterTimeout(manager: { opts?: { transports?: unknown } } | undefined, error: unknown): void {
  if (!(error instanceof Error) || error.message !== 'timeout') return
  const transports = manager?.opts?.transports
  if (!Array.isArray(transports) || transports[0] !== 'websocket' || !transports.includes('polling')) return
  manager!.opts!.transports = ['polling', ...transports.filter((transport) => transport !== 'polling')]
}
