import type { ThreadMessage } from '../../api'
import type { Id } from '../../contract'

/**
 * The id of the last confirmed message of `me` that the other person has read (its `seq` at or below their read
 * position), where the thread says "Seen"; `null` when there is none.
 *
 * @example lastSeenOwn([{ id: 'a', seq: 1, senderId: 'me' }, { id: 'b', seq: 2, senderId: 'me' }], 'me', 1) // 'a'
 */
export function lastSeenOwn(messages: readonly ThreadMessage[], me: Id | null | undefined, readSeq: number): Id | null {
  if (!me || readSeq < 1) return null
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m.senderId !== me || m.status === 'pending' || m.status === 'failed') continue
    if (m.seq <= readSeq) return m.id
  }
  return null
}
