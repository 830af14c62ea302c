import type { Dispatch, MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { api, refreshSession, type RefreshOutcome } from '../api'
import {
  connect,
  connected,
  connectFailed,
  disconnect,
  disconnected,
  reconnecting,
  renewFailed,
  retryNow,
  sessionEnded,
  sessionExpired,
  sessionStarted,
  shutdown,
  type ConnectionError,
} from './actions'
import { emitWithAck } from './ack'
import { backoffDelay } from './backoff'
import { bindSocket } from './bindSocket'
import type { SocketRootState } from './connectionSlice'
import type { Context, Handler } from './context'
import { browserRetryTriggers } from './triggers'
import type { AppSocket } from './types'

const KICKED: ConnectionError = { code: 'UNAUTHORIZED', message: 'Disconnected by the server' }

/**
 * The default refresh: the api's single-flight `refreshSession` (the `refreshToken` mutation, which dispatches the
 * app's `auth/tokenRefreshed`), shared with the HTTP requests that got a 401 at the same time.
 */
export function refreshWithApi(mwApi: MiddlewareAPI<Dispatch<UnknownAction>, unknown>): Promise<RefreshOutcome> {
  return (mwApi.dispatch as unknown as (t: ReturnType<typeof refreshSession>) => Promise<RefreshOutcome>)(refreshSession())
}

/**
 * Owns the socket's life: created at login or `connect` (never twice), torn down at `disconnect`, logout or an
 * expired session. Reconnection is the middleware's, not Socket.IO's (`reconnection: false`): after a drop or a
 * failed handshake it waits a full-jitter exponential backoff (so clients dropped together do not come back
 * together), dispatches `socket/reconnecting { attempt }` once per attempt and tries; the browser's `online` event and
 * the tab becoming visible cut the wait short. A refused handshake refreshes the token once (then `unauthorized`),
 * and a server-side kick reconnects only with a fresh token, fetched after a jittered wait (a kick may come to all).
 */
export function buildConnectionHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { mwApi, options } = ctx
  const { dispatch, getState } = mwApi
  const refresher = options.refreshToken === false ? null : (options.refreshToken ?? refreshWithApi)
  const triggers = options.retryTriggers ?? browserRetryTriggers
  let teardown: (() => void) | null = null
  let untrigger: (() => void) | null = null
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  /** What the backoff wait ends with: an attempt, or (after a server-side kick) a token refresh, then the attempt. */
  let afterWait: 'attempt' | 'refresh' = 'attempt'
  let retries = 0
  let refreshing = false
  /** A handshake is under way (between `socket.connect()` and its `connect` or `connect_error`). */
  let handshaking = false
  /** One refresh per handshake sequence: refused again with a fresh token means the session is over. */
  let refreshedSinceConnect = false

  function clearRetry() {
    if (retryTimer !== null) clearTimeout(retryTimer)
    retryTimer = null
    afterWait = 'attempt'
  }

  function open() {
    const state = getState()
    if (!options.selectToken(state) || state.socket.connection.status === 'unauthorized') return
    if (ctx.socket) {
      // Backing off: an explicit connect tries now.
      if (!ctx.socket.connected && !handshaking && !refreshing) attemptNow()
      return
    }
    const url = typeof options.apiUrl === 'function' ? options.apiUrl(state) : options.apiUrl
    const socket = (options.createSocket ?? io)(url, {
      ...options.socketOptions,
      autoConnect: false,
      // The middleware reconnects with its own backoff (and the online/visible triggers): Socket.IO's would put
      // clients in lockstep after a few attempts, and report an attempt twice.
      reconnection: false,
      // Each store owns its own connection: never share io()'s cached manager with another store (or tab in tests).
      forceNew: true,
      // Read at every handshake, reconnects included, so a refreshed token is used without recreating the socket.
      auth: (cb: (data: object) => void) => cb({ token: options.selectToken(getState()) ?? '' }),
    }) as AppSocket
    ctx.socket = socket
    teardown = bindSocket(socket, dispatch)
    ctx.holder.set(socket)
    untrigger = triggers((reason) => dispatch(retryNow({ reason })))
    handshake(socket)
  }

  function handshake(socket: AppSocket) {
    handshaking = true
    socket.connect()
  }

  function close() {
    clearRetry()
    retries = 0
    refreshing = false
    handshaking = false
    refreshedSinceConnect = false
    untrigger?.()
    untrigger = null
    const socket = ctx.socket
    if (!socket) return
    ctx.socket = null
    // Listeners first: our own disconnect is already in state (`socket/disconnect`, logout), no event needed.
    teardown?.()
    teardown = null
    socket.disconnect()
    ctx.holder.set(null)
  }

  /** One attempt, now: `socket/reconnecting { attempt }` then the handshake. */
  function attemptNow() {
    clearRetry()
    const socket = ctx.socket
    if (!socket || socket.connected) return
    retries += 1
    dispatch(reconnecting({ attempt: retries }))
    handshake(socket)
  }

  /** Waits a full-jitter backoff, then attempts (or, after a kick, refreshes the token first). */
  function scheduleReconnect(then: 'attempt' | 'refresh' = 'attempt') {
    const socket = ctx.socket
    if (!socket || retryTimer !== null || refreshing) return
    afterWait = then
    retryTimer = setTimeout(() => {
      retryTimer = null
      if (ctx.socket === socket) endWait()
    }, backoffDelay(retries + 1, ctx.backoff, ctx.random))
  }

  /** The wait is over (or cut short by the browser coming online, the tab becoming visible). */
  function endWait() {
    const then = afterWait
    clearRetry()
    if (then === 'refresh') refreshThenReconnect(KICKED, true)
    else attemptNow()
  }

  /**
   * Gets a fresh token, then handshakes. After a refused handshake the retry continues that attempt; after a kick
   * (`counted`) it is an attempt of its own, reported as `socket/reconnecting` like any other.
   */
  function refreshThenReconnect(error: ConnectionError, counted = false) {
    const socket = ctx.socket
    if (!socket || refreshing) return
    if (!refresher || refreshedSinceConnect) {
      dispatch(sessionExpired(error))
      return
    }
    clearRetry()
    refreshing = true
    refreshedSinceConnect = true
    const session = ctx.session
    refresher(mwApi)
      .catch((): RefreshOutcome => 'unavailable')
      .then((outcome) => {
        if (session !== ctx.session || socket !== ctx.socket) return
        refreshing = false
        if (outcome === 'refreshed') {
          if (socket.connected) return
          if (counted) attemptNow()
          else handshake(socket)
        } else if (outcome === 'refused') {
          if (getState().socket.connection.status !== 'unauthorized') dispatch(sessionExpired(error))
        } else {
          refreshedSinceConnect = false
          scheduleReconnect()
        }
      })
      .catch((e: unknown) => ctx.report('refresh', e))
  }

  function endSession() {
    close()
    ctx.session += 1
    dispatch(sessionEnded())
    // The next user must see none of this user's data.
    dispatch(api.util.resetApiState())
  }

  return (action, prevState) => {
    if (options.loggedIn.match(action)) {
      const before = options.selectUserId?.(prevState) ?? null
      const after = options.selectUserId?.(getState()) ?? null
      if (before !== null && before !== after) endSession()
      close()
      ctx.session += 1
      dispatch(sessionStarted())
      open()
    } else if (options.loggedOut.match(action)) {
      endSession()
    } else if (connect.match(action)) {
      open()
    } else if (disconnect.match(action) || sessionExpired.match(action)) {
      close()
    } else if (shutdown.match(action)) {
      close()
      ctx.session += 1
    } else if (options.refreshFailed?.match(action)) {
      // An HTTP request could not get a fresh token: the session is over until the next login.
      const { status } = getState().socket.connection
      if (status !== 'idle' && status !== 'unauthorized') dispatch(sessionExpired({ code: 'UNAUTHORIZED', message: 'The session could not be renewed' }))
    } else if (options.tokenRefreshed?.match(action)) {
      const status = getState().socket.connection.status
      const socket = ctx.socket
      const token = options.selectToken(getState())
      if (socket?.connected && token) {
        // A live socket is renewed in place (`session:renew`): same socket, rooms and events, no reconnect. Should the
        // server refuse it, the socket ends at its old token's expiry and comes back through a refresh (a kick).
        void emitWithAck(socket, { event: 'session:renew', payload: { token } }, ctx.ackTimeoutMs).then((result) => {
          if (result.kind === 'error') dispatch(renewFailed({ code: result.error.code, message: result.error.message }))
        })
      } else if (!refreshing && !handshaking && socket && !socket.connected && (status === 'connecting' || status === 'reconnecting')) {
        // A socket waiting to try again (refused, or backing off) tries now with the new token, e.g. one another tab got.
        attemptNow()
      }
    } else if (retryNow.match(action)) {
      if (retryTimer !== null && !refreshing) endWait()
    } else if (connected.match(action)) {
      handshaking = false
      clearRetry()
      retries = 0
      refreshedSinceConnect = false
    } else if (connectFailed.match(action)) {
      handshaking = false
      if (!ctx.socket || ctx.socket.connected) return
      if (action.payload.code === 'UNAUTHORIZED') refreshThenReconnect(action.payload)
      else scheduleReconnect()
    } else if (disconnected.match(action)) {
      const { reason } = action.payload
      handshaking = false
      if (reason === 'io client disconnect') return
      // Socket.IO does not reconnect after a server-side kick; we do, and only with a fresh token. The refresh waits a
      // jittered backoff too: a kick may have come to every client at once (a server going away), and they must not
      // all come back to /auth/refresh and the handshake in the same instant.
      scheduleReconnect(reason === 'io server disconnect' && refresher ? 'refresh' : 'attempt')
    }
  }
}
