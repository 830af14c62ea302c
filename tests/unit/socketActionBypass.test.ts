import { configureStore, type UnknownAction } from '@reduxjs/toolkit'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { authSlice } from '../../src/app/authSlice'
import { passingSocketActions, skippingSocketActions } from '../../src/app/socketActionBypass'
import { SERVER_EVENTS } from '../../src/contract'
import * as realtime from '../../src/realtime'
import { alice, lesson, message } from './support/fixtures'

// The store's one shortcut (src/app/socketActionBypass.ts): `socket/…` actions skip RTK Query's reducer and
// middleware and the auth reducer. It is sound only while those ignore such actions; these tests fail the day RTK
// Query (or the auth slice) starts to react to one, and then the shortcut must go.

afterEach(() => {
  vi.useRealTimers()
})

/** Every `socket/…` action the layer defines (its action creators) and one of each server event. */
function socketActions(): UnknownAction[] {
  const typeOf = (value: unknown): string | undefined => {
    const type = typeof value === 'function' ? (value as unknown as { type?: unknown }).type : undefined
    return typeof type === 'string' && type.startsWith(realtime.PREFIX) ? type : undefined
  }
  const creators = (Object.values(realtime) as unknown[]).flatMap((value) => {
    const type = typeOf(value)
    return type ? [{ type }] : []
  })
  const own = creators.map(({ type }) => ({
    type,
    payload: { conversationId: 'c1', clientId: 'k1', content: 'x', reason: 'x' },
  }))
  const events = SERVER_EVENTS.map((event) => ({
    ...realtime.serverEventActions[event]((event.startsWith('lesson') ? lesson('l1') : message(1)) as never),
  }))
  return [...own, ...events]
}

/** A store with RTK Query's reducer and middleware and the auth slice, plain (no shortcut), with a live subscription. */
async function plainStore() {
  const store = configureStore({
    reducer: { auth: authSlice.reducer, [api.reducerPath]: api.reducer },
    preloadedState: { auth: { token: 't', user: alice } },
    middleware: (gDM) => gDM({ thunk: { extraArgument: { apiUrl: 'http://unused.test' } } }).concat(api.middleware),
  })
  await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
  return store
}

describe('the socket/… shortcut stays sound', () => {
  test('there are socket actions to check: the layer’s own and every server event', () => {
    const types = socketActions().map((a) => a.type)
    expect(types.length).toBeGreaterThan(SERVER_EVENTS.length + 10)
    expect(types).toContain('socket/message:new')
    expect(types).toContain('socket/sendMessage')
    expect(types).toContain('socket/connected')
  })

  test('RTK Query’s reducer and the auth reducer return the very same state for every socket action', async () => {
    const store = await plainStore()
    const state = store.getState()
    for (const action of socketActions()) {
      expect(api.reducer(state[api.reducerPath], action), action.type).toBe(state[api.reducerPath])
      expect(authSlice.reducer(state.auth, action), action.type).toBe(state.auth)
    }
  })

  test('RTK Query’s middleware passes every socket action on once, unchanged, and dispatches, schedules and changes nothing', async () => {
    const store = await plainStore()
    vi.useFakeTimers()
    const dispatched: unknown[] = []
    const passed: unknown[] = []
    const handle = api.middleware({
      getState: store.getState,
      dispatch: ((action: unknown) => (dispatched.push(action), action)) as never,
    })((action) => {
      passed.push(action)
      return action
    })
    // Its first action of all registers it (`api/config/middlewareRegistered`): in a store, an api action comes first.
    handle({ type: 'app/started' })
    dispatched.length = 0
    passed.length = 0
    const before = store.getState()
    for (const action of socketActions()) handle(action)
    await vi.runAllTimersAsync()
    expect(dispatched).toEqual([])
    expect(passed).toEqual(socketActions())
    expect(vi.getTimerCount()).toBe(0)
    expect(store.getState()).toBe(before)
  })

  test('the wrapped reducer and middleware behave as the plain ones for any other action', async () => {
    const reducer = skippingSocketActions(api.reducer)
    const initial = reducer(undefined, { type: '@@init' })
    expect(initial).toEqual(api.reducer(undefined, { type: '@@init' }))
    const store = configureStore({
      reducer: {
        auth: skippingSocketActions(authSlice.reducer) as typeof authSlice.reducer,
        [api.reducerPath]: reducer,
      },
      middleware: (gDM) =>
        gDM({ thunk: { extraArgument: { apiUrl: 'http://unused.test' } } }).concat(
          passingSocketActions(api.middleware),
        ),
    })
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    expect(api.endpoints.getMessages.select('c1')(store.getState() as never).data).toEqual([message(1)])
    const state = store.getState()
    store.dispatch(realtime.serverEventActions['message:new'](message(2)))
    expect(store.getState()).toBe(state)
  })
})
