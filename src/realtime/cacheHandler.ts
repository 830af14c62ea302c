import { SERVER_EVENTS } from '../contract'
import { sendConfirmed, serverEventActions } from './actions'
import { cacheWorkFor } from './cacheWork'
import type { SocketRootState } from './connectionSlice'
import type { Context, Handler } from './context'

/**
 * Server event action → cache work (after the reducers ran, so `socket/<event>` is in DevTools before its patches).
 * An ack or HTTP answer to our own send (`socket/sendConfirmed`) is reconciled exactly like `message:sent`.
 */
export function buildCacheHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  return (action) => {
    if (sendConfirmed.match(action)) {
      ctx.applyCacheWork(cacheWorkFor('message:sent', action.payload.message, ctx.view()))
      return
    }
    for (const event of SERVER_EVENTS) {
      if (serverEventActions[event].match(action)) {
        ctx.applyCacheWork(cacheWorkFor(event, action.payload as never, ctx.view()))
        return
      }
    }
  }
}
