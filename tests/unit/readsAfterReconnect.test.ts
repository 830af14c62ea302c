import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, onTestFinished, test } from 'vitest'
import { answeredStatus, api, loggedIn } from '../../src/api'
import { createMemoryStorage, type MakeStoreOptions } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { FAILED_READ_RETRIES } from '../../src/realtime/readsHandler'
import { alice, bob, lesson, message } from './support/fixtures'
import { settle } from './support/mockStore'
import { httpStubPerTest, type StubReply, type StubRequest } from './support/httpStub'

// A read that failed for want of the server (unreachable, a 5xx) while the socket was away is made again once the
// socket is back and synced, even when the socket resumed from its offset (which reads nothing again). A read the
// server refused for what it asked (a 404) is not.

let reply: (req: StubRequest) => StubReply | Promise<StubReply>
const stub = httpStubPerTest((req) => reply(req))

const unavailable: StubReply = { status: 503, body: { error: { code: 'INTERNAL', message: 'try later' } } }
const notFound: StubReply = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such conversation' } } }

function setup(invalidationWindowMs = 0, realtime: MakeStoreOptions['realtime'] = {}) {
  const sockets = fakeSockets()
  const started: string[] = []
  const invalidated: unknown[] = []
  const record: Middleware = () => (next) => (action) => {
    const a = action as UnknownAction & { meta?: { arg?: { endpointName?: string }; requestStatus?: string } }
    if (a.meta?.requestStatus === 'pending') started.push(a.meta?.arg?.endpointName ?? '?')
    if (api.util.invalidateTags.match(a)) invalidated.push(a.payload)
    return next(action)
  }
  const store = trackedStore({
    apiUrl: stub.url,
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
    extraMiddleware: [record],
    realtime: { invalidationWindowMs, ...realtime },
  })
  return { store, sockets, started, invalidated }
}

type Store = ReturnType<typeof setup>['store']

const requestsTo = (path: string) => stub.requests.filter((r) => r.method === 'GET' && r.url === path).length

/** `date` + 60 s in HTTP's asctime form (`Sun Nov  6 08:49:37 1994`, GMT). */
function asctimeAfter(date: Date): string {
  const at = new Date(date.getTime() + 60_000)
  const [weekday, , month] = at.toUTCString().split(' ')
  const day = String(at.getUTCDate()).padStart(2, ' ')
  const time = at.toISOString().slice(11, 19)
  return `${weekday!.slice(0, 3)} ${month} ${day} ${time} ${at.getUTCFullYear()}`
}

/** `read`'s page leaves: it unsubscribes, and RTK Query's state says so (it writes who subscribes a little later). */
async function left(store: Store, read: { unsubscribe(): void; queryCacheKey: string }) {
  const before = store.getState().api.subscriptions
  read.unsubscribe()
  await eventually(() => expect(store.getState().api.subscriptions).not.toBe(before))
  expect(Object.keys(store.getState().api.subscriptions[read.queryCacheKey] ?? {})).toEqual([])
}

/** Connected and past the session's first sync, then the socket dropped. */
function away(sockets: ReturnType<typeof fakeSockets>) {
  sockets.last.serverConnect('sock-1')
  sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
  sockets.last.serverDrop()
}

/** Back: the server resumed the stream from the offset the socket had (nothing missed, nothing read again). */
function backResumed(sockets: ReturnType<typeof fakeSockets>) {
  sockets.last.serverConnect('sock-2')
  sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
}

