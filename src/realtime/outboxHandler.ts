import type { FetchBaseQueryError } from '@reduxjs/toolkit/query'
import type { SerializedError } from '@reduxjs/toolkit'
import { api, type ThreadMessage } from '../api'
import {
  describeIssues,
  errorBodySchema,
  HTTP_STATUS,
  isRefusal,
  messageSchema,
  parse,
  sendMessageSchema,
  type ErrorCode,
  type Id,
  type Message,
} from '../contract'
import {
  connect,
  connected,
  discardMessage,
  drainStarted,
  drainStopped,
  internalError,
  outboxRestored,
  retryMessage,
  retryNow,
  sendConfirmed,
  sendFailed,
  sendMessage,
  sendRetryScheduled,
  sessionEnded,
  sessionStarted,
  shutdown,
  type SendError,
} from './actions'
import { emitWithAck, type AckResult } from './ack'
import { backoffDelay } from './backoff'
import { addPendingPatches, foldCacheWork, removePendingPatches, setPendingStatusPatches, threadWork } from './cacheWork'
import type { PendingMessage, SocketRootState } from './connectionSlice'
import type { Context, Handler } from './context'
import { createOutboxStorage } from './outboxStorage'

/** How one try of a send ended. */
export type SendOutcome =
  | { kind: 'sent'; message: Message }
  | { kind: 'refused'; error: SendError }
  | { kind: 'retry'; error: SendError; retryAfterMs?: number }

const MALFORMED: SendError = { code: 'INTERNAL', message: 'The server sent a malformed message' }

function storedMessage(data: unknown): SendOutcome {
  const parsed = parse(messageSchema, data)
  return parsed.ok ? { kind: 'sent', message: parsed.value } : { kind: 'retry', error: MALFORMED }
}

function outcomeOfError(error: { code: ErrorCode; message: string; retryAfterMs?: number }): SendOutcome {
  const sendError: SendError = { code: error.code, message: error.message }
  if (isRefusal(error.code)) return { kind: 'refused', error: sendError }
  return error.retryAfterMs === undefined
    ? { kind: 'retry', error: sendError }
    : { kind: 'retry', error: sendError, retryAfterMs: error.retryAfterMs }
}

/** An ack → outcome (`timeout` is handled by the caller: it falls back to HTTP). */
export function outcomeOfAck(result: Exclude<AckResult, { kind: 'timeout' }>): SendOutcome {
  return result.kind === 'ok' ? storedMessage(result.data) : outcomeOfError(result.error)
}

const codeByStatus = Object.fromEntries(Object.entries(HTTP_STATUS).map(([code, status]) => [status, code])) as Record<
  number,
  ErrorCode | undefined
>

