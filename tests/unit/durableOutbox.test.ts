import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import {
  api,
  AUTH_STORAGE_KEY,
  loggedIn,
  loggedOut,
  saveAuth,
  saveRefreshToken,
  type ThreadMessage,
} from '../../src/api'
import { syncSession } from '../../src/app/sessionSync'
import { createMemoryStorage, type StorageLike } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { Message } from '../../src/contract'
import {
  createLeaseLock,
  createMemoryLock,
  discardMessage,
  drainStarted,
  drainStopped,
  outboxStorageKey,
  selectConnection,
  selectKeptUnsent,
  selectPendingMessages,
  selectSendRejection,
  sendMessage,
  sendFailed,
  sendRejected,
  sendRetryScheduled,
  shutdown,
  type BackoffOptions,
  type DrainLock,
} from '../../src/realtime'
import { followerGone, retryMessage, retryNow } from '../../src/realtime/actions'
import { eventually } from './support/eventually'
import { fakeSockets, type FakeSocket } from './support/fakeSocket'
import { alice, bob, message, pendingMessage } from './support/fixtures'
import { refusingStorage } from './support/refusingStorage'
import { deadUrl, startHttpStub } from './support/httpStub'

// The durable outbox with a real store (RTK's checks on), a fake socket, and storage shared between "reloads".

let consoleError: ReturnType<typeof vi.spyOn>
beforeEach(() => {
  consoleError = vi.spyOn(console, 'error')
})
afterEach(() => {
  // Restored even when the check fails: a spy left on console.error (spying again returns it, its calls kept) would
  // fail this same check in the next files of the shared thread.
  try {
    expect(consoleError).not.toHaveBeenCalled()
  } finally {
    consoleError.mockRestore()
  }
})

const stored = (seq: number, clientId: string, content = `text ${clientId}`): Message =>
  message(seq, { senderId: alice.id, clientId, content })

function tab(
  apiUrl: string,
  storage: StorageLike,
  over: {
    drainLock?: DrainLock
    outboxLimit?: number
    ackTimeoutMs?: number
    backoff?: BackoffOptions
    user?: typeof alice
    /** The session the page starts with; `null`: nobody logged in yet. */
    token?: string | null
  } = {},
) {
  const sockets = fakeSockets()
  const actions: { type: string; payload?: unknown }[] = []
  const store = trackedStore({
    apiUrl,
    createSocket: sockets.createSocket,
    storage,
    preloadedState: {
      auth:
        over.token === null
          ? { token: null, user: null }
          : { token: over.token ?? 'token-1', user: over.user ?? alice },
    },
    extraMiddleware: [
      () => (next) => (action) => (
        typeof action === 'object' && actions.push(action as { type: string }), next(action)
      ),
    ],
    realtime: {
      ...(over.drainLock ? { drainLock: over.drainLock } : {}),
      ...(over.outboxLimit ? { outboxLimit: over.outboxLimit } : {}),
      ...(over.ackTimeoutMs ? { ackTimeoutMs: over.ackTimeoutMs } : {}),
      ...(over.backoff ? { backoff: over.backoff } : {}),
    },
  })
  const thread = (id = 'c1'): ThreadMessage[] => api.endpoints.getMessages.select(id)(store.getState()).data ?? []
  return { store, sockets, actions, thread, socket: (): FakeSocket => sockets.last }
}

const savedIds = (storage: StorageLike, userId = alice.id) =>
  (JSON.parse(storage.getItem(outboxStorageKey(userId)) ?? '[]') as { clientId: string }[]).map((m) => m.clientId)
const send = (clientId: string, conversationId = 'c1') =>
  sendMessage({ conversationId, content: `text ${clientId}`, clientId })

describe('durable outbox', () => {
  test('every unconfirmed send is in storage at once, under the user; a confirmed one leaves it', async () => {
    const storage = createMemoryStorage()
    const { store, socket } = tab('http://unused.test', storage)
    socket().serverConnect()
    store.dispatch(send('k1'))
    store.dispatch(send('k2'))
    expect(savedIds(storage)).toEqual(['k1', 'k2'])
    socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(1, 'k1') })
    await eventually(() => expect(savedIds(storage)).toEqual(['k2']))
    expect(JSON.parse(storage.getItem(outboxStorageKey(alice.id))!)[0]).toMatchObject({
      clientId: 'k2',
      conversationId: 'c1',
      content: 'text k2',
      status: 'pending',
      attempts: 0,
    })
  })

  test('a reload restores the outbox, shows it in its thread again and drains it in order', async () => {
    const storage = createMemoryStorage()
    const first = tab(await deadUrl(), storage)
    for (const id of ['k1', 'k2', 'k3']) first.store.dispatch(send(id))
    first.store.dispatch(send('x1', 'c2'))
    first.store.dispatch(shutdown())

    const second = tab('http://unused.test', storage)
    expect(selectPendingMessages(second.store.getState()).map((m) => m.clientId)).toEqual(['k1', 'k2', 'k3', 'x1'])
    await second.store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    // A thread arriving in the cache gets the pending copies back (the thread page's fetch after a reload).
    await eventually(() =>
      expect(second.thread().map((m) => `${m.id}:${m.status ?? '-'}`)).toEqual([
        'm1:-',
        'k1:pending',
        'k2:pending',
        'k3:pending',
      ]),
    )
    second.socket().serverConnect()
    const sent = () =>
      second
        .socket()
        .sent('message:send')
        .map((p) => (p.args[0] as { clientId: string }).clientId)
    // One at a time per conversation: k1 and x1 first.
    await eventually(() => expect(sent().sort()).toEqual(['k1', 'x1']))
    for (const [i, id] of ['k1', 'k2', 'k3'].entries()) {
      await eventually(() => expect(sent()).toContain(id))
      second
        .socket()
        .sent('message:send')
        .find((p) => (p.args[0] as { clientId: string }).clientId === id)!
        .ack({ ok: true, data: stored(i + 2, id) })
    }
    await eventually(() =>
      expect(second.thread().map((m) => `${m.id}:${m.status ?? '-'}`)).toEqual([
        'm1:-',
        'm2:sent',
        'm3:sent',
        'm4:sent',
      ]),
    )
    expect(savedIds(storage)).toEqual(['x1'])
  })

  test('bounded: beyond the limit a send is refused with socket/sendRejected, and nothing queued is dropped', async () => {
    const storage = createMemoryStorage()
    const { store, actions, thread } = tab(await deadUrl(), storage, { outboxLimit: 3 })
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', []))
    for (const id of ['k1', 'k2', 'k3', 'k4']) store.dispatch(send(id))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k1', 'k2', 'k3'])
    expect(savedIds(storage)).toEqual(['k1', 'k2', 'k3'])
    expect(thread().map((m) => m.id)).toEqual(['k1', 'k2', 'k3'])
    const rejected = actions.filter((a) => sendRejected.match(a))
    expect(rejected).toEqual([
      sendRejected({
        clientId: 'k4',
        conversationId: 'c1',
        code: 'OUTBOX_FULL',
        message: expect.stringContaining('3 messages') as unknown as string,
      }),
    ])
    expect(selectSendRejection(store.getState())).toMatchObject({ clientId: 'k4', code: 'OUTBOX_FULL' })
    // A queued send gone makes room: the refusal ("send it once they have gone") no longer holds, and is not shown.
    store.dispatch(discardMessage({ clientId: 'k1' }))
    expect(selectSendRejection(store.getState())).toBeNull()
    store.dispatch(send('k5'))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k2', 'k3', 'k5'])
    expect(selectSendRejection(store.getState())).toBeNull()
    store.dispatch(shutdown())
  })

  test('logout clears the outbox from memory and storage; another user never sees it', async () => {
    const storage = createMemoryStorage()
    const { store } = tab(await deadUrl(), storage)
    store.dispatch(send('k1'))
    const bobTab = tab(await deadUrl(), storage, { user: bob })
    bobTab.store.dispatch(send('b1'))
    expect(savedIds(storage)).toEqual(['k1'])
    store.dispatch(loggedOut())
    expect(selectPendingMessages(store.getState())).toEqual([])
    expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
    expect(savedIds(storage, bob.id)).toEqual(['b1'])
    bobTab.store.dispatch(shutdown())
  })

  /** A server that stores each message sent over HTTP as Bob's, noting the token it came with; other requests 204. */
  async function messagesStub() {
    const requests: { authorization: string | undefined; body: unknown }[] = []
    const stub = await startHttpStub((req) => {
      if (!req.url.endsWith('/messages')) return { status: 204 } // the logout's own request
      requests.push({ authorization: req.headers.authorization, body: req.body })
      const { clientId, content } = req.body as { clientId: string; content: string }
      return { status: 201, body: message(9, { senderId: bob.id, clientId, content }) }
    })
    return { stub, requests }
  }

  // A send dispatched with nobody logged in (the page between a logout and the next login, a script) was queued as
  // anyone's: tried over HTTP without a token, kept pending, then sent with the next user's token, as if they had
  // written it. It is now refused before it is queued, as an outbox full one is.
  test.each([
    ['nobody logged in yet', null],
    ['after a logout', 'token-1'],
  ] as const)('a send with nobody logged in (%s) is refused, and never goes as the next user', async (_when, token) => {
    const { stub, requests } = await messagesStub()
    try {
      const storage = createMemoryStorage()
      const { store } = tab(stub.url, storage, { token })
      if (token !== null) store.dispatch(loggedOut())
      store.dispatch(send('n1'))
      expect(selectPendingMessages(store.getState())).toEqual([])
      expect(selectSendRejection(store.getState())).toMatchObject({ clientId: 'n1', code: 'UNAUTHORIZED' })
      store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
      // Nobody's refusal is not Bob's: his composer in that conversation would say "Your session has ended".
      expect(selectSendRejection(store.getState())).toBeNull()
      // Bob's own send (his socket is not up yet, so over HTTP): once it is answered, anything the first send was
      // going to do over HTTP has been done.
      store.dispatch(send('b1'))
      await eventually(() => expect(selectPendingMessages(store.getState())).toEqual([]))
      expect(requests).toEqual([{ authorization: 'Bearer token-bob', body: { content: 'text b1', clientId: 'b1' } }])
      store.dispatch(shutdown())
    } finally {
      await stub.close()
    }
  })

  test('another user logs in while a send awaits its ack: it never goes over HTTP with their token, and waits for its own user', async () => {
    const { stub, requests } = await messagesStub()
    try {
      const storage = createMemoryStorage()
      const { store, sockets } = tab(stub.url, storage, { ackTimeoutMs: 3_600_000 })
      const alicesSocket = sockets.last
      alicesSocket.serverConnect()
      store.dispatch(send('k1'))
      expect(alicesSocket.sent('message:send')).toHaveLength(1)
      // What the session sync does when another tab logs in as Bob: both in one task. Closing Alice's socket fails
      // its awaited ack at once, as socket.io-client does.
      store.dispatch(loggedOut({ keepOutbox: true }))
      store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
      // Bob's own send (his socket is not up yet, so over HTTP): once it is answered, anything Alice's send was
      // going to do over HTTP has been done.
      store.dispatch(send('b1'))
      await eventually(() => expect(selectPendingMessages(store.getState())).toEqual([]))
      expect(requests).toEqual([{ authorization: 'Bearer token-bob', body: { content: 'text b1', clientId: 'b1' } }])
      expect(savedIds(storage)).toEqual(['k1'])
      store.dispatch(shutdown())
    } finally {
      await stub.close()
    }
  })

  test('discarded while being sent, and the server stored it anyway: it shows as sent (the other side has it too)', async () => {
    const storage = createMemoryStorage()
    const { store, socket, thread } = tab('http://unused.test', storage)
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    socket().serverConnect()
    store.dispatch(send('k1'))
    store.dispatch(discardMessage({ clientId: 'k1' }))
    expect(thread().map((m) => m.id)).toEqual(['m1'])
    expect(savedIds(storage)).toEqual([])
    socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(2, 'k1') })
    await eventually(() => expect(thread().map((m) => `${m.id}:${m.status ?? '-'}`)).toEqual(['m1:-', 'm2:sent']))
    expect(selectPendingMessages(store.getState())).toEqual([])
  })

  test('the socket known to be down: the send goes over HTTP at once, no ack timeout', async () => {
    const requests: unknown[] = []
    const stub = await startHttpStub((req) => {
      requests.push(req.body)
      return { status: 201, body: stored(2, (req.body as { clientId: string }).clientId) }
    })
    try {
      // An ack timeout no test outlives: had the send waited for one, it would never reach HTTP here.
      const { store, socket, thread } = tab(stub.url, createMemoryStorage(), { ackTimeoutMs: 3_600_000 })
      await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
      socket().serverConnect()
      socket().serverDrop()
      store.dispatch(send('k1'))
      await eventually(() => expect(thread().at(-1)?.status).toBe('sent'))
      expect(socket().sent('message:send')).toHaveLength(0)
      expect(requests).toEqual([{ content: 'text k1', clientId: 'k1' }])
      store.dispatch(shutdown())
    } finally {
      await stub.close()
    }
  })
})

