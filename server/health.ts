/** One part a node needs to serve, and how to ask it. */
export interface HealthCheck {
  name: string
  check(): Promise<unknown>
}

export interface HealthReport {
  ok: boolean
  /** The parts that failed or did not answer within the bound, in the checks' order. */
  failing: string[]
}

export interface HealthProbeOptions {
  /** How long a part may take to answer; a stalled one must not hold the prober past its own timeout. Default 2,000. */
  timeoutMs?: number
  setTimeout?: (run: () => void, ms: number) => ReturnType<typeof setTimeout>
  clearTimeout?: (handle: ReturnType<typeof setTimeout>) => void
}

/** `check.check()`, with a synchronous throw as a refusal. */
function asked(check: HealthCheck): Promise<unknown> {
  try {
    return Promise.resolve(check.check())
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * Asks every part at once, each bounded by `timeoutMs`. Concurrent callers share one round of questions, so a flood
 * of probes (the endpoint needs no token) costs each part one question at a time.
 *
 * @example const probe = healthProbe([{ name: 'database', check: () => db.query('select 1') }]); await probe()
 */
export function healthProbe(
  checks: readonly HealthCheck[],
  options: HealthProbeOptions = {},
): () => Promise<HealthReport> {
  const { timeoutMs = 2_000, setTimeout: schedule = setTimeout, clearTimeout: cancel = clearTimeout } = options
  // A part still working on an earlier question is not asked again (a slow database would otherwise hold one more
  // connection every round): the round waits for that answer, within its own bound.
  const pending = new Map<HealthCheck, Promise<boolean>>()
  const answers = (check: HealthCheck): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = schedule(() => resolve(false), timeoutMs)
      let answer = pending.get(check)
      if (!answer) {
        answer = asked(check).then(
          () => true,
          () => false,
        )
        pending.set(check, answer)
        void answer.then(() => pending.delete(check))
      }
      void answer.then((answered) => {
        cancel(timer)
        resolve(answered)
      })
    })
  let round: Promise<HealthReport> | null = null
  return () => {
    round ??= (async () => {
      try {
        const answered = await Promise.all(checks.map(answers))
        const failing = checks.filter((_, i) => !answered[i]).map((check) => check.name)
        return { ok: failing.length === 0, failing }
      } finally {
        round = null
      }
    })()
    return round
  }
}
