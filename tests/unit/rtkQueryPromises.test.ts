import { createAction, isAnyOf, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { loggedIn, loggedOut } from '../../src/app/authSlice'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import {
  connect,
  disconnect,
  joinConversation,
  leaveConversation,
  retryNow,
  sendMessage,
  socketHolderRequested,
} from '../../src/realtime'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob, conversation, lesson, message } from './support/fixtures'
import { settle } from './support/mockStore'
import { json } from './support/responses'
import { eventually } from './support/eventually'

// What Redux and RTK Query promise an app, kept with the realtime layer in the store (makeStore: its patches, its
// invalidations, its logout, the socket/… shortcut). A real store over a fake socket and a stubbed fetch.

afterEach(() => {
  vi.useRealTimers()
})

/** Resolves after the current task: the store notifies subscribers of auto-batched work in a task of its own. */
const nextTask = () => new Promise<void>((resolve) => setImmediate(resolve))
const urlOf = (input: RequestInfo | URL) => (input instanceof Request ? input.url : String(input))

function setup(fetchFn: typeof fetch = (async () => json(200, [message(1)])) as typeof fetch) {
  const sockets = fakeSockets()
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    if (typeof action === 'object') actions.push(action as UnknownAction)
    return next(action)
  }
  const store = trackedStore({
    apiUrl: 'http://stub.test',
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
    extraMiddleware: [record],
    fetchFn,
    realtime: { invalidationWindowMs: 0, tabs: null },
  })
  const thread = (id = 'c1') =>
    api.endpoints.getMessages
      .select(id)(store.getState())
      .data?.map((m) => m.seq)
  return { store, actions, thread, socket: () => sockets.last }
}

describe('Redux: a subscriber always ends up told of the state', () => {
  test('after each step of a session (events, sends, rooms, reads, logout, login) the last state notified is the state', async () => {
    const held: Array<() => void> = []
    const fetchFn = (async (input: RequestInfo | URL) => {
      const url = urlOf(input)
      await new Promise<void>((resolve) => held.push(resolve))
      if (url.endsWith('/conversations')) return json(200, [conversation('c1')])
      if (url.endsWith('/lessons')) return json(200, [lesson('l1')])
      if (url.includes('/messages')) return json(200, [message(1)])
      return json(200, [])
    }) as typeof fetch
    const { store, socket } = setup(fetchFn)
    let told: unknown = store.getState()
    store.subscribe(() => {
      told = store.getState()
    })
    const quiet = async (step: string) => {
      for (let i = 0; i < 3; i++) {
        while (held.length > 0) held.shift()!()
        await nextTask()
      }
      expect(told === store.getState(), step).toBe(true)
    }
    socket().serverConnect()
    await quiet('connected')
    const reads = [
      store.dispatch(api.endpoints.getConversations.initiate()),
      store.dispatch(api.endpoints.getMessages.initiate('c1')),
      store.dispatch(api.endpoints.getLessons.initiate()),
    ]
    await quiet('reads')
    socket().serverEmit('sync:caughtUp', { offset: 0, epoch: 'e' })
    await quiet('first sync')
    for (let seq = 2; seq < 10; seq++) socket().serverEmit('message:new', message(seq), { offset: seq })
    await quiet('a burst')
    socket().serverEmit('typing', { conversationId: 'c1', userId: bob.id })
    await quiet('typing')
    socket().serverEmit('presence:changed', { userId: bob.id, online: true, lastSeenAt: null })
    await quiet('presence')
    store.dispatch(joinConversation({ conversationId: 'c1' }))
    socket().sent('conversation:join').at(-1)?.ack({ ok: true, data: {} })
    await quiet('joined')
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }))
    await quiet('sent')
    socket()
      .sent('message:send')
      .at(-1)
      ?.ack({ ok: true, data: message(10, { senderId: alice.id, clientId: 'k1' }) })
    await quiet('acked')
    // A swallowed action (the socket holder) right after an event, in the same task.
    socket().serverEmit('message:new', message(11), { offset: 11 })
    store.dispatch(socketHolderRequested())
    await quiet('an event, then the holder asked for')
    socket().serverEmit('message:new', message(20), { offset: 20 })
    await quiet('an event above a hole')
    store.dispatch(leaveConversation({ conversationId: 'c1' }))
    socket().serverEmit('lesson:statusUpdated', lesson('l2'), { offset: 12 })
    await quiet('a lesson the list lacks')
    socket().serverDrop()
    store.dispatch(retryNow({ reason: 'online' }))
    await quiet('dropped')
    store.dispatch(disconnect())
    store.dispatch(connect())
    await quiet('reconnected')
    store.dispatch(loggedOut())
    await quiet('logged out')
    store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    await quiet('the next user')
    for (const read of reads) read.unsubscribe()
    await quiet('unsubscribed')
    store.dispose()
  })
})

