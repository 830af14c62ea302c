import { describe, expect, test } from 'vitest'
import { SERVER_EVENTS, type ServerEventName } from '../../src/contract'
import type { CacheView } from '../../src/realtime'
import { cacheWorkForBurst, queryKey, type CacheWork, type QueuedEvent } from '../../src/realtime/cacheWork'
import { alice, at, bob, contactRequest, conversation, lesson, message } from './support/fixtures'

// Resume may deliver an event twice (a replay after a drop) or after a read that already holds something newer:
// every event's cache work must be idempotent and monotonic. One row per logged event.

const key = {
  thread: queryKey({ endpointName: 'getMessages', arg: 'c1' }),
  conversations: queryKey({ endpointName: 'getConversations', arg: undefined }),
  lessons: queryKey({ endpointName: 'getLessons', arg: undefined }),
  contactRequests: queryKey({ endpointName: 'getContactRequests', arg: undefined }),
}

function cached(): CacheView {
  const ok = (data: unknown) => ({ status: 'fulfilled', data: Object.freeze(data) })
  return {
    queries: {
      [key.thread]: ok([message(1, { senderId: bob.id })]),
      [key.conversations]: ok([
        conversation('c1', { lastMessage: message(1, { senderId: bob.id }), unreadCount: 1, updatedAt: at(0) }),
      ]),
      [key.lessons]: ok([lesson('l1')]),
      [key.contactRequests]: ok([contactRequest('r1')]),
    },
    userId: alice.id,
    rooms: [],
  }
}

/** The view after the work's root replaces (what the store would hold). */
function applied(view: CacheView, work: CacheWork): CacheView {
  const queries = { ...view.queries }
  for (const p of work.patches) {
    const k = queryKey(p)
    queries[k] = { status: 'fulfilled', data: (p.patches[0] as { value: unknown }).value }
  }
  return { ...view, queries }
}

const newer = at(30)
const older = at(-30)
/** Per event: an event, and (where data carries a version) an older version of it. */
const rows: Record<ServerEventName, { event: unknown; stale?: unknown }> = {
  'message:new': { event: message(2, { senderId: bob.id, createdAt: newer }), stale: message(1, { senderId: bob.id }) },
  'message:sent': {
    event: message(2, { senderId: alice.id, clientId: 'k1', createdAt: newer }),
    stale: message(1, { senderId: bob.id }),
  },
  'conversation:read': { event: { conversationId: 'c1', unreadCount: 0 } },
  'conversation:seen': {
    event: { conversationId: 'c1', userId: bob.id, seq: 2 },
    stale: { conversationId: 'c1', userId: bob.id, seq: 1 },
  },
  'lesson:created': {
    event: lesson('l2', { updatedAt: newer }),
    stale: lesson('l2', { updatedAt: older, subject: 'Old' }),
  },
  'lesson:statusUpdated': {
    event: lesson('l1', { status: 'confirmed', updatedAt: newer }),
    stale: lesson('l1', { status: 'cancelled', updatedAt: older }),
  },
  'contactRequest:created': {
    event: contactRequest('r2', { updatedAt: newer }),
    stale: contactRequest('r2', { updatedAt: older, message: 'Old' }),
  },
  'contactRequest:statusUpdated': {
    event: contactRequest('r1', { status: 'accepted', updatedAt: newer }),
    stale: contactRequest('r1', { status: 'declined', updatedAt: older }),
  },
}

describe.each(SERVER_EVENTS.map((e) => [e] as const))('%s', (event) => {
  const row = rows[event]
  const once = (view: CacheView, payload: unknown) => cacheWorkForBurst([{ event, payload } as QueuedEvent], view)

  test('applied twice: the second changes nothing (no patch, no refetch)', () => {
    const first = once(cached(), row.event)
    expect(first.patches.length).toBeGreaterThan(0)
    const after = applied(cached(), first)
    expect(once(after, row.event)).toEqual({ patches: [], invalidate: [] })
  })
})

const versioned = SERVER_EVENTS.filter((e) => rows[e].stale !== undefined).map((e) => [e] as const)

describe.each(versioned)('%s, older than the data', (event) => {
  test('an older version after the newer one changes nothing', () => {
    const once = (view: CacheView, payload: unknown) => cacheWorkForBurst([{ event, payload } as QueuedEvent], view)
    const after = applied(cached(), once(cached(), rows[event].event))
    const work = once(after, rows[event].stale)
    // Whatever it touches, every cached list reads as it did after the newer event.
    expect(applied(after, work).queries).toEqual(after.queries)
    expect(work.invalidate).toEqual([])
  })
})
