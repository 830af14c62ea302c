import { TestRunner } from 'vitest'

/**
 * Kept of the test's timeout for the wait's own failure to reach the runner first (a loaded machine fires timers late).
 */
const MARGIN_MS = 5_000
/** Outside a test (a `beforeAll` or `afterAll`): under the hooks' 120 s timeout (vitest.config.ts). */
const OUTSIDE_A_TEST_MS = 100_000

/**
 * The bound for a wait that only guards against a hang (`vi.waitFor`, a Playwright locator's `timeout`): the time the
 * current test has left before its own timeout, less a margin. A fixed bound of a few seconds fails a loaded machine
 * that is only slow; the test's timeout alone fails a hang with a bare "Test timed out", where this bound fails it a
 * moment earlier with the wait's own message, which names what was awaited. Read it when the wait starts (not once per
 * file): it shrinks as the test goes on. Counted from the test's start, its `beforeEach` hooks included; not for
 * `.concurrent` tests (the current test is then any of them).
 *
 * @example await vi.waitFor(() => expect(seen()).toContain('after'), { timeout: hangBound(), interval: 20 })
 */
export function hangBound(): number {
  const test = TestRunner.getCurrentTest()
  const started = test?.result?.startTime
  if (!test || started === undefined) return OUTSIDE_A_TEST_MS
  return Math.max(1_000, test.timeout - (Date.now() - started) - MARGIN_MS)
}
