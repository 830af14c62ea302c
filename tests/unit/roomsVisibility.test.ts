import { configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { bob, conversation, message } from './support/fixtures'
import {
  connect,
  createSocketMiddleware,
  joinConversation,
  joinFailed,
  leaveConversation,
  manualVisibility,
  shutdown,
} from '../../src/realtime'
import { disposeWithTest } from '../support/trackedStores'
import { fakeSockets } from './support/fakeSocket'
import { loggedInState, rootReducer, settle, socketOptions } from './support/mockStore'

// The contract: looking at a conversation (which marks its messages read and tells the others "Seen") counts only for
// a visible tab. A store with a socket of its own (no Web Locks, as on a page over plain http from a LAN address, or
// no sharing) is told so by the page's visibility, as the tab hub is for the shared socket.

function soloStore(visibility?: ReturnType<typeof manualVisibility>, over: { ackTimeoutMs?: number } = {}) {
  const sockets = fakeSockets()
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    actions.push(action as UnknownAction)
    return next(action)
  }
  const store = configureStore({
    reducer: rootReducer,
    preloadedState: loggedInState(),
    middleware: (gDM) =>
      gDM({ serializableCheck: false, immutableCheck: false })
        .prepend(record)
        .concat(
          api.middleware,
          createSocketMiddleware(socketOptions(sockets, { ...(visibility ? { visibility } : {}), ...over })),
        ),
  })
  // Its rooms' joins, unanswered, would otherwise go on being tried again after the test, in the files after it.
  disposeWithTest(() => store.dispatch(shutdown()))
  store.dispatch(connect())
  sockets.last.serverConnect()
  sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
  return { store, sockets, actions }
}

const joins = (sockets: ReturnType<typeof fakeSockets>) => sockets.last.sent('conversation:join').map((p) => p.args[0])
const leaves = (sockets: ReturnType<typeof fakeSockets>) =>
  sockets.last.sent('conversation:leave').map((p) => p.args[0])

describe('a store with its own socket looks at its open conversations only while the page is visible', () => {
  test('hidden: its rooms are left; visible again: joined again; a reconnect while hidden joins nothing', () => {
    const visibility = manualVisibility(true)
    const { store, sockets } = soloStore(visibility)
    store.dispatch(joinConversation({ conversationId: 'c1' }))
    sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null })
    expect(joins(sockets)).toEqual(['c1'])

    visibility.set(false)
    expect(leaves(sockets)).toEqual(['c1'])
    // Still wanted: the thread is open, only not looked at.
    expect(store.getState().socket.rooms).toEqual(['c1'])

    sockets.last.serverDrop()
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    // A thread opened while hidden waits too.
    store.dispatch(joinConversation({ conversationId: 'c2' }))
    expect(joins(sockets)).toEqual(['c1'])

    visibility.set(true)
    expect(joins(sockets)).toEqual(['c1', 'c1', 'c2'])
    // A thread closed while hidden is not joined again when the page shows.
    visibility.set(false)
    store.dispatch(leaveConversation({ conversationId: 'c1' }))
    visibility.set(true)
    expect(joins(sockets)).toEqual(['c1', 'c1', 'c2', 'c2'])
  })

  describe("by default, the document's visibility", () => {
    type Doc = { visibilityState: 'visible' | 'hidden'; listeners: Set<() => void> }
    let doc: Doc
    beforeEach(() => {
      doc = { visibilityState: 'visible', listeners: new Set() }
      vi.stubGlobal('document', {
        get visibilityState() {
          return doc.visibilityState
        },
        addEventListener: (type: string, listener: () => void) =>
          type === 'visibilitychange' && doc.listeners.add(listener),
        removeEventListener: (_type: string, listener: () => void) => doc.listeners.delete(listener),
      })
    })
    afterEach(() => {
      // Node has no `document`: put back as it was means none at all (assigning `undefined` would leave one, empty, to
      // the files after this one in the thread).
      vi.unstubAllGlobals()
      vi.useRealTimers()
    })

    test('the user switches to another tab with the thread open: the server is told they are no longer looking', () => {
      const { store, sockets } = soloStore()
      store.dispatch(joinConversation({ conversationId: 'c1' }))
      doc.visibilityState = 'hidden'
      for (const listener of [...doc.listeners]) listener()
      expect(leaves(sockets)).toEqual(['c1'])
    })
  })
})

