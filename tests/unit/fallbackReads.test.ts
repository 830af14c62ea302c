import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { sendMessage } from '../../src/realtime'
import { FALLBACK_READ_INTERVAL_MS } from '../../src/realtime/fallbackReads'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, lesson, message } from './support/fixtures'
import { httpStubPerTest, type StubReply, type StubRequest } from './support/httpStub'

// While the socket is down and HTTP answers (a proxy that blocks the socket, a server whose socket path fails), no
// event comes: what the pages show is read again over HTTP now and then, and no more once the socket is back.

let reply: (req: StubRequest) => StubReply | Promise<StubReply>
const stub = httpStubPerTest((req) => reply(req))

/** Timers run by hand: the polling's turn comes when the test says so, whatever the host's clock. */
function manualTimers() {
  let next = 0
  const due = new Map<number, { fn: () => void; ms: number }>()
  const set: number[] = []
  return {
    /** Every delay set, in order. */
    set,
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        set.push(ms)
        due.set(++next, { fn, ms })
        return next
      },
      clearTimeout: (handle: unknown) => void due.delete(handle as number),
    },
    /** Runs the timers set for `ms` (each once); how many ran. */
    run(ms: number): number {
      const now = [...due].filter(([, t]) => t.ms === ms)
      for (const [handle, t] of now) {
        due.delete(handle)
        t.fn()
      }
      return now.length
    },
  }
}

const requestsTo = (path: string) => stub.requests.filter((r) => r.method === 'GET' && r.url === path).length

/** RTK Query writes who subscribes into its state a little later (its lazy sync): the reads follow what it says. */
async function subscribed(store: ReturnType<typeof setup>['store'], ...keys: string[]) {
  for (const key of keys)
    await eventually(() => expect(Object.keys(store.getState().api.subscriptions[key] ?? {})).not.toEqual([]))
}

function setup() {
  const sockets = fakeSockets()
  const clock = manualTimers()
  const store = trackedStore({
    apiUrl: stub.url,
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
    realtime: { invalidationWindowMs: 0, timers: clock.timers },
  })
  return { store, sockets, clock }
}

/** A page showing the lessons (read once, over a connected and synced socket), then the socket dropped. */
async function lessonsShownThenDropped() {
  const { store, sockets, clock } = setup()
  reply = () => ({ status: 200, body: [lesson('l1')] })
  sockets.last.serverConnect('sock-1')
  sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
  const lessons = store.dispatch(api.endpoints.getLessons.initiate())
  await lessons
  await subscribed(store, 'getLessons(undefined)')
  sockets.last.serverDrop()
  return { store, sockets, clock, lessons }
}

