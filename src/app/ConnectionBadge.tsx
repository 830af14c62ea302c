import { selectConnection } from '../realtime'
import { useAppSelector } from './hooks'

type Status = ReturnType<typeof selectConnection>['status']

const LABELS: Record<string, { text: string; tone: 'ok' | 'warn' | 'off' | 'error' }> = {
  connected: { text: 'online', tone: 'ok' },
  connecting: { text: 'reconnecting…', tone: 'warn' },
  reconnecting: { text: 'reconnecting…', tone: 'warn' },
  disconnected: { text: 'offline', tone: 'off' },
  idle: { text: 'offline', tone: 'off' },
  unauthorized: { text: 'session expired', tone: 'error' },
}

/** The connection badge, worded as the contract says; whenever not online it adds that messages go over HTTP. */
export function ConnectionBadge() {
  const status: Status = useAppSelector((s) => selectConnection(s).status)
  const { text, tone } = LABELS[status] ?? LABELS.disconnected!
  const online = status === 'connected'
  return (
    <p role="status" className={`badge badge-${tone}`} data-testid="connection-badge" data-status={status}>
      <span className="badge-dot" aria-hidden="true" />
      <span className="badge-text">{text}</span>
      {!online && <span className="badge-note"> · messages go over HTTP</span>}
    </p>
  )
}
