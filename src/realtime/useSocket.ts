import { useCallback, useMemo, useSyncExternalStore } from 'react'
import { useDispatch, useSelector } from 'react-redux'
import type { Id } from '../contract'
import { joinConversation, leaveConversation, sendMessage, socketHolderRequested } from './actions'
import { selectConnection, type ConnectionStatus, type SocketRootState } from './socketSlice'
import { emptySocketHolder, isSocketHolder } from './socketHolder'
import type { AppSocket } from './types'

export interface UseSocket {
  /** The live client, or `null` (never in Redux state). */
  socket: AppSocket | null
  isConnected: boolean
  status: ConnectionStatus
  joinConversation(conversationId: Id): void
  leaveConversation(conversationId: Id): void
  /** Sends and returns the message's `clientId` (its pending copy's id). */
  sendMessage(conversationId: Id, content: string): string
}

/**
 * The realtime layer for components. Creates no socket (the middleware owns the only one), so React StrictMode's
 * double mount changes nothing; the callbacks are stable for the store's lifetime.
 *
 * @example
 * const { status, sendMessage } = useSocket()
 * const clientId = sendMessage(conversationId, 'Hello!')
 */
export function useSocket(): UseSocket {
  const dispatch = useDispatch()
  const holder = useMemo(() => {
    const answer: unknown = dispatch(socketHolderRequested())
    return isSocketHolder(answer) ? answer : emptySocketHolder
  }, [dispatch])
  const socket = useSyncExternalStore(holder.subscribe, holder.get, holder.get)
  const status = useSelector((state: SocketRootState) => selectConnection(state).status)

  const join = useCallback((conversationId: Id) => void dispatch(joinConversation({ conversationId })), [dispatch])
  const leave = useCallback((conversationId: Id) => void dispatch(leaveConversation({ conversationId })), [dispatch])
  const send = useCallback(
    (conversationId: Id, content: string) => dispatch(sendMessage({ conversationId, content })).payload.clientId,
    [dispatch],
  )

  return useMemo(
    () => ({
      socket,
      isConnected: status === 'connected',
      status,
      joinConversation: join,
      leaveConversation: leave,
      sendMessage: send,
    }),
    [socket, status, join, leave, send],
  )
}
