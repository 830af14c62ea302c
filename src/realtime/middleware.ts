import { isAction, type Dispatch, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { SERVER_EVENTS, type ServerEventName } from '../contract'
import { connect, sendMessage, sendRejected, serverEventActions, socketHolderRequested } from './actions'
import { buildCacheHandler } from './cacheHandler'
import { commandProblem } from './commandCheck'
import { buildConnectionHandler } from './connectionHandler'
import { buildFallbackReadsHandler } from './fallbackReads'
import type { SocketRootState } from './socketSlice'
import { createContext, type Context, type Handler, type SocketMiddlewareOptions } from './context'
import { buildOutboxHandler } from './outboxHandler'
import { buildReadsHandler } from './readsHandler'
import { buildRoomsHandler } from './roomsHandler'
import { buildResumeHandler } from './resumeHandler'
import { createSocketHolder, type SocketHolder } from './socketHolder'
import { buildTabsHandler } from './tabsHandler'
import { buildTypingHandler } from './typingHandler'

/** What the middleware adds to `dispatch`: asking for the socket holder answers with it (see `useSocket`). */
export type SocketDispatchExtension = (action: ReturnType<typeof socketHolderRequested>) => SocketHolder

/** Builds one of the middleware's handlers (`build…Handler`). */
export type HandlerBuilder = <S extends SocketRootState>(ctx: Context<S>) => Handler<S>

/**
 * The handlers, in the order they run, each with the server events whose actions (`socket/<event>`) it reacts to. A
 * server event's action (a burst is thousands of them) goes only to the handlers that name its event; every other
 * action goes to all of them. `tests/unit/handlerRoutes.test.ts` fails when a handler reacts to an event it does not
 * name here.
 */
export const HANDLERS: ReadonlyArray<readonly [build: HandlerBuilder, serverEvents: readonly ServerEventName[]]> = [
  [buildConnectionHandler, []],
  [buildTabsHandler, []],
  [buildResumeHandler, []],
  [buildRoomsHandler, []],
  // A confirmation of our own send takes its entry out of the outbox, and so out of the stored outbox.
  [buildOutboxHandler, ['message:sent']],
  [buildCacheHandler, SERVER_EVENTS],
  // A read that failed for want of the server is made again once it answers.
  [buildReadsHandler, []],
  // While the socket is down and HTTP answers, what the pages show is read again now and then.
  [buildFallbackReadsHandler, []],
  // A message ends its sender's typing notice.
  [buildTypingHandler, ['message:new']],
]

/**
 * `socket/<server event>` → the handlers that react to it, in `HANDLERS` order (every other action goes to all).
 *
 * @example routeServerEvents([{ handler: cache, events: SERVER_EVENTS }]).get('socket/message:new') // [cache]
 */
export function routeServerEvents<H>(
  built: ReadonlyArray<{ handler: H; events: readonly ServerEventName[] }>,
): ReadonlyMap<unknown, H[]> {
  return new Map(
    SERVER_EVENTS.map((event) => [
      serverEventActions[event].type,
      built.filter((h) => h.events.includes(event)).map((h) => h.handler),
    ]),
  )
}

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
    // The outbox is also called before the reducers, for a send (`sendAhead`), so it is built once, here.
    const outbox = buildOutboxHandler(ctx)
    const built = HANDLERS.map(([build, events]) => ({
      handler: build === buildOutboxHandler ? outbox : build(ctx),
      events,
    }))
    const all = built.map((h) => h.handler)
    const byEventType = routeServerEvents(built)

    /** Runs `handlers` after the reducers; a handler that throws is reported, and the others still run. */
    function react(handlers: readonly Handler<S>[], action: UnknownAction, prevState: S) {
      for (const handler of handlers) {
        try {
          handler(action, prevState)
        } catch (error) {
          ctx.report('middleware', error)
        }
      }
    }

    return (next) => {
      /**
       * `next(action)`, then `handlers` react, even when it threw (someone else's reducer, or a store listener, which
       * Redux calls inside the dispatch of an action that is not auto-batched): what the action says happened on the
       * socket (a server event, a send's answer) must not be lost to the layer, and a send already emitted still gets
       * what its outbox held back (its lock, its timers, the answer's action). The caller gets the error after that.
       */
      function reduceThenReact(action: UnknownAction, prevState: S, handlers: readonly Handler<S>[]): unknown {
        try {
          return next(action)
        } finally {
          react(handlers, action, prevState)
        }
      }

      return (action) => {
        // A server event's action (thousands in a burst) goes straight to its handlers: none of the commands below.
        const routed = typeof action === 'object' && action !== null && byEventType.get((action as UnknownAction).type)
        if (routed) return reduceThenReact(action as UnknownAction, mwApi.getState(), routed)
        // A thunk is the thunk middleware's; the actions it dispatches come through here themselves.
        if (!isAction(action)) return next(action)
        if (socketHolderRequested.match(action)) return holder
        // A command of another shape (DevTools' Dispatch, plain JavaScript) goes no further: reducers and handlers
        // would throw on it or keep it. It is reported as an action, as the middleware's own failures are.
        const problem = commandProblem(action)
        if (problem !== null) {
          ctx.report(action.type, problem)
          return action
        }
        // No one logged in: nothing to connect, and the status stays `idle`.
        if (connect.match(action) && !options.selectToken(mwApi.getState())) return action
        // Bounded outbox: beyond the limit a send is refused with an action, and nothing already queued is dropped.
        if (sendMessage.match(action)) {
          const { clientId, conversationId } = action.payload
          const refuse = (code: 'UNAUTHORIZED' | 'OUTBOX_FULL', message: string) => {
            mwApi.dispatch(sendRejected({ clientId, conversationId, code, message }))
            return action
          }
          // Nobody logged in (between a logout and the next login): the send would be no one's, tried without a token
          // and then sent as whoever logs in next. Refused as a full outbox's is.
          if (options.selectUserId && !options.selectUserId(mwApi.getState()))
            return refuse('UNAUTHORIZED', 'Nobody is logged in: log in to send.')
          const { outbox } = mwApi.getState().socket
          if (outbox.length >= ctx.outboxLimit && !outbox.some((m) => m.clientId === clientId))
            return refuse(
              'OUTBOX_FULL',
              `${outbox.length} messages are still waiting to be sent; try again once some have gone.`,
            )
        }
        const prevState = mwApi.getState()
        // The emit first: the reducers, the other handlers and the storage write follow in this same dispatch.
        if (sendMessage.match(action)) {
          try {
            outbox.sendAhead(action, prevState)
          } catch (error) {
            ctx.report('middleware', error)
          }
          // Then its pending copy, which the send's own notification tells of with it (`showAhead`).
          try {
            outbox.showAhead(action, prevState)
          } catch (error) {
            ctx.report('middleware', error)
          }
        }
        // The user's "Log out" is marked before the reducers remove the session another tab hears (`logoutAhead`).
        if (options.loggedOut.match(action)) {
          try {
            outbox.logoutAhead(action, prevState)
          } catch (error) {
            ctx.report('middleware', error)
          }
        }
        return reduceThenReact(action, prevState, all)
      }
    }
  }
}
