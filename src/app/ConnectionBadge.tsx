import { useEffect, useRef } from 'react'
import { useT } from '../i18n'
import { selectConnection, type ConnectionStatus } from '../realtime'
import { useAnnounce } from './Announcer'
import { BADGE, connectionAnnouncement } from './connectionWords'
import { useAppSelector } from './hooks'

/**
 * The connection badge, worded as the contract says; whenever not online it adds that messages go over HTTP. It is
 * not a live region itself: its changes are said once through the announcer, losing the connection assertively.
 */
export function ConnectionBadge() {
  const t = useT()
  const announce = useAnnounce()
  const status: ConnectionStatus = useAppSelector((s) => selectConnection(s).status)
  // Which tab holds the browser's one socket: for whoever debugs it (and the tests), not worded for users.
  const role = useAppSelector((s) => selectConnection(s).role)
  const before = useRef(status)
  // A loss said (lost, offline, session expired) and no `connected` since: the next `connected` says it is back.
  const lostSaid = useRef(false)
  useEffect(() => {
    const news = connectionAnnouncement(before.current, status, lostSaid.current)
    before.current = status
    if (status === 'connected' || status === 'idle') lostSaid.current = false
    else if (news) lostSaid.current = true
    if (news) announce(t(news.id), news.politeness)
  }, [status, announce, t])

  const { id, tone } = BADGE[status] ?? BADGE.disconnected
  const online = status === 'connected'
  return (
    <p className={`badge badge-${tone}`} data-testid="connection-badge" data-status={status} data-role={role}>
      <span className="badge-dot" aria-hidden="true" />
      <span className="badge-text">{t(id)}</span>
      {!online && (
        <span className="badge-note">
          <span aria-hidden="true"> · </span>
          {t('connection.overHttp')}
        </span>
      )}
    </p>
  )
}
