import { useEffect, useEffectEvent, useRef } from 'react'
import { useT } from '../i18n'
import { selectConnection } from '../realtime'
import { useAnnounce } from './Announcer'
import { BADGE, connectionAnnouncement, selectShownStatus } from './connectionWords'
import { useAppSelector } from './hooks'

/**
 * How long a lost connection must stay lost before it is said: closing the tab that holds the browser's one socket
 * drops it in every other tab until the next one has connected (a moment), as a short network blip does; neither is
 * news, nor is its end.
 */
export const LOST_NEWS_AFTER_MS = 1000

/**
 * The same for a tab that was riding on another tab's socket: its loss is first of all that tab closing, and the tab
 * taking the socket over opens its own, which Chromium was seen to hold for 0.7 to 4.2 s after the close (the closed
 * tab's socket still closing). A loss of the holder's network is said this much later in such a tab (at once in the
 * badge), and after `LOST_NEWS_AFTER_MS` in the holder's.
 */
export const HANDOFF_NEWS_AFTER_MS = 5000

function endLostWait(wait: { current: ReturnType<typeof setTimeout> | null }) {
  if (wait.current !== null) clearTimeout(wait.current)
  wait.current = null
}

/**
 * The connection badge, worded as the contract says; whenever not online it adds that messages go over HTTP. It is
 * not a live region itself: its changes are said once through the announcer, losing the connection assertively.
 */
export function ConnectionBadge() {
  const t = useT()
  const announce = useAnnounce()
  const status = useAppSelector(selectShownStatus)
  // Which tab holds the browser's one socket: for whoever debugs it (and the tests), not worded for users.
  const role = useAppSelector((s) => selectConnection(s).role)
  // A connect that has failed and goes on trying without ever having been online (the page opened, or a login made,
  // where the socket cannot connect): no status change says it (it stays `connecting`), yet the badge shows it. Not a
  // handshake refused for its token: the layer renews it and connects again (or the session has expired, said then).
  // One the server let connect and dropped before its first sync failed too, though no handshake did.
  const firstConnectFails = useAppSelector((s) => {
    const c = selectConnection(s)
    if (c.offset === null && c.status === 'reconnecting') return true
    return c.status === 'connecting' && c.error !== null && c.error.code !== 'UNAUTHORIZED'
  })
  const before = useRef(status)
  // Whether the socket this tab was last online on was another tab's (see HANDOFF_NEWS_AFTER_MS).
  const onlineAs = useRef(role)
  // Before the effect that says the news (effects run in order): a loss reads the role the tab was online as.
  useEffect(() => {
    if (status === 'connected') onlineAs.current = role
  }, [status, role])
  // A loss said (lost, offline, session expired) and no `connected` since: the next `connected` says it is back.
  const lostSaid = useRef(false)
  // A loss not said yet: it is said once it has lasted LOST_NEWS_AFTER_MS, unless the connection is back by then.
  const lostWaits = useRef<ReturnType<typeof setTimeout> | null>(null)
  // In the language of the moment it is said.
  const say = useEffectEvent((news: NonNullable<ReturnType<typeof connectionAnnouncement>>) =>
    announce(t(news.id), news.politeness),
  )
  useEffect(() => {
    if (before.current === status) return
    const news = connectionAnnouncement(before.current, status, lostSaid.current)
    before.current = status
    // Still trying (reconnecting, connecting): a loss waiting to be said goes on waiting.
    const unsaidLoss = lostWaits.current !== null
    if (status !== 'reconnecting' && status !== 'connecting') endLostWait(lostWaits)
    if (status === 'connected' || status === 'idle') lostSaid.current = false
    if (!news) return
    if (news.id === 'connection.announce.lost') {
      endLostWait(lostWaits)
      lostWaits.current = setTimeout(
        () => {
          lostWaits.current = null
          lostSaid.current = true
          say(news)
        },
        onlineAs.current === 'follower' ? HANDOFF_NEWS_AFTER_MS : LOST_NEWS_AFTER_MS,
      )
      return
    }
    // Back before the loss was said: the user heard of neither.
    if (news.id === 'connection.announce.back' && unsaidLoss) return
    if (status !== 'connected') lostSaid.current = true
    say(news)
  }, [status])
  // Said as a loss is, once it has lasted the moment (a refused token renewed meanwhile connects within it); `connected`
  // then says it is back, and any other status ends the wait (the effect above).
  useEffect(() => {
    if (!firstConnectFails || lostSaid.current || lostWaits.current !== null) return
    lostWaits.current = setTimeout(() => {
      lostWaits.current = null
      lostSaid.current = true
      say({ id: 'connection.announce.cannotConnect', politeness: 'assertive' })
    }, LOST_NEWS_AFTER_MS)
  }, [firstConnectFails])
  useEffect(() => () => endLostWait(lostWaits), [])

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
