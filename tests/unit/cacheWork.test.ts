import { describe, expect, test } from 'vitest'
import type { ThreadMessage } from '../../src/api'
import { SERVER_EVENTS, type ServerEventName } from '../../src/contract'
import { cacheWorkFor, cacheWorkTable, type CacheView, type CacheWork } from '../../src/realtime'
import { applyPatches } from 'immer'
import {
  cacheWorkForBurst,
  type QueuedEvent,
  foldCacheWork,
  queryKey,
  threadWork,
  upsertMessagePatches,
  addPendingPatches,
  setPendingStatusPatches,
  removePendingPatches,
} from '../../src/realtime/cacheWork'
import { alice, at, bob, contactRequest, conversation, lesson, message } from './support/fixtures'

type Entry = { status: string; data?: unknown }
const ok = (data: unknown): Entry => ({ status: 'fulfilled', data })

function view(
  entries: { thread?: Entry; conversations?: Entry; lessons?: Entry; contactRequests?: Entry } = {},
  over: Partial<CacheView> = {},
): CacheView {
  const queries: Record<string, Entry> = {}
  if (entries.thread) queries[queryKey({ endpointName: 'getMessages', arg: 'c1' })] = entries.thread
  if (entries.conversations)
    queries[queryKey({ endpointName: 'getConversations', arg: undefined })] = entries.conversations
  if (entries.lessons) queries[queryKey({ endpointName: 'getLessons', arg: undefined })] = entries.lessons
  if (entries.contactRequests)
    queries[queryKey({ endpointName: 'getContactRequests', arg: undefined })] = entries.contactRequests
  return { queries, userId: alice.id, rooms: [], ...over }
}

const pending = (clientId: string, over: Partial<ThreadMessage> = {}): ThreadMessage => ({
  id: clientId,
  conversationId: 'c1',
  seq: 0,
  senderId: alice.id,
  content: `text ${clientId}`,
  createdAt: at(0),
  clientId,
  status: 'pending',
  ...over,
})
const mine = (seq: number, clientId: string) =>
  message(seq, { senderId: alice.id, clientId, content: `text ${clientId}` })

const thread = (patches: unknown[]): CacheWork['patches'][number] =>
  ({ endpointName: 'getMessages', arg: 'c1', patches }) as never
const convs = (patches: unknown[]): CacheWork['patches'][number] =>
  ({ endpointName: 'getConversations', arg: undefined, patches }) as never
const lessons = (patches: unknown[]): CacheWork['patches'][number] =>
  ({ endpointName: 'getLessons', arg: undefined, patches }) as never
const requests = (patches: unknown[]): CacheWork['patches'][number] =>
  ({ endpointName: 'getContactRequests', arg: undefined, patches }) as never
const work = (patches: CacheWork['patches'] = [], invalidate: CacheWork['invalidate'] = []): CacheWork => ({
  patches,
  invalidate,
})

describe('the table', () => {
  test('has an entry for every server event of the contract', () => {
    expect(Object.keys(cacheWorkTable).sort()).toEqual([...SERVER_EVENTS].sort())
  })
})

