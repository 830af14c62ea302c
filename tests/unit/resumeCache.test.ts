import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { afterEach, describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { loggedIn } from '../../src/app/authSlice'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { Message } from '../../src/contract'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob, conversation, lesson, message } from './support/fixtures'
import { settle } from './support/mockStore'
import { sendMessage } from '../../src/realtime'
import { startHttpStub, type StubReply } from './support/httpStub'

// An event for a cache entry whose read is still in flight is applied after that read lands, whether or not the read
// included it; and a resume (or a read's answer) costs no refetch. A real store, a fake socket, a real HTTP server.

let close: (() => Promise<void>) | null = null
afterEach(async () => {
  await close?.()
  close = null
})

/** An HTTP server that holds each answer until the test releases it. */
async function heldHttp() {
  const waiting: Array<{ url: string; answer: (reply: StubReply) => void }> = []
  const stub = await startHttpStub(
    (req) =>
      new Promise<StubReply>((resolve) => {
        waiting.push({ url: req.url, answer: resolve })
      }),
  )
  close = stub.close
  return { stub, waiting }
}

function setup(apiUrl: string) {
  const sockets = fakeSockets()
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    actions.push(action as UnknownAction)
    return next(action)
  }
  const store = trackedStore({
    apiUrl,
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
    extraMiddleware: [record],
    // Invalidations go out at once (no window): a refetch asked for would be in `actions` as soon as it is asked.
    realtime: { invalidationWindowMs: 0 },
  })
  const thread = () =>
    api.endpoints.getMessages
      .select('c1')(store.getState())
      .data?.map((m) => m.id)
  const invalidations = () => actions.filter((a) => a.type === api.util.invalidateTags([]).type)
  return { store, sockets, thread, invalidations }
}

const fromBob = (seq: number): Message => message(seq, { senderId: bob.id })

/** c1's unread count in the cached conversation list. */
const unread = (state: unknown) =>
  api.endpoints.getConversations
    .select()(state as never)
    .data?.find((c) => c.id === 'c1')?.unreadCount

/** A connected store at offset 10 whose list landed (c1's last message m5) and is read again: that read waits. */
async function listReadAgain() {
  const { stub, waiting } = await heldHttp()
  const { store, sockets } = setup(stub.url)
  sockets.last.serverConnect()
  sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
  const list = store.dispatch(api.endpoints.getConversations.initiate())
  await eventually(() => expect(waiting).toHaveLength(1))
  const m5 = fromBob(5)
  waiting[0]!.answer({ status: 200, body: [conversation('c1', { lastMessage: m5, updatedAt: m5.createdAt })] })
  await list
  const again = list.refetch()
  await eventually(() => expect(waiting).toHaveLength(2))
  return { store, sockets, waiting, list, again, m5 }
}

/** c1 read (offset 11), then Bob's m6 (offset 12), each in a burst of its own: m6 counted unread over the list. */
async function readThenM6({ store, sockets }: Pick<Awaited<ReturnType<typeof listReadAgain>>, 'store' | 'sockets'>) {
  sockets.last.serverEmit('conversation:read', { conversationId: 'c1', unreadCount: 0 }, { offset: 11 })
  await eventually(() => expect(store.getState().socket.connection.offset).toBe(11))
  await settle()
  sockets.last.serverEmit('message:new', fromBob(6), { offset: 12 })
  await eventually(() => expect(unread(store.getState())).toBe(1))
}

