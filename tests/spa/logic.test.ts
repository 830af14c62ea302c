import { createIntl } from 'react-intl'
import { describe, expect, it, test, vi } from 'vitest'
import type { UnknownAction } from '@reduxjs/toolkit'
import { api, type ThreadMessage } from '../../src/api'
import { hrefFor, parseHash, type Route } from '../../src/app/router'
import type { ContactRequest, Lesson, Message, User } from '../../src/contract'
import { sortLessons } from '../../src/features/lessons/LessonsPage'
import { lessonActions } from '../../src/features/lessons/transitions'
import { firstSeq, mergeOlder } from '../../src/features/messages/order'
import { alreadyListed, createToaster, toastNews, type Toaster } from '../../src/features/notifications/toaster'
import { upsertById } from '../../src/features/shared/cache'
import { errorMessageId, invalidFields } from '../../src/features/shared/errors'
import { en } from '../../src/i18n'
import { serverEventActions } from '../../src/realtime'
import { loggedOut } from '../../src/app/authSlice'
import { fakeSockets } from '../unit/support/fakeSocket'
import { alice, bob, lesson, toastedStore } from './support/lessons'

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }

const message = (seq: number, over: Partial<ThreadMessage> = {}): ThreadMessage => ({
  id: `m${seq}`,
  conversationId: 'c1',
  seq,
  senderId: bob.id,
  content: `message ${seq}`,
  createdAt: '2026-11-24T08:00:00.000Z',
  clientId: null,
  ...over,
})

describe('router', () => {
  test.each<[string, Route]>([
    ['', { page: 'messages', conversationId: null }],
    ['#/', { page: 'messages', conversationId: null }],
    ['#/messages', { page: 'messages', conversationId: null }],
    ['#/messages/conv%2F1', { page: 'messages', conversationId: 'conv/1' }],
    ['#/lessons', { page: 'lessons' }],
    ['#/contact-requests', { page: 'contactRequests' }],
    ['#/nowhere', { page: 'messages', conversationId: null }],
    ['#/messages/%E0%A4%A', { page: 'messages', conversationId: '%E0%A4%A' }],
    // A link with a query (a mail's tracking, a hand-added parameter) is the page it names.
    ['#/contact-requests?utm_source=mail', { page: 'contactRequests' }],
    ['#/lessons/?x=1', { page: 'lessons' }],
    ['#/messages/c1?from=mail', { page: 'messages', conversationId: 'c1' }],
    ['#/messages/conv%3F1', { page: 'messages', conversationId: 'conv?1' }],
  ])('parseHash(%j)', (hash, route) => {
    expect(parseHash(hash)).toEqual(route)
  })

  test.each<Route>([
    { page: 'messages', conversationId: null },
    { page: 'messages', conversationId: 'conv/1 ü' },
    { page: 'lessons' },
    { page: 'contactRequests' },
  ])('hrefFor and parseHash round-trip %j', (route) => {
    expect(parseHash(hrefFor(route))).toEqual(route)
  })
})

describe('lessonActions: the contract’s transition table, per side', () => {
  test.each<[Lesson['status'], User, string[]]>([
    ['pending', bob, ['confirmed', 'cancelled']],
    ['pending', alice, ['cancelled']],
    ['confirmed', bob, ['completed', 'cancelled']],
    ['confirmed', alice, ['cancelled']],
    ['cancelled', bob, []],
    ['completed', alice, []],
    ['pending', carol, []],
  ])('%s lesson, %o', (status, me, allowed) => {
    expect(lessonActions(lesson({ status }), me).map((a) => a.status)).toEqual(allowed)
  })
})

it('sortLessons: open lessons soonest first, then closed ones most recent first', () => {
  const sorted = sortLessons([
    lesson({ id: 'old-done', status: 'completed', startsAt: '2026-11-01T10:00:00.000Z' }),
    lesson({ id: 'later', status: 'confirmed', startsAt: '2026-12-01T10:00:00.000Z' }),
    lesson({ id: 'recent-cancelled', status: 'cancelled', startsAt: '2026-11-20T10:00:00.000Z' }),
    lesson({ id: 'soon', status: 'pending', startsAt: '2026-11-25T10:00:00.000Z' }),
  ])
  expect(sorted.map((l) => l.id)).toEqual(['soon', 'later', 'recent-cancelled', 'old-done'])
})