describe('message:new', () => {
  const m3 = message(3)
  test.each<[string, CacheView, CacheWork]>([
    [
      'appends to a cached thread',
      view({ thread: ok([message(1), message(2)]) }),
      work([thread([{ op: 'add', path: [2], value: m3 }])]),
    ],
    ['is a no-op when the id is already there', view({ thread: ok([message(1), message(3)]) }), work()],
    [
      'goes by seq when it arrives late',
      view({ thread: ok([message(1), message(4)]) }),
      work([thread([{ op: 'add', path: [1], value: m3 }])]),
    ],
    // m2 was never seen (a seq gap): patched, and the thread refetched.
    [
      'goes before our pending copies',
      view({ thread: ok([message(1), pending('k1')]) }),
      work([thread([{ op: 'add', path: [1], value: m3 }])], [{ type: 'Message', id: 'c1' }]),
    ],
    [
      'the next seq: patched, no refetch',
      view({ thread: ok([message(1), message(2), pending('k1')]) }),
      work([thread([{ op: 'add', path: [2], value: m3 }])]),
    ],
    // Older than the thread's first and not joining it: first, it would sit above a hole "Load earlier" never fills.
    [
      'is left to "Load earlier" when it would sit above a hole',
      view({ thread: ok([message(5), message(6)]) }),
      work(),
    ],
    [
      'goes first when it joins the first',
      view({ thread: ok([message(4), message(5)]) }),
      work([thread([{ op: 'add', path: [0], value: m3 }])]),
    ],
    ['does nothing for a thread nobody cached', view(), work()],
    // A read in flight: applied once it lands (no refetch), and patched meanwhile where there is data.
    ['waits for a thread still loading', view({ thread: { status: 'pending' } }), { ...work(), awaitRead: true }],
    [
      'patches a thread being refetched, and again once the refetch lands',
      view({ thread: { status: 'pending', data: [message(1)] } }),
      { ...work([thread([{ op: 'add', path: [1], value: m3 }])]), awaitRead: true },
    ],
  ])('%s', (_name, v, expected) => {
    expect(cacheWorkFor('message:new', m3, v)).toEqual(expected)
  })

  const c1 = conversation('c1', { lastMessage: message(2), unreadCount: 1, updatedAt: at(2) })
  const c2 = conversation('c2', { updatedAt: at(10) })
  const c3 = conversation('c3', { updatedAt: at(1) })
  const c4 = conversation('c4', { updatedAt: at(2.5) })
  const next = { ...c1, lastMessage: m3, updatedAt: m3.createdAt }
  test.each<[string, CacheView, CacheWork]>([
    [
      'moves the conversation up with its last message and one more unread',
      view({ conversations: ok([c2, c4, c1]) }),
      work([
        convs([
          { op: 'remove', path: [2] },
          { op: 'add', path: [1], value: { ...next, unreadCount: 2 } },
        ]),
      ]),
    ],
    [
      'stays below a conversation updated later',
      view({ conversations: ok([c2, c1, c3]) }),
      work([convs([{ op: 'replace', path: [1], value: { ...next, unreadCount: 2 } }])]),
    ],
    [
      'goes first when it is the most recent',
      view({ conversations: ok([c3, c1]) }),
      work([
        convs([
          { op: 'remove', path: [1] },
          { op: 'add', path: [0], value: { ...next, unreadCount: 2 } },
        ]),
      ]),
    ],
    // GET /api/conversations orders by updated_at desc, then id: on a tie the lower id comes first.
    [
      'stays below a conversation updated at the same millisecond with a lower id',
      view({ conversations: ok([conversation('c0', { updatedAt: m3.createdAt }), c1]) }),
      work([convs([{ op: 'replace', path: [1], value: { ...next, unreadCount: 2 } }])]),
    ],
    [
      'goes above a conversation updated at the same millisecond with a higher id',
      view({ conversations: ok([conversation('c5', { updatedAt: m3.createdAt }), c1]) }),
      work([
        convs([
          { op: 'remove', path: [1] },
          { op: 'add', path: [0], value: { ...next, unreadCount: 2 } },
        ]),
      ]),
    ],
    [
      'replaces in place when it stays first',
      view({ conversations: ok([c1, c3]) }),
      work([convs([{ op: 'replace', path: [0], value: { ...next, unreadCount: 2 } }])]),
    ],
    [
      'does not count unread while the user has it open',
      view({ conversations: ok([c1]) }, { rooms: ['c1'] }),
      work([convs([{ op: 'replace', path: [0], value: next }])]),
    ],
    [
      'invalidates the list when the conversation is new to it',
      view({ conversations: ok([c2]) }),
      work([], [{ type: 'Conversation', id: 'LIST' }]),
    ],
    [
      'is a no-op for a message not newer than lastMessage',
      view({ conversations: ok([{ ...c1, lastMessage: m3 }]) }),
      work(),
    ],
  ])('conversation list: %s', (_name, v, expected) => {
    expect(cacheWorkFor('message:new', m3, v)).toEqual(expected)
  })

  // Replying is reading: the server moves our read position to our message, and over HTTP no conversation:read says so.
  test('one of our own messages (another device) does not count as unread, and leaves nothing unread before it', () => {
    const own = message(3, { senderId: alice.id })
    expect(cacheWorkFor('message:new', own, view({ conversations: ok([c1]) }))).toEqual(
      work([
        convs([
          { op: 'replace', path: [0], value: { ...c1, lastMessage: own, updatedAt: own.createdAt, unreadCount: 0 } },
        ]),
      ]),
    )
  })
})

