import { Writable } from 'node:stream'
import { pino, type Level, type Logger } from 'pino'

/** One line of the log, as pino writes it (the fields the tests read). */
export interface LogLine {
  level: number
  msg: string
  err?: { message: string }
  socketId?: string
  [field: string]: unknown
}

/**
 * A logger for `startServer({ logger })` whose lines (from `level` up) are kept, raw and parsed, for a test of what the
 * server logs.
 *
 * @example const log = capturedLog('warn'); await startServer({ logger: log.logger }); expect(log.lines()).toContainEqual(…)
 */
export function capturedLog(level: Level): { logger: Logger; raw: string[]; lines: () => LogLine[] } {
  const raw: string[] = []
  const logger = pino(
    { level },
    new Writable({
      write(chunk, _encoding, done) {
        raw.push(String(chunk))
        done()
      },
    }),
  )
  return { logger, raw, lines: () => raw.map((line) => JSON.parse(line) as LogLine) }
}
