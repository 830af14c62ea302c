// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { saveRefreshToken } from '../../src/api'
import { loggedIn, loggedOut } from '../../src/app/authSlice'
import { createMemoryStorage } from '../../src/app/store'
import {
  outboxStorageKey,
  selectConnection,
  selectPendingMessages,
  sendMessage,
  type StorageLike,
} from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { refusingStorage } from '../unit/support/refusingStorage'
import {
  apiRoutes,
  appStore,
  blockPageStorage,
  fieldLabelled,
  json,
  pagePerTest,
  renderApp,
  type,
} from './support/page'

// Unsent messages the storage refused live only in the page, which told the user to keep it open until they are sent.
// A session that ends under them ("Log in again", another tab's login as someone else) is not the user's wish to drop
// them: they go once that user is back in the page, and never with anyone else's session.

/**
 * Alice's old session is over (401 to everything it asks but reads); a login answers her new session. Every send over
 * HTTP is noted in `sent` with the token it came with, and stored unless it came with the old one.
 */
function endedSessionThenLogin() {
  const sent: { token: string | null; clientId: string }[] = []
  const fetchFn = apiRoutes(async (method, path, request) => {
    const token = request.headers.get('authorization')?.replace('Bearer ', '') ?? null
    if (method === 'POST' && path === '/api/auth/login')
      return json(200, { token: 'token-new', refreshToken: 'refresh-new', user: alice })
    if (path === '/api/auth/logout') return new Response(null, { status: 204 })
    if (method === 'POST' && path === '/api/conversations/c1/messages') {
      const { clientId, content } = (await request.json()) as { clientId: string; content: string }
      sent.push({ token, clientId })
      if (token !== 'old') return json(200, message(2, { senderId: alice.id, clientId, content }))
    }
    if (token === 'old' && method !== 'GET') return json(401, { error: { code: 'UNAUTHORIZED', message: 'ended' } })
    if (path === '/api/conversations') return json(200, [conversation('c1')])
    if (path === '/api/users') return json(200, [alice, bob])
    return json(200, [])
  })
  return { fetchFn, sent }
}

const page = pagePerTest('#/messages/c1')
/** Whether leaving the page now asks first: a `beforeunload` listener cancelled the event. */
const leavingAsks = () => !window.dispatchEvent(new Event('beforeunload', { cancelable: true }))
const button = (name: string) =>
  [...page.container.querySelectorAll('button')].find((candidate) => candidate.textContent === name)

/** Alice's page whose storage refuses writes, her session over (`unauthorized`), 'k1' unsent and stored nowhere. */
async function unsentWhenTheSessionEnds() {
  const full = refusingStorage(false)
  const { storage } = full
  saveRefreshToken(storage, alice.id, 'refresh-old')
  full.refusing = true
  const api = endedSessionThenLogin()
  const app = appStore(api.fetchFn, { storage, preloadedState: { auth: { token: 'old', user: alice } } })
  renderApp(page.root, app.store)
  act(
    () => void app.store.dispatch(sendMessage({ conversationId: 'c1', content: 'only in this page', clientId: 'k1' })),
  )
  act(() => app.sockets.last.serverRefuse('UNAUTHORIZED'))
  await eventually(() => expect(selectConnection(app.store.getState()).status).toBe('unauthorized'))
  expect(selectPendingMessages(app.store.getState()).map((m) => m.clientId)).toEqual(['k1'])
  return { ...app, api, full }
}

/** The clientIds sent on `socket` and over HTTP with `token`, in order. */
const sentWith = (
  socket: { sent(event: string): { args: unknown[] }[] },
  api: ReturnType<typeof endedSessionThenLogin>,
  token: string,
) => [
  ...socket.sent('message:send').map((p) => (p.args[0] as { clientId: string }).clientId),
  ...api.sent.filter((s) => s.token === token).map((s) => s.clientId),
]