describe('message:sent (and our ack)', () => {
  test.each<[string, ThreadMessage[], ReturnType<typeof mine>, unknown[]]>([
    [
      'replaces our pending copy in place',
      [message(1), pending('k1')],
      mine(2, 'k1'),
      [{ op: 'replace', path: [1], value: { ...mine(2, 'k1'), status: 'sent' } }],
    ],
    [
      'moves a copy confirmed out of order before the older pending one',
      [message(1), pending('k1'), pending('k2')],
      mine(2, 'k2'),
      [
        { op: 'remove', path: [2] },
        { op: 'add', path: [1], value: { ...mine(2, 'k2'), status: 'sent' } },
      ],
    ],
    [
      'is a no-op when already confirmed (ack, then message:sent)',
      [message(1), { ...mine(2, 'k1'), status: 'sent' }],
      mine(2, 'k1'),
      [],
    ],
    [
      'adds it as sent in another tab with no pending copy',
      [message(1)],
      mine(2, 'k1'),
      [{ op: 'add', path: [1], value: { ...mine(2, 'k1'), status: 'sent' } }],
    ],
    [
      // The thread was read again without it (its answer was lost) after more than a page came: "Load earlier" has it.
      'only takes our copy away when it would sit above a hole',
      [message(5), message(6), pending('k1')],
      mine(3, 'k1'),
      [{ op: 'remove', path: [2] }],
    ],
    [
      'replaces a failed copy too',
      [{ ...pending('k1'), status: 'failed', error: { code: 'INTERNAL', message: 'x' } }],
      mine(1, 'k1'),
      [{ op: 'replace', path: [0], value: { ...mine(1, 'k1'), status: 'sent' } }],
    ],
  ])('%s', (_name, t, m, expected) => {
    const result = cacheWorkFor('message:sent', m, view({ thread: ok(t) }))
    expect(result.patches.find((p) => p.endpointName === 'getMessages')?.patches ?? []).toEqual(expected)
  })

  test('never counts as unread', () => {
    const c1 = conversation('c1', { unreadCount: 0 })
    const m = mine(1, 'k1')
    expect(cacheWorkFor('message:sent', m, view({ conversations: ok([c1]) }))).toEqual(
      work([convs([{ op: 'replace', path: [0], value: { ...c1, lastMessage: m, updatedAt: m.createdAt } }])]),
    )
  })
})

describe('conversation:read', () => {
  const read = { conversationId: 'c1', unreadCount: 0 as const }
  test.each<[string, CacheView, CacheWork]>([
    [
      'zeroes the unread count',
      view({ conversations: ok([conversation('c2'), conversation('c1', { unreadCount: 3 })]) }),
      work([convs([{ op: 'replace', path: [1], value: conversation('c1') }])]),
    ],
    ['is a no-op when already read', view({ conversations: ok([conversation('c1')]) }), work()],
    [
      'invalidates the list when the conversation is not in it',
      view({ conversations: ok([conversation('c2')]) }),
      work([], [{ type: 'Conversation', id: 'LIST' }]),
    ],
    ['does nothing when no list is cached', view(), work()],
  ])('%s', (_name, v, expected) => {
    expect(cacheWorkFor('conversation:read', read, v)).toEqual(expected)
  })
})

describe('conversation:seen (read receipts)', () => {
  const seen = (seq: number) => ({ conversationId: 'c1', userId: bob.id, seq })
  const readBy = (bobSeq: number) => conversation('c1', { readSeq: { [alice.id]: 7, [bob.id]: bobSeq } })
  test.each<[string, CacheView, number, CacheWork]>([
    [
      "raises the reader's read position",
      view({ conversations: ok([conversation('c2'), readBy(3)]) }),
      5,
      work([convs([{ op: 'replace', path: [1], value: readBy(5) }])]),
    ],
    ['never lowers it (a late or replayed receipt)', view({ conversations: ok([readBy(5)]) }), 4, work()],
    ['is idempotent', view({ conversations: ok([readBy(5)]) }), 5, work()],
    [
      'invalidates the list when the conversation is not in it',
      view({ conversations: ok([conversation('c2')]) }),
      5,
      work([], [{ type: 'Conversation', id: 'LIST' }]),
    ],
    ['does nothing when no list is cached', view(), 5, work()],
  ])('%s', (_name, v, seq, expected) => {
    expect(cacheWorkFor('conversation:seen', seen(seq), v)).toEqual(expected)
  })
})

