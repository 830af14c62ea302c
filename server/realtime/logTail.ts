import type { Id } from '../../src/contract'
import { failureStreak, type Logger } from '../logger'
import type { LiveDelivery } from './delivery'
import type { TalemySocket } from './types'

/** How often a node looks (with several nodes, or one on PostgreSQL), unless told otherwise. */
export const DEFAULT_LOG_TAIL_CHECK_MS = 5_000

export interface LogTailCheckOptions {
  delivery: Pick<LiveDelivery, 'live' | 'users'>
  /** Each user's current log offset. */
  heads: (userIds: readonly Id[]) => Promise<Map<Id, number>>
  /** Reads the socket's log again from where it was sent everything, and sends what it lacks. */
  resync: (socket: TalemySocket) => void
  periodMs: number
  logger: Logger
}

/**
 * With several nodes an event can be committed and never announced: its node died between the commit and the publish,
 * or pub/sub dropped the word (at most once). On PostgreSQL, even one node can lose the reply of a commit that
 * happened (the sender's retry then gets the stored message, which tells nobody). The log has it; this node's sockets would get it only at their next
 * event or reconnect. So each period the users' log heads are read in one query, and a socket still not sent an
 * event that was in its user's log a whole period ago is resynced. One period is the slack given to a notification
 * on its way: an event committed just before a check is not a suspect until the next.
 */
export class LogTailCheck {
  /** Sockets behind their user's head at the last check, with that head. */
  private behind = new Map<TalemySocket, number>()
  private timer: ReturnType<typeof setInterval> | undefined
  private checking = false

  /** Said once per streak of failed checks, and when one goes through again. */
  private readonly failures = failureStreak(
    (error) => this.options.logger.warn({ err: error }, 'log tail check failed'),
    () => this.options.logger.info('log tail check works again'),
  )

  constructor(private readonly options: LogTailCheckOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.options.periodMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  async check(): Promise<void> {
    if (this.checking) return
    this.checking = true
    try {
      const users = this.options.delivery.users()
      const heads = users.length === 0 ? new Map<Id, number>() : await this.options.heads(users)
      // Read after the heads: what was sent while they were read counts.
      const behind = new Map<TalemySocket, number>()
      for (const [socket, sentUpTo] of this.options.delivery.live()) {
        const head = heads.get(socket.data.userId)
        if (head === undefined || sentUpTo >= head) continue
        const before = this.behind.get(socket)
        if (before !== undefined && sentUpTo < before) this.options.resync(socket)
        else behind.set(socket, head)
      }
      this.behind = behind
      this.failures.succeeded()
    } catch (error) {
      this.failures.failed(error)
    } finally {
      this.checking = false
    }
  }
}
