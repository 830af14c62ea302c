import { SERVER_EVENTS } from '../contract'
import { sendConfirmed, serverEventActions, sessionEnded, sessionStarted } from './actions'
import { cacheWorkForBurst, type QueuedEvent } from './cacheWork'
import type { SocketRootState } from './connectionSlice'
import type { Context, Handler } from './context'

/**
 * Server event action → cache work. The event's action is in the store (and DevTools) at once; its cache work is
 * queued and done at the end of the task (a microtask), together with that of every other event of the same burst:
 * one patch per cached list per burst, one notification (the actions are auto-batched). An ack or HTTP answer to
 * our own send (`socket/sendConfirmed`) is reconciled exactly like `message:sent`.
 */
export function buildCacheHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  let queue: QueuedEvent[] = []
  let scheduled = false

  function flush() {
    scheduled = false
    const burst = queue
    queue = []
    if (burst.length === 0) return
    try {
      ctx.applyCacheWork(cacheWorkForBurst(burst, ctx.view()))
    } catch (error) {
      ctx.report('cache', error)
    }
  }

  function enqueue(item: QueuedEvent) {
    queue.push(item)
    if (scheduled) return
    scheduled = true
    queueMicrotask(flush)
  }

  return (action) => {
    if (sessionStarted.match(action) || sessionEnded.match(action)) {
      // Work queued for the previous session must not touch the next one's cache.
      queue = []
      return
    }
    if (sendConfirmed.match(action)) {
      enqueue({ event: 'message:sent', payload: action.payload.message })
      return
    }
    for (const event of SERVER_EVENTS) {
      if (serverEventActions[event].match(action)) {
        enqueue({ event, payload: action.payload })
        return
      }
    }
  }
}
