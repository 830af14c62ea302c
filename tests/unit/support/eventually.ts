import { vi } from 'vitest'

/**
 * `vi.waitFor` with room for a slow, loaded machine: its default gives up after one second, which real HTTP on
 * loopback and real timers can take when the suites share two cores with Chromium and servers.
 *
 * @example await eventually(() => expect(thread().at(-1)?.status).toBe('sent'))
 */
export function eventually<T>(check: () => T | Promise<T>): Promise<T> {
  return vi.waitFor(check, { timeout: 15_000, interval: 10 })
}
