import type { FetchBaseQueryError } from '@reduxjs/toolkit/query'
import type { SerializedError } from '@reduxjs/toolkit'
import { answeredStatus, isRefusalStatus, waitForEveryRequest } from '../api/answeredStatus'
import {
  errorBodySchema,
  HTTP_STATUS,
  isRefusal,
  messageSchema,
  parse,
  type ApiError,
  type ErrorCode,
  type ParseResult,
} from '../contract'
import type { AckResult } from './ack'
import type { SendError } from './actions'
import type { SendOutcome } from './outboxMachine'
import type { PendingMessage } from './socketSlice'

const MALFORMED: SendError = { code: 'INTERNAL', message: 'The server sent a malformed message' }

/** The send a confirmation must be of: a stored message of another conversation or clientId confirms nothing. */
export type SentAs = Pick<PendingMessage, 'conversationId' | 'clientId'>

/**
 * A stored message the server answered with → `sent`, or `retry` when it is malformed or of another send.
 *
 * @example storedMessage(ack.data, entry) // { kind: 'sent', message }
 */
export function storedMessage(data: unknown, sent?: SentAs): SendOutcome {
  const parsed = parse(messageSchema, data)
  if (!parsed.ok) return { kind: 'retry', error: MALFORMED }
  const message = parsed.value
  // Taken as sent, another message would leave this one in the outbox, to go again at once, and again.
  if (sent && (message.clientId !== sent.clientId || message.conversationId !== sent.conversationId))
    return { kind: 'retry', error: MALFORMED }
  return { kind: 'sent', message }
}

function outcomeOfError(error: { code: ErrorCode; message: string; retryAfterMs?: number }): SendOutcome {
  const sendError: SendError = { code: error.code, message: error.message }
  if (isRefusal(error.code)) return { kind: 'refused', error: sendError }
  return error.retryAfterMs === undefined
    ? { kind: 'retry', error: sendError }
    : { kind: 'retry', error: sendError, retryAfterMs: error.retryAfterMs }
}

/**
 * An ack → outcome (`timeout` is handled by the caller: it falls back to HTTP); `sent`: the send it answers.
 *
 * @example outcomeOfAck({ kind: 'error', error: { code: 'FORBIDDEN', message: '…' } }) // { kind: 'refused', … }
 */
export function outcomeOfAck(result: Exclude<AckResult, { kind: 'timeout' }>, sent?: SentAs): SendOutcome {
  return result.kind === 'ok' ? storedMessage(result.data, sent) : outcomeOfError(result.error)
}

const codeByStatus = Object.fromEntries(Object.entries(HTTP_STATUS).map(([code, status]) => [status, code])) as Record<
  number,
  ErrorCode | undefined
>

/**
 * An HTTP failure → outcome: the server's `{ error }` body when it sent one, else the status it was answered with (a
 * page that is no JSON too), else the network.
 *
 * @example outcomeOfHttpError({ status: 'FETCH_ERROR', error: 'offline' }) // { kind: 'retry', error: { code: 'NETWORK', … } }
 */
export function outcomeOfHttpError(error: FetchBaseQueryError | SerializedError): SendOutcome {
  // A proxy's page that is no JSON is still its status's answer: a 403 there refuses the send, not the network.
  const status = answeredStatus(error)
  if (status !== null) {
    const data = 'data' in error ? error.data : undefined
    const body = parse(errorBodySchema, data)
    // A 5xx the server did not answer in its own words (a gateway's page, a proxy's), or one that says the service is
    // unavailable (502, 503, 504), is no failure of this send: every send would fail alike (see `Outage`). So is a
    // wait a `Retry-After` asked of every request (a proxy's 429).
    const everySend = (status >= 500 && !(body.ok && status === HTTP_STATUS.INTERNAL)) || waitForEveryRequest(data)
    const outcome = outcomeOfStatus(status, body)
    return everySend && outcome.kind === 'retry' ? { ...outcome, everySend } : outcome
  }
  return { kind: 'retry', error: { code: 'NETWORK', message: 'The server could not be reached' } }
}

function outcomeOfStatus(status: number, body: ParseResult<{ error: ApiError }>): SendOutcome {
  // A refusal in the body counts with a refusal status only; and a 408 is the network's whatever its body names: the
  // server's own (its request timeout, in the contract's shape, INTERNAL; INVALID before) is for a request it never
  // received whole.
  if (body.ok && status !== 408 && (isRefusalStatus(status) || !isRefusal(body.value.error.code)))
    return outcomeOfError(body.value.error)
  // Only a refusal status refuses what was sent (a 429 has its own code): a 408 did not reach the server in time, and
  // a page under 400 is a captive portal's or a proxy's.
  const code = codeByStatus[status] ?? (status >= 500 ? 'INTERNAL' : isRefusalStatus(status) ? 'INVALID' : null)
  if (code !== null) return outcomeOfError({ code, message: `HTTP ${status}` })
  return { kind: 'retry', error: { code: 'NETWORK', message: `HTTP ${status}` } }
}
