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

describe('catch-up: only after a sync:gap', () => {
  const epoch = 'epoch-1'

  test('a reconnect the server cannot replay (sync:gap): the lists and every cached thread are invalidated once, together', async () => {
    const { store, sockets } = await connectedWithCache()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch })
    sockets.last.serverDrop()
    await vi.advanceTimersByTimeAsync(1_000)
    sockets.last.serverConnect('sock-2', false)
    sockets.last.serverEmit('sync:gap', { offset: 40, epoch })
    expect(store.getActions().filter((a) => catchUpStarted.match(a))).toEqual([catchUpStarted({ tags: 5 })])
    await vi.advanceTimersByTimeAsync(250)
    expect(invalidations(store.getActions())).toEqual([
      [
        { type: 'Conversation', id: 'LIST' },
        { type: 'Lesson', id: 'LIST' },
        { type: 'ContactRequest', id: 'LIST' },
        { type: 'Message', id: 'c1' },
        { type: 'Message', id: 'c2' },
      ],
    ])
    await vi.advanceTimersByTimeAsync(5_000)
    expect(invalidations(store.getActions())).toHaveLength(1)
  })

  test('a reconnect that resumes (sync:caughtUp), and the first connect of a session: nothing is refetched', async () => {
    const { store, sockets } = await connectedWithCache()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch })
    sockets.last.serverDrop()
    await vi.advanceTimersByTimeAsync(1_000)
    sockets.last.serverConnect('sock-2', false)
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
})
