/**
 * The HTTP status a failed request was answered with, or null when none came (unreachable, timed out, or no request
 * made). An answer whose body is no JSON (a gateway's HTML "502 Bad Gateway", a proxy's "429 Too Many Requests") is
 * RTK Query's `PARSING_ERROR`, its status in `originalStatus`: it is still that status's answer.
 *
 * @example answeredStatus({ status: 'PARSING_ERROR', originalStatus: 502, data: '<html>…', error: '…' }) // 502
 */
export function answeredStatus(error: unknown): number | null {
  const e = error as { status?: unknown; originalStatus?: unknown } | null | undefined
  if (typeof e?.status === 'number') return e.status
  return e?.status === 'PARSING_ERROR' && typeof e.originalStatus === 'number' ? e.originalStatus : null
}

/**
 * Whether a status refuses what was asked: a 4xx, but a 408 (the request did not reach the server in time) and a 429
 * (its rate, not what it asked: made again after the wait). Anything else may be made again unchanged.
 *
 * @example isRefusalStatus(403) // true; isRefusalStatus(408) // false
 */
export function isRefusalStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429
}

/**
 * Set in the contract's body the base query gives an error answer whose wait only its `Retry-After` told (a proxy's
 * 429, one whose body names no `retryAfterMs`, a 503): a wait for every request, after which all may go again. The
 * server's own `retryAfterMs` is one request's: the time until its budget has one more.
 */
export const WAIT_FOR_EVERY_REQUEST = 'waitForEveryRequest'

/**
 * Whether an error answer's wait is every request's (`WAIT_FOR_EVERY_REQUEST`), not one request's share of a budget.
 *
 * @example waitForEveryRequest({ error: { code: 'RATE_LIMITED', message: 'HTTP 429', retryAfterMs: 5000 }, waitForEveryRequest: true }) // true
 */
export function waitForEveryRequest(data: unknown): boolean {
  return (data as Record<string, unknown> | null | undefined)?.[WAIT_FOR_EVERY_REQUEST] === true
}
