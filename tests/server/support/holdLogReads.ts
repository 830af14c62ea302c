import { vi } from 'vitest'
import { EventLog } from '../../../server/services/eventLog'

/**
 * Holds every read of `userId`'s event log (a handshake's replay, a resync) until `release()`: `reading` resolves as
 * the first one starts waiting. The other users' reads go through. `restore()` releases and removes the hold.
 *
 * @example const held = holdLogReads('user-bob'); try { …; await held.reading; …; held.release() } finally { held.restore() }
 */
export function holdLogReads(userId: string) {
  const real = EventLog.prototype.resume
  let reached!: () => void
  const reading = new Promise<void>((resolve) => (reached = resolve))
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const spy = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(async function (this: EventLog, ...args) {
    if (args[0] !== userId) return real.apply(this, args)
    reached()
    await released
    return real.apply(this, args)
  })
  return {
    reading,
    release,
    restore() {
      release()
      spy.mockRestore()
    },
  }
}
