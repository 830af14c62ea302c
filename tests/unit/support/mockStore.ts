import { combineReducers, configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import configureMockStore from 'redux-mock-store'
import { thunk } from 'redux-thunk'
import { vi } from 'vitest'
import { api, loggedIn, loggedOut, tokenRefreshed } from '../../../src/api'
import { authSlice } from '../../../src/app/authSlice'
import { socketSlice, createSocketMiddleware, type SocketMiddlewareOptions } from '../../../src/realtime'
import { fakeSockets } from './fakeSocket'
import { alice } from './fixtures'

export const rootReducer = combineReducers({ auth: authSlice.reducer, socket: socketSlice.reducer, api: api.reducer })
export type TestState = ReturnType<typeof rootReducer>

export const loggedInState = (): TestState => ({
  ...rootReducer(undefined, { type: '@@test/init' }),
  auth: { token: 'token-1', user: alice },
})

/** The api state after `setup` ran against a real store (to seed a mock store's cache). */
export async function apiStateWith(
  setup: (dispatch: (action: unknown) => unknown) => unknown,
): Promise<TestState['api']> {
  const store = configureStore({
    reducer: rootReducer,
    middleware: (gDM) => gDM({ serializableCheck: false, immutableCheck: false }).concat(api.middleware),
  })
  await setup(store.dispatch as (action: unknown) => unknown)
  return store.getState().api
}

export function socketOptions(
  sockets: ReturnType<typeof fakeSockets>,
  over: Partial<SocketMiddlewareOptions<TestState>> = {},
): SocketMiddlewareOptions<TestState> {
  return {
    apiUrl: 'http://api.test',
    createSocket: sockets.createSocket,
    selectToken: (state) => state.auth.token,
    selectUserId: (state) => state.auth.user?.id ?? null,
    loggedIn,
    loggedOut,
    tokenRefreshed,
    refreshToken: vi.fn(async () => 'refused' as const),
    random: () => 0.5,
    ...over,
  }
}

/**
 * redux-mock-store with thunk and the socket middleware. Its state is the reducers applied to every plain action
 * that reached it (a last middleware reduces them, as a real store would before the middleware's handlers run), so
 * the middleware sees what a real store would while the test asserts exact action sequences with `getActions()`.
 */
export function mockStore(
  initial: TestState = loggedInState(),
  over: Partial<SocketMiddlewareOptions<TestState>> = {},
) {
  const sockets = fakeSockets()
  const options = socketOptions(sockets, over)
  const middleware = createSocketMiddleware(options) as Middleware
  let current = initial
  const reduce: Middleware = () => (next) => (action) => {
    current = rootReducer(current, action as UnknownAction)
    return next(action)
  }
  const store = configureMockStore<TestState>([thunk, middleware, reduce])(() => current)
  return { store, sockets, options, dispatch: store.dispatch as (action: unknown) => unknown }
}

/** Lets promise chains (acks, HTTP answers) settle. */
export async function settle(turns = 20) {
  for (let i = 0; i < turns; i++) await Promise.resolve()
}
