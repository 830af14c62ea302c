import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { connect, selectConnection } from '../../src/realtime'
import { SOCKET_PING_INTERVAL_MS, SOCKET_PING_TIMEOUT_MS } from '../../src/contract'
import { browserRetryTriggers, WAKE_LATE_MS, WAKE_TICK_MS } from '../../src/realtime/triggers'
import { T0 } from './support/fixtures'
import { mockStore } from './support/mockStore'

// A laptop put to sleep with the page open and shown, on a wire: no `online` comes at the wake (the network never
// went away, as far as the browser knows), and the tab was never hidden. The server dropped the socket after its
// heartbeat, and Socket.IO's ping timeout runs on timers that stood still: the badge said "online" for up to 20 s
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

/** A store whose socket has connected and heard the server's ping, and the page's status. */
function connectedAndPinged() {
  const setup = mockStore()
  const status = () => selectConnection(setup.store.getState() as never).status
  setup.dispatch(connect())
  const slept = setup.sockets.last
  slept.serverConnect('sock-1')
  slept.io.fire('ping')
  return { setup, status, slept }
}

test('a socket silent past the heartbeat is replaced at the wake of a page shown all along, with no signal', () => {
  const { setup, status, slept } = connectedAndPinged()
  sleep(10 * 60_000)
  vi.advanceTimersByTime(WAKE_TICK_MS)
  expect(status()).toBe('reconnecting')
  expect(slept.disconnectCalls).toBe(1)
  const fresh = setup.sockets.last
  expect(fresh).not.toBe(slept)
  fresh.serverConnect('sock-2')
  expect(status()).toBe('connected')
})

// With the server's heartbeat at 10 s + 10 s, a sleep a little over 10 s can cover a ping and its whole timeout: the
// server drops the socket, and the page's looks must see such a sleep as a wake, or the badge says "online" until
// Socket.IO's own timer (which stood still) runs out.
test('a sleep shorter than 20 s that outlasted the server’s heartbeat is a wake that replaces the socket', () => {
  const { status, slept } = connectedAndPinged()
  // A look at +5 s, then asleep for 16 s: the ping due at +10 s went unanswered, the server gave up at +20 s.
  vi.advanceTimersByTime(WAKE_TICK_MS)
  sleep(SOCKET_PING_INTERVAL_MS + SOCKET_PING_TIMEOUT_MS - WAKE_TICK_MS + 1_000)
  vi.advanceTimersByTime(WAKE_TICK_MS)
  expect(status()).toBe('reconnecting')
  expect(slept.disconnectCalls).toBe(1)
})
