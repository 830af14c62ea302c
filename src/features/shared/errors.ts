import { answeredStatus } from '../../api/answeredStatus'
import { isErrorCode, type ErrorCode } from '../../contract'
import type { MessageId } from '../../i18n'

/** What the SPA can tell a user went wrong: the contract's codes, and the browser's own troubles. */
export type ShownErrorCode = ErrorCode | 'NETWORK' | 'OUTBOX_FULL' | 'UNKNOWN'

/**
 * The SPA's own words for each code. The server's `message` is English and written for developers, so it is never
 * shown; a new code in the contract is a type error here until it has its words.
 */
export const ERROR_MESSAGES: Record<ShownErrorCode, MessageId> = {
  UNAUTHORIZED: 'error.UNAUTHORIZED',
  FORBIDDEN: 'error.FORBIDDEN',
  NOT_FOUND: 'error.NOT_FOUND',
  INVALID: 'error.INVALID',
  RATE_LIMITED: 'error.RATE_LIMITED',
  INTERNAL: 'error.INTERNAL',
  NETWORK: 'error.NETWORK',
  OUTBOX_FULL: 'error.OUTBOX_FULL',
  UNKNOWN: 'error.UNKNOWN',
}

/**
 * The code behind an RTK Query error (`FetchBaseQueryError`, `SerializedError`), a failed send's `{ code }`, or
 * anything thrown.
 *
 * @example errorCode({ status: 403, data: { error: { code: 'FORBIDDEN', message: '…' } } }) // 'FORBIDDEN'
 */
export function errorCode(error: unknown): ShownErrorCode {
  if (!error || typeof error !== 'object') return 'UNKNOWN'
  const e = error as { status?: unknown; data?: unknown; code?: unknown }
  // A 408: the request did not reach the server whole in time (whatever code its body names).
  if (e.status === 'FETCH_ERROR' || e.status === 'TIMEOUT_ERROR' || answeredStatus(error) === 408) return 'NETWORK'
  const code = (e.data as { error?: { code?: unknown } } | undefined)?.error?.code ?? e.code
  if (isErrorCode(code) || code === 'NETWORK' || code === 'OUTBOX_FULL') return code
  return 'UNKNOWN'
}

/** The message id to show for an error: `t(errorMessageId(error))`. */
export function errorMessageId(error: unknown): MessageId {
  return ERROR_MESSAGES[errorCode(error)]
}

/**
 * The fields an `INVALID` answer names, read from its message's `path: …` parts (the server joins its issues so, see
 * `describeIssues`); none for any other error. Only the names are read: the words are the server's, never shown.
 *
 * @example invalidFields({ status: 400, data: { error: { code: 'INVALID', message: 'startsAt: must be in the future' } } }) // ['startsAt']
 */
export function invalidFields(error: unknown): string[] {
  if (errorCode(error) !== 'INVALID') return []
  // Where its code was read (errorCode): the answer's body, or a failed send's own `{ code, message }`.
  const e = error as { message?: unknown; data?: { error?: { message?: unknown } } }
  const message = (e.data?.error ?? e).message
  if (typeof message !== 'string') return []
  return message.split('; ').flatMap((issue) => {
    const end = issue.indexOf(': ')
    return end > 0 ? [issue.slice(0, end)] : []
  })
}