/** A retry wait no test outlives: a send waiting to go again goes on a trigger, never on its timer. */
const NEVER_RETRY = { baseMs: 3_600_000, capMs: 3_600_000 }

/**
 * The server as the two tabs' sends reach it: each send, one at a time (only one may be open), answered and confirmed
 * to both tabs' sockets; they must come in the order `written`, each once, and leave nothing pending or stored. Both
 * stores are shut down at the end.
 */
async function serveInTurn(
  storage: StorageLike,
  tab1: ReturnType<typeof twoTabs>['tab1'],
  tab2: ReturnType<typeof twoTabs>['tab2'],
  written: string[],
) {
  const order: string[] = []
  const answered = new Set<object>()
  for (let seq = 1; seq <= written.length; seq++) {
    const packet = await eventually(() => {
      const open = [tab1, tab2].flatMap((t) => t.socket().sent('message:send')).filter((p) => !answered.has(p))
      expect(open).toHaveLength(1)
      return open[0]!
    })
    answered.add(packet)
    const { clientId } = packet.args[0] as { clientId: string }
    order.push(clientId)
    packet.ack({ ok: true, data: stored(seq, clientId) })
    for (const t of [tab1, tab2]) t.socket().serverEmit('message:sent', stored(seq, clientId))
  }
  expect(order).toEqual(written)
  await eventually(() => expect(savedIds(storage)).toEqual([]))
  for (const t of [tab1, tab2]) expect(selectPendingMessages(t.store.getState())).toEqual([])
  for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
}

/**
 * Two tabs of one browser (one storage, one drain lock) at `url`, each on a fake socket; `waitForever` gives both the
 * retry wait no test outlives.
 */
function twoTabs(url = 'http://unused.test', waitForever = false) {
  const storage = createMemoryStorage()
  const lock = createMemoryLock()
  const options = { drainLock: lock, ...(waitForever ? { backoff: NEVER_RETRY } : {}) }
  return { storage, lock, tab1: tab(url, storage, options), tab2: tab(url, storage, options) }
}

