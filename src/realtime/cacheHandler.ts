import { isAnyOf } from '@reduxjs/toolkit'
import { api } from '../api'
import type { ServerEventName } from '../contract'
import {
  catchUpStarted,
  sendConfirmed,
  serverEventOfType,
  sessionEnded,
  shutdown,
  syncCaughtUp,
  syncGap,
} from './actions'
import { cacheWorkForBurst, catchUpTagsAt, type QueuedEvent } from './cacheWork'
import type { SocketRootState } from './socketSlice'
import type { Context, Handler } from './context'

const { getMessages, getConversations, getLessons, getContactRequests } = api.endpoints
const { createLesson, updateLessonStatus, createContactRequest, updateContactRequestStatus } = api.endpoints
/** Our own changes answered over HTTP: each answer holds what the event that tells of it holds (see the end). */
const ownChangeAnswered = isAnyOf(
  createLesson.matchFulfilled,
  updateLessonStatus.matchFulfilled,
  createContactRequest.matchFulfilled,
  updateContactRequestStatus.matchFulfilled,
)
const EVENT_OF_OWN_CHANGE: Record<string, ServerEventName> = {
  createLesson: 'lesson:created',
  updateLessonStatus: 'lesson:statusUpdated',
  createContactRequest: 'contactRequest:created',
  updateContactRequestStatus: 'contactRequest:statusUpdated',
}
/** A read of an entry events patch has landed (or failed): the events that waited for it run again. */
const readLanded = isAnyOf(
  getMessages.matchFulfilled,
  getMessages.matchRejected,
  getConversations.matchFulfilled,
  getConversations.matchRejected,
  getLessons.matchFulfilled,
  getLessons.matchRejected,
  getContactRequests.matchFulfilled,
  getContactRequests.matchRejected,
)

/**
 * A subscription that found its entry cached or being read, and read nothing: RTK Query says so with a `rejected`
 * action marked `condition` (a page showing the list opened). Nothing landed: the cached data is as it was.
 */
const readNothing = (action: { meta?: unknown }) =>
  (action.meta as { condition?: unknown } | undefined)?.condition === true

/**
 * Server event action → cache work. The event's action is in the store (and DevTools) at once; its cache work is
 * queued and done at the end of the task (a microtask), together with that of every other event of the same burst:
 * one patch per cached list per burst, one notification (the actions are auto-batched). An ack or HTTP answer to
 * our own send (`socket/sendConfirmed`) is reconciled exactly like `message:sent`, and the answer to our own lesson or
 * contact request change exactly like the event that tells of it: the page shows the answer at once, and a read of
 * the list begun before the change (with the socket down, no event follows) would otherwise take it back.
 */
export function buildCacheHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch } = ctx.mwApi
  let queue: QueuedEvent[] = []
  let scheduled = false
  /** Events whose cache entry was being read: applied (again) once the read lands, or they could fall between. */
  let parked: QueuedEvent[] = []
  /** `CacheView.readMarks`: kept across bursts, and forgotten when the list is read again (its answer holds them). */
  const readMarks = new Map<string, [number, number]>()
  /** `CacheView.covered`: kept across bursts, and forgotten when the list's answer lands (it counts what it holds). */
  const covered = new Map<string, number>()

  function flush() {
    scheduled = false
    const burst = queue
    queue = []
    if (burst.length === 0) return
    try {
      const work = cacheWorkForBurst(burst, { ...ctx.view(), readMarks, covered })
      if (work.parked) parked.push(...work.parked)
      ctx.applyCacheWork(work)
    } catch (error) {
      ctx.report('cache', error)
    }
  }

  function schedule() {
    if (scheduled) return
    scheduled = true
    queueMicrotask(flush)
  }

  function enqueue(item: QueuedEvent) {
    queue.push(item)
    schedule()
  }

  return (action, prevState) => {
    // The busiest case first: a server event (a burst is thousands) matches nothing below.
    const event = serverEventOfType.get(action.type)
    if (event !== undefined) {
      enqueue({ event, payload: action.payload, offset: (action.meta as { offset?: number } | undefined)?.offset })
      return
    }
    if (sessionEnded.match(action) || shutdown.match(action)) {
      // Work queued for the previous session must not touch the next one's cache. A session of the same user begun
      // again (`sessionStarted` alone) keeps the cache, and its work: a confirmation waiting for a read of its thread,
      // dropped, was taken back by that read's answer, the outbox no longer holding it.
      queue = []
      parked = []
      readMarks.clear()
      covered.clear()
      ctx.coalescer.cancel()
      return
    }
    // Before the events that waited for it run again over it.
    if (readMarks.size > 0 && getConversations.matchFulfilled(action)) readMarks.clear()
    if (covered.size > 0 && getConversations.matchFulfilled(action)) covered.clear()
    // The cheap test first: RTK Query's fulfilled/rejected matchers run for every action otherwise (a burst's too).
    // A subscription that read nothing is no landing: run again over the same data, a read would take back a message
    // the marks (kept) then count as already applied.
    if (parked.length > 0 && readLanded(action) && !readNothing(action)) {
      // In front of what was queued since they were parked (the confirmation of a send the landed thread holds is
      // queued while that read lands, before this runs): they came first, and a list takes a message only when it is
      // newer than its last one, so an older message run after a newer one would never count as unread.
      queue = [...parked, ...queue]
      parked = []
      schedule()
      return
    }
    // A catch-up (`catchUpTagsAt`): what events feed is read again once, its tags gathered with any other
    // invalidation of the same window.
    if (syncGap.match(action) || syncCaughtUp.match(action)) {
      const tags = catchUpTagsAt(syncGap.match(action), prevState.socket.connection.offset, ctx.view().queries)
      if (tags) {
        dispatch(catchUpStarted({ tags: tags.length }))
        ctx.coalescer.add(tags)
      }
      return
    }
    if (sendConfirmed.match(action)) enqueue({ event: 'message:sent', payload: action.payload.message })
    else if (ownChangeAnswered(action))
      enqueue({ event: EVENT_OF_OWN_CHANGE[action.meta.arg.endpointName]!, payload: action.payload })
  }
}
