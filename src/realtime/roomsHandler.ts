import type { Id } from '../contract'
import { connected, joined, joinFailed, shutdown } from './actions'
import { emitWithAck } from './ack'
import type { SocketRootState } from './socketSlice'
import type { Context, Handler } from './context'
import { emitFor, joinEmit } from './actionEmits'

/**
 * Joins and leaves rooms with an ack and a timeout, and joins every wanted room again after each (re)connect (the
 * wanted rooms are in state; a join sent while offline would only sit in Socket.IO's buffer). A store with a socket of
 * its own looks at them only while the page is visible: hidden, it leaves them (they stay wanted) and joins them again
 * when it shows. With tabs sharing a socket, the hub does that for every tab.
 */
export function buildRoomsHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch, getState } = ctx.mwApi
  const { visibility } = ctx
  const solo = () => getState().socket.connection.role === 'solo'
  /** Whether a join may go now: a shared socket's hub judges visibility itself. */
  const looking = () => !solo() || visibility.visible()

  function join(conversationId: Id) {
    const socket = ctx.socket
    if (!socket?.connected || !looking()) return
    const session = ctx.session
    void emitWithAck(socket, joinEmit(conversationId), ctx.ackTimeoutMs).then((result) => {
      if (session !== ctx.session || socket !== ctx.socket) return
      if (result.kind === 'ok') dispatch(joined({ conversationId }))
      else dispatch(joinFailed({ conversationId, code: result.kind === 'timeout' ? 'NETWORK' : result.error.code }))
    })
  }

  let shown = visibility.visible()
  let unsubscribe: (() => void) | null = visibility.subscribe(() => {
    if (visibility.visible() === shown) return
    shown = visibility.visible()
    if (!solo() || !ctx.socket?.connected) return
    for (const conversationId of getState().socket.rooms) {
      if (shown) join(conversationId)
      else void emitWithAck(ctx.socket, { event: 'conversation:leave', payload: conversationId }, ctx.ackTimeoutMs)
    }
  })

  return (action) => {
    if (connected.match(action)) {
      for (const conversationId of getState().socket.rooms) join(conversationId)
      return
    }
    if (shutdown.match(action)) {
      unsubscribe?.()
      unsubscribe = null
      return
    }
    const emit = emitFor(action)
    if (!emit || emit.event === 'message:send') return
    if (emit.event === 'conversation:join') join(emit.payload)
    else if (ctx.socket?.connected) void emitWithAck(ctx.socket, emit, ctx.ackTimeoutMs)
  }
}