describe.each<
  [
    'lesson' | 'contactRequest',
    typeof lesson | typeof contactRequest,
    'lessons' | 'contactRequests',
    typeof lessons,
    'Lesson' | 'ContactRequest',
  ]
>([
  ['lesson', lesson, 'lessons', lessons, 'Lesson'],
  ['contactRequest', contactRequest, 'contactRequests', requests, 'ContactRequest'],
])('%s events', (prefix, make, key, patch, tag) => {
  const created = `${prefix}:created` as ServerEventName
  const updated = `${prefix}:statusUpdated` as ServerEventName
  const a = make('a')
  const b = make('b')
  const bNewer = make('b', { status: prefix === 'lesson' ? 'confirmed' : 'accepted', updatedAt: at(5) } as never)
  const run = (event: ServerEventName, item: unknown, v: CacheView) => cacheWorkFor(event, item as never, v)

  test.each<[string, ServerEventName, unknown, CacheView, CacheWork]>([
    [
      'created: inserted into the cached list',
      created,
      b,
      view({ [key]: ok([a]) }),
      work([patch([{ op: 'add', path: [1], value: b }])]),
    ],
    ['created: a duplicate is a no-op', created, b, view({ [key]: ok([a, b]) }), work()],
    ['created: no cached list, nothing to do', created, b, view(), work()],
    [
      'created: a list still loading waits for it',
      created,
      b,
      view({ [key]: { status: 'pending' } }),
      { ...work(), awaitRead: true },
    ],
    [
      'statusUpdated: a list being refetched is patched, and again once it lands',
      updated,
      bNewer,
      view({ [key]: { status: 'pending', data: [a, b] } }),
      { ...work([patch([{ op: 'replace', path: [1], value: bNewer }])]), awaitRead: true },
    ],
    [
      'statusUpdated: patched where cached',
      updated,
      bNewer,
      view({ [key]: ok([a, b]) }),
      work([patch([{ op: 'replace', path: [1], value: bNewer }])]),
    ],
    ['statusUpdated: an older version is ignored', updated, b, view({ [key]: ok([a, bNewer]) }), work()],
    [
      'statusUpdated: not in the cached list, the list is invalidated',
      updated,
      bNewer,
      view({ [key]: ok([a]) }),
      work([], [{ type: tag, id: 'LIST' }]),
    ],
    ['statusUpdated: no cached list, nothing to do', updated, bNewer, view(), work()],
  ])('%s', (_name, event, item, v, expected) => {
    expect(run(event, item, v)).toEqual(expected)
  })
})

