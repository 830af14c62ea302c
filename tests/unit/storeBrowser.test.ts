// @vitest-environment jsdom
import { afterEach, describe, expect, test } from 'vitest'
import { loggedIn, loggedOut } from '../../src/app/authSlice'
import { syncSession } from '../../src/app/sessionSync'
import { AUTH_STORAGE_KEY, createMemoryStorage, type StorageLike } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { api } from '../../src/api'
import {
  createOutboxStorage,
  discardedStorageKey,
  selectConnection,
  selectPendingMessages,
  sendMessage,
} from '../../src/realtime'
import type { TabMessage } from '../../src/realtime/tabs/protocol'
import { manualVisibility } from '../../src/realtime/tabs/visibility'
import { eventually } from './support/eventually'
import { fakeSockets, type FakeSocket } from './support/fakeSocket'
import { alice, bob, jwt } from './support/fixtures'
import { deadUrl } from './support/httpStub'
import { browser as tabsBrowser } from './tabs/support/browser'

afterEach(() => {
  localStorage.clear()
})

describe('makeStore in a browser', () => {
  test('defaults: localStorage for the session, the page origin for the API and the socket', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket })
    expect(store.getState().auth).toEqual({ token: 'saved', user: alice })
    expect(sockets.last.url).toBe(window.location.origin)
    expect(sockets.last.handshakeToken()).toBe('saved')
  })

  test('another tab logging out (the storage event) logs this one out too', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket })
    sockets.last.serverConnect()
    window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: 'x', newValue: null }))
    expect(store.getState().auth).toEqual({ token: null, user: null })
    expect(store.getState().socket.connection.status).toBe('idle')
    expect(sockets.last.disconnectCalls).toBe(1)
  })

  test('a send discarded in another tab (the storage event naming it) leaves this tab’s outbox and thread at once', async () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket, shareSocket: false })
    await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', []))
    // Offline: both stay pending, shown in the thread.
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'first', clientId: 'k1' }))
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'second', clientId: 'k2' }))
    const thread = () =>
      api.endpoints.getMessages
        .select('c1')(store.getState())
        .data?.map((m) => m.id)
    expect(thread()).toEqual(['k1', 'k2'])
    const hear = (key: string) =>
      window.dispatchEvent(new StorageEvent('storage', { key, oldValue: null, newValue: localStorage.getItem(key) }))
    // Another user's discards, and a discard of a send this tab does not hold, change nothing here.
    createOutboxStorage(localStorage).recordDiscard(bob.id, 'k1')
    hear(discardedStorageKey(bob.id))
    createOutboxStorage(localStorage).recordDiscard(alice.id, 'elsewhere')
    hear(discardedStorageKey(alice.id))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k1', 'k2'])
    createOutboxStorage(localStorage).recordDiscard(alice.id, 'k1')
    hear(discardedStorageKey(alice.id))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k2'])
    expect(thread()).toEqual(['k2'])
    expect(
      createOutboxStorage(localStorage)
        .load(alice.id)
        .map((m) => m.clientId),
    ).toEqual(['k2'])
    // A page back from the back/forward cache heard no storage event meanwhile: it reads the list as stored.
    createOutboxStorage(localStorage).recordDiscard(alice.id, 'k2')
    window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: false }))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k2'])
    window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))
    expect(selectPendingMessages(store.getState())).toEqual([])
    expect(thread()).toEqual([])
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'third', clientId: 'k3' }))
    store.dispose()
    // Disposed: it hears nothing more.
    createOutboxStorage(localStorage).recordDiscard(alice.id, 'k3')
    hear(discardedStorageKey(alice.id))
    window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k3'])
  })

  test('another tab’s "Log in again" (its outbox kept for the next login): following it keeps the stored sends too', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const socketsA = fakeSockets()
    const socketsB = fakeSockets()
    const tabA = trackedStore({ createSocket: socketsA.createSocket, shareSocket: false })
    const tabB = trackedStore({ createSocket: socketsB.createSocket, shareSocket: false })
    socketsA.last.serverConnect()
    socketsB.last.serverConnect()
    tabA.dispatch(sendMessage({ conversationId: 'c1', content: 'unsent', clientId: 'k1' }))
    const stored = () =>
      createOutboxStorage(localStorage)
        .load(alice.id)
        .map((m) => m.clientId)
    expect(stored()).toEqual(['k1'])
    tabA.dispatch(loggedOut({ keepOutbox: true }))
    expect(stored()).toEqual(['k1'])
    // The browser tells tab B: it follows the logout, and the tab where the user chose decided about the outbox.
    window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: 'x', newValue: null }))
    expect(tabB.getState().auth.token).toBeNull()
    expect(stored()).toEqual(['k1'])
    tabA.dispose()
    tabB.dispose()
  })

  test('another tab refreshing the token (the storage event): this one uses the new token', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket })
    const fresh = JSON.stringify({ token: 'fresh', user: alice })
    localStorage.setItem(AUTH_STORAGE_KEY, fresh)
    window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: 'x', newValue: fresh }))
    expect(store.getState().auth).toEqual({ token: 'fresh', user: alice })
    expect(sockets.last.handshakeToken()).toBe('fresh')
    expect(sockets.sockets).toHaveLength(1)
  })

  test('another tab logging in as another user: this one leaves its user’s session and follows into the new one', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket })
    sockets.last.serverConnect()
    // Alice's unsent message, kept in storage for her next login (nobody asked her to drop it).
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'unsent', clientId: 'k1' }))
    const theirs = JSON.stringify({ token: 'bobs', user: bob })
    localStorage.setItem(AUTH_STORAGE_KEY, theirs)
    window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: 'x', newValue: theirs }))
    // Alice's socket closed; a new one for Bob, with his token; his session stays stored as his tab wrote it.
    expect(store.getState().auth).toEqual({ token: 'bobs', user: bob })
    expect(sockets.sockets).toHaveLength(2)
    expect(sockets.sockets[0]!.disconnectCalls).toBe(1)
    expect(sockets.last.handshakeToken()).toBe('bobs')
    expect(store.getState().socket.connection.status).toBe('connecting')
    expect(store.getState().socket.outbox).toEqual([])
    expect(JSON.parse(localStorage.getItem(AUTH_STORAGE_KEY) ?? 'null')).toEqual(JSON.parse(theirs))
    expect(
      createOutboxStorage(localStorage)
        .load(alice.id)
        .map((m) => m.clientId),
    ).toEqual(['k1'])
  })

  test('a logged-out tab follows a login in another tab (the same user or another)', () => {
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket })
    expect(sockets.sockets).toHaveLength(0)
    const theirs = JSON.stringify({ token: 'fresh', user: alice })
    localStorage.setItem(AUTH_STORAGE_KEY, theirs)
    window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: null, newValue: theirs }))
    expect(store.getState().auth).toEqual({ token: 'fresh', user: alice })
    expect(sockets.last.handshakeToken()).toBe('fresh')
    // Something unreadable in storage is not a login.
    store.dispatch({ type: 'auth/loggedOut' })
    localStorage.setItem(AUTH_STORAGE_KEY, '{"token":')
    window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: null, newValue: '{"token":' }))
    expect(store.getState().auth).toEqual({ token: null, user: null })
    store.dispose()
  })

  test('dispose() takes the store’s window listeners away: another tab’s logout or the page going away reach it no more', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const added: string[] = []
    const removed: string[] = []
    const add = window.addEventListener
    const remove = window.removeEventListener
    window.addEventListener = function (this: Window, ...args: Parameters<Window['addEventListener']>) {
      added.push(args[0])
      return add.apply(this, args)
    } as Window['addEventListener']
    window.removeEventListener = function (this: Window, ...args: Parameters<Window['removeEventListener']>) {
      removed.push(args[0])
      return remove.apply(this, args)
    } as Window['removeEventListener']
    try {
      const store = trackedStore({ createSocket: sockets.createSocket })
      expect(added).toEqual(expect.arrayContaining(['pagehide', 'storage']))
      store.dispose()
      // Every listener the store (and the realtime layer in it) added is gone.
      expect(removed.sort()).toEqual(added.sort())
      // The other tab's logout no longer reaches the disposed store: its session stays as it was.
      const before = store.getState().auth
      window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: 'x', newValue: null }))
      expect(store.getState().auth).toBe(before)
      expect(before.token).toBe('saved')
    } finally {
      window.addEventListener = add
      window.removeEventListener = remove
    }
  })

  test('a page back from the back/forward cache catches up with the session in storage (it heard no storage event)', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'alices', user: alice }))
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket })
    // Back with nothing changed meanwhile: nothing happens.
    const before = store.getState()
    window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))
    expect(store.getState()).toBe(before)
    expect(sockets.sockets).toHaveLength(1)
    // Meanwhile, in another tab: Alice logged out and Bob logged in.
    const theirs = JSON.stringify({ token: 'bobs', user: bob })
    localStorage.setItem(AUTH_STORAGE_KEY, theirs)
    window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))
    expect(store.getState().auth).toEqual({ token: 'bobs', user: bob })
    expect(JSON.parse(localStorage.getItem(AUTH_STORAGE_KEY) ?? 'null')).toEqual(JSON.parse(theirs))
    store.dispose()
  })

  test('a tab that logs out a user storage no longer holds leaves the session stored there alone', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'alices', user: alice }))
    const sockets = fakeSockets()
    const store = trackedStore({ createSocket: sockets.createSocket })
    // Bob's session is stored now, and this tab has not heard of it (a missed event): its logout is Alice's only.
    const theirs = JSON.stringify({ token: 'bobs', user: bob })
    localStorage.setItem(AUTH_STORAGE_KEY, theirs)
    store.dispatch({ type: 'auth/loggedOut' })
    expect(store.getState().auth).toEqual({ token: null, user: null })
    expect(localStorage.getItem(AUTH_STORAGE_KEY)).toBe(theirs)
    store.dispose()
  })
})

