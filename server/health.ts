import { within, type WithinTimers } from './within'

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

export interface HealthProbeOptions extends Partial<WithinTimers> {
  /** How long a part may take to answer; a stalled one must not hold the prober past its own timeout. Default 2,000. */
  timeoutMs?: number
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
 * Asks every part at once, each bounded by `timeoutMs`. A part still working on an earlier question is not asked
 * again, so a flood of probes (the endpoint needs no token) costs each part one question at a time, and a slow
 * database is not handed one more query every round: the probe waits for that answer, within its own bound.
 *
 * @example const probe = healthProbe([{ name: 'database', check: () => db.query('select 1') }]); await probe()
 */
export function healthProbe(
  checks: readonly HealthCheck[],
  {
    timeoutMs = 2_000,
    setTimeout: schedule = setTimeout,
    clearTimeout: cancel = clearTimeout,
  }: HealthProbeOptions = {},
): () => Promise<HealthReport> {
  const pending = new Map<HealthCheck, Promise<boolean>>()
  const answerOf = (check: HealthCheck): Promise<boolean> => {
    let answer = pending.get(check)
    if (!answer) {
      answer = asked(check).then(
        () => true,
        () => false,
      )
      pending.set(check, answer)
      void answer.then(() => pending.delete(check))
    }
    return answer
  }
  return async () => {
    const answered = await Promise.all(
      checks.map((check) => within(answerOf(check), timeoutMs, false, { setTimeout: schedule, clearTimeout: cancel })),
    )
    const failing = checks.filter((_, i) => !answered[i]).map((check) => check.name)
    return { ok: failing.length === 0, failing }
  }
}