/** An HTTP failure → outcome: the server's `{ error }` body when it sent one, else its status, else the network. */
export function outcomeOfHttpError(error: FetchBaseQueryError | SerializedError): SendOutcome {
  const status = 'status' in error ? error.status : undefined
  if (typeof status === 'number') {
    const body = parse(errorBodySchema, 'data' in error ? error.data : undefined)
    if (body.ok) return outcomeOfError(body.value.error)
    const code = codeByStatus[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID')
    return outcomeOfError({ code, message: `HTTP ${status}` })
  }
  return { kind: 'retry', error: { code: 'NETWORK', message: 'The server could not be reached' } }
}

const pendingCopy = (entry: PendingMessage, senderId: Id | null): ThreadMessage => ({
  id: entry.clientId,
  conversationId: entry.conversationId,
  // Not numbered yet: pending copies sort after every stored message whatever their seq.
  seq: 0,
  senderId: senderId ?? '',
  content: entry.content,
  createdAt: entry.createdAt,
  clientId: entry.clientId,
  status: entry.status,
  ...(entry.error ? { error: entry.error } : {}),
})

/**
 * Sends: the pending copy goes into its cached thread at once; then, one message at a time per conversation (so
 * each sender's messages reach the server in the order they were written), `message:send` with an ack and a
 * timeout, or the HTTP `postMessage` with the same `clientId` when the socket is down or silent. Retryable failures
 * wait a backoff (or the server's `retryAfterMs`) and go again, sooner when the socket connects or the browser comes
 * online; refusals mark the message failed until `retryMessage`.
 *
 * Durable: the outbox is mirrored in `storage` under the user's key after every change, read back at the next page
 * (or the next login of that user, e.g. after `unauthorized`) and cleared at logout. One tab drains at a time: sends
 * go out only while this tab holds the user's drain lock, which it lets go when nothing is left to send.
 */
export function buildOutboxHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch, getState } = ctx.mwApi
  /** Conversations with a send in flight. */
  const busy = new Set<Id>()
  /** Conversations waiting for a retry timer; `rate` waits honour the server's `retryAfterMs` even when online. */
  const waits = new Map<Id, { timer: ReturnType<typeof setTimeout>; rate: boolean }>()
  const durable = ctx.options.storage ? createOutboxStorage(ctx.options.storage) : null
  /** The user whose stored outbox mirrors the one in state (after it was read back), and what was last written. */
  let mirrored: Id | null = null
  let saved: readonly PendingMessage[] = []
  let saveFailing = false
  let lock: 'none' | 'waiting' | 'held' = 'none'
  let letGo: (() => void) | null = null

  const outbox = () => getState().socket.outbox
  const userId = () => ctx.options.selectUserId?.(getState()) ?? null
  const hasPending = () => outbox().some((m) => m.status === 'pending')
  const paused = () => getState().socket.connection.status === 'unauthorized'

  function clearWaits(onlyNetwork = false) {
    for (const [conversationId, wait] of waits) {
      if (onlyNetwork && wait.rate) continue
      clearTimeout(wait.timer)
      waits.delete(conversationId)
    }
  }

  function releaseLock() {
    const wasHeld = lock === 'held'
    letGo?.()
    letGo = null
    lock = 'none'
    if (wasHeld) dispatch(drainStopped())
  }

  function reset() {
    clearWaits()
    busy.clear()
    releaseLock()
    mirrored = null
    saved = []
  }

  /** Reads the user's stored outbox back (once per session and user) and mirrors the outbox from then on. */
  function restore() {
    const user = userId()
    if (!durable || !user || mirrored === user) return
    mirrored = user
    saved = outbox()
    const entries = durable.load(user)
    if (entries.length > 0) dispatch(outboxRestored({ entries }))
  }

  function persist() {
    if (!durable || mirrored === null || mirrored !== userId()) return
    const now = outbox()
    if (now === saved) return
    const ok = durable.save(mirrored, saved, now)
    saved = now
    // A full (or disabled) storage: the sends still go, but would not survive a reload; say so once per streak.
    if (!ok && !saveFailing) dispatch(internalError({ where: 'outboxStorage', message: 'The unsent messages could not be saved in storage' }))
    saveFailing = !ok
  }

  function wantLock() {
    if (lock !== 'none' || paused() || !hasPending()) return
    const user = userId()
    lock = 'waiting'
    const session = ctx.session
    let granted = false
    const giveUp = ctx.lock.request(`talemy.outbox.${user ?? 'anonymous'}`, (release) => {
      if (session !== ctx.session || lock !== 'waiting') return release()
      granted = true
      letGo = release
      lock = 'held'
      dispatch(drainStarted())
      drainAll()
    })
    // Granted inside `request` (a free lock): `letGo` is already the release, possibly even used.
    if (!granted) letGo = giveUp
  }

  function maybeReleaseLock() {
    if (lock === 'held' && busy.size === 0 && !hasPending()) releaseLock()
  }

  async function viaHttp(entry: PendingMessage): Promise<SendOutcome> {
    const { conversationId, content, clientId } = entry
    const thunk = api.endpoints.postMessage.initiate({ conversationId, content, clientId }, { track: false })
    const result = await (dispatch as unknown as (t: typeof thunk) => ReturnType<typeof thunk>)(thunk)
    return 'data' in result ? storedMessage(result.data) : outcomeOfHttpError(result.error)
  }

  async function attempt(entry: PendingMessage): Promise<SendOutcome> {
    const socket = ctx.socket
    // A socket known to be down is not waited for: HTTP at once. A silent one is given the ack timeout; a drop
    // while the ack is awaited fails it at once (Socket.IO clears pending acks on disconnect), so HTTP follows at once.
    if (socket?.connected) {
      const { conversationId, content, clientId } = entry
      const result = await emitWithAck(socket, { event: 'message:send', payload: { conversationId, content, clientId } }, ctx.ackTimeoutMs)
      if (result.kind !== 'timeout') return outcomeOfAck(result)
    }
    return viaHttp(entry)
  }

  function settle(conversationId: Id, entry: PendingMessage, outcome: SendOutcome) {
    busy.delete(conversationId)
    const current = outbox().find((m) => m.clientId === entry.clientId)
    if (outcome.kind === 'sent') {
      // Even when discarded meanwhile: the server has it and the other side sees it, so our thread shows it too.
      dispatch(sendConfirmed({ message: outcome.message }))
    } else if (outcome.kind === 'refused') {
      if (current) dispatch(sendFailed({ clientId: entry.clientId, error: outcome.error }))
    } else if (current?.status === 'pending' && paused()) {
      // The session expired: kept (here and in storage) until the user logs in again; the lock goes back meanwhile.
      if (busy.size === 0) releaseLock()
      return
    } else if (current?.status === 'pending' && outcome.error.code === 'NETWORK' && ctx.socket?.connected) {
      // HTTP failed but the socket came up meanwhile: go again now, over it (an ack timeout bounds any loop).
    } else if (current?.status === 'pending') {
      const attempt = current.attempts + 1
      const delayMs = outcome.retryAfterMs ?? backoffDelay(attempt, ctx.backoff, ctx.random)
      dispatch(sendRetryScheduled({ clientId: entry.clientId, attempt, delayMs, error: outcome.error }))
      waits.set(conversationId, {
        rate: outcome.retryAfterMs !== undefined,
        timer: setTimeout(() => {
          waits.delete(conversationId)
          pump(conversationId)
        }, delayMs),
      })
      return
    }
    pump(conversationId)
    maybeReleaseLock()
  }

  function pump(conversationId: Id) {
    if (busy.has(conversationId) || waits.has(conversationId) || paused()) return
    const entry = outbox().find((m) => m.conversationId === conversationId && m.status === 'pending')
    if (!entry) return
    if (lock !== 'held') return wantLock()
    busy.add(conversationId)
    const session = ctx.session
    attempt(entry)
      .catch((error: unknown): SendOutcome => ({
        kind: 'retry',
        error: { code: 'NETWORK', message: error instanceof Error ? error.message : String(error) },
      }))
      .then((outcome) => {
        if (session === ctx.session) settle(conversationId, entry, outcome)
      })
      .catch((error: unknown) => ctx.report('send', error))
  }

  /** Now: every conversation with pending messages goes again (waiting network retries cut short). */
  function drainAll(onlyNetworkWaits = false) {
    clearWaits(onlyNetworkWaits)
    for (const conversationId of new Set(outbox().map((m) => m.conversationId))) pump(conversationId)
    maybeReleaseLock()
  }

  function patchThread(conversationId: Id, patchesFor: Parameters<typeof threadWork>[2]) {
    const view = ctx.view()
    ctx.applyCacheWork(foldCacheWork(threadWork(view, conversationId, patchesFor), view))
  }

  function handle(action: Parameters<Handler<S>>[0], prevState: S) {
    if (sendMessage.match(action)) {
      restore()
      const entry = outbox().find((m) => m.clientId === action.payload.clientId)
      if (!entry) return
      patchThread(entry.conversationId, (thread) => addPendingPatches(thread, pendingCopy(entry, userId())))
      // The browser checks the contract's limits first: a message the server would refuse fails at once.
      const valid = parse(sendMessageSchema, action.payload)
      if (!valid.ok) dispatch(sendFailed({ clientId: entry.clientId, error: { code: 'INVALID', message: describeIssues(valid.issues) } }))
      else pump(entry.conversationId)
    } else if (outboxRestored.match(action)) {
      const user = userId()
      for (const entry of action.payload.entries) {
        patchThread(entry.conversationId, (thread) => addPendingPatches(thread, pendingCopy(entry, user)))
      }
      drainAll()
    } else if (sendFailed.match(action)) {
      const entry = outbox().find((m) => m.clientId === action.payload.clientId)
      if (entry) patchThread(entry.conversationId, (thread) => setPendingStatusPatches(thread, entry.clientId, 'failed', action.payload.error))
      maybeReleaseLock()
    } else if (retryMessage.match(action)) {
      const entry = outbox().find((m) => m.clientId === action.payload.clientId)
      if (!entry || entry.status !== 'pending') return
      patchThread(entry.conversationId, (thread) => setPendingStatusPatches(thread, entry.clientId, 'pending'))
      pump(entry.conversationId)
    } else if (discardMessage.match(action)) {
      const entry = prevState.socket.outbox.find((m) => m.clientId === action.payload.clientId)
      if (entry) patchThread(entry.conversationId, (thread) => removePendingPatches(thread, entry.clientId))
      maybeReleaseLock()
    } else if (connected.match(action)) {
      drainAll()
    } else if (retryNow.match(action)) {
      drainAll(true)
    } else if (connect.match(action)) {
      restore()
      drainAll(true)
    } else if (sessionStarted.match(action)) {
      reset()
      restore()
      drainAll()
    } else if (sessionEnded.match(action) || shutdown.match(action)) {
      reset()
    } else if (ctx.options.loggedOut.match(action)) {
      // The user asked to leave (the app warns first when sends are pending): nothing of theirs stays behind. A logout
      // nobody asked for (`meta.keepOutbox`, another tab took the session over) keeps it for their next login.
      const user = ctx.options.selectUserId?.(prevState) ?? null
      if (user && (action.meta as { keepOutbox?: unknown } | undefined)?.keepOutbox !== true) durable?.clear(user)
    } else if (api.endpoints.getMessages.matchFulfilled(action)) {
      // A (re)fetched thread replaced the cached one: put our unconfirmed copies back, or confirm them when the
      // server already has them (a send whose answer was lost).
      const conversationId = action.meta.arg.originalArgs
      const thread = action.payload
      for (const entry of outbox()) {
        if (entry.conversationId !== conversationId) continue
        const stored = thread.find((m) => m.clientId === entry.clientId && m.status === undefined)
        if (stored) dispatch(sendConfirmed({ message: stored }))
        else patchThread(conversationId, (t) => addPendingPatches(t, pendingCopy(entry, userId())))
      }
    }
  }

  return (action, prevState) => {
    handle(action, prevState)
    if (!shutdown.match(action)) persist()
  }
}
