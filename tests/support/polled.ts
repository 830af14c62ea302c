import { onTestFinished, TestRunner } from 'vitest'

/**
 * Resolves once `check` answers true, asked every `everyMs`: a wait for a state no event announces (an HTTP status, a
 * row in another process), with no bound of its own. The test's timeout is the bound on a hang; a poll's own timeout
 * fails a loaded machine that is only slow. If the test fails (or times out) while the poll still waits, `seen` (the
 * state the check last saw, cheap to read) is printed, since a timeout alone does not say what was awaited; the poll
 * stops then.
 *
 * @example await polled(async () => (await http(url, 'GET', '/api/health')).status === 200)
 */
export async function polled(
  check: () => boolean | Promise<boolean>,
  everyMs = 50,
  seen?: () => unknown,
): Promise<void> {
  let waiting = true
  let ended = false
  if (TestRunner.getCurrentTest()) {
    onTestFinished(({ task }) => {
      ended = true
      if (waiting && seen && task.result?.state === 'fail') {
        console.error(`${task.name}: still waiting when the test ended; last seen:`, seen())
      }
    })
  }
  try {
    while (!(await check())) {
      if (ended) throw new Error('the test ended while polling')
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  } finally {
    waiting = false
  }
}