describe('mergeOlder: an older page into a cached thread', () => {
  it('puts older messages first, by seq, each once, and keeps unconfirmed ones last in their order', () => {
    const thread: ThreadMessage[] = [
      message(3),
      message(4),
      message(0, { id: 'cid-b', clientId: 'cid-b', senderId: alice.id, status: 'pending' }),
      message(0, { id: 'cid-a', clientId: 'cid-a', senderId: alice.id, status: 'failed' }),
    ]
    const older: Message[] = [message(1), message(2), message(3)]
    expect(mergeOlder(thread, older).map((m) => m.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'cid-b', 'cid-a'])
  })

  it('drops an older message whose clientId the thread already holds', () => {
    const thread: ThreadMessage[] = [message(5, { id: 'x', clientId: 'cid' })]
    expect(mergeOlder(thread, [message(2, { clientId: 'cid' })]).map((m) => m.id)).toEqual(['x'])
  })

  it('keeps an older message of another sender whose clientId one of ours has (clientIds are per sender)', () => {
    const thread: ThreadMessage[] = [message(5, { id: 'x', clientId: 'cid', senderId: alice.id, status: 'sent' })]
    expect(mergeOlder(thread, [message(2, { clientId: 'cid' })]).map((m) => m.id)).toEqual(['m2', 'x'])
  })

  it('firstSeq is the lowest stored seq, ignoring unconfirmed messages', () => {
    expect(firstSeq([message(0, { status: 'pending' }), message(7), message(5, { status: 'sent' })])).toBe(5)
    expect(firstSeq([message(0, { status: 'pending' })])).toBeNull()
  })
})

describe('upsertById', () => {
  it('adds a new entity, replaces an older version, keeps a newer one', () => {
    const list = [lesson({ id: 'a', status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })]
    upsertById(list, lesson({ id: 'b' }))
    upsertById(list, lesson({ id: 'a', status: 'pending', updatedAt: '2026-11-24T08:00:00.000Z' }))
    expect(list.map((l) => [l.id, l.status])).toEqual([
      ['a', 'confirmed'],
      ['b', 'pending'],
    ])
    upsertById(list, lesson({ id: 'a', status: 'completed', updatedAt: '2026-11-24T10:00:00.000Z' }))
    expect(list[0]!.status).toBe('completed')
  })
})

/** A toast's or an error's words in English, as the page shows them. */
const english = createIntl({ locale: 'en', messages: en })

describe('toastNews: news for the user, not their own doings (in English words)', () => {
  const request = {
    id: 'r1',
    studentId: alice.id,
    tutorId: bob.id,
    message: 'Hi',
    status: 'pending' as const,
    createdAt: '2026-11-24T08:00:00.000Z',
    updatedAt: '2026-11-24T08:00:00.000Z',
  }
  test.each([
    [
      'a tutor hears of a booking',
      serverEventActions['lesson:created'](lesson()),
      bob,
      { page: 'lessons', text: 'New lesson request from Alice: Algebra' },
    ],
    ['the student who booked does not', serverEventActions['lesson:created'](lesson()), alice, null],
    [
      'a status change reaches both',
      serverEventActions['lesson:statusUpdated'](lesson({ status: 'confirmed' })),
      alice,
      { page: 'lessons', text: 'Lesson “Algebra” (Bob) was confirmed' },
    ],
    // Only the tutor confirms: the event is his own doing, from whichever tab or device.
    [
      'the tutor who confirmed does not',
      serverEventActions['lesson:statusUpdated'](lesson({ status: 'confirmed' })),
      bob,
      null,
    ],
    [
      'a cancellation (either side may) reaches both',
      serverEventActions['lesson:statusUpdated'](lesson({ status: 'cancelled' })),
      bob,
      { page: 'lessons', text: 'Lesson “Algebra” (Alice) was cancelled' },
    ],
    [
      'a tutor hears of a request',
      serverEventActions['contactRequest:created'](request),
      bob,
      { page: 'contactRequests', text: 'New contact request from Alice' },
    ],
    ['the student who sent it does not', serverEventActions['contactRequest:created'](request), alice, null],
    [
      'an answer reaches the student',
      serverEventActions['contactRequest:statusUpdated']({ ...request, status: 'accepted' }),
      alice,
      { page: 'contactRequests', text: 'Contact request (Bob) accepted' },
    ],
    [
      'the tutor who answered does not',
      serverEventActions['contactRequest:statusUpdated']({ ...request, status: 'declined' }),
      bob,
      null,
    ],
    ['nobody logged in', serverEventActions['lesson:created'](lesson()), null, null],
    ['other actions', { type: 'socket/message:new', payload: message(1) }, alice, null],
  ] as const)('%s', (_name, action, me, expected) => {
    const news = toastNews(action, me)
    // The person the news is about is named as the page names them (Toasts.tsx).
    const name = [alice, bob].find((u) => u.id === news?.person)?.name
    const values = name === undefined ? news?.message.values : { ...news?.message.values, name }
    expect(news && { page: news.page, text: english.formatMessage(news.message, values) }).toEqual(expected)
  })
})