describe('a read that failed while the socket was away', () => {
  test.each([
    { name: 'answered 503', failure: unavailable },
    { name: 'its connection dropped unanswered', failure: { drop: true } as const },
    { name: "answered 502 by a gateway's HTML page", failure: { status: 502, text: '<html>Bad Gateway</html>' } },
    { name: 'answered 408 by a proxy that waited for it too long', failure: { status: 408, text: 'Request Timeout' } },
  ])('($name) is made again once the socket is back, and fills the page', async ({ failure }) => {
    const { store, sockets } = setup()
    away(sockets)
    reply = () => failure
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await watched).isError).toBe(true)

    reply = () => ({ status: 200, body: [lesson('l1')] })
    backResumed(sockets)
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([lesson('l1')]))
    expect(requestsTo('/api/lessons')).toBe(2)
    watched.unsubscribe()
    store.dispose()
  })

  test('at a gap, a read no event feeds (who I am) is made again beside the catch-up, and one it feeds once', async () => {
    // The catch-up's invalidation gathered over its usual window: a read made again at once has landed by its end.
    const { store, sockets, started, invalidated } = setup(250)
    away(sockets)
    reply = () => unavailable
    const me = store.dispatch(api.endpoints.getMe.initiate())
    const users = store.dispatch(api.endpoints.getUsers.initiate())
    expect((await me).isError).toBe(true)
    expect((await users).isError).toBe(true)
    started.length = 0

    reply = (req) => ({ status: 200, body: req.url === '/api/me' ? alice : [alice, bob] })
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:gap', { offset: 12, epoch: 'e2' })
    await eventually(() => expect(api.endpoints.getMe.select()(store.getState()).data).toEqual(alice))
    await eventually(() => expect(api.endpoints.getUsers.select()(store.getState()).data).toEqual([alice, bob]))
    await eventually(() => expect(invalidated).toHaveLength(1))
    await eventually(() => expect(store.getState().api.queries['getUsers(undefined)']?.status).toBe('fulfilled'))
    // The users follow the conversation list's tag, which the catch-up reads again: not asked for a second time.
    expect(started.sort()).toEqual(['getMe', 'getUsers'])
    expect(requestsTo('/api/me')).toBe(2)
    expect(requestsTo('/api/users')).toBe(2)
    me.unsubscribe()
    users.unsubscribe()
    store.dispose()
  })

  test('a read under way at the sync, that fails after it (it went out while the server was away), is made again', async () => {
    const { store, sockets } = setup()
    away(sockets)
    let answer!: (reply: StubReply) => void
    reply = () => new Promise<StubReply>((resolve) => (answer = resolve))
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    await eventually(() => expect(requestsTo('/api/lessons')).toBe(1))

    backResumed(sockets)
    reply = () => ({ status: 200, body: [lesson('l1')] })
    // Its connection was lost with the server: it ends unanswered only now (a browser's after its timeout).
    answer({ drop: true })
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([lesson('l1')]))
    expect(requestsTo('/api/lessons')).toBe(2)
    watched.unsubscribe()
    store.dispose()
  })

  test.each([
    {
      name: 'a read the server refused for what it asked (404)',
      why: 'it would be refused again',
      read: (store: Store) => store.dispatch(api.endpoints.getMessages.initiate('c-gone')),
      fails: notFound,
    },
    {
      name: 'an earlier page of a thread ("Load earlier")',
      why: 'its answer would land in an entry nobody merges into the thread, and clear the error shown for it',
      read: (store: Store) =>
        store.dispatch(api.endpoints.getMessagesBefore.initiate({ conversationId: 'c1', before: 51, limit: 50 })),
      fails: unavailable,
    },
  ])('$name is not made again: $why', async ({ read, fails }) => {
    const { store, sockets, started } = setup()
    away(sockets)
    reply = (req) => (req.url.startsWith('/api/conversations/') ? fails : unavailable)
    const other = read(store)
    const failed = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await other).isError).toBe(true)
    expect((await failed).isError).toBe(true)
    started.length = 0

    reply = (req) => (req.url.startsWith('/api/conversations/') ? fails : { status: 200, body: [] })
    backResumed(sockets)
    await settle()
    // Both would be asked for in the same dispatch: the lessons are, the other is not.
    expect(started).toEqual(['getLessons'])
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([]))
    other.unsubscribe()
    failed.unsubscribe()
    store.dispose()
  })

  test('a read nobody watches any more (its page left) is not made again, and leaves the cache as usual', async () => {
    const { store, sockets, started } = setup()
    away(sockets)
    reply = () => unavailable
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await watched).isError).toBe(true)
    await left(store, watched)
    started.length = 0

    reply = () => ({ status: 200, body: [lesson('l1')] })
    backResumed(sockets)
    await settle()
    expect(started).toEqual([])
    expect(requestsTo('/api/lessons')).toBe(1)
    store.dispose()
  })

  test('a read watched again just before the sync (its page back, RTK Query not saying so yet) is made again', async () => {
    const { store, sockets } = setup()
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    reply = () => ({ status: 200, body: [] })
    const first = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await first).isSuccess).toBe(true)
    sockets.last.serverDrop()
    reply = () => unavailable
    expect((await first.refetch()).isError).toBe(true)
    await left(store, first)

    // The page comes back: its read is in the cache (failed, over data read before), so it is not made.
    const again = store.dispatch(api.endpoints.getLessons.initiate())
    reply = () => ({ status: 200, body: [lesson('l1')] })
    backResumed(sockets)
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([lesson('l1')]))
    again.unsubscribe()
    store.dispose()
  })

  test("a read watched again just before the same user logs in again is made again at that session's sync", async () => {
    const { store, sockets } = setup()
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    reply = () => ({ status: 200, body: alice })
    const first = store.dispatch(api.endpoints.getMe.initiate())
    expect((await first).isSuccess).toBe(true)
    sockets.last.serverDrop()
    reply = () => unavailable
    expect((await first.refetch()).isError).toBe(true)
    await left(store, first)

    const again = store.dispatch(api.endpoints.getMe.initiate())
    // Who I am: a read no catch-up covers. The same user's session again (a login after it expired): their page stays.
    store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    reply = () => ({ status: 200, body: { ...alice, name: 'Alice again' } })
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    await eventually(() => expect(api.endpoints.getMe.select()(store.getState()).data?.name).toBe('Alice again'))
    again.unsubscribe()
    store.dispose()
  })

  test('a resume with no failed read reads nothing again', async () => {
    const { store, sockets, started } = setup()
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    reply = () => ({ status: 200, body: [] })
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await watched).isSuccess).toBe(true)
    sockets.last.serverDrop()
    started.length = 0
    backResumed(sockets)
    await settle()
    expect(started).toEqual([])
    expect(requestsTo('/api/lessons')).toBe(1)
    watched.unsubscribe()
    store.dispose()
  })
})