describe('one drainer among tabs of a user (a shared lock)', () => {
  test('the second tab waits for the first to let go, then drains its own', async () => {
    const { storage, tab1, tab2 } = twoTabs()
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    tab1.store.dispatch(send('a1'))
    tab2.store.dispatch(send('b1'))
    expect(tab1.actions.filter((a) => drainStarted.match(a))).toHaveLength(1)
    expect(tab2.actions.filter((a) => drainStarted.match(a))).toHaveLength(0)
    expect(tab2.socket().sent('message:send')).toHaveLength(0)
    expect(savedIds(storage)).toEqual(['a1', 'b1'])
    tab1
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(1, 'a1') })
    await eventually(() => expect(tab2.socket().sent('message:send')).toHaveLength(1))
    expect(tab2.actions.filter((a) => drainStarted.match(a))).toHaveLength(1)
    tab2
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(2, 'b1') })
    await eventually(() => expect(savedIds(storage)).toEqual([]))
  })
  test('a send waiting to retry is confirmed by a late message:sent: the lock goes at once to the other tab', async () => {
    // The other tab gets the lock from the confirmation, not from the timer.
    const { tab1, tab2 } = twoTabs('http://unused.test', true)
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    tab1.store.dispatch(send('a1'))
    tab2.store.dispatch(send('b1'))
    // An answer the layer cannot trust: a1 waits to go again.
    tab1
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: { id: 42 } })
    await eventually(() => expect(tab1.actions.some((a) => sendRetryScheduled.match(a))).toBe(true))
    // The server had stored it after all: its confirmation reaches every socket of the sender.
    tab1.socket().serverEmit('message:sent', stored(1, 'a1'))
    expect(tab1.actions.filter((a) => drainStopped.match(a))).toHaveLength(1)
    await eventually(() => expect(tab2.socket().sent('message:send')).toHaveLength(1))
    for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
  })
  test('a send waiting to retry is confirmed by a late message:sent: the next of its conversation goes at once, not at the timer', async () => {
    const page = tab('http://unused.test', createMemoryStorage(), { backoff: NEVER_RETRY })
    page.socket().serverConnect('s1')
    page.store.dispatch(send('a1'))
    page.store.dispatch(send('a2'))
    page
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: { id: 42 } })
    await eventually(() => expect(page.actions.some((a) => sendRetryScheduled.match(a))).toBe(true))
    page.socket().serverEmit('message:sent', stored(1, 'a1'))
    await eventually(() =>
      expect(
        page
          .socket()
          .sent('message:send')
          .map((s) => (s.args[0] as { clientId: string }).clientId),
      ).toEqual(['a1', 'a2']),
    )
    page.store.dispatch(shutdown())
  })
  test('a send told to wait (RATE_LIMITED) waits its retryAfterMs, also when the holder takes in another tab’s sends', async () => {
    const { storage, tab1, tab2 } = twoTabs()
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    const tries = (clientId: string) =>
      tab1
        .socket()
        .sent('message:send')
        .filter((p) => (p.args[0] as { clientId: string }).clientId === clientId)
    tab1.store.dispatch(send('a1'))
    tries('a1')[0]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3_600_000 } })
    await eventually(() => expect(tab1.actions.some((x) => sendRetryScheduled.match(x))).toBe(true))
    // The other tab writes meanwhile, in another conversation: it waits for the lock tab 1 holds.
    tab2.store.dispatch(send('b1', 'c2'))
    expect(savedIds(storage)).toEqual(['a1', 'b1'])
    // The browser comes online: tab 1 gathers b1 and sends it, but a1 still waits for the server's retryAfterMs.
    tab1.store.dispatch(retryNow({ reason: 'online' }))
    await eventually(() => expect(tries('b1')).toHaveLength(1))
    expect(tries('a1')).toHaveLength(1)
    for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
  })
  test('sends written in turn in two tabs while the socket was down go in the order they were written, each once', async () => {
    // The sends go when the socket comes back, not at a timer.
    const { storage, tab1, tab2 } = twoTabs(await deadUrl(), true)
    // Offline, the user writes in one tab, then the other, then the first again…
    const written = ['a1', 'b1', 'a2', 'b2']
    written.forEach((clientId, i) => {
      const sent = send(clientId)
      const at = new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString()
      ;(clientId.startsWith('a') ? tab1 : tab2).store.dispatch({ ...sent, meta: { createdAt: at } })
    })
    // Tab 1 holds the drain lock, its first send waiting to go again; tab 2's wait for the lock.
    await eventually(() => expect(tab1.actions.some((x) => sendRetryScheduled.match(x))).toBe(true))
    expect(savedIds(storage)).toEqual(written)
    // The connection comes back (one browser: both tabs hear it); the server answers each send and confirms it to
    // every socket of the sender.
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    await serveInTurn(storage, tab1, tab2, written)
  })
  test('sends written in turn in two tabs within one millisecond go in the order they were written, each once', async () => {
    // A script, or a clock that did not move: every send bears the same time; storage keeps the order they came in.
    const { storage, tab1, tab2 } = twoTabs(await deadUrl(), true)
    const written = ['a1', 'b1', 'a2', 'b2', 'b3', 'a3']
    const at = new Date(Date.UTC(2026, 0, 1, 12)).toISOString()
    for (const clientId of written) {
      const sent = send(clientId)
      ;(clientId.startsWith('a') ? tab1 : tab2).store.dispatch({ ...sent, meta: { createdAt: at } })
    }
    await eventually(() => expect(tab1.actions.some((x) => sendRetryScheduled.match(x))).toBe(true))
    expect(savedIds(storage)).toEqual(written)
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    await serveInTurn(storage, tab1, tab2, written)
  })
  test('written in turn in two tabs while a send awaits its ack: the sends go in the order they were written, each once', async () => {
    const { storage, tab1, tab2 } = twoTabs()
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    // Tab 1's a1 is on its way (tab 1 holds the lock); the user writes b1 in tab 2, then a2 in tab 1.
    const written = ['a1', 'b1', 'a2']
    written.forEach((clientId, i) => {
      const at = new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString()
      ;(clientId.startsWith('a') ? tab1 : tab2).store.dispatch({ ...send(clientId), meta: { createdAt: at } })
    })
    await serveInTurn(storage, tab1, tab2, written)
  })
  // The holder keeps the drain lock while another conversation's send is out or waiting, and the other tab's send waits
  // for that lock: written first, it must still go first in its conversation.
  test.each([
    { holderIs: 'waits out a RATE_LIMITED answer', rateLimited: true },
    { holderIs: 'awaits the ack of a send', rateLimited: false },
  ])(
    'written in turn in two tabs while the holder $holderIs in another conversation: each conversation’s sends go in the order they were written',
    async ({ rateLimited }) => {
      const { storage, tab1, tab2 } = twoTabs()
      tab1.socket().serverConnect('s1')
      tab2.socket().serverConnect('s2')
      const at = (i: number) => ({ meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString() } })
      const clientIdOf = (p: { args: unknown[] }) => (p.args[0] as { clientId: string }).clientId
      const x1Sends = () =>
        tab1
          .socket()
          .sent('message:send')
          .filter((p) => clientIdOf(p) === 'x1')
      // Tab 1 holds the drain lock for its x1 in c2: on its way, or waiting out the server's retryAfterMs (no test
      // outlives it).
      tab1.store.dispatch({ ...send('x1', 'c2'), ...at(0) })
      if (rateLimited) {
        x1Sends()[0]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3_600_000 } })
        await eventually(() => expect(tab1.actions.some((x) => sendRetryScheduled.match(x))).toBe(true))
      }
      // The user writes b1 in c1 in tab 2 (it waits for the lock), then a2 in c1 in tab 1.
      tab2.store.dispatch({ ...send('b1', 'c1'), ...at(1) })
      tab1.store.dispatch({ ...send('a2', 'c1'), ...at(2) })
      const c1Sends = () =>
        [tab1, tab2]
          .flatMap((t) => t.socket().sent('message:send'))
          .filter((p) => (p.args[0] as { conversationId: string }).conversationId === 'c1')
      // c1's first send is b1, written first; a2 goes once b1 is stored, not before.
      const first = await eventually(() => c1Sends()[0] ?? expect.fail('nothing sent in c1 yet'))
      expect(c1Sends().map(clientIdOf)).toEqual(['b1'])
      first.ack({ ok: true, data: stored(1, 'b1') })
      for (const t of [tab1, tab2]) t.socket().serverEmit('message:sent', stored(1, 'b1'))
      const second = await eventually(() => c1Sends()[1] ?? expect.fail('a2 not sent yet'))
      expect(c1Sends().map(clientIdOf)).toEqual(['b1', 'a2'])
      second.ack({ ok: true, data: stored(2, 'a2') })
      for (const t of [tab1, tab2]) t.socket().serverEmit('message:sent', stored(2, 'a2'))
      // Each went once, and x1 alone is left: still waiting for the server's retryAfterMs, or answered now.
      expect(c1Sends().map(clientIdOf)).toEqual(['b1', 'a2'])
      expect(x1Sends()).toHaveLength(1)
      await eventually(() => expect(savedIds(storage)).toEqual(['x1']))
      if (!rateLimited) {
        x1Sends()[0]!.ack({ ok: true, data: { ...stored(1, 'x1'), conversationId: 'c2' } })
        await eventually(() => expect(savedIds(storage)).toEqual([]))
      }
      for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
    },
  )
  // A tab that waits for the lock since an earlier send of its own gets it after a third tab wrote in a conversation
  // it then writes in too: the grant is where it starts sending, and that third tab's send, written first, goes first.
  test('written in turn by two tabs waiting for a third’s lock: the first to get it sends the other’s earlier send of the conversation first', async () => {
    const storage = createMemoryStorage()
    const lock = createMemoryLock()
    const [holder, tabA, tabC] = [0, 1, 2].map(() => tab('http://unused.test', storage, { drainLock: lock }))
    for (const [i, t] of [holder!, tabA!, tabC!].entries()) t.socket().serverConnect(`s${i}`)
    const at = (i: number) => ({ meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString() } })
    const clientIdOf = (p: { args: unknown[] }) => (p.args[0] as { clientId: string }).clientId
    const sends = () => [holder!, tabA!, tabC!].flatMap((t) => t.socket().sent('message:send'))
    const inC1 = () => sends().filter((p) => (p.args[0] as { conversationId: string }).conversationId === 'c1')
    // The holder's x1 in c2 is on its way; A asks for the lock for its a0 in c3, then C for its c1 in c1; A writes a2
    // in c1 last.
    holder!.store.dispatch({ ...send('x1', 'c2'), ...at(0) })
    tabA!.store.dispatch({ ...send('a0', 'c3'), ...at(1) })
    tabC!.store.dispatch({ ...send('c1', 'c1'), ...at(2) })
    tabA!.store.dispatch({ ...send('a2', 'c1'), ...at(3) })
    expect(sends().map(clientIdOf)).toEqual(['x1'])
    // x1 is confirmed: the holder has nothing left and lets go; A, first in line, gets the lock.
    sends()[0]!.ack({ ok: true, data: { ...stored(1, 'x1'), conversationId: 'c2' } })
    await eventually(() => expect(inC1()).not.toHaveLength(0))
    expect(inC1().map(clientIdOf)).toEqual(['c1'])
    inC1()[0]!.ack({ ok: true, data: stored(1, 'c1') })
    for (const t of [holder!, tabA!, tabC!]) t.socket().serverEmit('message:sent', stored(1, 'c1'))
    await eventually(() => expect(inC1()).toHaveLength(2))
    expect(inC1().map(clientIdOf)).toEqual(['c1', 'a2'])
    for (const { store } of [holder!, tabA!, tabC!]) store.dispatch(shutdown())
  })
  // The grant's gather dispatches: a store listener may start a new session there, which lets the granted lock go and
  // asks for it again. The grant that was taken in is over; it must not count for the new request.
  test('a login during the gather of a waited-for grant: the tab waits for the lock it asks for again, and the next in line drains alone', async () => {
    const storage = createMemoryStorage()
    const lock = createMemoryLock()
    const url = await deadUrl()
    const [holder, tabA, tabC] = [0, 1, 2].map(() =>
      tab(url, storage, { drainLock: lock, backoff: NEVER_RETRY, ackTimeoutMs: 60_000 }),
    )
    for (const [i, t] of [holder!, tabA!, tabC!].entries()) t.socket().serverConnect(`s${i}`)
    const at = (second: number) => ({
      meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString() },
    })
    holder!.store.dispatch({ ...send('x1', 'c2'), ...at(0) })
    // A asks for the lock first; C's c1, in the same conversation, was written before A's a0 (its clock says so), so
    // A's grant takes it in to send it first.
    tabA!.store.dispatch({ ...send('a0', 'c1'), ...at(2) })
    tabC!.store.dispatch({ ...send('c1', 'c1'), ...at(1) })
    let loggedInAgain = false
    tabA!.store.subscribe(() => {
      const pending = selectPendingMessages(tabA!.store.getState()).map((m) => m.clientId)
      if (loggedInAgain || !pending.includes('c1')) return
      loggedInAgain = true
      tabA!.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    })
    const drainsOf = (t: ReturnType<typeof tab>) => t.actions.filter((x) => drainStarted.match(x)).length
    const aDrainsBefore = drainsOf(tabA!)
    // x1 is confirmed: the holder lets go, A (first in line) is granted the lock and gathers C's c1, logging in again.
    holder!
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: { ...stored(1, 'x1'), conversationId: 'c2' } })
    await eventually(() => expect(loggedInAgain).toBe(true))
    // A let that grant go with its session: C, next in line, gets the lock and drains (left in flight). A waits.
    await eventually(() => expect(tabC!.actions.some((x) => drainStarted.match(x))).toBe(true))
    expect(drainsOf(tabA!)).toBe(aDrainsBefore)
    expect(tabA!.socket().sent('message:send')).toEqual([])
    for (const { store } of [holder!, tabA!, tabC!]) store.dispatch(shutdown())
  })
  test('a tab whose session expired while a send waits to retry lets the lock go: the next login’s tab drains at once', async () => {
    const storage = createMemoryStorage()
    const lock = createMemoryLock()
    const url = await deadUrl()
    // Tab A's send is still waiting when its session ends.
    const a = tab(url, storage, { drainLock: lock, backoff: NEVER_RETRY })
    a.store.dispatch(send('k1'))
    // HTTP unreachable: k1 waits to go again, and A holds the drain lock meanwhile.
    await eventually(() => expect(a.actions.some((x) => sendRetryScheduled.match(x))).toBe(true))
    // The session is over: a refused handshake, then a refused refresh (no refresh token) → unauthorized.
    a.socket().serverRefuse('UNAUTHORIZED')
    await eventually(() => expect(selectConnection(a.store.getState()).status).toBe('unauthorized'))
    expect(lock.holder(`talemy.outbox.${alice.id}`)).toBeNull()
    // Alice logs in again in tab B (same browser: same storage and lock): A's stored k1, then B's own k2, go at once.
    const b = tab(url, storage, { drainLock: lock, backoff: NEVER_RETRY, token: null })
    b.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    b.socket().serverConnect('s2')
    b.store.dispatch(send('k2'))
    const sent = () => b.socket().sent('message:send')
    await eventually(() => expect(sent()).toHaveLength(1))
    expect(sent()[0]!.args[0]).toMatchObject({ clientId: 'k1' })
    sent()[0]!.ack({ ok: true, data: stored(1, 'k1') })
    await eventually(() => expect(sent()).toHaveLength(2))
    expect(sent()[1]!.args[0]).toMatchObject({ clientId: 'k2' })
    // A, unauthorized, keeps its copy until it logs in again (the server keeps k1 single by its clientId).
    expect(selectPendingMessages(a.store.getState()).map((m) => m.clientId)).toEqual(['k1'])
    for (const { store } of [a, b]) store.dispatch(shutdown())
  })
})

