import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import type { ContactRequest, Lesson } from '../../src/contract'
import { serverPerFile, type BrowserStore } from './support'

// Lessons and contact requests as both people live them, through the real server: each side's cached list (what the
// pages draw) follows the other's changes, live and after a drop, each card once.

const file = serverPerFile()

function lessonsOf(s: BrowserStore): Lesson[] {
  return api.endpoints.getLessons.select()(s.store.getState()).data ?? []
}
function requestsOf(s: BrowserStore): ContactRequest[] {
  return api.endpoints.getContactRequests.select()(s.store.getState()).data ?? []
}
async function watchLists(s: BrowserStore) {
  const a = s.store.dispatch(api.endpoints.getLessons.initiate())
  const b = s.store.dispatch(api.endpoints.getContactRequests.initiate())
  await a
  await b
}
const inFuture = () => new Date(Date.now() + 3 * 24 * 3600_000).toISOString()

describe('lessons through the real server', () => {
  test('booked, confirmed, cancelled: each side sees each change, the card once', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    await watchLists(alice)
    await watchLists(bob)
    const booked = await alice.store
      .dispatch(
        api.endpoints.createLesson.initiate({
          tutorId: bob.user.id,
          subject: 'Live algebra',
          startsAt: inFuture(),
          durationMinutes: 60,
        }),
      )
      .unwrap()
    await bob.until(() => lessonsOf(bob).some((l) => l.id === booked.id))
    await bob.store.dispatch(api.endpoints.updateLessonStatus.initiate({ id: booked.id, status: 'confirmed' })).unwrap()
    await alice.until(() => lessonsOf(alice).find((l) => l.id === booked.id)?.status === 'confirmed')
    // Bob drops; Alice cancels meanwhile; back, Bob sees the cancellation.
    bob.store.dispatch({ type: 'socket/disconnect' })
    await bob.until(() => bob.status() === 'disconnected')
    await alice.store
      .dispatch(api.endpoints.updateLessonStatus.initiate({ id: booked.id, status: 'cancelled' }))
      .unwrap()
    bob.store.dispatch({ type: 'socket/connect' })
    await bob.until(() => bob.status() === 'connected')
    await bob.until(() => lessonsOf(bob).find((l) => l.id === booked.id)?.status === 'cancelled')
    expect(lessonsOf(bob).filter((l) => l.id === booked.id)).toHaveLength(1)
    expect(lessonsOf(alice).filter((l) => l.id === booked.id)).toHaveLength(1)
  })

  test('a contact request sent, then accepted while the student was away', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const carol = await file.loggedIn('carol@talemy.test')
    await watchLists(alice)
    await watchLists(carol)
    const pendingBefore = requestsOf(alice).find((r) => r.tutorId === carol.user.id && r.status === 'pending')
    if (pendingBefore)
      await carol.store
        .dispatch(api.endpoints.updateContactRequestStatus.initiate({ id: pendingBefore.id, status: 'declined' }))
        .unwrap()
    const sent = await alice.store
      .dispatch(api.endpoints.createContactRequest.initiate({ tutorId: carol.user.id, message: 'Hello live' }))
      .unwrap()
    await carol.until(() => requestsOf(carol).some((r) => r.id === sent.id))
    alice.store.dispatch({ type: 'socket/disconnect' })
    await alice.until(() => alice.status() === 'disconnected')
    await carol.store
      .dispatch(api.endpoints.updateContactRequestStatus.initiate({ id: sent.id, status: 'accepted' }))
      .unwrap()
    alice.store.dispatch({ type: 'socket/connect' })
    await alice.until(() => requestsOf(alice).find((r) => r.id === sent.id)?.status === 'accepted')
    expect(requestsOf(alice).filter((r) => r.id === sent.id)).toHaveLength(1)
    expect(requestsOf(carol).filter((r) => r.id === sent.id)).toHaveLength(1)
  })

  test('completed and cancelled at once: one is made, the other refused INVALID, and both sides show the one made', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    await watchLists(alice)
    await watchLists(bob)
    const booked = await alice.store
      .dispatch(
        api.endpoints.createLesson.initiate({
          tutorId: bob.user.id,
          subject: 'Raced',
          startsAt: inFuture(),
          durationMinutes: 30,
        }),
      )
      .unwrap()
    await bob.until(() => lessonsOf(bob).some((l) => l.id === booked.id))
    await bob.store.dispatch(api.endpoints.updateLessonStatus.initiate({ id: booked.id, status: 'confirmed' })).unwrap()
    const [complete, cancel] = await Promise.all([
      bob.store.dispatch(api.endpoints.updateLessonStatus.initiate({ id: booked.id, status: 'completed' })),
      alice.store.dispatch(api.endpoints.updateLessonStatus.initiate({ id: booked.id, status: 'cancelled' })),
    ])
    const made =
      'data' in complete && complete.data ? complete.data : 'data' in cancel && cancel.data ? cancel.data : null
    expect(made).not.toBeNull()
    const refused = made?.status === 'completed' ? cancel : complete
    expect('error' in refused && (refused.error as { data?: { error?: { code?: string } } }).data?.error?.code).toBe(
      'INVALID',
    )
    await alice.until(() => lessonsOf(alice).find((l) => l.id === booked.id)?.status === made?.status)
    await bob.until(() => lessonsOf(bob).find((l) => l.id === booked.id)?.status === made?.status)
  })
})
