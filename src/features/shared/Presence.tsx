import { useGetUsersQuery } from '../../api/hooks'
import { useAppSelector } from '../../app/hooks'
import type { Id } from '../../contract'
import { useDates, useT } from '../../i18n'
import { selectIsConnected, selectPresence } from '../../realtime'

/**
 * Whether someone is online, or when they were last seen: the socket's latest word, else what `/api/users` said.
 * Nothing for people whose presence the user may not know (no shared conversation), and nothing while this browser is
 * not connected, nor connected again until the server's snapshot: nobody would tell it that they left meanwhile; unless
 * `/api/users` was read since (`heardOverHttp`: the reads over HTTP while the socket is down), which is newer.
 *
 * @example <PresenceLabel userId={bob.id} />
 */
export function PresenceLabel({ userId }: { userId: Id }) {
  const t = useT()
  const dates = useDates()
  const live = useAppSelector((state) => selectPresence(state, userId))
  const connected = useAppSelector(
    (state) => (selectIsConnected(state) && !state.presence.stale) || state.presence.heardOverHttp,
  )
  const { data: users } = useGetUsersQuery()
  const listed = users?.find((u) => u.id === userId)
  const online = live?.online ?? listed?.online ?? null
  const lastSeenAt = live ? live.lastSeenAt : (listed?.lastSeenAt ?? null)
  if (online === null || !connected) return null
  const text = online
    ? t('presence.online')
    : lastSeenAt
      ? t('presence.lastSeen', {
          today: dates.isToday(lastSeenAt) ? 'yes' : 'no',
          day: dates.day(lastSeenAt),
          time: dates.time(lastSeenAt),
        })
      : t('presence.offline')
  return (
    <span className={`presence${online ? ' presence-online' : ''}`} data-testid="presence" data-online={String(online)}>
      <span className="presence-dot" aria-hidden="true" />
      {text}
    </span>
  )
}