describe('alreadyListed: a created event whose entity its cached list already holds is no news', () => {
  const request = (id: string): ContactRequest => ({
    id,
    studentId: alice.id,
    tutorId: bob.id,
    message: 'Hi',
    status: 'pending',
    createdAt: '2026-11-24T08:00:00.000Z',
    updatedAt: '2026-11-24T08:00:00.000Z',
  })
  /** The store's state with these lists cached as the pages read them (argument `undefined`); the others not read. */
  const cached = (lists: { lessons?: readonly Lesson[]; requests?: readonly ContactRequest[] }) => ({
    [api.reducerPath]: api.reducer(
      undefined,
      api.util.upsertQueryEntries([
        ...(lists.lessons ? [{ endpointName: 'getLessons' as const, arg: undefined, value: [...lists.lessons] }] : []),
        ...(lists.requests
          ? [{ endpointName: 'getContactRequests' as const, arg: undefined, value: [...lists.requests] }]
          : []),
      ]),
    ),
  })
  const l1 = lesson({ id: 'l1' })
  test.each([
    ['a lesson listed already (a replay, or a read that held it)', 'lesson:created', l1, { lessons: [l1] }, true],
    ['another version of it', 'lesson:created', lesson({ id: 'l1', subject: 'Other' }), { lessons: [l1] }, true],
    ['a lesson the list does not hold', 'lesson:created', lesson({ id: 'l2' }), { lessons: [l1] }, false],
    ['an empty list', 'lesson:created', l1, { lessons: [] }, false],
    ['no list cached: news, as before', 'lesson:created', l1, {}, false],
    ['an id held by the other list only', 'lesson:created', l1, { requests: [request('l1')] }, false],
    ['a request listed already', 'contactRequest:created', request('r1'), { requests: [request('r1')] }, true],
    ['a request the list does not hold', 'contactRequest:created', request('r2'), { requests: [request('r1')] }, false],
    ['a listed lesson’s status change: news as ever', 'lesson:statusUpdated', l1, { lessons: [l1] }, false],
    [
      'a listed request’s status change: news as ever',
      'contactRequest:statusUpdated',
      request('r1'),
      { requests: [request('r1')] },
      false,
    ],
  ] as const)('%s', (_name, event, payload, lists, known) => {
    const action = (serverEventActions[event] as (p: typeof payload) => UnknownAction)(payload)
    expect(alreadyListed(action, cached(lists))).toBe(known)
  })

  test('other actions are never listed', () => {
    expect(alreadyListed({ type: 'socket/message:new', payload: message(1) }, cached({ lessons: [l1] }))).toBe(false)
    expect(alreadyListed({ type: 'other', payload: { id: 'l1' } }, cached({ lessons: [l1] }))).toBe(false)
  })
})