describe('an event during a read in flight', () => {
  test.each([
    {
      name: 'the read does not include it: it is added once the read lands',
      readHas: [1, 2],
      expected: ['m1', 'm2', 'm3'],
    },
    { name: 'the read includes it already: once, not twice', readHas: [1, 2, 3], expected: ['m1', 'm2', 'm3'] },
  ])('$name', async ({ readHas, expected }) => {
    const { stub, waiting } = await heldHttp()
    const { store, sockets, thread, invalidations } = setup(stub.url)
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const read = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await eventually(() => expect(waiting).toHaveLength(1))
    sockets.last.serverEmit('message:new', fromBob(3), { offset: 11 })
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(11))
    expect(thread()).toBeUndefined()
    waiting[0]!.answer({ status: 200, body: readHas.map(fromBob) })
    await read
    await eventually(() => expect(thread()).toEqual(expected))
    // Nothing refetched: no invalidation was asked for, the one read only.
    expect(invalidations()).toEqual([])
    expect(stub.requests).toHaveLength(1)
    read.unsubscribe()
    store.dispose()
  })

  test('a list being refetched is patched at once and again when the refetch lands without it', async () => {
    const { stub, waiting } = await heldHttp()
    const { store, sockets, invalidations } = setup(stub.url)
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' })
    const first = store.dispatch(api.endpoints.getLessons.initiate())
    await eventually(() => expect(waiting).toHaveLength(1))
    waiting[0]!.answer({ status: 200, body: [lesson('l1')] })
    await first
    const status = () =>
      api.endpoints.getLessons
        .select()(store.getState())
        .data?.map((l) => l.status)
    const refetch = first.refetch()
    await eventually(() => expect(waiting).toHaveLength(2))
    const confirmed = lesson('l1', { status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })
    sockets.last.serverEmit('lesson:statusUpdated', confirmed, { offset: 2 })
    await eventually(() => expect(status()).toEqual(['confirmed']))
    // The refetch was read before the change: its stale answer is patched again.
    waiting[1]!.answer({ status: 200, body: [lesson('l1')] })
    await refetch
    await eventually(() => expect(status()).toEqual(['confirmed']))
    expect(invalidations()).toEqual([])
    expect(stub.requests).toHaveLength(2)
    first.unsubscribe()
    store.dispose()
  })
})

describe('our send confirmed while its thread is read again, then the same user logs in again', () => {
  // A session of the same user begun again (a login in another tab after this one's session expired, or "Log in again"
  // there) leaves the cache as it is: the confirmation waiting for the read lands over it all the same.
  test('the read lands without it (read before it was stored): the thread still shows it, once, as sent', async () => {
    const { stub, waiting } = await heldHttp()
    const { store, sockets } = setup(stub.url)
    const thread = () =>
      api.endpoints.getMessages
        .select('c1')(store.getState())
        .data?.map((m) => `${m.clientId}:${m.status ?? 'stored'}`)
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const m1 = message(1, { senderId: bob.id, clientId: 'b1' })
    const read = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await eventually(() => expect(waiting).toHaveLength(1))
    waiting.shift()!.answer({ status: 200, body: [m1] })
    await read
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'Hi', clientId: 'k1' }))
    await eventually(() => expect(thread()).toEqual(['b1:stored', 'k1:pending']))
    const again = read.refetch()
    await eventually(() => expect(waiting).toHaveLength(1))
    const k1 = message(2, { senderId: alice.id, clientId: 'k1', content: 'Hi' })
    sockets.last.sent('message:send')[0]!.ack({ ok: true, data: k1 })
    await eventually(() => expect(thread()).toEqual(['b1:stored', 'k1:sent']))
    store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    waiting.shift()!.answer({ status: 200, body: [m1] })
    await again
    await settle()
    expect(thread()).toEqual(['b1:stored', 'k1:sent'])
    read.unsubscribe()
    store.dispose()
  })
})

describe('a read of a conversation during a read of the list', () => {
  test.each([
    // The list was read after both: it has m6, unread. Applied again over it, the read must not take m6 back.
    ['the read, then m6', ['read', 'm6'], 1],
    // m6 came before the read: the read covers it.
    ['m6, then the read', ['m6', 'read'], 0],
  ] as const)('%s, both while the list is read (answered after both)', async (_name, order, expected) => {
    const { stub, waiting } = await heldHttp()
    const { store, sockets } = setup(stub.url)
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const read = store.dispatch(api.endpoints.getConversations.initiate())
    await eventually(() => expect(waiting).toHaveLength(1))
    const m6 = fromBob(6)
    let offset = 10
    for (const what of order) {
      if (what === 'read')
        sockets.last.serverEmit('conversation:read', { conversationId: 'c1', unreadCount: 0 }, { offset: ++offset })
      else sockets.last.serverEmit('message:new', m6, { offset: ++offset })
    }
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(12))
    waiting[0]!.answer({
      status: 200,
      body: [conversation('c1', { lastMessage: m6, unreadCount: expected, updatedAt: m6.createdAt })],
    })
    await read
    await settle()
    expect(unread(store.getState())).toBe(expected)
    read.unsubscribe()
    store.dispose()
  })
})