// The user chose "Log out" in one tab; another tab hears of it only with the storage event, a later task, and in
// between a send of its own settles there and is written back (its merge write): the user's next login on this
// browser would read it back and send it.
describe('a logout in another tab while a send of this tab settles', () => {
  test.each([
    { outcome: 'told to retry', error: { code: 'INTERNAL', message: 'try again' }, settled: sendRetryScheduled },
    { outcome: 'refused', error: { code: 'FORBIDDEN', message: 'not yours' }, settled: sendFailed },
  ])(
    '$outcome before the logout is heard: it is not stored again, and the next login sends nothing',
    async ({ error, settled }) => {
      const { storage, leaving, other } = b1SentThenLoggedOutElsewhere()
      expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
      other.socket().sent('message:send')[0]!.ack({ ok: false, error })
      await eventually(() => expect(other.actions.some((a) => settled.match(a))).toBe(true))
      // What the session sync does on that storage event.
      other.store.dispatch(loggedOut({ keepOutbox: true }))
      expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
      const next = tab('http://unused.test', storage, { token: null })
      next.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
      next.socket().serverConnect('s3')
      expect(selectPendingMessages(next.store.getState())).toEqual([])
      expect(next.socket().sent('message:send')).toEqual([])
      for (const { store } of [leaving, other, next]) store.dispatch(shutdown())
    },
  )

  test('the tab closed before it heard: the next login drops what it wrote back, and sends nothing', async () => {
    const { storage, leaving, other } = b1SentThenLoggedOutElsewhere()
    await toldToRetry(other)
    // The logout named it discarded: not written back.
    expect(savedIds(storage)).toEqual([])
    other.store.dispatch(shutdown())
    const next = tab('http://unused.test', storage, { token: null })
    next.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    next.socket().serverConnect('s3')
    expect(selectPendingMessages(next.store.getState())).toEqual([])
    expect(next.socket().sent('message:send')).toEqual([])
    expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
    // Its own sends are stored as before.
    next.store.dispatch(send('k2'))
    expect(savedIds(storage)).toEqual(['k2'])
    for (const { store } of [leaving, next]) store.dispatch(shutdown())
  })

  test('heard only after the user logged in again elsewhere: the new session’s sends stay', async () => {
    const { storage, leaving, other } = b1SentThenLoggedOutElsewhere()
    leaving.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    leaving.store.dispatch(send('k2'))
    expect(savedIds(storage)).toEqual(['k2'])
    other.store.dispatch(loggedOut({ keepOutbox: true }))
    expect(savedIds(storage)).toEqual(['k2'])
    for (const { store } of [leaving, other]) store.dispatch(shutdown())
  })

  // The new session's read back ends the mark before the slow tab's try settles: the send it writes back then is no
  // longer marked, and would be adopted by the new session (another tab's write) and sent.
  test('settled only after the user logged in again elsewhere: the send written back is never adopted nor sent', async () => {
    const { storage, leaving, other } = b1SentThenLoggedOutElsewhere()
    leaving.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    leaving.socket().serverConnect('s3')
    await toldToRetry(other)
    // What the session sync does on those storage events.
    other.store.dispatch(loggedOut({ keepOutbox: true }))
    other.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    other.socket().serverConnect('s4')
    leaving.store.dispatch(send('k2'))
    leaving.store.dispatch(followerGone())
    const next = tab('http://unused.test', storage, { token: null })
    next.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    next.socket().serverConnect('s5')
    for (const t of [leaving, other, next]) {
      expect(selectPendingMessages(t.store.getState()).map((m) => m.clientId)).not.toContain('b1')
      expect(sentIds(t)).not.toContain('b1')
    }
    expect(savedIds(storage)).toEqual(['k2'])
    for (const { store } of [leaving, other, next]) store.dispatch(shutdown())
  })
})

/**
 * Tab 2 sends b1 (stored), then the user chooses "Log out" in tab 1: tab 2 has not heard of it yet.
 */
function b1SentThenLoggedOutElsewhere() {
  const { storage, tab1: leaving, tab2: other } = twoTabs('http://unused.test', true)
  other.socket().serverConnect('s2')
  other.store.dispatch(send('b1'))
  expect(savedIds(storage)).toEqual(['b1'])
  leaving.store.dispatch(loggedOut())
  return { storage, leaving, other }
}

/** `t`'s first send is answered "try again", and its retry scheduled. */
async function toldToRetry(t: ReturnType<typeof tab>) {
  t.socket()
    .sent('message:send')[0]!
    .ack({ ok: false, error: { code: 'INTERNAL', message: 'try again' } })
  await eventually(() => expect(t.actions.some((a) => sendRetryScheduled.match(a))).toBe(true))
}

/** Timers that never fire: a lease waiter polls only when a test says so, never on the wall clock. */
const stillTimers = { setTimeout: () => ({}), clearTimeout: () => {} }

/** The clientIds a tab's socket has sent as `message:send`, in order. */
const sentIds = (t: ReturnType<typeof tab>) =>
  t
    .socket()
    .sent('message:send')
    .map((p) => (p.args[0] as { clientId: string }).clientId)

/**
 * Both tabs connected; the holder's a1 (in c2) goes and is confirmed while the other tab's b1, written after it, waits
 * for the drain lock: what happens to b1 then is the test's.
 */
function a1ConfirmedWhileB1Waits(holder: ReturnType<typeof tab>, waiting: ReturnType<typeof tab>) {
  holder.socket().serverConnect('s1')
  waiting.socket().serverConnect('s2')
  holder.store.dispatch(send('a1', 'c2'))
  waiting.store.dispatch(send('b1'))
  holder
    .socket()
    .sent('message:send')[0]!
    .ack({ ok: true, data: { ...stored(1, 'a1'), conversationId: 'c2' } })
}

/** The two kinds of drain lock a tab may have: the tests of a closed tab's sends run on each. */
const LOCK_KINDS = [
  { lockKind: 'a queued lock (Web Locks style)', lease: false },
  { lockKind: 'the storage lease', lease: true },
]

/**
 * Two connected tabs of one browser sharing its storage, each a socket of its own: the survivor (t1) and the tab the
 * test closes (t2). Their drain lock is one queued lock (`queuedLock`), or with `lease` each its lease over the
 * storage (polling only when a test says so). `sent()`: the clientIds the survivor has sent, in order.
 */
function survivorAndClosing(lease: boolean, url = 'http://unused.test', over: { ackTimeoutMs?: number } = {}) {
  const storage = createMemoryStorage()
  const queuedLock = createMemoryLock()
  const lockOf = (owner: string): DrainLock =>
    lease ? createLeaseLock(storage, { owner, timers: stillTimers }) : queuedLock
  const survivor = tab(url, storage, { drainLock: lockOf('t1'), backoff: NEVER_RETRY, ...over })
  const closing = tab(url, storage, { drainLock: lockOf('t2'), backoff: NEVER_RETRY, ...over })
  survivor.socket().serverConnect('s1')
  closing.socket().serverConnect('s2')
  return { storage, queuedLock, survivor, closing, sent: () => sentIds(survivor) }
}

