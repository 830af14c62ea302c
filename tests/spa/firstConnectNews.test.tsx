// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { saveRefreshToken } from '../../src/api/credentials'
import { LOST_NEWS_AFTER_MS } from '../../src/app/ConnectionBadge'
import { createMemoryStorage } from '../../src/app/store'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { selectConnection } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp, saidIn, threadApi } from './support/page'

// A page opened (or a login made) where the socket cannot connect (a proxy that blocks it, the server's socket path
// down) stays "connecting": the badge showed "reconnecting… · messages go over HTTP", and a screen reader heard
// nothing, neither then nor when it connected at last. Only a loss after "online" was said. A first connect that
// fails and lasts is now said as a loss is, and its end too.

const page = pagePerTest('#/messages')

/** A storage holding Alice's refresh token, as a reload finds it. */
function withRefreshToken() {
  const storage = createMemoryStorage()
  saveRefreshToken(storage, alice.id, 'refresh-1')
  return storage
}
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/**
 * The messages page drawn, what its announcers say gathered in `said`, and the page's timers faked from then on
 * (`wait` runs them on): the caller restores real timers.
 */
function announcingPage() {
  const { store, sockets } = appStore(threadApi)
  renderApp(page.root, store)
  const said = saidIn('[data-testid^=announcer-]')
  const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  return { store, sockets, said, wait }
}

describe('a first connect that fails', () => {
  test.each([
    ['en', 'Could not connect. Trying again; messages go over HTTP meanwhile.', 'Connection back: online.'],
    [
      'fr',
      'Connexion impossible. Nouvel essai en cours\u202f; les messages passent par HTTP en attendant.',
      'Connexion rétablie\u202f: en ligne.',
    ],
  ] as const)('(%s) is said once it lasts, and so is its end', async (locale, cannot, back) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets, said, wait } = announcingPage()
    try {
      act(() => sockets.last.networkError())
      await wait(0)
      expect(selectConnection(store.getState()).status).toBe('connecting')
      await wait(LOST_NEWS_AFTER_MS + 30_000)
      expect(said).toEqual([cannot])
      act(() => sockets.last.serverConnect())
      act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
      await wait(0)
      expect(said).toEqual([cannot, back])
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })

  test('that connects within the moment is no news', async () => {
    const { store, sockets, said, wait } = announcingPage()
    try {
      act(() => sockets.last.networkError())
      await wait(LOST_NEWS_AFTER_MS - 1)
      act(() => sockets.last.serverConnect())
      act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
      await wait(5000)
      await eventually(() => expect(selectConnection(store.getState()).status).toBe('connected'))
      expect(said).toEqual([])
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })

  test('refused for its token while the token is renewed is no news', async () => {
    const fetchFn = apiRoutes((_method, path) => {
      // The renewal takes its time (a slow network).
      if (path === '/api/auth/refresh') return new Promise<Response>(() => {})
      if (path === '/api/conversations') return json(200, [conversation('c1')])
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    const { store, sockets } = appStore(fetchFn, { storage: withRefreshToken() })
    renderApp(page.root, store)
    const said = saidIn('[data-testid^=announcer-]')
    const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      act(() => sockets.last.serverRefuse('UNAUTHORIZED'))
      await wait(5000)
      expect(selectConnection(store.getState()).status).toBe('connecting')
      expect(said).toEqual([])
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })

  // The server lets each socket connect and drops it before its sync (its session check failing: a database down):
  // never online, and no handshake failed either.
  test('dropped before its sync, again and again, is said as one that fails, once, and so is its end', async () => {
    const { store, sockets, said, wait } = announcingPage()
    try {
      for (let i = 0; i < 3; i++) {
        act(() => sockets.last.serverConnect())
        act(() => sockets.last.serverDrop('transport close'))
        // Past the longest wait the backoff may draw (30 s at most): the next attempt has gone.
        await wait(LOST_NEWS_AFTER_MS + 30_000)
      }
      expect(said).toEqual(['Could not connect. Trying again; messages go over HTTP meanwhile.'])
      act(() => sockets.last.serverConnect())
      act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
      await wait(0)
      expect(said).toEqual([
        'Could not connect. Trying again; messages go over HTTP meanwhile.',
        'Connection back: online.',
      ])
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })
})
