/**
 * Resolves once `check` answers true, asked every `everyMs`: a wait for a state no event announces (an HTTP status, a
 * row in another process), with no bound of its own. The test's timeout is the bound on a hang; a poll's own timeout
 * fails a loaded machine that is only slow.
 *
 * @example await polled(async () => (await http(url, 'GET', '/api/health')).status === 200)
 */
export async function polled(check: () => boolean | Promise<boolean>, everyMs = 50): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, everyMs))
}