// Each tab a socket of its own (no tabs option): nothing tells the survivor a tab closed, only what it left in storage.
describe('a tab closed while it waited for the drain lock', () => {
  test.each(LOCK_KINDS)(
    'its sends, written while the survivor held $lockKind, go from the survivor once its own is confirmed, in order, once',
    async ({ lease }) => {
      const { storage, survivor, closing, sent } = survivorAndClosing(lease)
      const at = (i: number) => ({ meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString() } })
      // The survivor's a1 (in c2) is on its way; the user writes b1 then b2 in c1 in the other tab, which waits for
      // the lock, and closes it.
      survivor.store.dispatch({ ...send('a1', 'c2'), ...at(0) })
      closing.store.dispatch({ ...send('b1'), ...at(1) })
      closing.store.dispatch({ ...send('b2'), ...at(2) })
      expect(closing.socket().sent('message:send')).toHaveLength(0)
      closing.store.dispatch(shutdown())
      expect(savedIds(storage)).toEqual(['a1', 'b1', 'b2'])
      // a1 is confirmed; the survivor writes nothing more: what the closed tab left goes, one at a time, in order.
      survivor
        .socket()
        .sent('message:send')[0]!
        .ack({ ok: true, data: { ...stored(1, 'a1'), conversationId: 'c2' } })
      await eventually(() => expect(sent()).toEqual(['a1', 'b1']))
      survivor
        .socket()
        .sent('message:send')[1]!
        .ack({ ok: true, data: stored(2, 'b1') })
      await eventually(() => expect(sent()).toEqual(['a1', 'b1', 'b2']))
      survivor
        .socket()
        .sent('message:send')[2]!
        .ack({ ok: true, data: stored(3, 'b2') })
      await eventually(() => expect(savedIds(storage)).toEqual([]))
      expect(sent()).toEqual(['a1', 'b1', 'b2'])
      expect(selectPendingMessages(survivor.store.getState())).toEqual([])
      survivor.store.dispatch(shutdown())
    },
  )
  test.each(LOCK_KINDS)(
    'its sends, written while the survivor held $lockKind waiting to retry, go once that send is confirmed',
    async ({ lease }) => {
      const { storage, survivor, closing, sent } = survivorAndClosing(lease)
      // The survivor's a1 waits to go again (an answer it cannot trust); the other tab writes b1 and is closed.
      survivor.store.dispatch(send('a1', 'c2'))
      survivor
        .socket()
        .sent('message:send')[0]!
        .ack({ ok: true, data: { id: 42 } })
      await eventually(() => expect(survivor.actions.some((a) => sendRetryScheduled.match(a))).toBe(true))
      closing.store.dispatch(send('b1'))
      closing.store.dispatch(shutdown())
      // The server had a1 after all: its confirmation ends the wait, and b1 goes.
      survivor.socket().serverEmit('message:sent', { ...stored(1, 'a1'), conversationId: 'c2' })
      await eventually(() => expect(sent()).toEqual(['a1', 'b1']))
      survivor
        .socket()
        .sent('message:send')[1]!
        .ack({ ok: true, data: stored(2, 'b1') })
      await eventually(() => expect(savedIds(storage)).toEqual([]))
      survivor.store.dispatch(shutdown())
    },
  )
  // The holder's last write (a1 gone, confirmed by its message:sent) came before the other tab wrote; the lock goes
  // when a1's own answer comes, which changes nothing in the outbox and writes nothing: what the other tab left must
  // still be known then (found by tests/unit/outboxTabsFuzz.test.ts, seed 5 with the lease).
  test.each(LOCK_KINDS)(
    'its send, written while the survivor held $lockKind for a send its message:sent already confirmed, goes when that send is answered, before the survivor’s next',
    async ({ lease }) => {
      const { storage, survivor, closing, sent } = survivorAndClosing(lease)
      const at = (i: number) => ({ meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString() } })
      const a1 = { ...stored(1, 'a1'), conversationId: 'c2' }
      // The survivor's a1 (in c2) is on its way; the server stored it, and its confirmation comes before its answer.
      survivor.store.dispatch({ ...send('a1', 'c2'), ...at(0) })
      survivor.socket().serverEmit('message:sent', a1)
      expect(savedIds(storage)).toEqual([])
      // The user writes b1 in c2 in the other tab, which waits for the lock the survivor holds, and closes it.
      closing.store.dispatch({ ...send('b1', 'c2'), ...at(1) })
      closing.store.dispatch(shutdown())
      expect(savedIds(storage)).toEqual(['b1'])
      // a1's answer: the survivor has nothing of its own left and lets the lock go; then the user writes a2 in c2.
      survivor.socket().sent('message:send')[0]!.ack({ ok: true, data: a1 })
      await eventually(() => expect(survivor.actions.filter((a) => drainStopped.match(a))).not.toHaveLength(0))
      survivor.store.dispatch({ ...send('a2', 'c2'), ...at(2) })
      // b1, written first, goes first; a2 once b1 is stored.
      await eventually(() => expect(sent()).toHaveLength(2))
      expect(sent()).toEqual(['a1', 'b1'])
      survivor
        .socket()
        .sent('message:send')[1]!
        .ack({ ok: true, data: { ...stored(2, 'b1'), conversationId: 'c2' } })
      await eventually(() => expect(sent()).toEqual(['a1', 'b1', 'a2']))
      survivor
        .socket()
        .sent('message:send')[2]!
        .ack({ ok: true, data: { ...stored(3, 'a2'), conversationId: 'c2' } })
      await eventually(() => expect(savedIds(storage)).toEqual([]))
      survivor.store.dispatch(shutdown())
    },
  )
  // A sweep granted at once (the lock free) gathers inside the request: a store listener may start a new session there,
  // whose reset lets that grant go. Taken afterwards, the old session's grant drains beside the new session's own.
  test('a login during the gather of a sweep granted at once: what the closed tab left goes once, by the new session', async () => {
    const { queuedLock: lock, survivor, closing } = survivorAndClosing(false, await deadUrl(), { ackTimeoutMs: 60_000 })
    survivor.store.dispatch(send('a1', 'c2'))
    closing.store.dispatch(send('b1'))
    closing.store.dispatch(shutdown())
    let loggedInAgain = false
    survivor.store.subscribe(() => {
      const pending = selectPendingMessages(survivor.store.getState()).map((m) => m.clientId)
      if (loggedInAgain || !pending.includes('b1')) return
      loggedInAgain = true
      survivor.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    })
    // The new session's socket is not up: each try of b1 goes over HTTP, and its request starts in the same task.
    const triesOfB1 = () =>
      survivor.actions.filter(
        (a) =>
          a.type === 'api/executeMutation/pending' &&
          (a as { meta?: { arg?: { originalArgs?: { clientId?: string } } } }).meta?.arg?.originalArgs?.clientId ===
            'b1',
      ).length
    survivor
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: { ...stored(1, 'a1'), conversationId: 'c2' } })
    await eventually(() => expect(loggedInAgain).toBe(true))
    await eventually(() => expect(triesOfB1()).toBeGreaterThan(0))
    expect(triesOfB1()).toBe(1)
    survivor.store.dispatch(shutdown())
    expect(lock.holder(`talemy.outbox.${alice.id}`)).toBe(null)
  })
  // A store listener may shut the page down as its drain stops (nothing left to send): the look for what other tabs
  // left, raised with that stop, must not outlive the shutdown.
  test('shut down as its drain stops: the survivor asks for no lock and sends nothing afterwards', async () => {
    const { queuedLock: lock, survivor, closing } = survivorAndClosing(false, await deadUrl(), { ackTimeoutMs: 60_000 })
    survivor.store.dispatch(send('a1', 'c2'))
    closing.store.dispatch(send('b1'))
    closing.store.dispatch(shutdown())
    let shutDown = false
    survivor.store.subscribe(() => {
      if (shutDown || !survivor.actions.some((a) => drainStopped.match(a))) return
      shutDown = true
      survivor.store.dispatch(shutdown())
    })
    survivor
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: { ...stored(1, 'a1'), conversationId: 'c2' } })
    await eventually(() => expect(shutDown).toBe(true))
    const afterShutdown = survivor.actions.slice(survivor.actions.findIndex((a) => shutdown.match(a)) + 1)
    expect(afterShutdown.map((a) => a.type)).toEqual([])
    expect(lock.holder(`talemy.outbox.${alice.id}`)).toBe(null)
  })
  test('a tab still waiting for the queued lock sends its own; the holder going idle does not send it too', async () => {
    const { storage, tab1, tab2 } = twoTabs('http://unused.test', true)
    a1ConfirmedWhileB1Waits(tab1, tab2)
    await eventually(() => expect(sentIds(tab2)).toEqual(['b1']))
    tab2
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(2, 'b1') })
    for (const t of [tab1, tab2]) t.socket().serverEmit('message:sent', stored(2, 'b1'))
    await eventually(() => expect(savedIds(storage)).toEqual([]))
    expect(sentIds(tab1)).toEqual(['a1'])
    expect(sentIds(tab2)).toEqual(['b1'])
    for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
  })
  test('a tab still waiting for the storage lease: the holder going idle takes its send over, and it goes once', async () => {
    const storage = createMemoryStorage()
    // tab 2's polls for the lease, run when the test says (never on the wall clock).
    const polls: (() => void)[] = []
    const pollTimers = { setTimeout: (fn: () => void) => (polls.push(fn), {}), clearTimeout: () => {} }
    const tab1 = tab('http://unused.test', storage, {
      drainLock: createLeaseLock(storage, { owner: 't1', timers: stillTimers }),
    })
    const tab2 = tab('http://unused.test', storage, {
      drainLock: createLeaseLock(storage, { owner: 't2', timers: pollTimers }),
    })
    a1ConfirmedWhileB1Waits(tab1, tab2)
    // A lease has no queue: tab 1 takes the lease again at once, and tab 2 cannot send while it holds it.
    await eventually(() => expect(sentIds(tab1)).toEqual(['a1', 'b1']))
    tab1
      .socket()
      .sent('message:send')[1]!
      .ack({ ok: true, data: stored(2, 'b1') })
    for (const t of [tab1, tab2]) t.socket().serverEmit('message:sent', stored(2, 'b1'))
    await eventually(() => expect(savedIds(storage)).toEqual([]))
    // tab 2 gets the lease at its next poll with nothing left to send.
    for (const poll of polls.splice(0)) poll()
    await eventually(() => expect(selectPendingMessages(tab2.store.getState())).toEqual([]))
    expect(sentIds(tab2)).toEqual([])
    expect(sentIds(tab1)).toEqual(['a1', 'b1'])
    for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
  })
  test('a lone tab reads its stored outbox no more for it: once per write, to merge (send, then confirmation)', async () => {
    const backing = createMemoryStorage()
    let reads = 0
    const storage: StorageLike = {
      getItem: (key) => {
        if (key === outboxStorageKey(alice.id)) reads++
        return backing.getItem(key)
      },
      setItem: (key, value) => backing.setItem(key, value),
      removeItem: (key) => backing.removeItem(key),
    }
    const page = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    page.socket().serverConnect()
    const perSend: number[] = []
    for (let i = 1; i <= 3; i++) {
      const before = reads
      page.store.dispatch(send(`k${i}`))
      page
        .socket()
        .sent('message:send')
        [i - 1]!.ack({ ok: true, data: stored(i, `k${i}`) })
      await eventually(() => expect(selectPendingMessages(page.store.getState())).toEqual([]))
      perSend.push(reads - before)
    }
    expect(perSend).toEqual([2, 2, 2])
    page.store.dispatch(shutdown())
  })
})