describe('while the socket is down and HTTP answers', () => {
  test('the open lists and thread are read again, and stop being once the socket is back', async () => {
    const { store, sockets, clock } = setup()
    reply = (req) => ({ status: 200, body: req.url === '/api/lessons' ? [lesson('l1')] : [message(1)] })
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const lessons = store.dispatch(api.endpoints.getLessons.initiate())
    const thread = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await lessons
    await thread
    await subscribed(store, 'getLessons(undefined)', 'getMessages("c1")')
    sockets.last.serverDrop()
    expect(store.getState().socket.connection.status).toBe('reconnecting')

    // Meanwhile the tutor confirmed the lesson and Bob wrote again: no event tells the page.
    reply = (req) =>
      req.url === '/api/lessons'
        ? { status: 200, body: [lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })] }
        : { status: 200, body: [message(1), message(2)] }
    clock.run(FALLBACK_READ_INTERVAL_MS)
    // The invalidation window (0 ms here) sends the tags.
    clock.run(0)
    await eventually(() =>
      expect(api.endpoints.getLessons.select()(store.getState()).data?.[0]?.status).toBe('confirmed'),
    )
    await eventually(() =>
      expect(
        api.endpoints.getMessages
          .select('c1')(store.getState())
          .data?.map((m) => m.id),
      ).toEqual(['m1', 'm2']),
    )

    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const asked = requestsTo('/api/lessons')
    expect(clock.run(FALLBACK_READ_INTERVAL_MS)).toBe(0)
    expect(requestsTo('/api/lessons')).toBe(asked)
    lessons.unsubscribe()
    thread.unsubscribe()
    store.dispose()
  })

  test('a send that went over HTTP shows once, with the read again made while its answer is on the way', async () => {
    const { store, sockets, clock } = setup()
    reply = () => ({ status: 200, body: [message(1)] })
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const thread = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await thread
    await subscribed(store, 'getMessages("c1")')
    sockets.last.serverDrop()

    const stored = message(2, { senderId: alice.id, content: 'hello', clientId: 'k1' })
    let answer: (r: StubReply) => void = () => undefined
    const answered = new Promise<StubReply>((resolve) => {
      answer = resolve
    })
    let stores = false
    reply = (req) => {
      if (req.method === 'POST') {
        stores = true
        return answered
      }
      return { status: 200, body: stores ? [message(1), stored] : [message(1)] }
    }
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'hello', clientId: 'k1' }))
    await eventually(() => expect(stores).toBe(true))

    const shown = () =>
      api.endpoints.getMessages
        .select('c1')(store.getState())
        .data?.map((m) => [m.id, m.status])
    // Never its pending copy beside the stored one, at any moment.
    const doubled: unknown[] = []
    const watch = store.subscribe(() => {
      const ids = (shown() ?? []).map(([id]) => id)
      if (ids.includes('k1') && ids.includes('m2')) doubled.push(shown())
    })
    const before = requestsTo('/api/conversations/c1/messages')
    clock.run(FALLBACK_READ_INTERVAL_MS)
    clock.run(0)
    answer({ status: 200, body: stored })
    await eventually(() => expect(requestsTo('/api/conversations/c1/messages')).toBe(before + 1))
    await eventually(() => expect(store.getState().api.queries['getMessages("c1")']?.status).toBe('fulfilled'))
    await eventually(() => expect(store.getState().socket.outbox).toEqual([]))
    expect(shown()?.map(([id]) => id)).toEqual(['m1', 'm2'])
    expect(shown()?.filter(([, status]) => status === 'pending' || status === 'failed')).toEqual([])
    expect(doubled).toEqual([])
    watch()
    thread.unsubscribe()
    store.dispose()
  })

  test('nothing is read while HTTP does not answer either, and reads start again once it does', async () => {
    const { store, clock, lessons } = await lessonsShownThenDropped()

    reply = () => ({ drop: true })
    clock.run(FALLBACK_READ_INTERVAL_MS)
    clock.run(0)
    await eventually(() => expect(store.getState().api.queries['getLessons(undefined)']?.status).toBe('rejected'))
    const asked = requestsTo('/api/lessons')
    clock.run(FALLBACK_READ_INTERVAL_MS)
    clock.run(0)
    expect(requestsTo('/api/lessons')).toBe(asked)

    // The page's "Try again" is answered: the server is there over HTTP, and the reads go on.
    reply = () => ({
      status: 200,
      body: [lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })],
    })
    await store.dispatch(api.endpoints.getLessons.initiate(undefined, { forceRefetch: true, subscribe: false }))
    reply = () => ({
      status: 200,
      body: [lesson('l1', { status: 'completed', updatedAt: '2026-11-24T10:00:00.000Z' })],
    })
    clock.run(FALLBACK_READ_INTERVAL_MS)
    clock.run(0)
    await eventually(() =>
      expect(api.endpoints.getLessons.select()(store.getState()).data?.[0]?.status).toBe('completed'),
    )
    lessons.unsubscribe()
    store.dispose()
  })

  test('once HTTP answers again with nothing else asking, the reads come back on their own', async () => {
    const { store, clock, lessons } = await lessonsShownThenDropped()

    reply = () => ({ drop: true })
    clock.run(FALLBACK_READ_INTERVAL_MS)
    clock.run(0)
    await eventually(() => expect(store.getState().api.queries['getLessons(undefined)']?.status).toBe('rejected'))

    // The network is back (the socket path still refused); the user touches nothing.
    reply = () => ({
      status: 200,
      body: [lesson('l1', { status: 'completed', updatedAt: '2026-11-24T10:00:00.000Z' })],
    })
    for (let turn = 0; turn < 8; turn++) {
      clock.run(FALLBACK_READ_INTERVAL_MS)
      clock.run(0)
    }
    await eventually(() =>
      expect(api.endpoints.getLessons.select()(store.getState()).data?.[0]?.status).toBe('completed'),
    )
    lessons.unsubscribe()
    store.dispose()
  })

  test('HTTP that failed in an earlier outage does not put off the reads of the next one', async () => {
    const { store, sockets, clock, lessons } = await lessonsShownThenDropped()
    // A blip: the network is gone, and a message written meanwhile finds no server over HTTP.
    reply = () => ({ drop: true })
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'hello', clientId: 'k1' }))
    // Its try over HTTP failed for the network: it waits for its retry.
    await eventually(() => expect(store.getState().socket.outbox[0]?.attempts).toBe(1))
    // The network is back: the socket resumes (nothing missed, nothing read over HTTP), and the message goes on it.
    reply = () => ({ status: 200, body: [lesson('l1')] })
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    expect(store.getState().socket.connection).toMatchObject({ status: 'connected', syncing: false })

    // Later a proxy blocks the socket alone; HTTP answers. The tutor confirms the lesson.
    sockets.last.serverDrop()
    const asked = requestsTo('/api/lessons')
    reply = () => ({
      status: 200,
      body: [lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })],
    })
    clock.run(FALLBACK_READ_INTERVAL_MS)
    clock.run(0)
    await eventually(() => expect(requestsTo('/api/lessons')).toBe(asked + 1))
    await eventually(() =>
      expect(api.endpoints.getLessons.select()(store.getState()).data?.[0]?.status).toBe('confirmed'),
    )
    lessons.unsubscribe()
    store.dispose()
  })

  test('a socket dropped after each connect, before its sync, does not put the reads off', async () => {
    const { store, sockets, clock, lessons } = await lessonsShownThenDropped()
    const turns = () => clock.set.filter((ms) => ms === FALLBACK_READ_INTERVAL_MS).length
    const first = turns()
    // Refused right after connect (a proxy that closes it, a failing socket path): no sync, no replay, nothing new.
    for (const id of ['sock-2', 'sock-3', 'sock-4']) {
      sockets.last.serverConnect(id)
      sockets.last.serverDrop()
    }
    expect(turns()).toBe(first)
    reply = () => ({
      status: 200,
      body: [lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })],
    })
    clock.run(FALLBACK_READ_INTERVAL_MS)
    clock.run(0)
    await eventually(() =>
      expect(api.endpoints.getLessons.select()(store.getState()).data?.[0]?.status).toBe('confirmed'),
    )
    lessons.unsubscribe()
    store.dispose()
  })

  test('a page come back to cached lessons just before a turn has them read at that turn', async () => {
    const { store, clock, lessons } = await lessonsShownThenDropped()
    // The page left (RTK Query's state says so), the socket still down: nobody shows the lessons, nothing reads them.
    lessons.unsubscribe()
    await eventually(() => expect(store.getState().api.subscriptions['getLessons(undefined)'] ?? {}).toEqual({}))
    reply = () => ({
      status: 200,
      body: [lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })],
    })
    const asked = requestsTo('/api/lessons')
    // Back on the page (the cached lessons shown, nothing read), the turn comes before RTK Query's state says so.
    const back = store.dispatch(api.endpoints.getLessons.initiate())
    await back
    expect(requestsTo('/api/lessons')).toBe(asked)
    expect(clock.run(FALLBACK_READ_INTERVAL_MS)).toBe(1)
    clock.run(0)
    await eventually(() =>
      expect(api.endpoints.getLessons.select()(store.getState()).data?.[0]?.status).toBe('confirmed'),
    )
    back.unsubscribe()
    store.dispose()
  })

  test('a page come back to cached lessons a turn passed over is read at once, not a turn later', async () => {
    const { store, clock, lessons } = await lessonsShownThenDropped()
    lessons.unsubscribe()
    await eventually(() => expect(store.getState().api.subscriptions['getLessons(undefined)'] ?? {}).toEqual({}))
    // A turn while nobody shows the lessons: they are kept as they were when the socket went.
    expect(clock.run(FALLBACK_READ_INTERVAL_MS)).toBe(1)
    clock.run(0)
    reply = () => ({
      status: 200,
      body: [lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })],
    })
    const back = store.dispatch(api.endpoints.getLessons.initiate())
    await eventually(() =>
      expect(api.endpoints.getLessons.select()(store.getState()).data?.[0]?.status).toBe('confirmed'),
    )
    back.unsubscribe()
    store.dispose()
  })
})