describe('a subscription to the list while it is read (nothing read for it)', () => {
  // The read, then m6, both over a list read again, waiting for its answer; a page showing the list opens meanwhile:
  // RTK Query's `rejected` (marked `condition`) for it is no answer, and m6, unread over the list, stays unread.
  test('the read, then m6, while the list is read again: m6 stays unread when a page subscribes', async () => {
    const { store, sockets, waiting, list, again, m5 } = await listReadAgain()
    await readThenM6({ store, sockets })
    const page = store.dispatch(api.endpoints.getConversations.initiate())
    await settle()
    expect(waiting).toHaveLength(2)
    expect(unread(store.getState())).toBe(1)
    waiting[1]!.answer({ status: 200, body: [conversation('c1', { lastMessage: m5, updatedAt: m5.createdAt })] })
    await again
    await page
    await settle()
    expect(unread(store.getState())).toBe(1)
    page.unsubscribe()
    list.unsubscribe()
    store.dispose()
  })
})

describe('a read run again over the list it was applied over', () => {
  // The read, then m6, while the list is read again and c1's thread read: both wait, and run again when the thread
  // lands, the list still being read. The read, applied again over the list that counts m6 after it, took m6 back.
  test('the read, then m6, waiting for the list and the thread: m6 stays unread when the thread lands', async () => {
    const { store, sockets, waiting, list, again, m5 } = await listReadAgain()
    const thread = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await eventually(() => expect(waiting).toHaveLength(3))
    const listAnswer = waiting[1]!
    const threadAnswer = waiting[2]!
    await readThenM6({ store, sockets })
    threadAnswer.answer({ status: 200, body: [m5] })
    await thread
    await settle()
    expect(unread(store.getState())).toBe(1)
    listAnswer.answer({ status: 200, body: [conversation('c1', { lastMessage: m5, updatedAt: m5.createdAt })] })
    await again
    await settle()
    expect(unread(store.getState())).toBe(1)
    list.unsubscribe()
    thread.unsubscribe()
    store.dispose()
  })
})

