import type { Id } from '../contract'
import { connected, joined, joinFailed } from './actions'
import { emitWithAck } from './ack'
import type { SocketRootState } from './socketSlice'
import type { Context, Handler } from './context'
import { emitFor, joinEmit } from './actionEmits'

/**
 * Joins and leaves rooms with an ack and a timeout, and joins every wanted room again after each (re)connect (the
 * wanted rooms are in state; a join sent while offline would only sit in Socket.IO's buffer).
 */
export function buildRoomsHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch } = ctx.mwApi

  function join(conversationId: Id) {
    const socket = ctx.socket
    if (!socket?.connected) return
    const session = ctx.session
    void emitWithAck(socket, joinEmit(conversationId), ctx.ackTimeoutMs).then((result) => {
      if (session !== ctx.session || socket !== ctx.socket) return
      if (result.kind === 'ok') dispatch(joined({ conversationId }))
      else dispatch(joinFailed({ conversationId, code: result.kind === 'timeout' ? 'NETWORK' : result.error.code }))
    })
  }

  return (action) => {
    if (connected.match(action)) {
      for (const conversationId of ctx.mwApi.getState().socket.rooms) join(conversationId)
      return
    }
    const emit = emitFor(action)
    if (!emit || emit.event === 'message:send') return
    if (emit.event === 'conversation:join') join(emit.payload)
    else if (ctx.socket?.connected) void emitWithAck(ctx.socket, emit, ctx.ackTimeoutMs)
  }
}
