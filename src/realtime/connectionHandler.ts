import type { Dispatch, MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { api } from '../api'
import {
  connect,
  connected,
  connectFailed,
  disconnect,
  disconnected,
  reconnecting,
  sessionEnded,
  sessionExpired,
  sessionStarted,
  type ConnectionError,
} from './actions'
import { backoffDelay } from './backoff'
import { bindSocket } from './bindSocket'
import type { SocketRootState } from './connectionSlice'
import type { Context, Handler, RefreshOutcome } from './context'
import type { AppSocket } from './types'

/** The default refresh: the api's `refreshToken` mutation (which dispatches the app's `auth/tokenRefreshed`). */
export async function refreshWithApi(mwApi: MiddlewareAPI<Dispatch<UnknownAction>, unknown>): Promise<RefreshOutcome> {
  const thunk = api.endpoints.refreshToken.initiate(undefined, { track: false })
  const result = await (mwApi.dispatch as unknown as (t: typeof thunk) => ReturnType<typeof thunk>)(thunk)
  if ('data' in result && result.data) return 'refreshed'
  const status = 'error' in result ? (result.error as { status?: unknown }).status : undefined
  return typeof status === 'number' && status >= 400 && status < 500 ? 'refused' : 'unavailable'
}

/**
 * Owns the socket's life: created at login or `connect` (never twice), torn down at `disconnect`, logout or an
 * expired session. Socket.IO's manager reconnects after drops; this handler covers what it does not: a refused
 * handshake (refresh the token once, then `unauthorized`), a server-side kick (reconnect with a fresh token), and
 * other refusals (retry with backoff).
 */
export function buildConnectionHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { mwApi, options } = ctx
  const { dispatch, getState } = mwApi
  const refresher = options.refreshToken === false ? null : (options.refreshToken ?? refreshWithApi)
  let teardown: (() => void) | null = null
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  let retries = 0
  let refreshing = false
  /** One refresh per handshake sequence: refused again with a fresh token means the session is over. */
  let refreshedSinceConnect = false

  function clearRetry() {
    if (retryTimer !== null) clearTimeout(retryTimer)
    retryTimer = null
  }

  function open() {
    const state = getState()
    if (!options.selectToken(state) || state.socket.connection.status === 'unauthorized') return
    if (ctx.socket) {
      if (!ctx.socket.active) ctx.socket.connect()
      return
    }
    const url = typeof options.apiUrl === 'function' ? options.apiUrl(state) : options.apiUrl
    const socket = (options.createSocket ?? io)(url, {
      ...options.socketOptions,
      autoConnect: false,
      // Each store owns its own connection: never share io()'s cached manager with another store (or tab in tests).
      forceNew: true,
      // Read at every handshake, reconnects included, so a refreshed token is used without recreating the socket.
      auth: (cb: (data: object) => void) => cb({ token: options.selectToken(getState()) ?? '' }),
    }) as AppSocket
    ctx.socket = socket
    teardown = bindSocket(socket, dispatch)
    ctx.holder.set(socket)
    socket.connect()
  }

  function close() {
    clearRetry()
    retries = 0
    refreshing = false
    refreshedSinceConnect = false
    const socket = ctx.socket
    if (!socket) return
    ctx.socket = null
    // Listeners first: our own disconnect is already in state (`socket/disconnect`, logout), no event needed.
    teardown?.()
    teardown = null
    socket.disconnect()
    ctx.holder.set(null)
  }

  function scheduleReconnect() {
    const socket = ctx.socket
    if (!socket || retryTimer !== null) return
    retries += 1
    dispatch(reconnecting({ attempt: retries }))
    retryTimer = setTimeout(() => {
      retryTimer = null
      if (ctx.socket === socket && !socket.active) socket.connect()
    }, backoffDelay(retries, ctx.backoff, ctx.random))
  }

  function refreshThenReconnect(error: ConnectionError) {
    const socket = ctx.socket
    if (!socket || refreshing) return
    if (!refresher || refreshedSinceConnect) {
      dispatch(sessionExpired(error))
      return
    }
    refreshing = true
    refreshedSinceConnect = true
    const session = ctx.session
    refresher(mwApi)
      .catch((): RefreshOutcome => 'unavailable')
      .then((outcome) => {
        if (session !== ctx.session || socket !== ctx.socket) return
        refreshing = false
        if (outcome === 'refreshed') {
          if (!socket.active) socket.connect()
        } else if (outcome === 'refused') {
          dispatch(sessionExpired(error))
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
    } else if (options.tokenRefreshed?.match(action)) {
      // A socket that was refused and is waiting (not one Socket.IO is retrying) tries again with the new token.
      const status = getState().socket.connection.status
      if (!refreshing && ctx.socket && !ctx.socket.active && (status === 'connecting' || status === 'reconnecting')) {
        clearRetry()
        ctx.socket.connect()
      }
    } else if (connected.match(action)) {
      clearRetry()
      retries = 0
      refreshedSinceConnect = false
    } else if (connectFailed.match(action)) {
      if (!ctx.socket || ctx.socket.active) return // Socket.IO's manager retries network failures by itself.
      if (action.payload.code === 'UNAUTHORIZED') refreshThenReconnect(action.payload)
      else scheduleReconnect()
    } else if (disconnected.match(action) && action.payload.reason === 'io server disconnect') {
      // Socket.IO does not reconnect after a server-side kick; we do, and only with a fresh token.
      if (refresher) refreshThenReconnect({ code: 'UNAUTHORIZED', message: 'Disconnected by the server' })
      else scheduleReconnect()
    }
  }
}