// The stored outbox is the tabs' shared truth: a send the user discards in the tab that wrote it leaves storage there,
// and the tab holding the drain lock, which took it over to send it, must not send it after that.
describe('a discard in the tab that wrote a send the lock holder took over', () => {
  test.each([
    { when: 'its retry waits', onTheWire: false },
    { when: 'its try is on the wire and comes back to be retried', onTheWire: true },
  ])(
    'discarded while $when: the holder sends it no more, shows it no more, and storage keeps it gone',
    async ({ onTheWire }) => {
      const { storage, tab1, tab2 } = twoTabs('http://unused.test', true)
      tab1.socket().serverConnect('s1')
      tab2.socket().serverConnect('s2')
      await tab1.store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
      const tries = (clientId: string) =>
        tab1
          .socket()
          .sent('message:send')
          .filter((p) => (p.args[0] as { clientId: string }).clientId === clientId)
      // Tab 1 holds the drain lock, its x1 in c2 on its way; the user writes b1 in tab 2, which waits for that lock.
      tab1.store.dispatch(send('x1', 'c2'))
      tab2.store.dispatch(send('b1'))
      // Tab 1 goes again (the browser comes online): it takes b1 over and sends it.
      tab1.store.dispatch(retryNow({ reason: 'online' }))
      expect(tries('b1')).toHaveLength(1)
      const untrusted = { ok: true, data: { id: 42 } }
      if (!onTheWire) {
        // An answer the layer cannot trust: b1 waits (a wait no test outlives) to go again.
        tries('b1')[0]!.ack(untrusted)
        await eventually(() => expect(tab1.actions.some((a) => sendRetryScheduled.match(a))).toBe(true))
      }
      tab2.store.dispatch(discardMessage({ clientId: 'b1' }))
      expect(savedIds(storage)).toEqual(['x1'])
      if (onTheWire) {
        tries('b1')[0]!.ack(untrusted)
        await eventually(() => expect(tab1.actions.some((a) => sendRetryScheduled.match(a))).toBe(true))
        // Tab 1's note of the retry must not put the discarded send back.
        expect(savedIds(storage)).toEqual(['x1'])
      }
      // Tab 1 goes again: b1 stays unsent, and leaves tab 1's outbox and thread.
      tab1.store.dispatch(retryNow({ reason: 'online' }))
      await eventually(() =>
        expect(selectPendingMessages(tab1.store.getState()).map((m) => m.clientId)).toEqual(['x1']),
      )
      expect(tries('b1')).toHaveLength(1)
      expect(tab1.thread().map((m) => m.id)).toEqual(['m1'])
      expect(savedIds(storage)).toEqual(['x1'])
      for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
    },
  )

  test('discarded while the holder’s try is on the wire, and the server stores it: both tabs show it as sent', async () => {
    const { storage, tab1, tab2 } = twoTabs('http://unused.test', true)
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    for (const { store } of [tab1, tab2])
      await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    tab1.store.dispatch(send('x1', 'c2'))
    tab2.store.dispatch(send('b1'))
    tab1.store.dispatch(retryNow({ reason: 'online' }))
    const b1 = tab1
      .socket()
      .sent('message:send')
      .find((p) => (p.args[0] as { clientId: string }).clientId === 'b1')!
    tab2.store.dispatch(discardMessage({ clientId: 'b1' }))
    // A change of tab 1 meanwhile (x1 confirmed) makes it gather again while b1 is still on the wire.
    tab1
      .socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: { ...stored(1, 'x1'), conversationId: 'c2' } })
    await eventually(() => expect(savedIds(storage)).toEqual([]))
    b1.ack({ ok: true, data: stored(2, 'b1') })
    for (const t of [tab1, tab2]) t.socket().serverEmit('message:sent', stored(2, 'b1'))
    for (const t of [tab1, tab2])
      await eventually(() => expect(t.thread().map((m) => `${m.id}:${m.status ?? '-'}`)).toEqual(['m1:-', 'm2:sent']))
    for (const { store } of [tab1, tab2]) expect(selectPendingMessages(store.getState())).toEqual([])
    for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
  })

  /**
   * Both tabs tried b1 and were refused, so both show it failed with Retry and Discard; the user discards it in tab 2.
   * Tab 1 held the lock for x1 in c2 and took tab 2's b1 over; once x1 went through, tab 2 tried b1 itself.
   */
  async function discardedInTab2AfterBothWereRefused() {
    const { storage, tab1, tab2 } = twoTabs('http://unused.test', true)
    tab1.socket().serverConnect('s1')
    tab2.socket().serverConnect('s2')
    await tab1.store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    const sends = (t: typeof tab1, clientId: string) =>
      t
        .socket()
        .sent('message:send')
        .filter((p) => (p.args[0] as { clientId: string }).clientId === clientId)
    const statusOf = (t: typeof tab1, clientId: string) =>
      selectPendingMessages(t.store.getState()).find((m) => m.clientId === clientId)?.status
    const refusal = { ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } }
    tab1.store.dispatch(send('x1', 'c2'))
    tab2.store.dispatch(send('b1'))
    tab1.store.dispatch(retryNow({ reason: 'online' }))
    sends(tab1, 'b1')[0]!.ack(refusal)
    await eventually(() => expect(statusOf(tab1, 'b1')).toBe('failed'))
    sends(tab1, 'x1')[0]!.ack({ ok: true, data: { ...stored(1, 'x1'), conversationId: 'c2' } })
    const b1 = await eventually(() => sends(tab2, 'b1')[0] ?? expect.fail('tab 2 has not tried b1 yet'))
    b1.ack(refusal)
    await eventually(() => expect(statusOf(tab2, 'b1')).toBe('failed'))
    tab2.store.dispatch(discardMessage({ clientId: 'b1' }))
    return { storage, tab1, tab2, sends }
  }

  test('discarded in one tab, retried in another that still shows its failed copy: it is not sent, and leaves that tab too', async () => {
    const { storage, tab1, tab2, sends } = await discardedInTab2AfterBothWereRefused()
    expect(tab1.thread().at(-1)?.status).toBe('failed')
    expect(savedIds(storage)).toEqual([])
    // Retry in tab 1: b1 is not sent again, and its failed copy goes.
    tab1.store.dispatch(retryMessage({ clientId: 'b1' }))
    await eventually(() => expect(selectPendingMessages(tab1.store.getState())).toEqual([]))
    expect(sends(tab1, 'b1')).toHaveLength(1)
    expect(tab1.thread().map((m) => m.id)).toEqual(['m1'])
    expect(savedIds(storage)).toEqual([])
    for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
  })

  // Retry makes the failed copy a fresh one (pending, never tried): the tab's write of it must still see the discard,
  // or storage holds the discarded send again for as long as that tab waits for the lock (for good, should it close).
  test('retried in another tab while the lock is elsewhere: storage does not take it back meanwhile, nor does it go', async () => {
    const { storage, tab1, tab2, sends } = await discardedInTab2AfterBothWereRefused()
    // Tab 2 holds the lock for its z1, still on the wire, when the user retries b1 in tab 1: tab 1 waits for it.
    tab2.store.dispatch(send('z1', 'c3'))
    tab1.store.dispatch(retryMessage({ clientId: 'b1' }))
    expect(savedIds(storage)).toEqual(['z1'])
    // z1 goes through: tab 1 takes the lock, and b1 leaves it unsent.
    sends(tab2, 'z1')[0]!.ack({ ok: true, data: { ...stored(2, 'z1'), conversationId: 'c3' } })
    await eventually(() => expect(selectPendingMessages(tab1.store.getState())).toEqual([]))
    expect(sends(tab1, 'b1')).toHaveLength(1)
    expect(savedIds(storage)).toEqual([])
    for (const { store } of [tab1, tab2]) store.dispatch(shutdown())
  })
})

describe('adopting what another tab left', () => {
  test('a follower gone: its pending stored sends this tab does not have are adopted, shown and sent; failed ones stay', () => {
    const storage = createMemoryStorage()
    const { store, socket, actions } = tab('http://unused.test', storage)
    socket().serverConnect()
    store.dispatch(send('k1'))
    const left = (clientId: string, status: 'pending' | 'failed') =>
      pendingMessage(clientId, { conversationId: 'c2', createdAt: '2026-11-24T07:00:00.000Z', status })
    storage.setItem(
      outboxStorageKey(alice.id),
      JSON.stringify([
        ...JSON.parse(storage.getItem(outboxStorageKey(alice.id))!),
        left('o1', 'pending'),
        left('o2', 'failed'),
      ]),
    )
    store.dispatch(followerGone())
    expect(actions.filter((a) => a.type === 'socket/outboxRestored')).toMatchObject([
      { payload: { entries: [{ clientId: 'o1' }] } },
    ])
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['o1', 'k1'])
    expect(
      socket()
        .sent('message:send')
        .map((p) => (p.args[0] as { clientId: string }).clientId),
    ).toEqual(['k1', 'o1'])
    // Again: nothing new to adopt.
    store.dispatch(followerGone())
    expect(actions.filter((a) => a.type === 'socket/outboxRestored')).toHaveLength(1)
    store.dispatch(shutdown())
  })
})

describe('another version of the app in another tab (a deploy)', () => {
  test('a stored send with a field this version does not know is not sent by it (it would go without), nor touched', async () => {
    const storage = createMemoryStorage()
    const theirs = { ...pendingMessage('n1'), replyTo: 'm9' }
    storage.setItem(outboxStorageKey(alice.id), JSON.stringify([theirs]))
    const { store, socket } = tab('http://unused.test', storage)
    socket().serverConnect()
    store.dispatch(send('k1'))
    store.dispatch(followerGone())
    const sent = () =>
      socket()
        .sent('message:send')
        .map((p) => (p.args[0] as { clientId: string }).clientId)
    await eventually(() => expect(sent()).toEqual(['k1']))
    socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(1, 'k1') })
    await eventually(() => expect(savedIds(storage)).toEqual(['n1']))
    expect(JSON.parse(storage.getItem(outboxStorageKey(alice.id))!)).toEqual([theirs])
    expect(sent()).toEqual(['k1'])
    expect(selectPendingMessages(store.getState())).toEqual([])
    store.dispatch(shutdown())
  })
})

