import { useEffect, useRef } from 'react'
import { selectShownStatus } from '../../app/connectionWords'
import { useAppSelector } from '../../app/hooks'
import { errorCode, type ShownErrorCode } from './errors'

const FORGOTTEN_ON_RECONNECT: ReadonlySet<ShownErrorCode> = new Set(['NETWORK', 'UNAUTHORIZED'])

/**
 * Forgets a request's failure once the connection comes back after it: made while the connection was down, it said
 * "Could not reach the server. Check your connection.", words that would stand beside the header's "online" until the
 * next press; made once the session had ended, "Your session has ended. Log in again.", which a login since (in
 * another tab: this one follows, its page stays) has answered, as the socket's handshake, taken with a live token,
 * shows. Not while a request is on its way (its own answer decides), and not another refusal of the server's: the
 * connection coming back changes nothing of what it said. Back as the badge says it: a socket connected and dropped
 * before its sync is still trying (`selectShownStatus`), and the words would go while the badge says "reconnecting…".
 */
export function useForgetOnReconnect(error: unknown, busy: boolean, forget: () => void): void {
  const connected = useAppSelector((s) => selectShownStatus(s) === 'connected')
  const wasConnected = useRef(connected)
  useEffect(() => {
    const cameBack = connected && !wasConnected.current
    wasConnected.current = connected
    if (cameBack && error && !busy && FORGOTTEN_ON_RECONNECT.has(errorCode(error))) forget()
  }, [connected, error, busy, forget])
}
