import type { Dispatch, Middleware, UnknownAction } from '@reduxjs/toolkit'
import { connect, sendMessage, sendRejected, socketHolderRequested } from './actions'
import { buildCacheHandler } from './cacheHandler'
import { buildConnectionHandler } from './connectionHandler'
import type { SocketRootState } from './socketSlice'
import { createContext, type Handler, type SocketMiddlewareOptions } from './context'
import { buildOutboxHandler } from './outboxHandler'
import { buildRoomsHandler } from './roomsHandler'
import { buildResumeHandler } from './resumeHandler'
import { createSocketHolder, type SocketHolder } from './socketHolder'
import { buildTabsHandler } from './tabsHandler'
import { buildTypingHandler } from './typingHandler'

/** What the middleware adds to `dispatch`: asking for the socket holder answers with it (see `useSocket`). */
export type SocketDispatchExtension = (action: ReturnType<typeof socketHolderRequested>) => SocketHolder

/**
 * The Redux middleware that owns one Socket.IO client per store. The body is thin (like RTK's listener
 * middleware): reducers run first (`next`), then small handlers react — connection, rooms, outbox, cache — and start
 * their async work without awaiting. Nothing is thrown out of it: failures become actions.
 *
 * @example
 * const store = configureStore({
 *   reducer: { auth: authReducer, socket: socketSlice.reducer, [api.reducerPath]: api.reducer },
 *   middleware: (gDM) => gDM({ thunk: { extraArgument: { apiUrl } } }).concat(
 *     api.middleware,
 *     createSocketMiddleware({ apiUrl, selectToken: (s) => s.auth.token, loggedIn, loggedOut, tokenRefreshed }),
 *   ),
 * })
 */
export function createSocketMiddleware<S extends SocketRootState>(
  options: SocketMiddlewareOptions<S>,
): Middleware<SocketDispatchExtension, S, Dispatch<UnknownAction>> {
  return (mwApi) => {
    const holder = createSocketHolder()
    const ctx = createContext(options, mwApi as never, holder) as ReturnType<typeof createContext<S>>
    const outbox = buildOutboxHandler(ctx)
    const handlers: Handler<S>[] = [
      buildConnectionHandler(ctx),
      buildTabsHandler(ctx),
      buildResumeHandler(ctx),
      buildRoomsHandler(ctx),
      outbox,
      buildCacheHandler(ctx),
      buildTypingHandler(ctx),
    ]

    return (next) => (action) => {
      if (socketHolderRequested.match(action)) return holder
      // No one logged in: nothing to connect, and the status stays `idle`.
      if (connect.match(action) && !options.selectToken(mwApi.getState())) return action
      // Bounded outbox: beyond the limit a send is refused with an action, and nothing already queued is dropped.
      if (sendMessage.match(action)) {
        const { outbox } = mwApi.getState().socket
        if (outbox.length >= ctx.outboxLimit && !outbox.some((m) => m.clientId === action.payload.clientId)) {
          const { clientId, conversationId } = action.payload
          mwApi.dispatch(
            sendRejected({
              clientId,
              conversationId,
              code: 'OUTBOX_FULL',
              message: `${outbox.length} messages are still waiting to be sent; try again once some have gone.`,
            }),
          )
          return action
        }
      }
      const prevState = mwApi.getState()
      // The emit first: the reducers, the other handlers and the storage write follow in this same dispatch.
      if (sendMessage.match(action)) {
        try {
          outbox.sendAhead(action, prevState)
        } catch (error) {
          ctx.report('middleware', error)
        }
      }
      const result = next(action)
      for (const handler of handlers) {
        try {
          handler(action as UnknownAction, prevState)
        } catch (error) {
          ctx.report('middleware', error)
        }
      }
      return result
    }
  }
}
