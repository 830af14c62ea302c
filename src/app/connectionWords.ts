import type { MessageId } from '../i18n'
import { type ConnectionStatus, selectConnection, type SocketRootState } from '../realtime'
import type { Politeness } from './Announcer'

export type BadgeTone = 'ok' | 'warn' | 'off' | 'error'

/** The badge's words for each status, as the contract says (online / reconnecting… / offline / session expired). */
export const BADGE: Record<ConnectionStatus, { id: MessageId; tone: BadgeTone }> = {
  connected: { id: 'connection.online', tone: 'ok' },
  connecting: { id: 'connection.reconnecting', tone: 'warn' },
  reconnecting: { id: 'connection.reconnecting', tone: 'warn' },
  disconnected: { id: 'connection.offline', tone: 'off' },
  idle: { id: 'connection.offline', tone: 'off' },
  unauthorized: { id: 'connection.sessionExpired', tone: 'error' },
}

/**
 * The status the badge shows: the slice's, except that a socket connected and not synced yet is still trying. It
 * delivers nothing until its sync, and one the server drops before it (its session check failing, a database down)
 * at every attempt of the backoff would show "online" and be said back, then lost, again and again; what goes once
 * the connection is back (a form's "Could not reach the server") must not go then either. Never synced in this
 * session (no offset yet), one dropped is still connecting for the first time.
 *
 * @example useAppSelector(selectShownStatus) === 'connected' // back, as the badge says it
 */
export function selectShownStatus(state: SocketRootState): ConnectionStatus {
  const c = selectConnection(state)
  if (c.offset === null && (c.status === 'reconnecting' || (c.status === 'connected' && c.syncing))) return 'connecting'
  return c.status === 'connected' && c.syncing ? 'reconnecting' : c.status
}

/**
 * What a screen reader hears when the connection changes, or `null` for a change nobody needs to hear (the first
 * connect after login, a retry that is still reconnecting). Losing the connection interrupts (assertive): the user
 * may be typing a message that will now go another way; getting it back waits its turn (polite). `lostSaid`: a loss
 * (lost, offline, session expired) was said and no `connected` since, so this one is a return, not a first connect,
 * also through `connecting` (a tab brought back from `unauthorized` by another tab's login, a connect after offline).
 *
 * @example connectionAnnouncement('connected', 'reconnecting') // { id: 'connection.announce.lost', politeness: 'assertive' }
 * @example connectionAnnouncement('connecting', 'connected', true) // { id: 'connection.announce.back', politeness: 'polite' }
 */
export function connectionAnnouncement(
  before: ConnectionStatus,
  now: ConnectionStatus,
  lostSaid = false,
): { id: MessageId; politeness: Politeness } | null {
  if (before === now) return null
  switch (now) {
    case 'connected':
      return !lostSaid && (before === 'connecting' || before === 'idle')
        ? null
        : { id: 'connection.announce.back', politeness: 'polite' }
    case 'reconnecting':
      return before === 'connected' ? { id: 'connection.announce.lost', politeness: 'assertive' } : null
    case 'disconnected':
      return before === 'idle' ? null : { id: 'connection.announce.offline', politeness: 'assertive' }
    case 'unauthorized':
      return { id: 'connection.announce.expired', politeness: 'assertive' }
    default:
      return null
  }
}
