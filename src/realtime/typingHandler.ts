import type { Id } from '../contract'
import {
  ephemeralEventActions,
  serverEventActions,
  sendMessage,
  sendTyping,
  sessionEnded,
  shutdown,
  typingExpired,
} from './actions'
import type { Context, Handler } from './context'
import type { SocketRootState } from './socketSlice'
import type { TimerHandle } from './timers'

/**
 * At most one `typing` per conversation in this window, however fast the user types.
 *
 * @example vi.advanceTimersByTime(TYPING_SEND_INTERVAL_MS) // the next sendTyping emits `typing` again
 */
export const TYPING_SEND_INTERVAL_MS = 2_000
/**
 * "Is typing" shows this long after the last notice (the sender repeats every 2 s while typing).
 *
 * @example vi.advanceTimersByTime(TYPING_SHOWN_MS) // socket/typingExpired: the "is typing" line goes
 */
export const TYPING_SHOWN_MS = 5_000

/**
 * Both sides of typing, on the injected timers: `sendTyping` goes out at most once every 2 seconds per conversation
 * (and only on a live socket: a notice is worth nothing later), and each notice received arms a 5-second timer that
 * dispatches `typingExpired`, re-armed by the next one and cleared when that person's message arrives.
 */
export function buildTypingHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch } = ctx.mwApi
  const cooling = new Map<Id, TimerHandle>()
  const shown = new Map<string, TimerHandle>()
  const key = (conversationId: Id, userId: Id) => `${conversationId}\u0000${userId}`

  function clearShown(conversationId: Id, userId: Id) {
    if (shown.size === 0) return
    const k = key(conversationId, userId)
    const timer = shown.get(k)
    if (timer === undefined) return
    ctx.timers.clearTimeout(timer)
    shown.delete(k)
  }

  return (action) => {
    // The busiest case first: a burst of messages is thousands of actions.
    if (serverEventActions['message:new'].match(action)) {
      clearShown(action.payload.conversationId, action.payload.senderId)
    } else if (sendTyping.match(action)) {
      const { conversationId } = action.payload
      if (cooling.has(conversationId) || !ctx.socket?.connected) return
      cooling.set(
        conversationId,
        ctx.timers.setTimeout(() => cooling.delete(conversationId), TYPING_SEND_INTERVAL_MS),
      )
      // Without an ack: a refusal would change nothing here (the composer keeps working), and a late notice is noise.
      ctx.socket.emit('typing', { conversationId })
    } else if (sendMessage.match(action)) {
      // A message ends this burst of typing: the next keystroke says so again at once.
      const timer = cooling.get(action.payload.conversationId)
      if (timer !== undefined) ctx.timers.clearTimeout(timer)
      cooling.delete(action.payload.conversationId)
    } else if (ephemeralEventActions.typing.match(action)) {
      const { conversationId, userId } = action.payload
      clearShown(conversationId, userId)
      shown.set(
        key(conversationId, userId),
        ctx.timers.setTimeout(() => {
          shown.delete(key(conversationId, userId))
          dispatch(typingExpired({ conversationId, userId }))
        }, TYPING_SHOWN_MS),
      )
    } else if (sessionEnded.match(action) || shutdown.match(action)) {
      for (const timer of [...cooling.values(), ...shown.values()]) ctx.timers.clearTimeout(timer)
      cooling.clear()
      shown.clear()
    }
  }
}