describe('a storage that refuses to write', () => {
  test('sends still go; the failure is reported once (socket/internalError), not thrown', async () => {
    const full = refusingStorage(true)
    const { store, actions } = tab(await deadUrl(), full.storage)
    store.dispatch(send('k1'))
    store.dispatch(send('k2'))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k1', 'k2'])
    expect(actions.filter((a) => a.type === 'socket/internalError')).toEqual([
      {
        type: 'socket/internalError',
        payload: { where: 'outboxStorage', message: 'The unsent messages could not be saved in storage' },
      },
    ])
    store.dispatch(shutdown())
  })
  test('a storage that stops taking reads too: each spell of unsaved sends is reported, the next one after the outbox emptied too', async () => {
    const backing = createMemoryStorage()
    let broken = false
    const guard =
      <A extends unknown[], R>(op: (...args: A) => R) =>
      (...args: A): R => {
        if (broken) throw new Error('SecurityError')
        return op(...args)
      }
    const storage: StorageLike = {
      getItem: guard((key: string) => backing.getItem(key)),
      setItem: guard((key: string, value: string) => backing.setItem(key, value)),
      removeItem: guard((key: string) => backing.removeItem(key)),
    }
    const { store, socket, actions } = tab('http://unused.test', storage)
    socket().serverConnect()
    const reports = () => actions.filter((a) => a.type === 'socket/internalError').length
    store.dispatch(send('k1'))
    expect(savedIds(backing)).toEqual(['k1'])
    broken = true
    store.dispatch(send('k2', 'c2'))
    expect(reports()).toBe(1)
    socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(1, 'k1') })
    socket()
      .sent('message:send')[1]!
      .ack({ ok: true, data: message(1, { conversationId: 'c2', senderId: alice.id, clientId: 'k2' }) })
    await eventually(() => expect(selectPendingMessages(store.getState())).toEqual([]))
    // A new spell: the page's notice ended with the outbox (nothing left to lose), so it must be told of this one.
    store.dispatch(send('k3'))
    expect(reports()).toBe(2)
    store.dispatch(shutdown())
  })

  test('a confirmed send storage could not forget is not taken for another tab’s: it goes once, and the next goes', async () => {
    const flaky = refusingStorage(false)
    const { store, socket } = tab('http://unused.test', flaky.storage)
    socket().serverConnect()
    store.dispatch(send('k1'))
    store.dispatch(send('k2'))
    expect(savedIds(flaky.backing)).toEqual(['k1', 'k2'])
    // Storage fills up: k1's confirmation cannot be written, so storage still holds it.
    flaky.refusing = true
    socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(1, 'k1') })
    const sent = () =>
      socket()
        .sent('message:send')
        .map((p) => (p.args[0] as { clientId: string }).clientId)
    await eventually(() => expect(sent()).toEqual(['k1', 'k2']))
    socket()
      .sent('message:send')[1]!
      .ack({ ok: true, data: stored(2, 'k2') })
    await eventually(() => expect(selectPendingMessages(store.getState())).toEqual([]))
    expect(sent()).toEqual(['k1', 'k2'])
    store.dispatch(shutdown())
  })
  test('a confirmed send storage could not forget does not go again when the holder gathers after a wait', async () => {
    const flaky = refusingStorage(false)
    const { store, socket, actions } = tab('http://unused.test', flaky.storage, { backoff: NEVER_RETRY })
    socket().serverConnect()
    store.dispatch(send('k1'))
    store.dispatch(send('k2'))
    flaky.refusing = true
    const sent = () =>
      socket()
        .sent('message:send')
        .map((p) => (p.args[0] as { clientId: string }).clientId)
    socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(1, 'k1') })
    await eventually(() => expect(sent()).toEqual(['k1', 'k2']))
    // k2 is to go again later; the browser comes online meanwhile, so the holder gathers and goes again now.
    socket()
      .sent('message:send')[1]!
      .ack({ ok: false, error: { code: 'INTERNAL', message: 'oops' } })
    await eventually(() => expect(actions.some((a) => sendRetryScheduled.match(a))).toBe(true))
    store.dispatch(retryNow({ reason: 'online' }))
    await eventually(() => expect(sent()).toHaveLength(3))
    expect(sent()).toEqual(['k1', 'k2', 'k2'])
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k2'])
    store.dispatch(shutdown())
  })
  test('once storage takes writes again, the next change stores the sends it refused too, not only the new one, and says so once (socket/outboxSaved)', async () => {
    const flaky = refusingStorage(true)
    const storage = flaky.backing
    const { store, actions } = tab(await deadUrl(), flaky.storage)
    const saidSaved = () => actions.filter((a) => a.type === 'socket/outboxSaved').length
    store.dispatch(send('k1'))
    expect(savedIds(storage)).toEqual([])
    expect(saidSaved()).toBe(0)
    flaky.refusing = false
    store.dispatch(send('k2'))
    expect(savedIds(storage)).toEqual(['k1', 'k2'])
    expect(saidSaved()).toBe(1)
    // Writes that storage took all along say nothing.
    store.dispatch(send('k3'))
    expect(savedIds(storage)).toEqual(['k1', 'k2', 'k3'])
    expect(saidSaved()).toBe(1)
    store.dispatch(shutdown())
  })
  test('a change made while a refusal is reported (a store listener) is of the same streak, and a write it gets through ends the streak', async () => {
    const flaky = refusingStorage(false)
    const storage = flaky.backing
    const { store, actions } = tab(await deadUrl(), flaky.storage)
    const reports = () => actions.filter((a) => a.type === 'socket/internalError').length
    // While the first refusal is being reported, a listener sends again: storage refuses that too.
    let onReport: (() => void) | null = () => store.dispatch(send('k2', 'c2'))
    store.subscribe(() => {
      const last = actions[actions.length - 1]
      if (last?.type !== 'socket/internalError' || !onReport) return
      const react = onReport
      onReport = null
      react()
    })
    flaky.refusing = true
    store.dispatch(send('k1'))
    expect(reports()).toBe(1)
    store.dispatch(send('k3'))
    expect(reports()).toBe(1)
    // While the next streak's first refusal is being reported, storage takes writes again and a listener sends:
    // that write goes through and ends the streak, so the next refusal is reported.
    flaky.refusing = false
    store.dispatch(send('k4'))
    expect(savedIds(storage)).toEqual(['k1', 'k2', 'k3', 'k4'])
    flaky.refusing = true
    onReport = () => {
      flaky.refusing = false
      store.dispatch(send('k6', 'c2'))
    }
    store.dispatch(send('k5'))
    expect(reports()).toBe(2)
    expect(savedIds(storage)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6'])
    flaky.refusing = true
    store.dispatch(send('k7'))
    expect(reports()).toBe(3)
    store.dispatch(shutdown())
  })
})

describe('pending copies when the clock steps back between two sends', () => {
  // `createdAt` is the browser's clock when "send" was pressed; a clock set back (NTP, the user) makes a later send
  // look older. The outbox sends them in the order they were written: the thread must show them in that order too.
  const sendAt = (clientId: string, createdAt: string) => ({ ...send(clientId), meta: { createdAt } })

  test('shown in the order sent, in this page and after a reload', async () => {
    const storage = createMemoryStorage()
    const first = tab('http://unused.test', storage)
    await first.store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    first.socket().serverConnect()
    first.store.dispatch(sendAt('k1', '2026-11-24T12:00:05.000Z'))
    first.store.dispatch(sendAt('k2', '2026-11-24T12:00:02.000Z'))
    expect(selectPendingMessages(first.store.getState()).map((m) => m.clientId)).toEqual(['k1', 'k2'])
    expect(first.thread().map((m) => m.id)).toEqual(['m1', 'k1', 'k2'])
    first.store.dispatch(shutdown())

    const second = tab('http://unused.test', storage)
    await second.store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    await eventually(() => expect(second.thread().map((m) => m.id)).toEqual(['m1', 'k1', 'k2']))
    second.store.dispatch(shutdown())
  })
})

describe('durable outbox, first send of a page', () => {
  test('a send before any connect or login of this page is in storage at once', async () => {
    const { mockStore } = await import('./support/mockStore')
    const { createMemoryStorage: memory } = await import('../../src/app/store')
    const storage = memory()
    // A lock never granted: the send waits, nothing goes over HTTP (no server here).
    const { dispatch } = mockStore(undefined, { storage, drainLock: { request: () => () => {} } })
    dispatch(send('k1'))
    expect(savedIds(storage)).toEqual(['k1'])
  })
})

describe('the emit goes first', () => {
  test('a send leaves on the socket before its pending copy is in the cache, whether the lock was free or held', async () => {
    const storage = createMemoryStorage()
    const { store, socket, thread } = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c2', [message(1, { conversationId: 'c2' })]))
    socket().serverConnect()
    // What the emitted message's cached thread held at the moment of each emit.
    const seen: string[][] = []
    const timeout = socket().timeout.bind(socket())
    socket().timeout = (ms: number) => {
      const timed = timeout(ms)
      return {
        emit: (event: string, ...args: unknown[]) => {
          seen.push(thread((args[0] as { conversationId: string }).conversationId).map((m) => m.id))
          timed.emit(event, ...args)
        },
      }
    }
    store.dispatch(send('k1')) // the lock is free: granted inside `request`, taken before the pending copy's patch
    store.dispatch(send('x1', 'c2')) // the lock is held (k1 is in flight)
    expect(seen).toEqual([['m1'], ['m1']])
    expect(thread('c1').map((m) => `${m.id}:${m.status ?? '-'}`)).toEqual(['m1:-', 'k1:pending'])
    expect(thread('c2').map((m) => `${m.id}:${m.status ?? '-'}`)).toEqual(['m1:-', 'x1:pending'])
    store.dispatch(shutdown())
  })

  test('a send leaves before the store and storage record it, and both hold it by the end of its dispatch', async () => {
    const storage = createMemoryStorage()
    const { store, socket, actions } = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    socket().serverConnect()
    // What the store's outbox and the stored outbox held at the moment of each emit.
    const seen: { clientId: string; inStore: boolean; inStorage: boolean; actionsBefore: string[] }[] = []
    const timeout = socket().timeout.bind(socket())
    socket().timeout = (ms: number) => {
      const timed = timeout(ms)
      return {
        emit: (event: string, ...args: unknown[]) => {
          const { clientId } = args[0] as { clientId: string }
          seen.push({
            clientId,
            inStore: store.getState().socket.outbox.some((m) => m.clientId === clientId),
            inStorage: savedIds(storage).includes(clientId),
            actionsBefore: actions.map((a) => a.type),
          })
          timed.emit(event, ...args)
        },
      }
    }
    store.dispatch(send('k1')) // the lock is free: granted inside `request`
    expect(store.getState().socket.outbox.map((m) => m.clientId)).toEqual(['k1'])
    expect(savedIds(storage)).toEqual(['k1'])
    store.dispatch(send('x1', 'c2')) // the lock is held (k1 is in flight)
    expect(savedIds(storage)).toEqual(['k1', 'x1'])
    expect(seen.map(({ actionsBefore, ...s }) => s)).toEqual([
      { clientId: 'k1', inStore: false, inStorage: false },
      { clientId: 'x1', inStore: false, inStorage: false },
    ])
    // Nothing the send causes is told to the store before the send itself: the drain starts after it.
    const types = actions.map((a) => a.type)
    expect(types.indexOf(drainStarted.type)).toBeGreaterThan(types.indexOf(sendMessage.type))
    expect(seen[0]!.actionsBefore).not.toContain(drainStarted.type)

    // The page dies right after the dispatch, the emit unanswered: the next page sends it again, same clientId.
    store.dispatch(shutdown())
    const next = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    next.socket().serverConnect()
    await eventually(() =>
      expect(
        next
          .socket()
          .sent('message:send')
          .map((p) => (p.args[0] as { clientId: string }).clientId)
          .sort(),
      ).toEqual(['k1', 'x1']),
    )
    next.store.dispatch(shutdown())
  })

  test('a send whose dispatch throws after its emit still gets its answer, and the lock goes on to the next send', async () => {
    const storage = createMemoryStorage()
    const { store, socket } = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    socket().serverConnect()
    // A store listener that throws once, inside the send's dispatch (sendMessage is not auto-batched).
    let thrown = false
    store.subscribe(() => {
      if (!thrown && store.getState().socket.outbox.some((m) => m.clientId === 'k1')) {
        thrown = true
        throw new Error('a listener failed')
      }
    })
    expect(() => store.dispatch(send('k1'))).toThrow('a listener failed')
    expect(socket().sent('message:send')).toHaveLength(1)
    socket()
      .sent('message:send')[0]!
      .ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } })
    await eventually(() =>
      expect(store.getState().socket.outbox.find((m) => m.clientId === 'k1')?.status).toBe('failed'),
    )
    store.dispatch(send('k2', 'c2'))
    await eventually(() => expect(socket().sent('message:send')).toHaveLength(2))
    store.dispatch(shutdown())
  })

  test('a store listener that throws on a send’s failure loses nothing the outbox had queued: the next send goes', async () => {
    const storage = createMemoryStorage()
    const { store, socket, actions } = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    socket().serverConnect()
    store.dispatch(send('k1'))
    store.dispatch(send('k2'))
    expect(socket().sent('message:send')).toHaveLength(1)
    // Throws once, inside the dispatch of k1's failure (sendFailed is not auto-batched), which the outbox makes.
    consoleError.mockImplementation(() => {})
    let thrown = false
    store.subscribe(() => {
      if (!thrown && store.getState().socket.outbox.find((m) => m.clientId === 'k1')?.status === 'failed') {
        thrown = true
        throw new Error('a listener failed')
      }
    })
    socket()
      .sent('message:send')[0]!
      .ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } })
    await eventually(() => expect(socket().sent('message:send')).toHaveLength(2))
    expect((socket().sent('message:send')[1]!.args[0] as { clientId: string }).clientId).toBe('k2')
    expect(actions.filter((a) => a.type === 'socket/internalError')).toEqual([
      expect.objectContaining({ payload: { where: 'outbox', message: 'a listener failed' } }),
    ])
    // Reported in development too, once.
    expect(consoleError).toHaveBeenCalledTimes(1)
    consoleError.mockClear()
    store.dispatch(shutdown())
  })

  test('a send dispatched by a store listener inside another send is emitted once, after it, and both are confirmed', async () => {
    const storage = createMemoryStorage()
    const { store, socket, actions } = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    socket().serverConnect()
    let followed = false
    store.subscribe(() => {
      if (!followed && store.getState().socket.outbox.some((m) => m.clientId === 'k1')) {
        followed = true
        store.dispatch(send('k2', 'c2'))
      }
    })
    store.dispatch(send('k1'))
    const ids = () =>
      socket()
        .sent('message:send')
        .map((p) => (p.args[0] as { clientId: string }).clientId)
    await eventually(() => expect(ids()).toEqual(['k1', 'k2']))
    expect(savedIds(storage)).toEqual(['k1', 'k2'])
    socket()
      .sent('message:send')[0]!
      .ack({ ok: true, data: stored(1, 'k1') })
    socket()
      .sent('message:send')[1]!
      .ack({ ok: true, data: { ...stored(1, 'k2'), conversationId: 'c2' } })
    await eventually(() => expect(store.getState().socket.outbox).toEqual([]))
    expect(savedIds(storage)).toEqual([])
    expect(ids()).toEqual(['k1', 'k2'])
    // The first send's held-back effects survive the second's: the drain is told to start as well as to stop.
    expect(actions.map((a) => a.type).filter((t) => t === drainStarted.type || t === drainStopped.type)).toEqual([
      drainStarted.type,
      drainStopped.type,
    ])
    store.dispatch(shutdown())
  })

  test('a send queued behind another of its conversation waits its turn, and one refused by the check fails after it is recorded', () => {
    const storage = createMemoryStorage()
    const { store, socket, actions } = tab('http://unused.test', storage, { drainLock: createMemoryLock() })
    socket().serverConnect()
    store.dispatch(send('k1'))
    store.dispatch(send('k2'))
    expect(
      socket()
        .sent('message:send')
        .map((p) => (p.args[0] as { clientId: string }).clientId),
    ).toEqual(['k1'])
    expect(savedIds(storage)).toEqual(['k1', 'k2'])
    store.dispatch(sendMessage({ conversationId: 'c3', content: '', clientId: 'bad' }))
    const types = actions.map((a) => a.type)
    const sendAt = types.lastIndexOf(sendMessage.type)
    expect(types.slice(sendAt)).toContain('socket/sendFailed')
    expect(store.getState().socket.outbox.find((m) => m.clientId === 'bad')?.status).toBe('failed')
    expect(socket().sent('message:send')).toHaveLength(1)
    store.dispatch(shutdown())
  })
})

