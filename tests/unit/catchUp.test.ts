import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { catchUpStarted, connect } from '../../src/realtime'
import { lesson, message, T0 } from './support/fixtures'
import { apiStateWith, loggedInState, mockStore } from './support/mockStore'

// Invalidations gathered over a window, and the catch-up refetch after a reconnect the server did not recover.

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date(T0))
})
afterEach(() => {
  vi.useRealTimers()
})

const invalidations = (actions: { type: string; payload?: unknown }[]) =>
  actions.filter((a) => a.type === api.util.invalidateTags([]).type).map((a) => a.payload)

async function connectedWithCache() {
  const seeded = await apiStateWith(async (dispatch) => {
    await dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    await dispatch(api.util.upsertQueryData('getMessages', 'c2', [message(1, { conversationId: 'c2' })]))
    await dispatch(api.util.upsertQueryData('getLessons', undefined, [lesson('l1')]))
  })
  const setup = mockStore({ ...loggedInState(), api: seeded })
  setup.dispatch(connect())
  setup.sockets.last.serverConnect('sock-1')
  setup.store.clearActions()
  return setup
}

describe('invalidation coalescing', () => {
  test('events of many tasks that each invalidate → one invalidateTags per 250 ms window, each tag once', async () => {
    const { store, sockets } = await connectedWithCache()
    // Lessons the cached list does not have: each event can only invalidate the list.
    for (let i = 0; i < 5; i++) {
      sockets.last.serverEmit('lesson:statusUpdated', lesson(`l-other-${i}`, { status: 'confirmed' }))
      await vi.advanceTimersByTimeAsync(20)
    }
    expect(invalidations(store.getActions())).toEqual([])
    await vi.advanceTimersByTimeAsync(150)
    expect(invalidations(store.getActions())).toEqual([[{ type: 'Lesson', id: 'LIST' }]])
    sockets.last.serverEmit('lesson:statusUpdated', lesson('l-late', { status: 'confirmed' }))
    await vi.advanceTimersByTimeAsync(250)
    expect(invalidations(store.getActions())).toHaveLength(2)
  })
})

describe('the invalidation window runs on the given timers', () => {
  test('with `timers`, nothing waits on the host timers: the window ends when the given ones run', async () => {
    const seeded = await apiStateWith(async (dispatch) => {
      await dispatch(api.util.upsertQueryData('getLessons', undefined, [lesson('l1')]))
    })
    const due: Array<{ fn: () => void; ms: number }> = []
    const timers = { setTimeout: (fn: () => void, ms: number) => due.push({ fn, ms }), clearTimeout: () => undefined }
    const { dispatch, store, sockets } = mockStore({ ...loggedInState(), api: seeded }, { timers })
    dispatch(connect())
    sockets.last.serverConnect('sock-1')
    store.clearActions()
    sockets.last.serverEmit('lesson:statusUpdated', lesson('l-other', { status: 'confirmed' }))
    await vi.advanceTimersByTimeAsync(10_000)
    expect(invalidations(store.getActions())).toEqual([])
    const window = due.find((d) => d.ms === 250)
    expect(window).toBeDefined()
    window!.fn()
    expect(invalidations(store.getActions())).toEqual([[{ type: 'Lesson', id: 'LIST' }]])
  })
})

describe('catch-up: after a sync:gap, and at the first sync of a session that has read already', () => {
  const epoch = 'epoch-1'

  /** Connected with a cache, past this session's first sync (and its catch-up), then a drop. */
  async function droppedAfterFirstSync() {
    const setup = await connectedWithCache()
    setup.sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch })
    await vi.advanceTimersByTimeAsync(250)
    setup.store.clearActions()
    setup.sockets.last.serverDrop()
    await vi.advanceTimersByTimeAsync(1_000)
    setup.sockets.last.serverConnect('sock-2', false)
    return setup
  }

  const catchUpTags = [
    { type: 'Conversation', id: 'LIST' },
    { type: 'Lesson', id: 'LIST' },
    { type: 'ContactRequest', id: 'LIST' },
    { type: 'Message', id: 'c1' },
    { type: 'Message', id: 'c2' },
  ]

  test('a reconnect the server cannot replay (sync:gap): the lists and every cached thread are invalidated once, together', async () => {
    const { store, sockets } = await droppedAfterFirstSync()
    sockets.last.serverEmit('sync:gap', { offset: 40, epoch })
    expect(store.getActions().filter((a) => catchUpStarted.match(a))).toEqual([catchUpStarted({ tags: 5 })])
    await vi.advanceTimersByTimeAsync(250)
    expect(invalidations(store.getActions())).toEqual([catchUpTags])
    await vi.advanceTimersByTimeAsync(5_000)
    expect(invalidations(store.getActions())).toHaveLength(1)
  })

  test('a reconnect that resumes (sync:caughtUp from its offset): nothing is refetched', async () => {
    const { store, sockets } = await droppedAfterFirstSync()
    sockets.last.serverEmit(
      'lesson:statusUpdated',
      lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' }),
      { offset: 11 },
    )
    sockets.last.serverEmit('sync:caughtUp', { offset: 11, epoch })
    await vi.advanceTimersByTimeAsync(1_000)
    expect(store.getActions().filter((a) => catchUpStarted.match(a))).toEqual([])
    expect(invalidations(store.getActions())).toEqual([])
    expect(store.getState().socket.connection).toMatchObject({ offset: 11, epoch, syncing: false })
  })

  test('the first sync of a session after reads (a page reads at once, its handshake comes later): read again once', async () => {
    // What the handshake's offset counts and the reads did not see (committed between them) is in neither.
    const { store, sockets } = await connectedWithCache()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch })
    expect(store.getActions().filter((a) => catchUpStarted.match(a))).toEqual([catchUpStarted({ tags: 5 })])
    await vi.advanceTimersByTimeAsync(250)
    expect(invalidations(store.getActions())).toEqual([catchUpTags])
  })

  test('the first sync of a session before any read: nothing to read again', async () => {
    const setup = mockStore(loggedInState())
    setup.dispatch(connect())
    setup.sockets.last.serverConnect('sock-1')
    setup.sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch })
    await vi.advanceTimersByTimeAsync(1_000)
    expect(setup.store.getActions().filter((a) => catchUpStarted.match(a))).toEqual([])
    expect(invalidations(setup.store.getActions())).toEqual([])
  })
})
