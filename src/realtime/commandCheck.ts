import type { UnknownAction } from '@reduxjs/toolkit'
import { discardMessage, joinConversation, leaveConversation, retryMessage, sendMessage, sendTyping } from './actions'

/** An id the layer keys state by: a room, an outbox entry (an empty one could never be discarded). */
function idProblem(field: string, value: unknown): string | null {
  if (typeof value !== 'string') return `${field}: must be a string`
  return value === '' ? `${field}: must not be empty` : null
}

/**
 * What makes a command unusable, or `null`. The action creators type every command, but DevTools' Dispatch and plain
 * JavaScript can send any object, and one of another shape would throw in the reducers or handlers, or stay in state
 * (a room joined again at every reconnect). Only shapes: a send's values (empty, too long) stay `sendMessageProblem`'s,
 * which marks it failed in its thread with the server's words. Server events never come here (the middleware routes
 * them first, validated when made).
 *
 * @example commandProblem({ type: 'socket/joinConversation', payload: { conversationId: 42 } }) // 'conversationId: must be a string'
 */
export function commandProblem(action: UnknownAction): string | null {
  const isRoom = joinConversation.match(action) || leaveConversation.match(action) || sendTyping.match(action)
  const isEntry = retryMessage.match(action) || discardMessage.match(action)
  const isSend = sendMessage.match(action)
  if (!isRoom && !isEntry && !isSend) return null
  // Read as the unknowns they may be: the `.match`es above typed them as the action creators make them.
  const { payload: p, meta } = action as { payload?: Record<string, unknown> | null; meta?: { createdAt?: unknown } }
  if (typeof p !== 'object' || p === null) return 'payload: must be an object'
  if (isRoom) return idProblem('conversationId', p.conversationId)
  if (isEntry) return idProblem('clientId', p.clientId)
  return (
    idProblem('conversationId', p.conversationId) ??
    idProblem('clientId', p.clientId) ??
    (typeof p.content !== 'string' ? 'content: must be a string' : null) ??
    // `sendMessage()` sets it: the pending copy's time.
    (typeof meta?.createdAt !== 'string' ? 'meta.createdAt: must be a string' : null)
  )
}