describe('the conversation list of a hidden page', () => {
  // Hidden, the page is not looking at its open thread (the server counts new messages unread): so does the list.
  test('a message arriving while the page is hidden counts as unread (the server counts it: the room was left)', async () => {
    const visibility = manualVisibility(true)
    const { store, sockets } = soloStore(visibility)
    await store.dispatch(
      api.util.upsertQueryData('getConversations', undefined, [
        conversation('c1', { lastMessage: message(1), unreadCount: 0, updatedAt: message(1).createdAt }),
      ]),
    )
    sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' })
    // The thread is open and looked at.
    store.dispatch(joinConversation({ conversationId: 'c1' }))
    sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null })

    // The user switches to another browser tab: the layer leaves the room on the server (it stays wanted).
    visibility.set(false)
    expect(sockets.last.sent('conversation:leave').map((p) => p.args[0])).toEqual(['c1'])

    // Bob writes. The server has no viewer for c1 any more: no `conversation:read` follows, its unreadCount is 1.
    sockets.last.serverEmit('message:new', message(2, { senderId: bob.id }), { offset: 2 })
    await settle()
    // The event was applied (last message m2)…
    expect(api.endpoints.getConversations.select()(store.getState() as never).data?.[0]?.lastMessage?.id).toBe('m2')
    // The hidden tab's title ("(1) Talemy") and the list should say 1; the layer keeps 0.
    expect(unread(store.getState())).toBe(1)
  })
})

const unread = (state: unknown) =>
  api.endpoints.getConversations
    .select()(state as never)
    .data?.find((c) => c.id === 'c1')?.unreadCount

describe('the conversation list while a join has not gone through', () => {
  /** The list holds c1 (Bob's m1 read), the socket is synced, and the user opens c1: its join is sent. */
  async function openThreadWithList(
    store: ReturnType<typeof soloStore>['store'],
    sockets: ReturnType<typeof soloStore>['sockets'],
  ) {
    await store.dispatch(
      api.util.upsertQueryData('getConversations', undefined, [
        conversation('c1', { lastMessage: message(1), unreadCount: 0, updatedAt: message(1).createdAt }),
      ]),
    )
    sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' })
    store.dispatch(joinConversation({ conversationId: 'c1' }))
  }

  // Until the server says the socket is in the room it does not mark that thread's new messages read for this user:
  // the list counts them, or it stays below the server's count once the thread is closed before a retry gets in.
  test.each([
    [
      'refused for now (RATE_LIMITED)',
      { ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 60_000 } },
    ],
    ['the server could not (INTERNAL)', { ok: false, error: { code: 'INTERNAL', message: 'boom' } }],
  ])('a message arriving after the join failed, %s, counts as unread', async (_, answer) => {
    const { store, sockets } = soloStore(manualVisibility(true))
    await openThreadWithList(store, sockets)
    sockets.last.sent('conversation:join')[0]!.ack(answer)
    await settle()

    // Bob writes; the server has no viewer for c1, so no `conversation:read` follows.
    sockets.last.serverEmit('message:new', message(2, { senderId: bob.id }), { offset: 2 })
    await settle()
    expect(api.endpoints.getConversations.select()(store.getState() as never).data?.[0]?.lastMessage?.id).toBe('m2')
    // The user closes the thread before the retry.
    store.dispatch(leaveConversation({ conversationId: 'c1' }))
    expect(unread(store.getState())).toBe(1)
  })

  test('a message arriving while the join is unanswered, which then times out, counts as unread', async () => {
    const { store, sockets, actions } = soloStore(manualVisibility(true), { ackTimeoutMs: 50 })
    await openThreadWithList(store, sockets)
    sockets.last.serverEmit('message:new', message(2, { senderId: bob.id }), { offset: 2 })
    await vi.waitFor(
      () =>
        expect(actions.filter((a) => joinFailed.match(a)).map((a) => a.payload)).toEqual([
          { conversationId: 'c1', code: 'NETWORK' },
        ]),
      { timeout: 10_000 },
    )
    store.dispatch(leaveConversation({ conversationId: 'c1' }))
    expect(unread(store.getState())).toBe(1)
  })

  test('a message arriving once the join went through is not counted (the server marks it read)', async () => {
    const { store, sockets } = soloStore(manualVisibility(true))
    await openThreadWithList(store, sockets)
    sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null })
    await settle()
    sockets.last.serverEmit('message:new', message(2, { senderId: bob.id }), { offset: 2 })
    await settle()
    expect(api.endpoints.getConversations.select()(store.getState() as never).data?.[0]?.lastMessage?.id).toBe('m2')
    expect(unread(store.getState())).toBe(0)
  })
})
