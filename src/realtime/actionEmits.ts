import type { UnknownAction } from '@reduxjs/toolkit'
import type { ClientEventName, ClientEventPayload, Id } from '../contract'
import { joinConversation, leaveConversation, sendMessage } from './actions'

/** One client event with its first argument (the ack callback is added by the middleware). */
export type Emit = { [E in ClientEventName]: { event: E; payload: ClientEventPayload<E> } }[ClientEventName]

/**
 * Action → what goes over the socket; `null` for actions that emit nothing.
 *
 * @example emitFor(joinConversation({ conversationId: 'c1' })) // { event: 'conversation:join', payload: 'c1' }
 */
export function emitFor(action: UnknownAction): Emit | null {
  if (joinConversation.match(action)) return joinEmit(action.payload.conversationId)
  if (leaveConversation.match(action)) return { event: 'conversation:leave', payload: action.payload.conversationId }
  if (sendMessage.match(action)) return sendEmit(action.payload)
  return null
}

/** The join that follows every (re)connect, once per wanted room. */
export const joinEmit = (conversationId: Id): Emit => ({ event: 'conversation:join', payload: conversationId })

/** A send's emit, the contract's three fields only (the outbox's tries go out with it, not with the action). */
export const sendEmit = ({ conversationId, content, clientId }: ClientEventPayload<'message:send'>): Emit => ({
  event: 'message:send',
  payload: { conversationId, content, clientId },
})
