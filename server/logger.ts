import { pino, type Logger, type LevelWithSilent } from 'pino'
import pretty from 'pino-pretty'

export type LogLevel = LevelWithSilent

/** `pretty`: pino-pretty's readable lines, for a person at a terminal; `json`: one JSON object a line, for machines. */
export type LogFormat = 'json' | 'pretty'

const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty']

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/**
 * `LOG_LEVEL` (any case), else silent under tests (NODE_ENV=test or Vitest), else info. Any other value is refused,
 * naming the ones allowed (pino's own refusal names neither the variable nor them).
 */
export function defaultLogLevel(): LogLevel {
  const chosen = process.env.LOG_LEVEL?.trim().toLowerCase()
  if (chosen) {
    if ((LOG_LEVELS as readonly string[]).includes(chosen)) return chosen as LogLevel
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(process.env.LOG_LEVEL)}`)
  }
  if (process.env.NODE_ENV === 'test' || process.env.VITEST) return 'silent'
  return 'info'
}

/**
 * Readable lines on a terminal, JSON everywhere else (a pipe, a file, a log collector: whatever reads it is a
 * program). `LOG_FORMAT=json|pretty` overrides; any other value is refused, naming the ones allowed.
 *
 * @example logFormatFor({ isTTY: process.stdout.isTTY, env: process.env }) // 'pretty' in a terminal, else 'json'
 */
export function logFormatFor({
  isTTY,
  env,
}: {
  isTTY: boolean | undefined
  env: Record<string, string | undefined>
}): LogFormat {
  const chosen = env.LOG_FORMAT?.trim().toLowerCase()
  if (chosen) {
    if ((LOG_FORMATS as readonly string[]).includes(chosen)) return chosen as LogFormat
    throw new Error(`LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(env.LOG_FORMAT)}`)
  }
  return isTTY === true ? 'pretty' : 'json'
}

/**
 * The server's logger, writing to stdout synchronously in both formats, so the last lines before a `process.exit` (a
 * failed start, a second Ctrl-C) are not lost. Not pino's default asynchronous stdout: that one flushes what is
 * pending at exit, and into a pipe whose reader is gone (`npm run cluster` killed outright, its node closing) that
 * flush retried the broken pipe every 100 ms for good, and the process never exited. Written as it is logged, a line
 * into a broken pipe fails once and pino stops writing there.
 *
 * @example createLogger('info', logFormatFor({ isTTY: process.stdout.isTTY, env: process.env }))
 */
export function createLogger(level: LogLevel = defaultLogLevel(), format: LogFormat = 'json'): Logger {
  const options = { level, base: { service: 'talemy-server' } }
  if (format === 'json') return pino(options, pino.destination({ dest: 1, sync: true }))
  return pino(
    options,
    pretty({
      sync: true,
      colorize: pretty.isColorSupported,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
    }),
  )
}

/** What a repeated task reports of each try (`failureStreak`). */
export interface FailureStreak {
  succeeded(): void
  failed(error: unknown): void
}

/**
 * A task retried on a period (a sweep, a check, a heartbeat) told of each try: its failure is said once per streak
 * (a line per try would bury the outage), and its first success after one is said too.
 *
 * @example const sweep = failureStreak((e) => log.warn({ err: e }, 'sweep failed'), () => log.info('sweep works again'))
 */
export function failureStreak(onFailed: (error: unknown) => void, onRecovered: () => void = () => {}): FailureStreak {
  let failing = false
  return {
    succeeded() {
      if (failing) onRecovered()
      failing = false
    },
    failed(error) {
      if (!failing) onFailed(error)
      failing = true
    },
  }
}

export type { Logger }
