export const ERROR_CODES = ['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'INVALID', 'RATE_LIMITED', 'INTERNAL'] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export interface ApiError {
  code: ErrorCode
  message: string
  /** Only with `RATE_LIMITED`: when the next attempt may succeed. */
  retryAfterMs?: number
}

/** The answer to every client-to-server event, through its ack callback. */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: ApiError }

/** HTTP status for each error code, shared by the server and the browser's base query. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  INTERNAL: 500,
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
}

/** Refusals are final for a send; anything else (network, rate limit, server fault) is worth retrying. */
export const REFUSAL_CODES: readonly ErrorCode[] = ['INVALID', 'FORBIDDEN', 'NOT_FOUND']
export function isRefusal(code: string): boolean {
  return (REFUSAL_CODES as readonly string[]).includes(code)
}