describe('RTK Query', () => {
  test('keepUnusedDataFor: an unsubscribed thread the events patch is still removed on time, and not made again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const { store, socket, thread } = setup()
    socket().serverConnect()
    const read = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await read
    read.unsubscribe()
    await vi.advanceTimersByTimeAsync(30_000)
    socket().serverEmit('message:new', message(2))
    await settle()
    expect(thread()).toEqual([1, 2])
    await vi.advanceTimersByTimeAsync(31_000)
    expect(store.getState()[api.reducerPath].queries['getMessages("c1")']).toBeUndefined()
    socket().serverEmit('message:new', message(3))
    await settle()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(store.getState()[api.reducerPath].queries).toEqual({})
    store.dispose()
  })

  test('onCacheEntryAdded: cacheDataLoaded, updateCachedData and cacheEntryRemoved (at logout) work for an app endpoint', async () => {
    const lifecycle: string[] = []
    const withFeed = api.injectEndpoints({
      endpoints: (build) => ({
        feed: build.query<number[], void>({
          queryFn: () => ({ data: [1] }),
          async onCacheEntryAdded(_arg, { updateCachedData, cacheDataLoaded, cacheEntryRemoved }) {
            lifecycle.push('added')
            await cacheDataLoaded
            lifecycle.push('loaded')
            updateCachedData((draft) => void draft.push(2))
            await cacheEntryRemoved
            lifecycle.push('removed')
          },
        }),
      }),
    })
    const { store } = setup()
    const read = store.dispatch(withFeed.endpoints.feed.initiate())
    await read
    await settle()
    expect(withFeed.endpoints.feed.select()(store.getState() as never).data).toEqual([1, 2])
    store.dispatch(loggedOut())
    await settle()
    expect(lifecycle).toEqual(['added', 'loaded', 'removed'])
    read.unsubscribe()
    store.dispose()
  })

  test('resetApiState at logout: an event that waited for a read of the user before lands nowhere in the next user’s', async () => {
    const answers: Array<(response: Response) => void> = []
    const fetchFn = (async (input: RequestInfo | URL) =>
      urlOf(input).endsWith('/conversations')
        ? new Promise<Response>((resolve) => answers.push(resolve))
        : json(200, [])) as typeof fetch
    const { store, socket } = setup(fetchFn)
    socket().serverConnect()
    const before = store.dispatch(api.endpoints.getConversations.initiate())
    await settle()
    // Parked: it waits for the list being read.
    socket().serverEmit('message:new', message(5))
    await settle()
    store.dispatch(loggedOut())
    store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    const next = store.dispatch(api.endpoints.getConversations.initiate())
    await settle()
    answers.at(-1)!(json(200, [conversation('c1')]))
    await next
    await nextTask()
    expect(api.endpoints.getConversations.select()(store.getState()).data).toEqual([conversation('c1')])
    before.unsubscribe()
    next.unsubscribe()
    store.dispose()
  })

  test('an event the cache cannot take refetches the subscribed list it invalidates, and only drops an unsubscribed one', async () => {
    const reads: string[] = []
    const fetchFn = (async (input: RequestInfo | URL) => {
      const path = new URL(urlOf(input)).pathname
      reads.push(path)
      return json(200, path === '/api/lessons' ? [lesson('l1')] : [])
    }) as typeof fetch
    const { store, socket } = setup(fetchFn)
    socket().serverConnect()
    const lessons = store.dispatch(api.endpoints.getLessons.initiate())
    await lessons
    const requests = store.dispatch(api.endpoints.getContactRequests.initiate())
    await requests
    requests.unsubscribe()
    reads.length = 0
    // Neither list holds what changed: only a read can tell where it goes.
    socket().serverEmit('lesson:statusUpdated', lesson('l-other', { status: 'confirmed' }))
    socket().serverEmit('contactRequest:statusUpdated', {
      id: 'r-other',
      studentId: alice.id,
      tutorId: bob.id,
      message: 'Hello',
      status: 'accepted',
      createdAt: '2026-11-24T08:00:00.000Z',
      updatedAt: '2026-11-24T09:00:00.000Z',
    })
    await eventually(() => expect(reads).toEqual(['/api/lessons']))
    await settle()
    expect(reads).toEqual(['/api/lessons'])
    expect(store.getState()[api.reducerPath].queries['getContactRequests(undefined)']).toBeUndefined()
    lessons.unsubscribe()
    store.dispose()
  })

  test('refetchOnReconnect, refetchOnFocus, polling and an app’s endpoint matchers work through the store', async () => {
    const onOnline = createAction('__rtkq/online')
    const onFocus = createAction('__rtkq/focused')
    let fetches = 0
    const fetchFn = (async () => {
      fetches++
      return json(200, [message(1)])
    }) as typeof fetch
    const { store, socket, actions } = setup(fetchFn)
    socket().serverConnect()
    const read = store.dispatch(
      api.endpoints.getMessages.initiate('c1', {
        subscriptionOptions: { refetchOnReconnect: true, refetchOnFocus: true },
      }),
    )
    await read
    store.dispatch(onOnline())
    await eventually(() => expect(fetches).toBe(2))
    store.dispatch(onFocus())
    await eventually(() => expect(fetches).toBe(3))
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const polled = store.dispatch(
      api.endpoints.getLessons.initiate(undefined, { subscriptionOptions: { pollingInterval: 1_000 } }),
    )
    await vi.advanceTimersByTimeAsync(100)
    const beforePolls = fetches
    // A burst of socket/… actions (past RTK Query's middleware) stops no poll.
    for (let seq = 2; seq < 50; seq++) socket().serverEmit('message:new', message(seq))
    await vi.advanceTimersByTimeAsync(3_100)
    expect(fetches - beforePolls).toBeGreaterThanOrEqual(3)
    expect(actions.filter(isAnyOf(api.endpoints.getMessages.matchFulfilled))).toHaveLength(3)
    polled.unsubscribe()
    read.unsubscribe()
    store.dispose()
  })
})

describe('the store’s notification of auto-batched work, where there is no setImmediate (a browser)', () => {
  test('each queued notification runs once, in order, after the task and its microtasks', async () => {
    vi.stubGlobal('setImmediate', undefined)
    vi.resetModules()
    try {
      const { afterTask } = await import('../../src/app/afterTask')
      const ran: string[] = []
      afterTask(() => ran.push('a'))
      void Promise.resolve().then(() => ran.push('microtask'))
      afterTask(() => ran.push('b'))
      expect(ran).toEqual([])
      await eventually(() => expect(ran).toEqual(['microtask', 'a', 'b']))
    } finally {
      vi.unstubAllGlobals()
      vi.resetModules()
    }
  })
})
