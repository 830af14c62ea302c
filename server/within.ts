/** Timers, injectable for tests. */
export interface WithinTimers {
  setTimeout: (run: () => void, ms: number) => ReturnType<typeof setTimeout>
  clearTimeout: (handle: ReturnType<typeof setTimeout>) => void
}

// Looked up at each call, as a direct call would be (fake timers installed later take effect).
const hostTimers: WithinTimers = {
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle),
}

/**
 * `work`'s outcome, or `late` if it has not settled within `ms`: for a Redis or database that holds its connection and
 * answers nothing, whose caller must not wait for as long as that lasts. What `work` does after, rejecting included,
 * is nobody's to hear.
 *
 * @example await within(redis.ping(), 5_000, 'silent') // 'PONG', or 'silent' after 5 s
 */
export function within<T, L>(work: Promise<T>, ms: number, late: L, timers: WithinTimers = hostTimers): Promise<T | L> {
  return new Promise((resolve, reject) => {
    const timer = timers.setTimeout(() => resolve(late), ms)
    work.then(
      (value) => {
        timers.clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        timers.clearTimeout(timer)
        reject(error)
      },
    )
  })
}
