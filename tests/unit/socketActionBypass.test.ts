import { combineReducers, configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { authSlice } from '../../src/app/authSlice'
import { rootReducer } from '../../src/app/store'
import { passingSocketActions, skippingSocketActions } from '../../src/app/socketActionBypass'
import { SERVER_EVENTS } from '../../src/contract'
import * as realtime from '../../src/realtime'
import * as realtimeActions from '../../src/realtime/actions'
import { alice, lesson, message } from './support/fixtures'
import { json } from './support/responses'
import { eventually } from './support/eventually'
import { settle } from './support/mockStore'

// The store's shortcut past RTK Query (src/app/socketActionBypass.ts): `socket/…` actions skip RTK Query's reducer
// and middleware and the auth reducer. It is sound only while those ignore such actions; these tests fail the day RTK
// Query (or the auth slice) starts to react to one, and then the shortcut must go.

afterEach(() => {
  vi.useRealTimers()
})

type SocketCreator = { type: string } & ((payload?: unknown, offset?: number) => UnknownAction)

/** Every action creator the layer defines (`src/realtime/actions.ts`), the server events' and typing's and presence's included. */
function socketCreators(): SocketCreator[] {
  const isCreator = (value: unknown): value is SocketCreator => {
    const type = typeof value === 'function' ? (value as unknown as { type?: unknown }).type : undefined
    return typeof type === 'string' && type.startsWith(realtimeActions.PREFIX)
  }
  return [
    ...(Object.values(realtimeActions) as unknown[]),
    ...(Object.values(realtimeActions.serverEventActions) as unknown[]),
    ...(Object.values(realtimeActions.ephemeralEventActions) as unknown[]),
  ].filter(isCreator)
}

/** A payload each of the layer's own creators takes (a made-up one carries every field any of them reads). */
const anyPayload = {
  conversationId: 'c1',
  clientId: 'k1',
  content: 'x',
  reason: 'x',
  socketId: 's1',
  recovered: false,
  attempt: 1,
  code: 'NETWORK',
  message: 'x',
  role: 'leader',
  offset: 3,
  epoch: 'e1',
  held: 0,
  tags: 1,
  entries: [],
  where: 'x',
  userId: 'u1',
  users: [],
  online: true,
  lastSeenAt: null,
  event: 'message:new',
  issues: [],
}

/** Every `socket/…` action the layer defines, each made by its own creator (its meta included). */
function socketActions(): UnknownAction[] {
  const serverEvents = new Set<string>(SERVER_EVENTS.map((event) => realtime.serverEventActions[event].type))
  return socketCreators().map((creator) => {
    if (serverEvents.has(creator.type)) {
      const event = creator.type.slice(realtimeActions.PREFIX.length)
      return creator(event.startsWith('lesson') ? lesson('l1') : message(1), 5)
    }
    return creator(anyPayload)
  })
}

/** A middleware that records every action reaching it in `into`, and passes it on. */
const recording =
  (into: unknown[]): Middleware =>
  () =>
  (next) =>
  (action) => {
    into.push(action)
    return next(action)
  }

/**
 * A store with RTK Query's reducer and middleware and the auth slice, plain (no shortcut), reading with `fetchFn`:
 * `entering` records every action dispatched (before any middleware), `passed` every one RTK Query's middleware passes on.
 */
function plainApiStore(fetchFn = (async () => json(200, [message(1)])) as typeof fetch) {
  const entering: unknown[] = []
  const passed: unknown[] = []
  const store = configureStore({
    reducer: { auth: authSlice.reducer, [api.reducerPath]: api.reducer },
    preloadedState: { auth: { token: 't', user: alice } },
    middleware: (gDM) =>
      gDM({ thunk: { extraArgument: { apiUrl: 'http://unused.test', fetchFn } } })
        .prepend(recording(entering))
        .concat(api.middleware, recording(passed)),
  })
  return { store, entering, passed }
}

/**
 * Dispatches each socket action into a `plainApiStore` (with fake timers from then on) and checks that it enters once
 * (nothing dispatched in answer), comes out of RTK Query's middleware once and the very same, leaves RTK Query's state
 * as it was and schedules no timer.
 */
async function expectEachSocketActionPassesOnce({ store, entering, passed }: ReturnType<typeof plainApiStore>) {
  vi.useFakeTimers()
  const timersBefore = vi.getTimerCount()
  for (const action of socketActions()) {
    entering.length = 0
    passed.length = 0
    const before = store.getState()
    store.dispatch(action)
    // (An auto-batched action's notification waits for the store's own timer: let it run.) Synchronously, and the
    // promises after it as microtasks: the whole check is one task of the event loop, so no timer of a store another
    // file left in this thread (isolate: false), armed on real timers, fires in it and re-arms on the fake ones.
    vi.advanceTimersByTime(50)
    await settle()
    expect(entering, action.type).toEqual([action])
    expect(passed, action.type).toEqual([action])
    expect(passed.length, action.type).toBe(1)
    expect(passed[0], action.type).toBe(action)
    expect(store.getState()[api.reducerPath], action.type).toBe(before[api.reducerPath])
    expect(vi.getTimerCount(), action.type).toBe(timersBefore)
  }
}

/** A `plainApiStore` with a live subscription. */
async function plainStore() {
  const { store } = plainApiStore()
  await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
  return store
}

describe('the socket/… shortcut stays sound', () => {
  test('there are socket actions to check: every creator of actions.ts, each server event, typing and presence', () => {
    const types = socketActions().map((a) => a.type)
    expect(types.length).toBeGreaterThan(SERVER_EVENTS.length + 10)
    for (const type of [
      'socket/message:new',
      'socket/sendMessage',
      'socket/connected',
      'socket/typing',
      'socket/presence:changed',
      'socket/presence:snapshot',
      'socket/followerGone',
      'socket/renewFailed',
      'socket/sessionExpired',
    ])
      expect(types).toContain(type)
    // The real creators: a server event carries its meta (auto-batched, its offset), a send its clientId and time.
    expect(socketActions().find((a) => a.type === 'socket/message:new')?.meta).toMatchObject({ offset: 5 })
    expect(socketActions().find((a) => a.type === 'socket/sendMessage')?.payload).toMatchObject({ content: 'x' })
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
    // In one task of the event loop, as expectEachSocketActionPassesOnce: no foreign real timer runs inside the check.
    vi.runAllTimers()
    await settle()
    expect(dispatched).toEqual([])
    expect(passed).toEqual(socketActions())
    expect(vi.getTimerCount()).toBe(0)
    expect(store.getState()).toBe(before)
  })

  test('in a plain store with a live subscription, RTK Query’s middleware lets each socket action through once and starts nothing', async () => {
    const plain = plainApiStore()
    const { store } = plain
    const subscription = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await subscription.unwrap()
    await eventually(() =>
      expect(Object.keys(store.getState()[api.reducerPath].subscriptions)).toEqual(['getMessages("c1")']),
    )
    await expectEachSocketActionPassesOnce(plain)
    subscription.unsubscribe()
  })

  test('in a plain store where RTK Query’s middleware has every kind of state it keeps, each socket action passes once and starts nothing', async () => {
    // What the middleware reacts to may depend on what it holds: subscriptions that poll or refetch on focus or
    // reconnect, an entry waiting to be removed (keepUnusedDataFor), a read in flight. A reaction to a socket action
    // that only shows with one of them (say, a refetch of the subscriptions with refetchOnReconnect at a
    // `socket/connected`) is what the shortcut would hide: this store has them all.
    const held: Array<() => void> = []
    const fetchFn = (async (input: RequestInfo | URL) => {
      const url = String(input instanceof Request ? input.url : input)
      // c3's read never answers (until the end): a read in flight.
      if (url.includes('/c3/')) await new Promise<void>((resolve) => held.push(resolve))
      return json(200, [message(1)])
    }) as typeof fetch
    const plain = plainApiStore(fetchFn)
    const { store } = plain
    const subscriptionOptions = { pollingInterval: 60_000, refetchOnFocus: true, refetchOnReconnect: true }
    const live = store.dispatch(api.endpoints.getMessages.initiate('c1', { subscriptionOptions }))
    await live.unwrap()
    const unused = store.dispatch(api.endpoints.getMessages.initiate('c2'))
    await unused.unwrap()
    unused.unsubscribe()
    const reading = store.dispatch(api.endpoints.getMessages.initiate('c3', { subscriptionOptions }))
    // Once RTK Query has mirrored its subscriptions into the state (half a second later), nothing of them is pending.
    await eventually(() => {
      const { subscriptions } = store.getState()[api.reducerPath]
      expect(Object.keys(subscriptions['getMessages("c1")'] ?? {})).toHaveLength(1)
      expect(Object.keys(subscriptions['getMessages("c2")'] ?? {})).toHaveLength(0)
      expect(Object.keys(subscriptions['getMessages("c3")'] ?? {})).toHaveLength(1)
    })
    expect(store.getState()[api.reducerPath].queries['getMessages("c3")']?.status).toBe('pending')
    await expectEachSocketActionPassesOnce(plain)
    vi.useRealTimers()
    for (const answer of held) answer()
    live.unsubscribe()
    reading.unsubscribe()
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

describe('the root for socket/… actions (socketActionsRoot) gives what combineReducers gives', () => {
  const slices = {
    auth: authSlice.reducer,
    socket: realtime.socketReducer,
    presence: realtime.presenceReducer,
    [api.reducerPath]: api.reducer,
  }
  // The plain root: every slice, none skipped. The store's own (`src/app/store.ts`): the skipped ones and the socket
  // actions' own root. A slice the store gains and this list lacks makes the states differ, and the tests fail.
  const plain = combineReducers(slices)
  const root = rootReducer

  /** States the socket actions change in both live slices: bob typing in c1, an applied offset of 5. */
  async function states() {
    const store = configureStore({
      reducer: plain,
      preloadedState: { auth: { token: 't', user: alice } },
      middleware: (gDM) => gDM({ thunk: { extraArgument: { apiUrl: 'http://unused.test' } } }).concat(api.middleware),
    })
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    const quiet = store.getState()
    store.dispatch(realtime.ephemeralEventActions.typing({ conversationId: 'c1', userId: message(1).senderId }))
    store.dispatch(realtime.serverEventActions['conversation:read']({ conversationId: 'c1' } as never, 5))
    return [quiet, store.getState()]
  }

  /** Every socket action, and each server event again with an offset below and above the applied one. */
  function actions(): UnknownAction[] {
    const withOffsets = SERVER_EVENTS.flatMap((event) =>
      [4, 6].map((offset) =>
        realtime.serverEventActions[event]((event.startsWith('lesson') ? lesson('l1') : message(2)) as never, offset),
      ),
    )
    return [...socketActions(), ...withOffsets]
  }

  test('the same state for every socket action, kept exactly when the plain root keeps it', async () => {
    let changed = 0
    let kept = 0
    for (const state of await states()) {
      for (const action of actions()) {
        let expected: typeof state
        try {
          expected = plain(state, action)
        } catch (error) {
          // A made-up action a live slice cannot read (a send without its meta) throws in both alike.
          expect(() => root(state, action), action.type).toThrow((error as Error).message)
          continue
        }
        const actual = root(state, action)
        expect(actual, action.type).toEqual(expected)
        expect(actual === state, action.type).toBe(expected === state)
        if (expected === state) kept++
        else changed++
      }
    }
    // Both branches were taken: some actions change the live slices (typing ended, offset advanced), others do not.
    expect(changed).toBeGreaterThan(0)
    expect(kept).toBeGreaterThan(0)
  })

  test('any other action goes to the combined reducers', async () => {
    const [state] = await states()
    for (const action of [{ type: '@@init' }, { type: 'auth/loggedOut' }, api.util.resetApiState()]) {
      expect(root(state, action)).toEqual(plain(state, action))
    }
    expect(root(undefined, { type: '@@init' })).toEqual(plain(undefined, { type: '@@init' }))
  })
})