describe('our own thread work', () => {
  test.each<[string, unknown[], unknown[]]>([
    [
      'addPending appends',
      addPendingPatches([message(1)], pending('k1')),
      [{ op: 'add', path: [1], value: pending('k1') }],
    ],
    ['addPending is idempotent', addPendingPatches([message(1), pending('k1')], pending('k1')), []],
    // A restored send (written before a reload) is older than this page's own pending copy: it goes before it.
    [
      'addPending puts an older copy before newer unconfirmed ones, never before a confirmed message',
      addPendingPatches(
        [message(1), pending('k2', { createdAt: at(5) }), pending('k3', { createdAt: at(7), status: 'failed' })],
        pending('k1', { createdAt: at(3) }),
      ),
      [{ op: 'add', path: [1], value: pending('k1', { createdAt: at(3) }) }],
    ],
    [
      'addPending keeps the order of copies made at the same time',
      addPendingPatches([message(1), pending('k2', { createdAt: at(5) })], pending('k1', { createdAt: at(5) })),
      [{ op: 'add', path: [2], value: pending('k1', { createdAt: at(5) }) }],
    ],
    [
      "addPending shows our copy beside another sender's message with the same clientId (clientIds are per sender)",
      addPendingPatches([message(1, { clientId: 'k1' })], pending('k1')),
      [{ op: 'add', path: [1], value: pending('k1') }],
    ],
    [
      "upsert of another sender's message leaves our pending copy with the same clientId in place",
      upsertMessagePatches([message(1), pending('k1')], message(2, { clientId: 'k1' })),
      [{ op: 'add', path: [1], value: message(2, { clientId: 'k1' }) }],
    ],
    [
      'upsert of our own message:new (a relay that echoes it) takes over our pending copy with its clientId',
      upsertMessagePatches([message(1), pending('k1')], message(2, { clientId: 'k1', senderId: alice.id })),
      [{ op: 'replace', path: [1], value: message(2, { clientId: 'k1', senderId: alice.id }) }],
    ],
    [
      'message:sent is ours by definition: it takes over our copy, also one made without a user id',
      upsertMessagePatches([message(1), pending('k1', { senderId: '' })], message(2, { clientId: 'k1' }), 'sent'),
      [{ op: 'replace', path: [1], value: { ...message(2, { clientId: 'k1' }), status: 'sent' } }],
    ],
    [
      'without a user id (no selectUserId) a stored message with our clientId is taken for ours, as before senders',
      addPendingPatches([message(1, { clientId: 'k1' })], pending('k1', { senderId: '' })),
      [],
    ],
    [
      'setPendingStatus marks failed with the error',
      setPendingStatusPatches([pending('k1')], 'k1', 'failed', { code: 'FORBIDDEN', message: 'no' }),
      [
        {
          op: 'replace',
          path: [0],
          value: { ...pending('k1'), status: 'failed', error: { code: 'FORBIDDEN', message: 'no' } },
        },
      ],
    ],
    [
      'setPendingStatus back to pending drops the error',
      setPendingStatusPatches(
        [{ ...pending('k1'), status: 'failed', error: { code: 'FORBIDDEN', message: 'no' } }],
        'k1',
        'pending',
      ),
      [{ op: 'replace', path: [0], value: pending('k1') }],
    ],
    [
      'removePending removes only an unconfirmed copy',
      removePendingPatches([{ ...mine(1, 'k1'), status: 'sent' }, pending('k2')], 'k1'),
      [],
    ],
    ['removePending', removePendingPatches([message(1), pending('k2')], 'k2'), [{ op: 'remove', path: [1] }]],
    [
      'upsert by id ignores a seq-less duplicate of a stored message',
      upsertMessagePatches([message(1)], message(1)),
      [],
    ],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toEqual(expected)
  })

  test("the thread's copy of a server message: the message's fields (and status), frozen, not the payload itself", () => {
    const payload = message(2)
    const [added] = upsertMessagePatches([message(1)], payload) as unknown as [{ value: ThreadMessage }]
    expect(added.value).toEqual(payload)
    expect(added.value).not.toBe(payload)
    expect(Object.isFrozen(added.value)).toBe(true)
    expect(Object.isFrozen(payload)).toBe(false)
    const [sent] = upsertMessagePatches([message(1)], payload, 'sent') as unknown as [{ value: ThreadMessage }]
    expect(sent.value).toEqual({ ...payload, status: 'sent' })
    expect(Object.isFrozen(sent.value)).toBe(true)
  })

  test('bob is not alice (fixtures sanity)', () => {
    expect(bob.id).not.toBe(alice.id)
  })
})

describe('a burst', () => {
  test('one root replace per cached list with its next list, read as if applied in turn, and each tag once', () => {
    const v = view({ thread: ok([message(1)]), conversations: ok([conversation('c2')]) })
    const result = cacheWorkForBurst(
      [
        { event: 'message:new', payload: message(3) },
        { event: 'message:new', payload: message(2) },
        { event: 'message:new', payload: message(3) },
      ],
      v,
    )
    expect(result).toEqual(
      work(
        [thread([{ op: 'replace', path: [], value: [message(1), message(2), message(3)] }])],
        // message(3) arrived before message(2): a gap at that moment, so the thread is refetched once.
        [
          { type: 'Message', id: 'c1' },
          { type: 'Conversation', id: 'LIST' },
        ],
      ),
    )
    // The view it was given is left as it was.
    expect(v.queries[queryKey({ endpointName: 'getMessages', arg: 'c1' })]?.data).toHaveLength(1)
  })
})

