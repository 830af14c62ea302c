import { combineReducers, configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { authSlice } from '../../src/app/authSlice'
import type { ServerEventName } from '../../src/contract'
import {
  connect,
  createMemoryLock,
  joinConversation,
  presenceReducer,
  sendMessage,
  socketReducer,
  type StorageLike,
  type Timers,
} from '../../src/realtime'
import { createContext } from '../../src/realtime/context'
import { HANDLERS, routeServerEvents } from '../../src/realtime/middleware'
import { createSocketHolder } from '../../src/realtime/socketHolder'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob, contactRequest, conversation, lesson, message, T0 } from './support/fixtures'
import { socketOptions, settle } from './support/mockStore'

// The middleware hands a server event's action only to the handlers that name its event in `HANDLERS`. This holds
// that table to what the handlers do: the same session, once with the table's routing and once with every handler
// seeing every action, must leave the same trace (actions, emits, timers, storage writes) and the same state. A
// handler that starts reacting to an event it does not name makes the two differ.

const reducer = combineReducers({
  auth: authSlice.reducer,
  socket: socketReducer,
  presence: presenceReducer,
  api: api.reducer,
})

/** The table's middleware (without the command checks, which no server event reaches), routed or not. */
function handlersMiddleware(routed: boolean, options: ReturnType<typeof socketOptions>): Middleware {
  return (mwApi) => {
    const ctx = createContext(options as never, mwApi as never, createSocketHolder())
    const handlers = HANDLERS.map(([build, events]) => ({ handler: build(ctx), events }))
    const all = handlers.map((h) => h.handler)
    // The middleware's own routing, so the test holds the map it uses, not a copy of it.
    const route = routeServerEvents(handlers)
    return (next) => (action) => {
      const prevState = mwApi.getState()
      const result = next(action)
      const type = (action as UnknownAction).type
      for (const handler of (routed && route.get(type)) || all) handler(action as UnknownAction, prevState as never)
      return result
    }
  }
}

const mine = message(4, { senderId: alice.id, clientId: 'k-1', content: 'mine' })

/** Every server event, each in a form some handler could react to. */
const events: [ServerEventName, unknown][] = [
  ['message:new', message(3)], // bob, who is typing
  ['message:sent', mine], // confirms our pending send
  ['conversation:read', { conversationId: 'c1', unreadCount: 0 }],
  ['conversation:seen', { conversationId: 'c1', userId: bob.id, seq: 4 }],
  ['lesson:created', lesson('l1')],
  ['lesson:statusUpdated', lesson('l1', { status: 'confirmed' })],
  ['contactRequest:created', contactRequest('r1')],
  ['contactRequest:statusUpdated', contactRequest('r1', { status: 'accepted' })],
]

/** Random request ids by order of appearance, so that two sessions compare. */
function normalized(trace: unknown): unknown {
  const ids = new Map<string, string>()
  return JSON.parse(
    JSON.stringify(trace, (key, value: unknown) => {
      if (key !== 'requestId' || typeof value !== 'string') return value
      if (!ids.has(value)) ids.set(value, `request-${ids.size + 1}`)
      return ids.get(value)
    }),
  )
}

async function session(routed: boolean) {
  vi.clearAllTimers()
  vi.setSystemTime(new Date(T0))
  const trace: unknown[] = []
  const sockets = fakeSockets()
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      trace.push(['setTimeout', ms])
      return globalThis.setTimeout(fn, ms)
    },
    clearTimeout: (handle) => {
      trace.push(['clearTimeout'])
      globalThis.clearTimeout(handle as never)
    },
  }
  const stored = new Map<string, string>()
  const storage: StorageLike = {
    getItem: (key) => stored.get(key) ?? null,
    setItem: (key, value) => {
      trace.push(['setItem', key, value])
      stored.set(key, value)
    },
    removeItem: (key) => {
      trace.push(['removeItem', key])
      stored.delete(key)
    },
  }
  const options = socketOptions(sockets, { timers, storage, drainLock: createMemoryLock() })
  const traceActions: Middleware = () => (next) => (action) => {
    // RTK Query's own bookkeeping (asked once per api, whichever store comes first) is no handler's doing.
    if ((action as UnknownAction).type !== 'api/subscriptions/internal_getRTKQSubscriptions') trace.push(action)
    return next(action)
  }
  const store = configureStore({
    reducer,
    preloadedState: { auth: { token: 'token-1', user: alice } } as never,
    middleware: (gDM) =>
      gDM({ serializableCheck: false, immutableCheck: false })
        .prepend(traceActions, handlersMiddleware(routed, options))
        .concat(api.middleware),
  })
  await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1), message(2)]))
  await store.dispatch(
    api.util.upsertQueryData('getConversations', undefined, [conversation('c1', { lastMessage: message(2) })]),
  )
  await store.dispatch(api.util.upsertQueryData('getLessons', undefined, []))
  await store.dispatch(api.util.upsertQueryData('getContactRequests', undefined, []))
  store.dispatch(connect())
  const socket = sockets.last
  socket.serverConnect()
  store.dispatch(joinConversation({ conversationId: 'c1' }))
  store.dispatch(sendMessage({ conversationId: 'c1', content: 'mine', clientId: 'k-1' }))
  socket.serverEmit('typing', { conversationId: 'c1', userId: bob.id })
  await settle()
  for (const [event, payload] of events) {
    socket.serverEmit(event, payload)
    await settle()
  }
  vi.advanceTimersByTime(4_000) // the coalescer's window, not the send's ack timeout (which would go over HTTP)
  await settle()
  trace.push(...socket.emitted.map((p) => ['emit', p.event, p.args]))
  return { trace: normalized(trace), state: normalized(store.getState()), raw: store.getState() }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

test('a handler reacts to no server event it does not name in HANDLERS: routed or not, the same trace and state', async () => {
  const everyAction = await session(false)
  const routed = await session(true)
  // The session does exercise what the routing keeps: the send confirmed, bob's notice ended, the cache patched.
  expect(routed.raw.socket.outbox).toEqual([])
  expect(routed.raw.presence.typing.c1 ?? []).toEqual([])
  expect(
    api.endpoints.getMessages
      .select('c1')(routed.raw as never)
      .data?.map((m) => m.seq),
  ).toEqual([1, 2, 3, 4])
  expect(routed.trace).toEqual(everyAction.trace)
  expect(routed.state).toEqual(everyAction.state)
})
