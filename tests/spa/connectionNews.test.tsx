// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test, vi } from 'vitest'
import { LOST_NEWS_AFTER_MS } from '../../src/app/ConnectionBadge'
import { appStore, pagePerTest, renderApp, saidIn, threadApi } from './support/page'

// What a screen reader hears of the connection. Closing the tab that holds the browser's one socket drops it in every
// other tab until the next tab has made its own (a moment, as a short network blip): that is no news for the user,
// who lost nothing; a loss that lasts is said, and then its end.

const page = pagePerTest('#/messages')

const LOST = 'Connection lost. Reconnecting; messages go over HTTP meanwhile.'
const BACK = 'Connection back: online.'

/** Connected and synced, as the server answers a handshake: online only then. */
const online = (socket: { serverConnect(): void; serverEmit(event: string, ...args: unknown[]): void }) => {
  socket.serverConnect()
  socket.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' })
}

describe('connection news', () => {
  test('a drop that is over within a moment (another tab takes the socket over) is not said, nor its end', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => online(sockets.last))
    const said = saidIn('[data-testid^=announcer-]')
    const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
    const status = () => page.container.querySelector('[data-testid=connection-badge]')?.getAttribute('data-status')
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      act(() => sockets.last.serverDrop('transport close'))
      expect(status()).toBe('reconnecting')
      // The layer's first retry (a full-jitter wait below 500 ms) finds the new holder at once.
      await wait(500)
      expect(sockets.last.connectCalls).toBeGreaterThan(0)
      act(() => online(sockets.last))
      expect(status()).toBe('connected')
      await wait(5000)
      expect(said).toEqual([])

      // A loss that lasts is said once it has lasted the moment, and its end politely.
      act(() => sockets.last.serverDrop('transport close'))
      await wait(LOST_NEWS_AFTER_MS - 1)
      expect(said).toEqual([])
      await wait(1)
      expect(said).toEqual([LOST])
      act(() => online(sockets.last))
      await wait(0)
      expect(said).toEqual([LOST, BACK])
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })

  // The server's session check failing (its database down) drops each socket it let connect before its sync: nothing
  // is delivered on it. The badge said "online" between each connect and its drop, and a screen reader heard "Connection
  // back" and "Connection lost" again at every attempt of the backoff, for as long as the outage lasted.
  test('a socket dropped before its sync, again and again, is no return: said lost once, never online', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => online(sockets.last))
    const said = saidIn('[data-testid^=announcer-]')
    const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
    const text = () => page.container.querySelector('[data-testid=connection-badge] .badge-text')?.textContent
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      let calls = sockets.last.connectCalls
      act(() => sockets.last.serverDrop('transport close'))
      await wait(LOST_NEWS_AFTER_MS)
      expect(said).toEqual([LOST])
      const shown = new Set<string | undefined>()
      for (let i = 0; i < 3; i++) {
        // Past the longest wait the backoff may draw at this attempt (30 s at most).
        await wait(30_000)
        expect(sockets.last.connectCalls).toBeGreaterThan(calls)
        act(() => sockets.last.serverConnect())
        shown.add(text())
        calls = sockets.last.connectCalls
        act(() => sockets.last.serverDrop('transport close'))
        await wait(LOST_NEWS_AFTER_MS)
        shown.add(text())
      }
      expect(said).toEqual([LOST])
      expect([...shown]).toEqual(['reconnecting…'])
      // The one that syncs is the return.
      await wait(30_000)
      expect(sockets.last.connectCalls).toBeGreaterThan(calls)
      act(() => online(sockets.last))
      await wait(0)
      expect(text()).toBe('online')
      expect(said).toEqual([LOST, BACK])
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })
})
