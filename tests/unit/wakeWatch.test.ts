import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { connect, selectConnection } from '../../src/realtime'
import { browserRetryTriggers, WAKE_LATE_MS, WAKE_TICK_MS } from '../../src/realtime/triggers'
import { T0 } from './support/fixtures'
import { mockStore } from './support/mockStore'

// A laptop put to sleep with the page open and shown, on a wire: no `online` comes at the wake (the network never
// went away, as far as the browser knows), and the tab was never hidden. The server dropped the socket after its
// heartbeat, and Socket.IO's ping timeout runs on timers that stood still: the badge said "online" for up to 45 s
// more, with nothing delivered. The wall clock ran on while the page's timers stood still: that is the wake.

let visibility: 'visible' | 'hidden' = 'visible'
beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date(T0))
  visibility = 'visible'
  const noop = () => {}
  vi.stubGlobal('window', { addEventListener: noop, removeEventListener: noop })
  vi.stubGlobal('document', {
    addEventListener: noop,
    removeEventListener: noop,
    get visibilityState() {
      return visibility
    },
  })
})
afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

/** Asleep: the wall clock moves on, the page's timers do not. */
const sleep = (ms: number) => vi.setSystemTime(Date.now() + ms)

describe('the browser’s retry triggers', () => {
  test('say a wake at the first look at the clock after the page’s timers stood still', () => {
    const reasons: string[] = []
    const stop = browserRetryTriggers((reason) => reasons.push(reason))
    vi.advanceTimersByTime(10 * WAKE_TICK_MS)
    expect(reasons).toEqual([])
    sleep(WAKE_LATE_MS + 1)
    vi.advanceTimersByTime(WAKE_TICK_MS)
    expect(reasons).toEqual(['wake'])
    vi.advanceTimersByTime(10 * WAKE_TICK_MS)
    expect(reasons).toEqual(['wake'])
    stop()
    sleep(10 * WAKE_LATE_MS)
    vi.advanceTimersByTime(WAKE_TICK_MS)
    expect(reasons).toEqual(['wake'])
  })

  test('say no wake for a look that is late by less, nor in a hidden tab (whose timers the browser slows)', () => {
    const reasons: string[] = []
    const stop = browserRetryTriggers((reason) => reasons.push(reason))
    sleep(WAKE_LATE_MS)
    vi.advanceTimersByTime(WAKE_TICK_MS)
    visibility = 'hidden'
    sleep(60_000 + WAKE_LATE_MS)
    vi.advanceTimersByTime(WAKE_TICK_MS)
    expect(reasons).toEqual([])
    stop()
  })
})

test('a socket silent past the heartbeat is replaced at the wake of a page shown all along, with no signal', () => {
  const setup = mockStore()
  const status = () => selectConnection(setup.store.getState() as never).status
  setup.dispatch(connect())
  const slept = setup.sockets.last
  slept.serverConnect('sock-1')
  slept.io.fire('ping')
  sleep(10 * 60_000)
  vi.advanceTimersByTime(WAKE_TICK_MS)
  expect(status()).toBe('reconnecting')
  expect(slept.disconnectCalls).toBe(1)
  const fresh = setup.sockets.last
  expect(fresh).not.toBe(slept)
  fresh.serverConnect('sock-2')
  expect(status()).toBe('connected')
})
