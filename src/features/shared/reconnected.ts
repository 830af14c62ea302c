import { useEffect, useRef } from 'react'
import { useAppSelector } from '../../app/hooks'
import { selectIsConnected } from '../../realtime'

/**
 * Forgets a request's failure once the connection comes back after it: made while the connection was down, it said
 * "Could not reach the server. Check your connection.", words that would stand beside the header's "online" until the
 * next press. Not while a request is on its way (its own answer decides).
 */
export function useForgetOnReconnect(error: unknown, busy: boolean, forget: () => void): void {
  const connected = useAppSelector(selectIsConnected)
  const wasConnected = useRef(connected)
  useEffect(() => {
    const cameBack = connected && !wasConnected.current
    wasConnected.current = connected
    if (cameBack && error && !busy) forget()
  }, [connected, error, busy, forget])
}
