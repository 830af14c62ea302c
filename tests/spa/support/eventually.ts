import { act } from 'react'
import { vi } from 'vitest'

/** The real one, taken before a test installs fake timers: the wait between two checks is on the wall clock. */
const realSetTimeout = globalThis.setTimeout

/**
 * `eventually` for a rendered app: checks until `check` passes (15 s at most, for a loaded machine), and waits between
 * two checks inside `act`, so what the app renders meanwhile (an answer of its requests, a timer of its own) is
 * rendered as React expects in a test, not with a warning each time. With fake timers, each wait also moves them on
 * by as much, as `vi.waitFor` does.
 *
 * @example await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe('Messages'))
 */
export async function eventually<T>(check: () => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
    }
    await act(async () => {
      if (vi.isFakeTimers()) vi.advanceTimersByTime(10)
      await new Promise((resolve) => realSetTimeout(resolve, 10))
    })
  }
}
