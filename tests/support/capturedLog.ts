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

/** What `capturedLog` gives: the logger, its lines, and a wait for a line to come. */
export interface CapturedLog {
  logger: Logger
  raw: string[]
  lines: () => LogLine[]
  /**
   * Resolves with the first line from line `since` on, written already or later, that `matches`: a wait for the event
   * itself, with no bound of its own (the test's timeout is the bound on a hang), where a poll's timeout fails a slow
   * machine.
   */
  logged: (matches: (line: LogLine) => boolean, since?: number) => Promise<LogLine>
}

/**
 * A logger for `startServer({ logger })` whose lines (from `level` up) are kept, raw and parsed, for a test of what the
 * server logs.
 *
 * @example const log = capturedLog('warn'); await startServer({ logger: log.logger }); expect(log.lines()).toContainEqual(…)
 */
export function capturedLog(level: Level): CapturedLog {
  const raw: string[] = []
  const waiting = new Set<(line: LogLine) => void>()
  const logger = pino(
    { level },
    new Writable({
      write(chunk, _encoding, done) {
        raw.push(String(chunk))
        const line = JSON.parse(String(chunk)) as LogLine
        for (const hear of waiting) hear(line)
        done()
      },
    }),
  )
  const lines = () => raw.map((line) => JSON.parse(line) as LogLine)
  const logged = (matches: (line: LogLine) => boolean, since = 0) =>
    new Promise<LogLine>((resolve) => {
      const already = lines().slice(since).find(matches)
      if (already) return resolve(already)
      const hear = (line: LogLine) => {
        if (!matches(line)) return
        waiting.delete(hear)
        resolve(line)
      }
      waiting.add(hear)
    })
  return { logger, raw, lines, logged }
}