describe("our message confirmed before an earlier one of someone else's", () => {
  // Bob's m5 was stored before our m6, but our confirmation came first (an HTTP send while the socket was down, the
  // replay bringing m5 after): the list's last message is then newer than m5, which the list has never counted.
  test.each([
    ['in one burst', true],
    ['in bursts of their own', false],
  ])('%s: m5 counts unread once, m6 stays the last message', (_name, oneBurst) => {
    const list = [conversation('c1', { lastMessage: message(4), unreadCount: 0, updatedAt: message(4).createdAt })]
    const covered = new Map<string, number>()
    const events: QueuedEvent[] = [
      { event: 'message:sent', payload: mine(6, 'k1') },
      { event: 'message:new', payload: message(5), offset: 11 },
      { event: 'message:sent', payload: mine(6, 'k1'), offset: 12 },
      // Again (a parked event run again): counted once.
      { event: 'message:new', payload: message(5), offset: 11 },
    ]
    let data: unknown = list
    for (const burst of oneBurst ? [events] : events.map((e) => [e])) {
      const result = cacheWorkForBurst(burst, view({ conversations: ok(data) }, { covered }))
      const replaced = result.patches.find((p) => p.endpointName === 'getConversations')
      if (replaced) data = replaced.patches[0]!.value
    }
    const [c1] = data as ReturnType<typeof conversation>[]
    expect({ unread: c1!.unreadCount, last: c1!.lastMessage?.seq }).toEqual({ unread: 1, last: 6 })
  })
})

describe('a burst appended in place gives what the table gives', () => {
  const frozen = <T>(list: T[]) => Object.freeze(list.map((x) => Object.freeze(x)))
  const news = (...seqs: number[]) => seqs.map((seq) => ({ event: 'message:new' as const, payload: message(seq) }))
  const fresh = () => frozen([message(1), message(2)])
  test.each<[string, QueuedEvent[], CacheView]>([
    ['a run of appends', news(3, 4, 5, 6), view({ thread: ok(fresh()) })],
    ['into an empty thread from seq 1', news(1, 2, 3), view({ thread: ok(frozen([])) })],
    ['into an empty thread past seq 1 (a gap)', news(3, 4), view({ thread: ok(frozen([])) })],
    ['a gap in the middle of a run', news(3, 5, 6, 4), view({ thread: ok(fresh()) })],
    ['a duplicate', news(3, 3, 2, 4), view({ thread: ok(fresh()) })],
    ['after our pending copy', news(3, 4), view({ thread: ok(frozen([message(1), message(2), pending('k1')])) })],
    [
      'after our pending copy that carries a seq',
      news(3, 4),
      view({ thread: ok(frozen([message(1), message(2), pending('k1', { seq: 2 })])) }),
    ],
    [
      'with our confirmation in between',
      [...news(3), { event: 'message:sent', payload: mine(4, 'k1') }, ...news(5, 6)],
      view({ thread: ok(frozen([message(1), message(2), pending('k1')])) }),
    ],
    [
      'with the conversation list cached',
      news(3, 4),
      view({ thread: ok(fresh()), conversations: ok(frozen([conversation('c1', { lastMessage: message(2) })])) }),
    ],
    ['into a thread being read again', news(3, 4), view({ thread: { status: 'pending', data: fresh() } })],
    [
      'into a thread whose read failed (stale data)',
      news(3, 4),
      view({ thread: { status: 'rejected', data: fresh() } }),
    ],
    ['into a thread being read for the first time', news(1, 2), view({ thread: { status: 'pending' } })],
    ['into no cached thread', news(3, 4), view()],
    [
      'into another conversation',
      [...news(3), { event: 'message:new', payload: message(1, { id: 'x1', conversationId: 'c2' }) }, ...news(4)],
      view({ thread: ok(fresh()) }),
    ],
    ['while the user is in the room', news(3, 4), view({ thread: ok(fresh()) }, { rooms: ['c1'] })],
    [
      'into two cached threads, in turn',
      // c2's next seq is c1's too: each message must go to its own thread's list.
      [
        ...news(3),
        { event: 'message:new', payload: message(4, { id: 'x4', conversationId: 'c2' }) },
        ...news(4),
        { event: 'message:new', payload: message(6, { id: 'x6', conversationId: 'c2' }) },
        { event: 'message:new', payload: message(5, { id: 'x5', conversationId: 'c2' }) },
        ...news(5),
      ],
      (() => {
        const v = view({ thread: ok(fresh()) })
        const c2 = frozen([1, 2, 3].map((seq) => message(seq, { id: `x${seq}`, conversationId: 'c2' })))
        return { ...v, queries: { ...v.queries, [queryKey({ endpointName: 'getMessages', arg: 'c2' })]: ok(c2) } }
      })(),
    ],
  ])('%s', (_name, events, v) => {
    const inPlace = cacheWorkForBurst(events, v)
    expect(inPlace).toEqual(cacheWorkForBurst(events, v, { appendInPlace: false }))
    for (const p of inPlace.patches)
      for (const m of p.patches[0]!.value as object[]) expect(Object.isFrozen(m)).toBe(true)
  })
})

