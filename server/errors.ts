import type { ApiError, ErrorCode } from '../src/contract'
import { describeIssues, type ValidationIssue } from '../src/contract'

/** A refusal the client should see as `{ code, message }`; anything else thrown becomes `INTERNAL`. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message)
    this.name = 'AppError'
  }
}

/**
 * Marks `error` as a refused start the operator is to act on (its message says what): `npm start` says it in one
 * sentence, without the stack trace an unexpected failure is logged with. A plain property, so that it crosses from the
 * database thread (pgliteThread.js sets it there itself).
 */
export function startRefusal<E extends Error>(error: E): E {
  return Object.assign(error, { startRefusal: true })
}

export const isStartRefusal = (error: unknown): boolean =>
  (error as { startRefusal?: unknown } | null)?.startRefusal === true

/**
 * Failures of Redis's commands (Redis away, silent past the command bound, or refusing), noted as they happen
 * (`watchCommands`): the node says once per outage that Redis does not answer, and a request that failed for it (a
 * send, a handshake, a join, answered INTERNAL) is not logged again with its stack, one line per try per user.
 */
const redisFailures = new WeakSet<object>()

export function noteRedisFailure(error: unknown): void {
  if (typeof error === 'object' && error !== null) redisFailures.add(error)
}

export const isRedisFailure = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && redisFailures.has(error)

/** INVALID naming the fields; an issue about the value itself is reported under `root` ("body", "payload"…). */
export const invalid = (issues: ValidationIssue[], root = 'body'): AppError =>
  new AppError('INVALID', describeIssues(issues.map((issue) => (issue.path ? issue : { ...issue, path: root }))))
export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`)
export const forbidden = (message: string): AppError => new AppError('FORBIDDEN', message)
export const unauthorized = (message = 'missing or invalid token'): AppError => new AppError('UNAUTHORIZED', message)

/** The wire shape of any error; unexpected ones are reported as INTERNAL without leaking details. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof AppError) {
    return error.retryAfterMs === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, retryAfterMs: error.retryAfterMs }
  }
  return { code: 'INTERNAL', message: 'internal server error' }
}