describe('the toaster', () => {
  /** Bob's store (on the messages page), whose toasts `toaster` shows. */
  const bobsStore = (toaster: ReturnType<typeof createToaster>) => toastedStore(bob, toaster)

  /**
   * Bob's store with a toaster of 8 s toasts, on fake timers: `raise(subject, id)` brings a new lesson's toast,
   * `subjects()` says what the toasts show, oldest first.
   */
  function withToasts(
    run: (t: { toaster: Toaster; raise: (subject: string, id: string) => void; subjects: () => unknown[] }) => void,
  ) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const toaster = createToaster({ openPage: () => 'messages', ttlMs: 8000 })
      const store = bobsStore(toaster)
      run({
        toaster,
        raise: (subject, id) => store.dispatch(serverEventActions['lesson:created'](lesson({ id, subject }))),
        subjects: () => toaster.getSnapshot().map((t) => t.message.values?.subject),
      })
      store.dispose()
    } finally {
      vi.useRealTimers()
    }
  }

  test('forgets the toasts of a user who logged out: the next user never sees them', () => {
    const toaster = createToaster({ openPage: () => 'messages', ttlMs: 3_600_000 })
    const store = bobsStore(toaster)
    store.dispatch(serverEventActions['lesson:created'](lesson({ subject: 'Private: exam resit for Alice' })))
    expect(toaster.getSnapshot()).toHaveLength(1)
    store.dispatch(loggedOut())
    expect(toaster.getSnapshot()).toEqual([])
    store.dispose()
  })

  // The server logs each creation once, but a resume replays what came after the store's offset, and a replay may
  // overlap what the store had live: the offset gate lets each logged event through once, so one toast, even with no
  // list cached that could tell it is listed already (the toaster decides before the burst's cache work).
  test('a created event that comes again (a replay overlapping live delivery) is one toast', () => {
    const toaster = createToaster({ openPage: () => 'messages', ttlMs: 3_600_000 })
    const sockets = fakeSockets()
    const store = toastedStore(bob, toaster, sockets)
    const booked = lesson({ id: 'l9', studentId: carol.id, tutorId: bob.id })
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    // One burst: live, then again.
    sockets.last.serverEmit('lesson:created', booked, { offset: 11 })
    sockets.last.serverEmit('lesson:created', booked, { offset: 11 })
    expect(toaster.getSnapshot()).toHaveLength(1)
    // A new connection resuming from an older offset than the server had sent (the drop came first): replayed again.
    sockets.last.serverDrop()
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('lesson:created', booked, { offset: 11 })
    sockets.last.serverEmit('sync:caughtUp', { offset: 11, epoch: 'e1' })
    expect(toaster.getSnapshot()).toHaveLength(1)
    store.dispose()
  })

  test('no toast’s time runs out while paused (the user is in the region); resumed, each gets a fresh ttl (WCAG 2.2.1)', () =>
    withToasts(({ toaster, raise, subjects }) => {
      raise('First', 'l1')
      vi.advanceTimersByTime(5000)
      toaster.pause(true)
      vi.advanceTimersByTime(60_000)
      raise('Second', 'l2')
      vi.advanceTimersByTime(60_000)
      expect(subjects()).toEqual(['First', 'Second'])
      // The user left the region: a whole ttl from now for each, also for the first (3 s were left of it).
      toaster.pause(false)
      vi.advanceTimersByTime(7999)
      expect(subjects()).toEqual(['First', 'Second'])
      vi.advanceTimersByTime(1)
      expect(subjects()).toEqual([])
      // Nobody in the region: a toast goes after its ttl, as ever.
      raise('Third', 'l3')
      vi.advanceTimersByTime(8000)
      expect(subjects()).toEqual([])
    }))

  // The user is reading (or about to press) the oldest toast when a fifth arrives: it must not vanish under them.
  test('while paused no toast is pushed out by a newer one; resumed, the four newest stay (WCAG 2.2.1)', () =>
    withToasts(({ toaster, raise: raiseLesson, subjects }) => {
      const raise = (n: number) => raiseLesson(`S${n}`, `l${n}`)
      for (const n of [1, 2, 3, 4]) raise(n)
      toaster.pause(true)
      raise(5)
      raise(6)
      expect(subjects()).toEqual(['S1', 'S2', 'S3', 'S4', 'S5', 'S6'])
      // However long the pointer rests there (a replay after a gap may bring dozens): what was shown when the user came
      // in stays, and of what came since, the newest four.
      for (const n of [7, 8, 9, 10]) raise(n)
      expect(subjects()).toEqual(['S1', 'S2', 'S3', 'S4', 'S7', 'S8', 'S9', 'S10'])
      toaster.pause(false)
      expect(subjects()).toEqual(['S7', 'S8', 'S9', 'S10'])
      // Not paused, the cap holds as before.
      raise(11)
      expect(subjects()).toEqual(['S8', 'S9', 'S10', 'S11'])
      vi.advanceTimersByTime(8000)
      expect(subjects()).toEqual([])
    }))
})