describe('a read that failed while the socket is connected', () => {
  const thread = (store: ReturnType<typeof setup>['store']) =>
    api.endpoints.getMessages
      .select('c1')(store.getState())
      .data?.map((m) => m.seq)
  const page = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => message(from + i, { senderId: bob.id }))
  const threadReads = () => requestsTo('/api/conversations/c1/messages')

  test("a thread's re-read at a gap that failed is made again, and the thread ends with no hole", async () => {
    // No jitter: each retry goes at once (the backoff's draw is 0), so nothing here waits for time.
    const { store, sockets } = setup(0, { random: () => 0 })
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    reply = () => ({ status: 200, body: page(1, 3) })
    const watched = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await watched
    expect(thread(store)).toEqual([1, 2, 3])

    // Away for long enough that the server cannot replay: a gap. The thread's re-read fails twice, then answers.
    let failures = 2
    reply = () => (failures-- > 0 ? unavailable : { status: 200, body: page(1, 9) })
    sockets.last.serverDrop()
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:gap', { offset: 40, epoch: 'e1' })
    await eventually(() => expect(thread(store)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]))
    expect(threadReads()).toBe(4)
    watched.unsubscribe()
    store.dispose()
  })

  test(`is made again at most ${FAILED_READ_RETRIES} times in a row, then waits for the next sync`, async () => {
    const { store, sockets } = setup(0, { random: () => 0 })
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    reply = () => unavailable
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    await eventually(() => expect(requestsTo('/api/lessons')).toBe(1 + FAILED_READ_RETRIES))
    await eventually(() => expect(store.getState().api.queries['getLessons(undefined)']?.status).toBe('rejected'))
    // The last failure schedules nothing: a sync is what makes it again (and it answers this time).
    reply = () => ({ status: 200, body: [lesson('l1')] })
    sockets.last.serverDrop()
    backResumed(sockets)
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([lesson('l1')]))
    expect(requestsTo('/api/lessons')).toBe(2 + FAILED_READ_RETRIES)
    watched.unsubscribe()
    store.dispose()
  })

  test('neither a read refused for what it asked (404) nor an earlier page of a thread is made again', async () => {
    const { store, sockets, started } = setup(0, { random: () => 0 })
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    reply = (req) => (req.url.startsWith('/api/conversations/c-gone') ? notFound : unavailable)
    const refused = store.dispatch(api.endpoints.getMessages.initiate('c-gone'))
    const earlier = store.dispatch(api.endpoints.getMessagesBefore.initiate({ conversationId: 'c1', before: 51 }))
    const failing = store.dispatch(api.endpoints.getLessons.initiate())
    // The lessons' retries all go (at once, no jitter) while the other two stay the one read each.
    await eventually(() => expect(requestsTo('/api/lessons')).toBe(1 + FAILED_READ_RETRIES))
    await eventually(() => expect(store.getState().api.queries['getLessons(undefined)']?.status).toBe('rejected'))
    expect(started.filter((name) => name !== 'getLessons').sort()).toEqual(['getMessages', 'getMessagesBefore'])
    refused.unsubscribe()
    earlier.unsubscribe()
    failing.unsubscribe()
    store.dispose()
  })
})

