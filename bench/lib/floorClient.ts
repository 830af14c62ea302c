/**
 * P2's floor: a lower bound on what any client that keeps the contract's "each server event is its own action" costs,
 * to read the layer's figure against. It does only this, the cheapest way we know:
 *
 * - each `message:new` is checked by the layer's own check and dispatched as its own `socket/message:new` action
 *   (auto-batched, as the layer's are);
 * - a task's messages go into the cached thread by one root `replace` with a frozen copy of each (the layer's way of
 *   patching, `cacheWorkForBurst`), in a microtask after the task's events;
 * - the store has the app's shape where it matters: the same shortcut for `socket/…` actions past RTK Query's reducer
 *   and middleware (`src/app/socketActionBypass.ts`) and the same auto-batch notification (`afterTask`). With
 *   `shortcut: false` it is the same store composed plainly (`combineReducers`, RTK Query's own reducer and
 *   middleware): P2 runs both, and what the shortcut buys is recorded in every run (`P2-shortcut`).
 *
 * It leaves out everything else the layer must do: no middleware of the layer or the session, no dedupe by id or
 * `clientId`, no ordering by `seq`, no gap detection, no conversation list, no pending sends, no typing or presence,
 * no offsets. Any client that keeps the contract costs at least this much; the layer costs what it adds on top.
 */
import { combineReducers, configureStore, type Middleware } from '@reduxjs/toolkit'
import { createApi } from '@reduxjs/toolkit/query'
import type { Socket } from 'socket.io-client'
import { afterTask } from '../../src/app/afterTask'
import { passingSocketActions, skippingSocketActions, socketActionsRoot } from '../../src/app/socketActionBypass'
import type { Id, Message } from '../../src/contract'
import { serverEventReceiver } from '../../src/realtime/bindSocket'
import { closeSocket, rawSocket } from './clients'
import { bearerBaseQuery } from './bearerBaseQuery'

export interface FloorClient {
  store: ReturnType<typeof createFloorStore>['store']
  api: ReturnType<typeof createFloorStore>['api']
  socket(): Socket
  close(): Promise<void>
}

function createFloorStore(url: string, token: string, probes: Middleware[], shortcut: boolean) {
  const api = createApi({
    reducerPath: 'api',
    baseQuery: bearerBaseQuery(url, token),
    endpoints: (build) => ({
      getMessages: build.query<Message[], Id>({
        query: (conversationId) => `conversations/${encodeURIComponent(conversationId)}/messages`,
      }),
    }),
  })
  const store = configureStore({
    reducer: shortcut
      ? socketActionsRoot(combineReducers({ [api.reducerPath]: skippingSocketActions(api.reducer) }), {})
      : combineReducers({ [api.reducerPath]: api.reducer }),
    // (The cast keeps the thunk dispatch type, which a spread of `Middleware[]` erases; nothing changes at run time.)
    middleware: (getDefaultMiddleware) =>
      getDefaultMiddleware()
        .concat(shortcut ? passingSocketActions(api.middleware) : api.middleware)
        .prepend(...probes) as unknown as ReturnType<typeof getDefaultMiddleware>,
    enhancers: (getDefaultEnhancers) =>
      getDefaultEnhancers({ autoBatch: { type: 'callback', queueNotification: afterTask } }),
  })
  return { api, store }
}

/** The floor with one thread subscribed (as a component would), connected and upgraded to WebSocket. */
export async function floorClient(options: {
  url: string
  token: string
  conversationId: Id
  probes?: Middleware[]
  /** The app's shortcut for `socket/…` actions; default true. */
  shortcut?: boolean
}): Promise<FloorClient> {
  const { api, store } = createFloorStore(options.url, options.token, options.probes ?? [], options.shortcut ?? true)
  const subscription = store.dispatch(api.endpoints.getMessages.initiate(options.conversationId))
  await subscription.unwrap()
  const select = api.endpoints.getMessages.select(options.conversationId)
  const socket = await rawSocket(options.url, options.token)
  const toAction = serverEventReceiver('message:new')
  let queued: Message[] = []
  const flush = () => {
    const messages = queued
    queued = []
    const thread = select(store.getState()).data ?? []
    const next = Object.freeze([...thread, ...messages])
    store.dispatch(
      api.util.patchQueryData('getMessages', options.conversationId, [{ op: 'replace', path: [], value: next }], false),
    )
  }
  socket.on('message:new', (payload: unknown) => {
    const action = toAction(payload)
    store.dispatch(action)
    if (action.type !== 'socket/message:new') return
    const { id, conversationId, seq, senderId, content, createdAt, clientId } = action.payload as Message
    if (conversationId !== options.conversationId) return
    if (queued.length === 0) queueMicrotask(flush)
    queued.push(Object.freeze({ id, conversationId, seq, senderId, content, createdAt, clientId }))
  })
  return {
    api,
    store,
    socket: () => socket,
    async close() {
      subscription.unsubscribe()
      await closeSocket(socket)
    },
  }
}
