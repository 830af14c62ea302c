/** How long to wait before trying again. */
export interface BackoffOptions {
  /** The first delay's upper bound, in ms. */
  baseMs: number
  /** No delay is longer than this, in ms. */
  capMs: number
}

/**
 * The backoff used when none is given: the first retry within 500 ms, no wait longer than 30 s.
 *
 * @example backoffDelay(attempt, DEFAULT_BACKOFF, Math.random)
 */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 }

/**
 * Full-jitter exponential backoff ("Exponential Backoff And Jitter", AWS): a uniform draw below
 * `min(cap, base · 2^(attempt-1))`, so many clients that failed together do not retry together.
 *
 * @example backoffDelay(3, { baseMs: 500, capMs: 30_000 }, Math.random) // somewhere in [0, 2000)
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.floor(random() * ceiling)
}
