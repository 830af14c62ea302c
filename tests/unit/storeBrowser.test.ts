// @vitest-environment jsdom
import { afterEach, describe, expect, test } from 'vitest'
import { loggedOut } from '../../src/app/authSlice'
import { AUTH_STORAGE_KEY, makeStore } from '../../src/app/store'
import { createOutboxStorage, sendMessage } from '../../src/realtime'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob } from './support/fixtures'

afterEach(() => {
  localStorage.clear()
})

describe('makeStore in a browser', () => {
  test('defaults: localStorage for the session, the page origin for the API and the socket', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const store = makeStore({ createSocket: sockets.createSocket })
    expect(store.getState().auth).toEqual({ token: 'saved', user: alice })
    expect(sockets.last.url).toBe(window.location.origin)
    expect(sockets.last.handshakeToken()).toBe('saved')
  })

  test('another tab logging out (the storage event) logs this one out too', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const sockets = fakeSockets()
    const store = makeStore({ createSocket: sockets.createSocket })
    sockets.last.serverConnect()
    window.dispatchEvent(new StorageEvent('storage', { key: AUTH_STORAGE_KEY, oldValue: 'x', newValue: null }))
    expect(store.getState().auth).toEqual({ token: null, user: null })
    expect(store.getState().socket.connection.status).toBe('idle')
    expect(sockets.last.disconnectCalls).toBe(1)
  })

  test('another tab’s "Log in again" (its outbox kept for the next login): following it keeps the stored sends too', () => {
    localStorage.setItem(AUTH_STORAGE_KEY, JSON.stringify({ token: 'saved', user: alice }))
    const socketsA = fakeSockets()
    const socketsB = fakeSockets()
    const tabA = makeStore({ createSocket: socketsA.createSocket, shareSocket: false })
    const tabB = makeStore({ createSocket: socketsB.createSocket, shareSocket: false })
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
    const store = makeStore({ createSocket: sockets.createSocket })
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
    const store = makeStore({ createSocket: sockets.createSocket })
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
    const store = makeStore({ createSocket: sockets.createSocket })
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
      const store = makeStore({ createSocket: sockets.createSocket })
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
    const store = makeStore({ createSocket: sockets.createSocket })
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
    const store = makeStore({ createSocket: sockets.createSocket })
    // Bob's session is stored now, and this tab has not heard of it (a missed event): its logout is Alice's only.
    const theirs = JSON.stringify({ token: 'bobs', user: bob })
    localStorage.setItem(AUTH_STORAGE_KEY, theirs)
    store.dispatch({ type: 'auth/loggedOut' })
    expect(store.getState().auth).toEqual({ token: null, user: null })
    expect(localStorage.getItem(AUTH_STORAGE_KEY)).toBe(theirs)
    store.dispose()
  })
})