describe('a read of the conversation the list already reflects, delivered after the list landed', () => {
  /** A connected store at offset 10 whose conversation list was read: the list's answer waits in `waiting[0]`. */
  async function listAsked() {
    const { stub, waiting } = await heldHttp()
    const { store, sockets } = setup(stub.url)
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const list = store.dispatch(api.endpoints.getConversations.initiate())
    await eventually(() => expect(waiting).toHaveLength(1))
    return { waiting, store, sockets, list }
  }

  type Between = Pick<Awaited<ReturnType<typeof listAsked>>, 'waiting' | 'store'> & {
    read: Awaited<ReturnType<typeof listAsked>>['list']
  }

  // The list was read after the read and after m6 were committed, but their events come later (a replay after a
  // reconnect, a live event that crossed Redis): in a browser each arrives in its own WebSocket frame, so each is a
  // burst of its own. Applied over that list, the (older) read must not take m6 back, nor m6 count twice; whatever
  // comes between the two without landing a new list leaves the read applied over it (and m6 after it unread):
  // - a page that shows the list mounts (the Messages page opened): its subscription finds the list cached and reads
  //   nothing, which RTK Query says with a `rejected` action marked `condition`;
  // - the list read again, and failing: it leaves the list as it was.
  test.each([
    ['nothing', async () => () => {}],
    [
      'the list subscribed again (nothing read)',
      async ({ store, waiting }: Between) => {
        const page = store.dispatch(api.endpoints.getConversations.initiate())
        await page
        expect(waiting).toHaveLength(1)
        return () => page.unsubscribe()
      },
    ],
    [
      'the list read again and refused',
      async ({ waiting, read }: Between) => {
        const again = read.refetch()
        await eventually(() => expect(waiting).toHaveLength(2))
        waiting[1]!.answer({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'x' } } })
        await again
        return () => {}
      },
    ],
  ])('the read, then %s, then m6, in bursts of their own: m6 stays unread', async (_name, between) => {
    const { waiting, store, sockets, list: read } = await listAsked()
    const m6 = fromBob(6)
    waiting[0]!.answer({
      status: 200,
      body: [
        conversation('c1', { lastMessage: m6, unreadCount: 1, updatedAt: m6.createdAt, readSeq: { [alice.id]: 5 } }),
      ],
    })
    await read
    expect(unread(store.getState())).toBe(1)
    sockets.last.serverEmit('conversation:read', { conversationId: 'c1', unreadCount: 0 }, { offset: 11 })
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(11))
    await settle()
    const done = await between({ store, waiting, read })
    sockets.last.serverEmit('message:new', m6, { offset: 12 })
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(12))
    await settle()
    expect(unread(store.getState())).toBe(1)
    done()
    read.unsubscribe()
    store.dispose()
  })

  // Events that waited for a thread run again after later ones: m6, counted over the list and waiting for its
  // thread, the list read again (with m6), then the read that covers m6, then the thread lands: m6 is read.
  test('m6 waiting for its thread, the list read again, then the read: m6 stays read when the thread lands', async () => {
    const { waiting, store, sockets, list } = await listAsked()
    const m5 = fromBob(5)
    const m6 = fromBob(6)
    waiting[0]!.answer({ status: 200, body: [conversation('c1', { lastMessage: m5, updatedAt: m5.createdAt })] })
    await list
    const thread = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await eventually(() => expect(waiting).toHaveLength(2))
    sockets.last.serverEmit('message:new', m6, { offset: 11 })
    await eventually(() => expect(unread(store.getState())).toBe(1))
    const again = list.refetch()
    await eventually(() => expect(waiting).toHaveLength(3))
    waiting[2]!.answer({
      status: 200,
      body: [conversation('c1', { lastMessage: m6, unreadCount: 1, updatedAt: m6.createdAt })],
    })
    await again
    sockets.last.serverEmit('conversation:read', { conversationId: 'c1', unreadCount: 0 }, { offset: 12 })
    await eventually(() => expect(unread(store.getState())).toBe(0))
    waiting[1]!.answer({ status: 200, body: [m5, m6] })
    await thread
    await settle()
    expect(unread(store.getState())).toBe(0)
    list.unsubscribe()
    thread.unsubscribe()
    store.dispose()
  })

  // The other side of counting again: m6 counted once over a list read before it, then run again when the thread
  // it waited for lands, is not counted a second time because a read came before it.
  test('the read, then m6 while its thread is read: m6 counts once, not again when the thread lands', async () => {
    const { waiting, store, sockets, list } = await listAsked()
    const m5 = fromBob(5)
    waiting[0]!.answer({
      status: 200,
      body: [
        conversation('c1', { lastMessage: m5, unreadCount: 1, updatedAt: m5.createdAt, readSeq: { [alice.id]: 4 } }),
      ],
    })
    await list
    sockets.last.serverEmit('conversation:read', { conversationId: 'c1', unreadCount: 0 }, { offset: 11 })
    await eventually(() => expect(unread(store.getState())).toBe(0))
    const thread = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await eventually(() => expect(waiting).toHaveLength(2))
    sockets.last.serverEmit('message:new', fromBob(6), { offset: 12 })
    await eventually(() => expect(unread(store.getState())).toBe(1))
    waiting[1]!.answer({ status: 200, body: [m5, fromBob(6)] })
    await thread
    await settle()
    expect(unread(store.getState())).toBe(1)
    list.unsubscribe()
    thread.unsubscribe()
    store.dispose()
  })
})

describe('events that wait for reads run again in the order they came', () => {
  // A send whose answer was lost is confirmed by the thread's read (the read holds it): that confirmation comes while
  // the read lands, before the events that waited for that read run again. Bob's m5 came before Alice's m6, and both
  // wait for the list: run again after m6, m5 would find the list's last message newer than itself and not count.
  // Replying is reading, though (the server moves Alice's read position to m6, and says so with a conversation:read):
  // once both have run, whatever their order, nothing is unread, as the server has it.
  test("Bob's m5, then our m6 confirmed by the thread's read: the list lands with m6 last and nothing unread", async () => {
    const { stub, waiting } = await heldHttp()
    const { store, sockets } = setup(stub.url)
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const list = store.dispatch(api.endpoints.getConversations.initiate())
    const thread = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await eventually(() => expect(waiting).toHaveLength(2))
    const listRead = waiting.find((w) => w.url.endsWith('/conversations'))!
    const threadRead = waiting.find((w) => w.url.includes('/messages'))!
    // Alice sends; the server stores it (m6) but its answer never comes.
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }))
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    const m4 = fromBob(4)
    const m5 = fromBob(5)
    const m6 = message(6, { senderId: alice.id, clientId: 'k1', content: 'hi' })
    sockets.last.serverEmit('message:new', m5, { offset: 11 })
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(11))
    // The thread was read after both; the list before m5.
    threadRead.answer({ status: 200, body: [m4, m5, m6] })
    await thread
    await eventually(() => expect(store.getState().socket.outbox).toHaveLength(0))
    listRead.answer({
      status: 200,
      body: [conversation('c1', { lastMessage: m4, unreadCount: 0, updatedAt: m4.createdAt })],
    })
    await list
    await settle()
    const c1 = api.endpoints.getConversations.select()(store.getState()).data?.[0]
    expect({ unread: c1?.unreadCount, last: c1?.lastMessage?.seq }).toEqual({ unread: 0, last: 6 })
    list.unsubscribe()
    thread.unsubscribe()
    store.dispose()
  })
})

