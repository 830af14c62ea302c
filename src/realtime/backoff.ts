import type { TimerHandle, Timers } from './timers'

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

/** Retries kept per key (a room, …): each key's failures in a row and the one retry it waits for. */
export interface KeyedRetries<K> {
  /** Another failure of `key`: `fire` runs after its full-jitter backoff, and at least `atLeastMs`. Replaces a wait. */
  later(key: K, atLeastMs: number, fire: () => void): void
  /** Whether `key` waits for its retry. */
  waiting(key: K): boolean
  /** `key`'s failures in a row (its `later` calls since it was last forgotten). */
  failures(key: K): number
  /** `key`'s retry does not go (its failures still count). */
  cancel(key: K): void
  /** `key` succeeded, or is given up: its retry does not go and its failures start over. */
  forget(key: K): void
  /** Every key forgotten (a new connection, a stop). */
  clear(): void
}

/**
 * Per-key retries on the given timers: a key's n-th failure in a row waits `backoffDelay(n)` (or what the server
 * asked, if longer), and one retry at most waits per key.
 *
 * @example const retries = keyedRetries(timers, DEFAULT_BACKOFF, Math.random); retries.later('c1', 0, () => join('c1'))
 */
export function keyedRetries<K>(timers: Timers, options: BackoffOptions, random: () => number): KeyedRetries<K> {
  const failures = new Map<K, number>()
  const waits = new Map<K, TimerHandle>()
  const cancel = (key: K) => {
    if (waits.has(key)) timers.clearTimeout(waits.get(key))
    waits.delete(key)
  }
  const forget = (key: K) => {
    cancel(key)
    failures.delete(key)
  }
  return {
    later(key, atLeastMs, fire) {
      cancel(key)
      const failed = (failures.get(key) ?? 0) + 1
      failures.set(key, failed)
      const handle = timers.setTimeout(
        () => {
          if (waits.get(key) !== handle) return
          waits.delete(key)
          fire()
        },
        Math.max(backoffDelay(failed, options, random), atLeastMs),
      )
      waits.set(key, handle)
    },
    waiting: (key) => waits.has(key),
    failures: (key) => failures.get(key) ?? 0,
    cancel,
    forget,
    clear() {
      for (const key of [...waits.keys(), ...failures.keys()]) forget(key)
    },
  }
}
