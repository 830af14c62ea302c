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
  connected,
  discardMessage,
  retryMessage,
  sendConfirmed,
  sendFailed,
  sendMessage,
  sendRetryScheduled,
  sessionEnded,
  sessionStarted,
  type SendError,
} from './actions'
import { emitWithAck, type AckResult } from './ack'
import { backoffDelay } from './backoff'
import { addPendingPatches, removePendingPatches, setPendingStatusPatches, threadWork } from './cacheWork'
import type { PendingMessage, SocketRootState } from './connectionSlice'
import type { Context, Handler } from './context'

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
 * wait a backoff (or the server's `retryAfterMs`) and go again, sooner when the socket connects; refusals mark the
 * message failed until `retryMessage`.
 */
export function buildOutboxHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch, getState } = ctx.mwApi
  /** Conversations with a send in flight. */
  const busy = new Set<Id>()
  /** Conversations waiting for a retry timer. */
  const waits = new Map<Id, ReturnType<typeof setTimeout>>()

  const outbox = () => getState().socket.outbox
  const userId = () => ctx.options.selectUserId?.(getState()) ?? null

  function reset() {
    for (const timer of waits.values()) clearTimeout(timer)
    waits.clear()
    busy.clear()
  }

  async function viaHttp(entry: PendingMessage): Promise<SendOutcome> {
    const { conversationId, content, clientId } = entry
    const thunk = api.endpoints.postMessage.initiate({ conversationId, content, clientId }, { track: false })
    const result = await (dispatch as unknown as (t: typeof thunk) => ReturnType<typeof thunk>)(thunk)
    return 'data' in result ? storedMessage(result.data) : outcomeOfHttpError(result.error)
  }

  async function attempt(entry: PendingMessage): Promise<SendOutcome> {
    const socket = ctx.socket
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
      // Even when discarded meanwhile: the server has it, so the thread shows it.
      dispatch(sendConfirmed({ message: outcome.message }))
    } else if (outcome.kind === 'refused') {
      if (current) dispatch(sendFailed({ clientId: entry.clientId, error: outcome.error }))
    } else if (current?.status === 'pending' && outcome.error.code === 'NETWORK' && ctx.socket?.connected) {
      // HTTP failed but the socket came up meanwhile: go again now, over it (an ack timeout bounds any loop).
    } else if (current?.status === 'pending') {
      const attempt = current.attempts + 1
      const delayMs = outcome.retryAfterMs ?? backoffDelay(attempt, ctx.backoff, ctx.random)
      dispatch(sendRetryScheduled({ clientId: entry.clientId, attempt, delayMs, error: outcome.error }))
      waits.set(
        conversationId,
        setTimeout(() => {
          waits.delete(conversationId)
          pump(conversationId)
        }, delayMs),
      )
      return
    }
    pump(conversationId)
  }

  function pump(conversationId: Id) {
    if (busy.has(conversationId) || waits.has(conversationId)) return
    const entry = outbox().find((m) => m.conversationId === conversationId && m.status === 'pending')
    if (!entry) return
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

  /** Now: on (re)connect, every conversation with pending messages goes again, waiting timers or not. */
  function drainAll() {
    for (const [conversationId, timer] of waits) {
      clearTimeout(timer)
      waits.delete(conversationId)
    }
    for (const conversationId of new Set(outbox().map((m) => m.conversationId))) pump(conversationId)
  }

  function patchThread(conversationId: Id, patchesFor: Parameters<typeof threadWork>[2]) {
    ctx.applyCacheWork(threadWork(ctx.view(), conversationId, patchesFor))
  }

  return (action, prevState) => {
    if (sendMessage.match(action)) {
      const entry = outbox().find((m) => m.clientId === action.payload.clientId)
      if (!entry) return
      patchThread(entry.conversationId, (thread) => addPendingPatches(thread, pendingCopy(entry, userId())))
      // The browser checks the contract's limits first: a message the server would refuse fails at once.
      const valid = parse(sendMessageSchema, action.payload)
      if (!valid.ok) dispatch(sendFailed({ clientId: entry.clientId, error: { code: 'INVALID', message: describeIssues(valid.issues) } }))
      else pump(entry.conversationId)
    } else if (sendFailed.match(action)) {
      const entry = outbox().find((m) => m.clientId === action.payload.clientId)
      if (entry) patchThread(entry.conversationId, (thread) => setPendingStatusPatches(thread, entry.clientId, 'failed', action.payload.error))
    } else if (retryMessage.match(action)) {
      const entry = outbox().find((m) => m.clientId === action.payload.clientId)
      if (!entry || entry.status !== 'pending') return
      patchThread(entry.conversationId, (thread) => setPendingStatusPatches(thread, entry.clientId, 'pending'))
      pump(entry.conversationId)
    } else if (discardMessage.match(action)) {
      const entry = prevState.socket.outbox.find((m) => m.clientId === action.payload.clientId)
      if (entry) patchThread(entry.conversationId, (thread) => removePendingPatches(thread, entry.clientId))
    } else if (connected.match(action)) {
      drainAll()
    } else if (sessionStarted.match(action) || sessionEnded.match(action)) {
      reset()
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
}
