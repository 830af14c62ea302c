import type { Id } from '../../contract'
import { SESSION_EXPIRED_REASON, type TabMessage } from './protocol'

/**
 * What the tab holding the lock answers, while `userId`'s session is over in it (its refresh was refused: no socket, no
 * hub), to a message of another tab; null: nothing. Pure.
 *
 * An expired session is every tab's, so the holder keeps the lock and the others follow it; but with its hub gone,
 * nothing would answer a tab that asks for the socket afterwards (opened since, or one that missed the broadcast
 * `down`): it would say "connecting" until its own token's refresh falls due, minutes later. Each one asking is told
 * as the followers were at the expiry, so it refreshes once itself and says `unauthorized` too.
 *
 * - `attach` of that user: a tab opened since (or asking again) is told.
 * - `alive`: a follower that still thinks it is attached to this tab (it missed the `down`) is told; one attached to
 *   another tab, or of another user, ignores it (`tabSocket.ts` checks both).
 * - `emit` addressed to this tab: the same, and its acks fail at once rather than at their timeout.
 *
 * @example answerWhileSessionOver(attach, 'tab-1', 'alice') // { kind: 'down', reason: 'UNAUTHORIZED', to: attach.from, … }
 */
export function answerWhileSessionOver(message: TabMessage, tabId: string, userId: Id): TabMessage | null {
  if (message.from === tabId) return null
  const over: TabMessage = { kind: 'down', from: tabId, reason: SESSION_EXPIRED_REASON, to: message.from, userId }
  switch (message.kind) {
    case 'attach':
      return message.userId === userId ? over : null
    case 'alive':
      return over
    case 'emit':
      return message.to === tabId ? over : null
    default:
      return null
  }
}