describe('a retry while connected, on timers the test holds', () => {
  /** The store's layer timers of at least `heldFromMs` are held (run by the test); shorter ones are the host's. */
  function setupHeld(
    heldFromMs: number,
    realtime: { backoff: { baseMs: number; capMs: number }; random: () => number },
  ) {
    const held: { run: () => void; ms: number }[] = []
    const timers = {
      setTimeout(run: () => void, ms: number) {
        if (ms < heldFromMs) return globalThis.setTimeout(run, ms)
        const handle = { run, ms }
        held.push(handle)
        return handle
      },
      clearTimeout(handle: unknown) {
        const at = held.indexOf(handle as (typeof held)[number])
        if (at >= 0) held.splice(at, 1)
        else globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>)
      },
    }
    // `makeStore` hands `realtime` on to the middleware whole; its type leaves out the layer's `timers`.
    const { store, sockets, started } = setup(0, { ...realtime, timers } as MakeStoreOptions['realtime'])
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    return { store, started, held }
  }
  // Every backoff of the layer waits 500,000 ms: held, so that nothing here waits for time.
  const slowBackoff = { backoff: { baseMs: 1_000_000, capMs: 1_000_000 }, random: () => 0.5 }

  test('a read the page made again meanwhile that was refused for what it asked (404) is not made again', async () => {
    const { store, started, held } = setupHeld(100_000, slowBackoff)
    reply = () => unavailable
    const watched = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    expect((await watched).isError).toBe(true)
    expect(held).toHaveLength(1)
    // The page's "Try again": the conversation is gone now.
    reply = () => notFound
    expect((await watched.refetch()).error).toMatchObject({ status: 404 })
    started.length = 0
    for (const wait of held.splice(0)) wait.run()
    expect(started).toEqual([])
    watched.unsubscribe()
    store.dispose()
  })

  test('a read nobody watches any more when its wait ends is not made again', async () => {
    const { store, started, held } = setupHeld(100_000, slowBackoff)
    reply = () => unavailable
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await watched).isError).toBe(true)
    expect(held).toHaveLength(1)
    await left(store, watched)
    started.length = 0
    for (const wait of held.splice(0)) wait.run()
    expect(started).toEqual([])
    store.dispose()
  })

  test('a read whose wait ended while nobody watched it is made again when its page comes back', async () => {
    const { store, held } = setupHeld(100_000, slowBackoff)
    reply = () => ({ status: 200, body: [] })
    const first = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await first).isSuccess).toBe(true)
    reply = () => unavailable
    expect((await first.refetch()).isError).toBe(true)
    expect(held).toHaveLength(1)
    await left(store, first)
    for (const wait of held.splice(0)) wait.run()

    // Back within keepUnusedDataFor: the entry holds the data read before, so RTK Query itself does not read it.
    reply = () => ({ status: 200, body: [lesson('l1')] })
    const again = store.dispatch(api.endpoints.getLessons.initiate())
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([lesson('l1')]))
    expect(requestsTo('/api/lessons')).toBe(3)
    again.unsubscribe()
    store.dispose()
  })

  test('a read that fails after dispose() schedules nothing, and makes nothing again', async () => {
    const { store, started, held } = setupHeld(100_000, slowBackoff)
    let answer!: (reply: StubReply) => void
    reply = () => new Promise<StubReply>((resolve) => (answer = resolve))
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    await eventually(() => expect(requestsTo('/api/lessons')).toBe(1))
    store.dispose()
    answer(unavailable)
    expect((await watched).isError).toBe(true)
    expect(held).toEqual([])
    started.length = 0
    for (const wait of held.splice(0)) wait.run()
    expect(started).toEqual([])
    watched.unsubscribe()
  })

  test("a 429 past the base query's own tries waits at least the retryAfterMs the server gave", async () => {
    // No jitter: the backoff alone would make it again at once.
    const { store, held } = setupHeld(50_000, { backoff: { baseMs: 500, capMs: 30_000 }, random: () => 0 })
    reply = () => ({
      status: 429,
      body: { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 60_000 } },
    })
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    expect((await watched).error).toMatchObject({ status: 429 })
    expect(held.map((wait) => wait.ms)).toEqual([60_000])
    reply = () => ({ status: 200, body: [lesson('l1')] })
    held.splice(0)[0]!.run()
    await eventually(() => expect(api.endpoints.getLessons.select()(store.getState()).data).toEqual([lesson('l1')]))
    expect(requestsTo('/api/lessons')).toBe(2)
    watched.unsubscribe()
    store.dispose()
  })

  test.each([
    { name: 'in seconds', retryAfter: () => '60' },
    { name: "in seconds, on a proxy's page that is no JSON", retryAfter: () => '60', page: true },
    { name: 'as a date', retryAfter: (date: Date) => new Date(date.getTime() + 60_000).toUTCString() },
    // HTTP's obsolete asctime form, which recipients must still read, says no zone: it is GMT, as every HTTP date.
    { name: 'as an asctime date, in a browser west of Greenwich', zone: 'America/New_York', retryAfter: asctimeAfter },
    { name: 'as an asctime date, in a browser east of Greenwich', zone: 'Asia/Tokyo', retryAfter: asctimeAfter },
  ])(
    "a 429 with no retryAfterMs (a proxy's) waits at least its Retry-After header, given $name",
    async ({ retryAfter, zone, page }) => {
      const zoneBefore = process.env.TZ
      if (zone) process.env.TZ = zone
      onTestFinished(() => {
        if (zoneBefore === undefined) delete process.env.TZ
        else process.env.TZ = zoneBefore
      })
      const { store, held } = setupHeld(50_000, { backoff: { baseMs: 500, capMs: 30_000 }, random: () => 0 })
      // Whole seconds: an HTTP date has no finer ones.
      const date = new Date(Math.floor(Date.now() / 1000) * 1000)
      const headers = { 'retry-after': retryAfter(date), date: date.toUTCString() }
      reply = () =>
        page
          ? { status: 429, text: '<html><body>Too Many Requests</body></html>', headers }
          : { status: 429, body: { error: { code: 'RATE_LIMITED', message: 'slow down' } }, headers }
      const watched = store.dispatch(api.endpoints.getLessons.initiate())
      expect((await watched).error).toMatchObject({ status: 429 })
      await settle()
      expect(held.map((wait) => wait.ms)).toEqual([60_000])
      expect(requestsTo('/api/lessons')).toBe(1)
      watched.unsubscribe()
      store.dispose()
    },
  )

  // RFC 9110 §10.2.3: a 503's Retry-After is how long the service expects to be unavailable (it was not read: the read
  // was made again after the backoff alone).
  test("a 503 with Retry-After (a gateway's page, a server in maintenance) waits at least that", async () => {
    const { store, held } = setupHeld(50_000, { backoff: { baseMs: 500, capMs: 30_000 }, random: () => 0 })
    reply = () => ({ status: 503, text: '<html>Service Unavailable</html>', headers: { 'retry-after': '60' } })
    const watched = store.dispatch(api.endpoints.getLessons.initiate())
    expect(answeredStatus((await watched).error)).toBe(503)
    await settle()
    expect(held.map((wait) => wait.ms)).toEqual([60_000])
    expect(requestsTo('/api/lessons')).toBe(1)
    watched.unsubscribe()
    store.dispose()
  })
})
