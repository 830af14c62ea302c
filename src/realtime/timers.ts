/** A timer the runners can cancel; opaque to them. */
export type TimerHandle = unknown

/**
 * The clock edge of the state-machine runners (reconnect backoff, send retries), injectable like TanStack's
 * `focusManager.setEventListener`: tests and hosts pass their own, nothing in the layer calls the global directly.
 *
 * @example createSocketMiddleware({ …, timers: { setTimeout: (fn, ms) => myLoop.after(ms, fn), clearTimeout: (h) => myLoop.cancel(h) } })
 */
export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** The longest delay `setTimeout` holds: a longer one overflows, and the callback runs at once. */
const LONGEST_TIMEOUT_MS = 2 ** 31 - 1

/**
 * The host's timers, looked up at each call (so fake timers installed after the store was built still apply). A wait
 * longer than they hold (a server's Retry-After of a month) is their longest, not none.
 */
export const hostTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, Math.min(ms, LONGEST_TIMEOUT_MS)),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
}