describe('our send confirmed before an earlier message from someone else arrives', () => {
  // Offline, the send goes over HTTP and is confirmed at once; Bob's message, stored before it, comes with the replay
  // once the socket is back. It is older than the list's last message (ours), yet the list never counted it.
  test("sent over HTTP while the socket is down; the replay brings Bob's m5 before our m6: m5 counts unread", async () => {
    const { stub, waiting } = await heldHttp()
    const { store, sockets } = setup(stub.url)
    sockets.last.serverConnect()
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    const m4 = fromBob(4)
    const m5 = fromBob(5)
    const m6 = message(6, { senderId: alice.id, clientId: 'k1', content: 'hi' })
    const list = store.dispatch(api.endpoints.getConversations.initiate())
    await eventually(() => expect(waiting).toHaveLength(1))
    waiting[0]!.answer({
      status: 200,
      body: [conversation('c1', { lastMessage: m4, unreadCount: 0, updatedAt: m4.createdAt })],
    })
    await list
    sockets.last.serverDrop()
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }))
    await eventually(() => expect(waiting).toHaveLength(2))
    waiting[1]!.answer({ status: 201, body: m6 })
    await eventually(() => expect(store.getState().socket.outbox).toHaveLength(0))
    await settle()
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('message:new', m5, { offset: 11 })
    sockets.last.serverEmit('message:sent', m6, { offset: 12 })
    sockets.last.serverEmit('sync:caughtUp', { offset: 12, epoch: 'e1' })
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(12))
    await settle()
    const c1 = api.endpoints.getConversations.select()(store.getState()).data?.[0]
    expect({ unread: c1?.unreadCount, last: c1?.lastMessage?.seq }).toEqual({ unread: 1, last: 6 })
    list.unsubscribe()
    store.dispose()
  })
})

describe('a read of the conversation that waited for one read of the list, the list read again after it', () => {
  // The read (offset 11) comes while the list is read again: it waits for that read. The connection drops, Bob writes
  // m6 (offset 12), and the server cannot replay it (`sync:gap`): the catch-up reads the list once more, right after
  // the first read lands. That second read was asked after the read was applied and counts m6 after it: applied over
  // it again, the read took m6 back, and no event of m6 was coming to count it again.
  test('the read, then a gap: m6 from the catch-up read stays unread', async () => {
    const { store, sockets, waiting, list, again, m5 } = await listReadAgain()
    sockets.last.serverEmit('conversation:read', { conversationId: 'c1', unreadCount: 0 }, { offset: 11 })
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(11))
    await settle()
    sockets.last.serverDrop()
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:gap', { offset: 12, epoch: 'e1' })
    await eventually(() => expect(store.getState().socket.connection.offset).toBe(12))
    // The list read again before the read: m5 still unread.
    waiting[1]!.answer({
      status: 200,
      body: [conversation('c1', { lastMessage: m5, unreadCount: 1, updatedAt: m5.createdAt })],
    })
    await again
    await eventually(() => expect(waiting).toHaveLength(3))
    const m6 = fromBob(6)
    waiting[2]!.answer({
      status: 200,
      body: [
        conversation('c1', { lastMessage: m6, unreadCount: 1, updatedAt: m6.createdAt, readSeq: { [alice.id]: 5 } }),
      ],
    })
    await eventually(() =>
      expect(store.getState().api.queries['getConversations(undefined)']?.status).toBe('fulfilled'),
    )
    await settle()
    expect(unread(store.getState())).toBe(1)
    list.unsubscribe()
    store.dispose()
  })
})