// The other tab's sends that storage refused live in its memory alone: the tab where the user chose "Log out" finds
// nothing stored, yet the user chose to drop every unsent send of theirs, these too.
describe('"Log out" in another tab while this tab holds sends storage refused', () => {
  test('they are dropped too: the next login sends nothing', async () => {
    const storage = outboxRefusingStorage()
    const options = { drainLock: createMemoryLock(), backoff: NEVER_RETRY }
    const leaving = tab('http://unused.test', storage, options)
    const other = tab('http://unused.test', storage, options)
    other.socket().serverConnect('s2')
    other.store.dispatch(send('b1'))
    expect(sentIds(other)).toEqual(['b1'])
    expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
    leaving.store.dispatch(loggedOut())
    // What the session sync does on that storage event, then the user's next login on this browser.
    other.store.dispatch(loggedOut({ keepOutbox: true }))
    other.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    other.socket().serverConnect('s3')
    await eventually(() => expect(selectConnection(other.store.getState()).status).toBe('connected'))
    expect(selectPendingMessages(other.store.getState())).toEqual([])
    expect(sentIds(other)).toEqual([])
    for (const { store } of [leaving, other]) store.dispatch(shutdown())
  })

  // A caller of the layer dispatching its logout itself (not the app's "Log out", which marks it first): the session it
  // removes is saved by a store subscriber, before the layer's handlers run, and Chromium's other tab acts on that
  // removal as it hears it, before the layer's later writes reach it.
  test('heard as the session is removed, before the rest of the logout: they are dropped all the same', async () => {
    const backing = outboxRefusingStorage()
    const otherWindow = new EventTarget()
    const storage: StorageLike = {
      getItem: (key) => backing.getItem(key),
      setItem: (key, value) => backing.setItem(key, value),
      removeItem: (key) => {
        const was = backing.getItem(key)
        backing.removeItem(key)
        if (key === AUTH_STORAGE_KEY && was !== null)
          otherWindow.dispatchEvent(Object.assign(new Event('storage'), { key, newValue: null }))
      },
    }
    saveAuth(storage, { token: 'token-1', user: alice })
    const options = { drainLock: createMemoryLock(), backoff: NEVER_RETRY }
    const leaving = tab('http://unused.test', storage, options)
    const other = tab('http://unused.test', storage, options)
    const stopSync = syncSession(other.store, storage, otherWindow as unknown as Window)
    other.socket().serverConnect('s2')
    other.store.dispatch(send('b1'))
    expect(sentIds(other)).toEqual(['b1'])
    expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
    leaving.store.dispatch(loggedOut())
    expect(other.store.getState().auth.token).toBeNull()
    // Not held for her next session: the page would ask her to keep it open for sends she dropped.
    expect(selectKeptUnsent(other.store.getState())).toBe(0)
    // Her next login is in the tab where she logged out; the other tab follows it.
    leaving.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    other.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    other.socket().serverConnect('s3')
    await eventually(() => expect(selectConnection(other.store.getState()).status).toBe('connected'))
    expect(selectPendingMessages(other.store.getState())).toEqual([])
    expect(sentIds(other)).toEqual([])
    stopSync()
    for (const { store } of [leaving, other]) store.dispatch(shutdown())
  })

  test('storage full to the last character: the refresh token the logout forgets first makes room for the mark', async () => {
    // A Web Storage with a quota, as browsers have (keys and values counted in characters).
    const items = new Map<string, string>()
    const used = () => [...items].reduce((sum, [key, value]) => sum + key.length + value.length, 0)
    let quota = Number.POSITIVE_INFINITY
    const storage: StorageLike = {
      getItem: (key) => items.get(key) ?? null,
      removeItem: (key) => void items.delete(key),
      setItem: (key, value) => {
        const grows = key.length + value.length - (items.has(key) ? key.length + items.get(key)!.length : 0)
        if (used() + grows > quota) throw new Error('QuotaExceededError')
        items.set(key, value)
      },
    }
    saveRefreshToken(storage, alice.id, 'refresh-1')
    const options = { drainLock: createMemoryLock(), backoff: NEVER_RETRY }
    const leaving = tab('http://unused.test', storage, options)
    const other = tab('http://unused.test', storage, options)
    other.socket().serverConnect('s2')
    quota = used()
    other.store.dispatch(send('b1'))
    expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
    leaving.store.dispatch(loggedOut())
    other.store.dispatch(loggedOut({ keepOutbox: true }))
    other.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    other.socket().serverConnect('s3')
    await eventually(() => expect(selectConnection(other.store.getState()).status).toBe('connected'))
    expect(selectPendingMessages(other.store.getState())).toEqual([])
    expect(sentIds(other)).toEqual([])
    for (const { store } of [leaving, other]) store.dispatch(shutdown())
  })
})

// What such a logout leaves in the page's memory alone is the layer's to say (the page asks before it closes while
// there are some): the count it keeps, in its slice, from the logout until the user's next login or "Log out".
describe('sends a logout nobody asked for left in the page alone, as the socket slice says', () => {
  test('counted from that logout, through another user’s session, until the user is back', () => {
    const full = refusingStorage(true)
    const { store, actions } = tab('http://unused.test', full.storage)
    store.dispatch(send('k1'))
    store.dispatch(send('k2'))
    expect(selectKeptUnsent(store.getState())).toBe(0)
    store.dispatch(loggedOut({ keepOutbox: true }))
    expect(selectKeptUnsent(store.getState())).toBe(2)
    expect(actions.filter((a) => a.type === 'socket/outboxKept').map((a) => a.payload)).toEqual([
      { userId: alice.id, count: 2 },
    ])
    // Bob's session in this page, and his "Log out": hers are still kept.
    store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    store.dispatch(loggedOut())
    expect(selectKeptUnsent(store.getState())).toBe(2)
    store.dispatch(loggedIn({ token: 'token-2', user: alice }))
    expect(selectKeptUnsent(store.getState())).toBe(0)
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k1', 'k2'])
    store.dispatch(shutdown())
  })

  test('none when storage holds them, and none once the user’s "Log out" in another tab dropped them', () => {
    const storage = createMemoryStorage()
    const held = tab('http://unused.test', storage)
    held.store.dispatch(send('k1'))
    held.store.dispatch(loggedOut({ keepOutbox: true }))
    expect(selectKeptUnsent(held.store.getState())).toBe(0)
    held.store.dispatch(shutdown())

    const refusing = outboxRefusingStorage()
    const other = tab('http://unused.test', refusing)
    other.store.dispatch(send('b1'))
    // The tab where she chose "Log out" (nothing of hers stored there), then this tab hears of it.
    const leaving = tab('http://unused.test', refusing)
    leaving.store.dispatch(loggedOut())
    other.store.dispatch(loggedOut({ keepOutbox: true }))
    expect(selectKeptUnsent(other.store.getState())).toBe(0)
    for (const { store } of [leaving, other]) store.dispatch(shutdown())
  })
})

/** A storage where Alice's outbox no longer fits (nearly full, a long message): its writes are refused, small ones go. */
function outboxRefusingStorage(): StorageLike {
  const backing = createMemoryStorage()
  return {
    getItem: (key) => backing.getItem(key),
    removeItem: (key) => backing.removeItem(key),
    setItem: (key, value) => {
      if (key === outboxStorageKey(alice.id)) throw new Error('QuotaExceededError')
      backing.setItem(key, value)
    },
  }
}