describe('errorMessageId: the SPA’s own words for each error code, never the server’s English message', () => {
  test.each([
    [{ status: 'FETCH_ERROR', error: 'TypeError' }, 'Could not reach the server. Check your connection.'],
    [{ status: 'TIMEOUT_ERROR', error: 'timeout' }, 'Could not reach the server. Check your connection.'],
    [
      { status: 403, data: { error: { code: 'FORBIDDEN', message: 'Only the tutor can confirm' } } },
      'You are not allowed to do that.',
    ],
    [
      { status: 429, data: { error: { code: 'RATE_LIMITED', message: 'x', retryAfterMs: 100 } } },
      'Too many requests; wait a moment and try again.',
    ],
    [
      { code: 'NETWORK', message: 'The server could not be reached' },
      'Could not reach the server. Check your connection.',
    ],
    [
      { code: 'OUTBOX_FULL', message: 'x' },
      'Too many messages are waiting to be sent. Your text is kept: send it once they have gone.',
    ],
    [{ code: 'INVALID', message: 'content: too long' }, 'That was not accepted. Check what you entered.'],
    // A request that did not reach the server whole in time: the server's own 408 names INTERNAL in its body (an earlier
    // one named INVALID), yet nothing was wrong with what was entered, and the server was not at fault.
    [
      { status: 408, data: { error: { code: 'INTERNAL', message: 'request: not received in time' } } },
      'Could not reach the server. Check your connection.',
    ],
    [
      { status: 408, data: { error: { code: 'INVALID', message: 'request: not received in time' } } },
      'Could not reach the server. Check your connection.',
    ],
    [
      { status: 'PARSING_ERROR', originalStatus: 408, data: 'Request Timeout', error: 'x' },
      'Could not reach the server. Check your connection.',
    ],
    [{ status: 502, data: '<html>' }, 'Something went wrong. Please try again.'],
    [{ message: 'Rejected' }, 'Something went wrong. Please try again.'],
    [undefined, 'Something went wrong. Please try again.'],
  ])('%j', (error, text) => {
    expect(english.formatMessage({ id: errorMessageId(error) })).toBe(text)
  })
})

describe('invalidFields: the fields an INVALID answer names, as the server joins its issues', () => {
  test.each([
    [{ status: 400, data: { error: { code: 'INVALID', message: 'startsAt: must be in the future' } } }, ['startsAt']],
    [
      {
        status: 400,
        data: { error: { code: 'INVALID', message: 'subject: must not be empty; tutorId: is too long' } },
      },
      ['subject', 'tutorId'],
    ],
    [{ code: 'INVALID', message: 'content: must not be empty' }, ['content']],
    // An issue about the value itself names none.
    [{ status: 400, data: { error: { code: 'INVALID', message: 'must be an object' } } }, []],
    [{ status: 403, data: { error: { code: 'FORBIDDEN', message: 'startsAt: no' } } }, []],
    [{ status: 'FETCH_ERROR', error: 'TypeError' }, []],
    [{ status: 408, data: { error: { code: 'INVALID', message: 'request: not received in time' } } }, []],
    [undefined, []],
  ])('%j', (error, fields) => {
    expect(invalidFields(error)).toEqual(fields)
  })
})
