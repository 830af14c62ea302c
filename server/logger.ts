import { pino, type Logger, type LevelWithSilent } from 'pino'

export type LogLevel = LevelWithSilent

/** Silent under tests (NODE_ENV=test or Vitest) unless a level is given. */
export function defaultLogLevel(): LogLevel {
  if (process.env.LOG_LEVEL) return process.env.LOG_LEVEL as LogLevel
  if (process.env.NODE_ENV === 'test' || process.env.VITEST) return 'silent'
  return 'info'
}

export function createLogger(level: LogLevel = defaultLogLevel()): Logger {
  return pino({ level, base: { service: 'talemy-server' } })
}

export type { Logger }
