// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test, vi } from 'vitest'
import { LOST_NEWS_AFTER_MS } from '../../src/app/ConnectionBadge'
import { appStore, pagePerTest, renderApp, saidIn, threadApi } from './support/page'

// The live regions stay in the page, visually hidden: a screen reader reading on to the end of it (browse mode) reads
// what they hold. Once the connection is back, they must not still say that it is lost.

const page = pagePerTest('#/messages')

const LOST = 'Connection lost. Reconnecting; messages go over HTTP meanwhile.'
const BACK = 'Connection back: online.'

describe('the live regions once the connection is back', () => {
  test('no longer hold "Connection lost" (said assertively) beside "Connection back" (said politely)', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
    const said = saidIn('[data-testid^=announcer-]')
    const wait = (ms: number) => act(async () => void vi.advanceTimersByTime(ms))
    const region = (politeness: string) =>
      page.container.ownerDocument.querySelector(`[data-testid=announcer-${politeness}]`)?.textContent
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      act(() => sockets.last.serverDrop('transport close'))
      await wait(LOST_NEWS_AFTER_MS)
      expect(said).toEqual([LOST])
      act(() => sockets.last.serverConnect())
      act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
      await wait(0)
      expect(said).toEqual([LOST, BACK])
      expect(region('polite')).toBe(BACK)
      expect(region('assertive')).toBe('')
    } finally {
      vi.useRealTimers()
    }
    store.dispose()
  })
})
