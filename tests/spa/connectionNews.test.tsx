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

describe('connection news', () => {
  test('a drop that is over within a moment (another tab takes the socket over) is not said, nor its end', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
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
      act(() => sockets.last.serverConnect())
      expect(status()).toBe('connected')
      await wait(5000)
      expect(said).toEqual([])

      // A loss that lasts is said once it has lasted the moment, and its end politely.
      act(() => sockets.last.serverDrop('transport close'))
      await wait(LOST_NEWS_AFTER_MS - 1)
      expect(said).toEqual([])
      await wait(1)
      expect(said).toEqual([LOST])
      act(() => sockets.last.serverConnect())
      await wait(0)
      expect(said).toEqual([LOST, BACK])
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })
})