describe('folding into root replaces', () => {
  const c1 = conversation('c1', { lastMessage: message(2), unreadCount: 1, updatedAt: at(2) })
  const frozen = <T>(list: T[]) => Object.freeze(list.map((x) => Object.freeze(x)))
  // The table's own patches applied by immer, against the fold's next list: the same outcome, whatever the case.
  test.each<[string, ServerEventName, unknown, CacheView]>([
    ['an append', 'message:new', message(3), view({ thread: ok(frozen([message(1), message(2)])) })],
    [
      'a late message by seq',
      'message:new',
      message(3),
      view({ thread: ok(frozen([message(1), message(2), message(4)])) }),
    ],
    [
      'our pending copy confirmed in place',
      'message:sent',
      mine(2, 'k1'),
      view({ thread: ok(frozen([message(1), pending('k1')])) }),
    ],
    [
      'a copy confirmed out of order',
      'message:sent',
      mine(2, 'k2'),
      view({ thread: ok(frozen([message(1), pending('k1'), pending('k2')])) }),
    ],
    [
      'a conversation moved up',
      'message:new',
      message(3),
      view({
        conversations: ok(
          frozen([conversation('c2', { updatedAt: at(10) }), conversation('c4', { updatedAt: at(2.5) }), c1]),
        ),
      }),
    ],
    [
      'a lesson updated',
      'lesson:statusUpdated',
      lesson('b', { status: 'confirmed', updatedAt: at(5) }),
      view({ lessons: ok(frozen([lesson('a'), lesson('b')])) }),
    ],
  ])('%s: the same list as the table’s patches', (_name, event, payload, v) => {
    const fine = cacheWorkFor(event, payload as never, v)
    const folded = cacheWorkForBurst([{ event, payload }], v)
    expect(folded.invalidate).toEqual(fine.invalidate)
    expect(folded.patches.map(({ patches, ...query }) => query)).toEqual(
      fine.patches.map(({ patches, ...query }) => query),
    )
    for (const [i, { patches, ...query }] of fine.patches.entries()) {
      const before = v.queries[queryKey(query)]!.data
      const [root] = folded.patches[i]!.patches
      expect(root).toMatchObject({ op: 'replace', path: [] })
      expect(root!.value).toEqual(applyPatches(before as object, patches))
    }
  })

  test('the next list and what it gained are frozen; what it kept is shared, the cached list untouched', () => {
    const cached = frozen([message(1), message(2)])
    const v = view({ thread: ok(cached) })
    const [patch] = cacheWorkForBurst([{ event: 'message:new', payload: message(3) }], v).patches
    const next = patch!.patches[0]!.value as ThreadMessage[]
    expect(Object.isFrozen(next)).toBe(true)
    expect(Object.isFrozen(next[2])).toBe(true)
    expect(next[0]).toBe(cached[0])
    expect(cached).toHaveLength(2)
  })

  test('our own thread work folds the same way (foldCacheWork)', () => {
    const v = view({ thread: ok(frozen([message(1)])) })
    const folded = foldCacheWork(
      threadWork(v, 'c1', (t) => addPendingPatches(t, pending('k1'))),
      v,
    )
    expect(folded).toEqual(work([thread([{ op: 'replace', path: [], value: [message(1), pending('k1')] }])]))
    expect(
      foldCacheWork(
        threadWork(v, 'c1', (t) => removePendingPatches(t, 'k9')),
        v,
      ),
    ).toEqual(work())
  })
})
