import type { Message } from '../../contract'
import type { ThreadMessage } from '../../api'

/** Stored (or confirmed) messages carry a real `seq`; our pending and failed ones do not yet. */
export const isConfirmed = (m: ThreadMessage) => m.status === undefined || m.status === 'sent'

/** A message's `clientId` with its sender: a `clientId` is unique per sender only. */
const senderClientId = (m: Message) => `${m.senderId}\u0000${m.clientId}`

/**
 * Merges an older page into a cached thread: dedup by id (and by sender and `clientId`, in case a pending copy is
 * still there), confirmed messages ordered by `seq`, unconfirmed ones after them in their current order.
 */
export function mergeOlder(thread: readonly ThreadMessage[], older: readonly Message[]): ThreadMessage[] {
  const ids = new Set(thread.map((m) => m.id))
  const clientIds = new Set(thread.filter((m) => m.clientId).map(senderClientId))
  const fresh = older.filter((m) => !ids.has(m.id) && !(m.clientId && clientIds.has(senderClientId(m))))
  const confirmed = [...fresh, ...thread.filter(isConfirmed)].sort((a, b) => a.seq - b.seq)
  return [...confirmed, ...thread.filter((m) => !isConfirmed(m))]
}

/** The lowest `seq` of a thread's stored messages, or `null` when none is stored yet. */
export function firstSeq(thread: readonly ThreadMessage[]): number | null {
  let min: number | null = null
  for (const m of thread) if (isConfirmed(m) && (min === null || m.seq < min)) min = m.seq
  return min
}