describe('a session that expired, then a login in another tab', () => {
  const cleanups: (() => void)[] = []
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup()
  })

  /**
   * A tab of a "browser" whose tabs share `storage` (and, with `edges`, one socket), with the `storage` events the
   * browser would send it (every tab but the one that wrote) delivered by `hear()`.
   */
  function open(
    storage: StorageLike,
    apiUrl: string,
    shared?: { edges: ReturnType<typeof tabsBrowser>; tabId: string },
  ) {
    const sockets = fakeSockets()
    const actions: string[] = []
    const visibility = manualVisibility(true)
    const store = trackedStore({
      apiUrl,
      storage,
      createSocket: sockets.createSocket,
      extraMiddleware: [
        () => (next) => (action) => {
          actions.push((action as { type?: string }).type ?? '')
          return next(action)
        },
      ],
      realtime: {
        tabs: shared
          ? {
              channelName: 'relogin',
              ...shared.edges.tab(shared.tabId),
              visibility,
              tabId: shared.tabId,
              // No beat a tab misses in a test's life (a follower takes the lock after three): at 20 ms, a worker
              // starved for some 70 ms (a loaded CI machine) let another tab take the lock from the holder, whose
              // socket these tests name.
              heartbeatMs: 60_000,
            }
          : null,
        retryTriggers: () => () => {},
        backoff: { baseMs: 10, capMs: 20 },
      },
    })
    const listeners: Record<string, (e: unknown) => void> = {}
    const stop = syncSession(store, storage, {
      addEventListener: (type: string, l: (e: unknown) => void) => void (listeners[type] = l),
      removeEventListener: () => {},
    } as never)
    cleanups.push(() => {
      stop()
      store.dispose()
    })
    const hear = () => listeners.storage!({ key: AUTH_STORAGE_KEY, newValue: storage.getItem(AUTH_STORAGE_KEY) })
    const connection = () => selectConnection(store.getState())
    return {
      store,
      sockets,
      actions,
      hear,
      visibility,
      status: () => connection().status,
      role: () => connection().role,
    }
  }
  const signedIn = (token: string) => {
    const storage = createMemoryStorage()
    storage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token, user: alice }))
    return storage
  }
  /** Another tab stores a session of Alice's (a login, or a refresh). */
  const storeSession = (storage: StorageLike, token: string) =>
    storage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token, user: alice }))
  const clientIds = (socket: FakeSocket) =>
    socket.sent('message:send').map((p) => (p.args[0] as { clientId: string }).clientId)

  test('a tab left unauthorized follows the same user’s login elsewhere: it connects again and sends what waited', async () => {
    const storage = signedIn('alice-1')
    const tab = open(storage, await deadUrl())
    // A refused handshake, then a refused refresh (no refresh token in storage): the session is over.
    tab.sockets.last.serverRefuse('UNAUTHORIZED')
    await eventually(() => expect(tab.status()).toBe('unauthorized'))
    tab.store.dispatch(sendMessage({ conversationId: 'c1', content: 'typed while expired', clientId: 'k1' }))
    // Alice logs in again in another tab; this tab, whose token is still set, hears it as a new token of hers.
    storeSession(storage, 'alice-2')
    tab.hear()
    expect(tab.store.getState().auth.token).toBe('alice-2')
    expect(tab.status()).toBe('connecting')
    expect(tab.sockets.sockets).toHaveLength(2)
    expect(tab.sockets.last.handshakeToken()).toBe('alice-2')
    tab.sockets.last.serverConnect()
    expect(tab.status()).toBe('connected')
    await eventually(() => expect(clientIds(tab.sockets.last)).toEqual(['k1']))
  })

  test('a live tab hearing another tab’s refresh renews its socket in place: no new socket, no new session', () => {
    const storage = signedIn('alice-1')
    const tab = open(storage, 'http://unused.test')
    tab.sockets.last.serverConnect()
    storeSession(storage, 'alice-1b')
    tab.hear()
    expect(tab.actions).toContain('auth/tokenRefreshed')
    expect(tab.actions).not.toContain('socket/sessionStarted')
    expect(tab.sockets.sockets).toHaveLength(1)
    expect(tab.sockets.last.sent('session:renew').map((p) => p.args[0])).toEqual([{ token: 'alice-1b' }])
    expect(tab.status()).toBe('connected')
  })

  // Alice logged in anew in another tab (a new session, say after that tab's own expiry) while this one was live: its
  // socket belongs to the old session, and `session:renew` with another session's token is refused and disconnected.
  test('a live tab hearing a new session of the same user (another sid) reconnects with it, renewing nothing', () => {
    const storage = signedIn(jwt({ sub: alice.id, sid: 's1', iat: 1, exp: 2 }))
    const tab = open(storage, 'http://unused.test')
    tab.sockets.last.serverConnect()
    const fresh = jwt({ sub: alice.id, sid: 's2', iat: 1, exp: 2 })
    storeSession(storage, fresh)
    tab.hear()
    expect(tab.store.getState().auth.token).toBe(fresh)
    expect(tab.sockets.sockets[0]!.sent('session:renew')).toEqual([])
    expect(tab.sockets.sockets).toHaveLength(2)
    expect(tab.sockets.last.handshakeToken()).toBe(fresh)
    tab.sockets.last.serverConnect()
    expect(tab.status()).toBe('connected')
  })

  /** Two tabs sharing one socket, connected; then the server ends the session, and both say `unauthorized`. */
  async function twoTabsThenSessionEnded(storage: Parameters<typeof open>[0], edges: ReturnType<typeof tabsBrowser>) {
    const one = open(storage, 'http://unused.test', { edges, tabId: 'tab-1' })
    const two = open(storage, 'http://unused.test', { edges, tabId: 'tab-2' })
    await eventually(() => expect([one.role(), two.role()].sort()).toEqual(['follower', 'leader']))
    const [holder, follower] = one.role() === 'leader' ? [one, two] : [two, one]
    await eventually(() => expect(holder.sockets.sockets).toHaveLength(1))
    holder.sockets.last.serverConnect()
    holder.sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    await eventually(() => expect([holder.status(), follower.status()]).toEqual(['connected', 'connected']))
    holder.sockets.last.serverKick()
    await eventually(() => expect([holder.status(), follower.status()]).toEqual(['unauthorized', 'unauthorized']))
    return { holder, follower }
  }

  // Two tabs of one browser share one socket; the session ends, both say `unauthorized`, and Alice logs in again in
  // the follower tab. The holder hears it as a new token of the same user: it must open the browser's socket again,
  // or the follower waits for a holder that never comes.
  test('with a shared socket, a login in the follower tab brings the browser’s socket back (the holder follows)', async () => {
    const edges = tabsBrowser()
    const storage = signedIn('alice-1')
    // The server ends the session: the holder is kicked, its refresh refused (no refresh token): unauthorized, in both.
    const { holder, follower } = await twoTabsThenSessionEnded(storage, edges)

    // Alice logs in again in the follower tab (the login mutation dispatches auth/loggedIn; the session is stored).
    follower.store.dispatch(loggedIn({ token: 'alice-2', user: alice }))
    holder.hear()
    expect(holder.store.getState().auth.token).toBe('alice-2')
    // The holder opens the browser's socket for the new session, and both tabs are online on it.
    await eventually(() => expect(holder.sockets.sockets).toHaveLength(2))
    expect(holder.sockets.last.handshakeToken()).toBe('alice-2')
    holder.sockets.last.serverConnect()
    holder.sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    await eventually(() => expect([holder.status(), follower.status()]).toEqual(['connected', 'connected']))
    expect([holder.role(), follower.role()]).toEqual(['leader', 'follower'])
    expect(follower.sockets.sockets).toHaveLength(0)
  })

  // The holder keeps the lock after the session ended (every tab follows it), and has no socket nor hub left: a tab
  // opened afterwards (or one that asks again) must still be told the session is over, not wait for a holder forever.
  // A young token of a revoked session: the scheduled refresh is minutes away, and no page read is made here.
  test('with a shared socket, a tab opened after the session ended says so too; a login in it brings every tab back', async () => {
    const edges = tabsBrowser()
    const now = Math.floor(Date.now() / 1000)
    const storage = signedIn(jwt({ sub: alice.id, sid: 's1', iat: now, exp: now + 900 }))
    // The server ends the session: the holder is kicked, its refresh refused (no refresh token): unauthorized, in both.
    const { holder, follower } = await twoTabsThenSessionEnded(storage, edges)

    // (a) A new tab finds the ended session in storage: it follows the holder, which must tell it the session is over.
    const said: TabMessage[] = []
    edges.tab('listener').channel.subscribe((message) => void said.push(message))
    const late = open(storage, 'http://unused.test', { edges, tabId: 'tab-3' })
    await eventually(() => expect([late.role(), late.status()]).toEqual(['follower', 'unauthorized']))
    expect(late.sockets.sockets).toHaveLength(0)

    // Alice logs in again in the new tab: every tab comes back on one socket, held by the tab that held it.
    const fresh = jwt({ sub: alice.id, sid: 's2', iat: now, exp: now + 900 })
    const sinceLogin = said.length
    late.store.dispatch(loggedIn({ token: fresh, user: alice }))
    // Until the other tabs hear of it (the storage event is another task than the channel's), the holder must not tell
    // the new session's tab that the old one is over: storage already holds the new session, so it waits. It answers
    // an attach as it hears it, so its answer would have come by the time the attach has reached every tab.
    const lateSaid = (kind: TabMessage['kind']) =>
      said.slice(sinceLogin).filter((m) => m.kind === kind && (m.from === 'tab-3' || ('to' in m && m.to === 'tab-3')))
    await eventually(() => expect(lateSaid('attach')).not.toEqual([]))
    expect(lateSaid('down')).toEqual([])
    expect(late.status()).toBe('connecting')
    holder.hear()
    follower.hear()
    await eventually(() => expect(holder.sockets.sockets).toHaveLength(2))
    expect(holder.sockets.last.handshakeToken()).toBe(fresh)
    holder.sockets.last.serverConnect()
    holder.sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    await eventually(() =>
      expect([holder.status(), follower.status(), late.status()]).toEqual(['connected', 'connected', 'connected']),
    )
    expect([holder.role(), follower.role(), late.role()]).toEqual(['leader', 'follower', 'follower'])
  })

  test('with a shared socket, after the session ended: a hidden follower shown says so, and so does a tab opened once the holder closed', async () => {
    const edges = tabsBrowser()
    const now = Math.floor(Date.now() / 1000)
    const storage = signedIn(jwt({ sub: alice.id, sid: 's1', iat: now, exp: now + 900 }))
    const one = open(storage, 'http://unused.test', { edges, tabId: 'tab-1' })
    await eventually(() => expect(one.role()).toBe('leader'))
    const two = open(storage, 'http://unused.test', { edges, tabId: 'tab-2' })
    await eventually(() => expect(one.sockets.sockets).toHaveLength(1))
    one.sockets.last.serverConnect()
    one.sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    await eventually(() => expect([one.status(), two.status()]).toEqual(['connected', 'connected']))
    two.visibility.set(false)
    one.sockets.last.serverKick()
    await eventually(() => expect(one.status()).toBe('unauthorized'))

    // (b) The follower, in the background when it ended, is looked at: it says so, and stays so.
    two.visibility.set(true)
    await eventually(() => expect([two.role(), two.status()]).toEqual(['follower', 'unauthorized']))

    // The holder's tab closes: the lock goes to the other tab, whose session is over too; a tab opened then is told.
    one.store.dispose()
    edges.crash('tab-1')
    await eventually(() => expect(two.role()).toBe('leader'))
    expect(two.status()).toBe('unauthorized')
    const late = open(storage, 'http://unused.test', { edges, tabId: 'tab-3' })
    await eventually(() => expect([late.role(), late.status()]).toEqual(['follower', 'unauthorized']))
    expect([two.sockets.sockets, late.sockets.sockets]).toEqual([[], []])
  })
})