describe('unsent messages the storage refused, when the session ends under them', () => {
  test('"Log in again": sent once the same user is back', async () => {
    const { store, sockets, api } = await unsentWhenTheSessionEnds()
    act(() => button('Log in again')!.click())
    const emailField = await eventually(() => fieldLabelled(page.container, 'Email') as HTMLInputElement)
    type(emailField, 'alice@talemy.test')
    type(fieldLabelled(page.container, 'Password') as HTMLInputElement, 'talemy')
    act(() => button('Log in')!.click())
    await eventually(() => expect(store.getState().auth.token).toBe('token-new'))
    const socket = sockets.last
    act(() => socket.serverConnect('sock-2'))
    // Over the new socket, or over HTTP with the new token: once, either way.
    await eventually(() => expect(sentWith(socket, api, 'token-new')).toEqual(['k1']))
    store.dispose()
  })

  test('another user in between (another tab’s login): never sent as them, sent once the user is back', async () => {
    const { store, sockets, api } = await unsentWhenTheSessionEnds()
    // As this tab follows another tab's login as Bob (`sessionSync`): Alice's session ends, keeping her sends.
    act(() => {
      store.dispatch(loggedOut({ keepOutbox: true }))
      store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    })
    const bobsSocket = sockets.last
    act(() => bobsSocket.serverConnect('sock-bob'))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('connected'))
    expect(selectPendingMessages(store.getState())).toEqual([])
    // Bob leaves, Alice logs in again in this page.
    act(() => {
      store.dispatch(loggedOut())
      store.dispatch(loggedIn({ token: 'token-new', user: alice }))
    })
    const alicesSocket = sockets.last
    act(() => alicesSocket.serverConnect('sock-alice'))
    await eventually(() => expect(sentWith(alicesSocket, api, 'token-new')).toEqual(['k1']))
    expect(sentWith(bobsSocket, api, 'token-bob')).toEqual([])
    store.dispose()
  })

  test('"Log out" (the user chose to drop them): nothing is sent at the next login', async () => {
    const { store, sockets, api } = await unsentWhenTheSessionEnds()
    act(() => {
      store.dispatch(loggedOut())
      store.dispatch(loggedIn({ token: 'token-new', user: alice }))
    })
    const socket = sockets.last
    act(() => socket.serverConnect('sock-2'))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('connected'))
    await act(async () => {})
    expect(selectPendingMessages(store.getState())).toEqual([])
    expect(sentWith(socket, api, 'token-new')).toEqual([])
    store.dispose()
  })

  // They live in this page alone until that user's next login in it: closing it meanwhile loses them, as it would have
  // while the session lasted, so it asks first; gone for good ("Log out", here or in another tab), it does not.
  test('closing the page before the user is back asks first, as while the session lasted', async () => {
    const { store, sockets } = await unsentWhenTheSessionEnds()
    expect(leavingAsks()).toBe(true)
    act(() => button('Log in again')!.click())
    await eventually(() => expect(fieldLabelled(page.container, 'Email')).not.toBeNull())
    expect(leavingAsks()).toBe(true)
    // Someone else's session in this page between (another tab's login as Bob), and its "Log out": hers still wait.
    act(() => void store.dispatch(loggedIn({ token: 'token-bob', user: bob })))
    expect(leavingAsks()).toBe(true)
    act(() => void store.dispatch(loggedOut()))
    expect(leavingAsks()).toBe(true)
    // She is back: hers are in the outbox again (told as unsaved), and once sent nothing is left to lose.
    act(() => void store.dispatch(loggedIn({ token: 'token-new', user: alice })))
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k1'])
    expect(leavingAsks()).toBe(true)
    act(() => sockets.last.serverConnect('sock-alice'))
    await eventually(() => expect(selectPendingMessages(store.getState())).toEqual([]))
    expect(leavingAsks()).toBe(false)
    store.dispose()
  })

  test('"Log out" in another tab (her sends dropped there): closing the page asks nothing', async () => {
    const { store, full } = await unsentWhenTheSessionEnds()
    // The other tab's "Log out" marks her sends dropped, then this tab follows it (`sessionSync`).
    full.backing.setItem(`talemy.outbox.dropped.${alice.id}`, '1')
    act(() => void store.dispatch(loggedOut({ keepOutbox: true })))
    expect(leavingAsks()).toBe(false)
    store.dispose()
  })

  // This tab heard none of it (back from the back/forward cache, it follows only what is stored now): Bob's session
  // here ends, and her "Log out" there, as Alice, had dropped hers all the same.
  test('her "Log out" in another tab while this one was someone else’s: closing the page asks nothing', async () => {
    const { store, full } = await unsentWhenTheSessionEnds()
    act(() => {
      store.dispatch(loggedOut({ keepOutbox: true }))
      store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    })
    try {
      expect(leavingAsks()).toBe(true)
      // Elsewhere Bob logged out, Alice logged in and out: her "Log out" marked her sends dropped.
      full.backing.setItem(`talemy.outbox.dropped.${alice.id}`, '1')
      act(() => void store.dispatch(loggedOut({ keepOutbox: true })))
      expect(leavingAsks()).toBe(false)
    } finally {
      store.dispose()
    }
  })

  // There nothing of hers was stored (storage refused this tab's outbox, not a small write): the logout drops what this
  // tab holds in its memory all the same.
  test('"Log out" in another tab that found nothing of hers stored: closing the page asks nothing', async () => {
    const backing = createMemoryStorage()
    const storage: StorageLike = {
      getItem: (key) => backing.getItem(key),
      removeItem: (key) => backing.removeItem(key),
      setItem: (key, value) => {
        if (key === outboxStorageKey(alice.id)) throw new Error('QuotaExceededError')
        backing.setItem(key, value)
      },
    }
    const api = endedSessionThenLogin()
    const here = appStore(api.fetchFn, { storage })
    renderApp(page.root, here.store)
    act(() => here.sockets.last.serverConnect('sock-1'))
    act(() => void here.store.dispatch(sendMessage({ conversationId: 'c1', content: 'only here', clientId: 'k1' })))
    await eventually(() => expect(leavingAsks()).toBe(true))
    const elsewhere = appStore(api.fetchFn, { storage })
    try {
      act(() => void elsewhere.store.dispatch(loggedOut()))
      // What this tab's session sync does on that storage event.
      act(() => void here.store.dispatch(loggedOut({ keepOutbox: true })))
      expect(leavingAsks()).toBe(false)
    } finally {
      // Its `beforeunload` listener goes with it, whatever the outcome: the next test's page asks nothing of it.
      for (const { store } of [here, elsewhere]) store.dispose()
    }
  })

  test('"Log out" here: closing the page asks nothing', async () => {
    const { store } = await unsentWhenTheSessionEnds()
    act(() => void store.dispatch(loggedOut()))
    expect(leavingAsks()).toBe(false)
    store.dispose()
  })

  test('a page the browser gave no storage (blocked): closing it once the session ended under them asks first too', async () => {
    const unblock = blockPageStorage()
    try {
      const api = endedSessionThenLogin()
      const { store } = appStore(api.fetchFn, {
        storage: undefined,
        preloadedState: { auth: { token: 'old', user: alice } },
      })
      renderApp(page.root, store)
      act(
        () => void store.dispatch(sendMessage({ conversationId: 'c1', content: 'only in this page', clientId: 'k1' })),
      )
      await eventually(() => expect(leavingAsks()).toBe(true))
      // As "Log in again" (or another tab's login as someone else) ends the session: the layer keeps them in memory.
      act(() => void store.dispatch(loggedOut({ keepOutbox: true })))
      await eventually(() => expect(fieldLabelled(page.container, 'Email')).not.toBeNull())
      expect(leavingAsks()).toBe(true)
      store.dispose()
    } finally {
      unblock()
    }
  })
})
