import { createMemoryStorage } from '../../../src/app/store'
import { trackedStore } from '../../support/trackedStores'
import type { Lesson, User } from '../../../src/contract'
import type { Toaster } from '../../../src/features/notifications/toaster'
import { fakeSockets } from '../../unit/support/fakeSocket'

/** A student and her tutor, the two sides of `lesson`. */
export const alice: User = { id: 'u-alice', name: 'Alice', role: 'student' }
export const bob: User = { id: 'u-bob', name: 'Bob', role: 'tutor' }

/** Alice's pending algebra lesson with Bob, with `over` changed. */
export const lesson = (over: Partial<Lesson> = {}): Lesson => ({
  id: 'l1',
  tutorId: bob.id,
  studentId: alice.id,
  subject: 'Algebra',
  startsAt: '2026-11-25T10:00:00.000Z',
  durationMinutes: 60,
  status: 'pending',
  updatedAt: '2026-11-24T08:00:00.000Z',
  ...over,
})

/**
 * `user`'s store with no server behind it (every request answered 204) and `sockets`' fake socket, whose events
 * `toaster` hears.
 */
export const toastedStore = (user: User, toaster: Toaster, sockets = fakeSockets()) =>
  trackedStore({
    apiUrl: 'http://api.invalid',
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    extraMiddleware: [toaster.middleware],
    fetchFn: (async () => new Response(null, { status: 204 })) as typeof fetch,
    preloadedState: { auth: { token: `t-${user.name.toLowerCase()}`, user } },
  })
