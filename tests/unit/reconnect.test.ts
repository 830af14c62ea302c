import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { tokenRefreshed } from '../../src/api'
import { backoffDelay, connect, disconnect, manualRetryTriggers, reconnecting, retryNow } from '../../src/realtime'
import { FALLBACK_READ_INTERVAL_MS } from '../../src/realtime/fallbackReads'
import { T0 } from './support/fixtures'
import { mockStore, settle } from './support/mockStore'

// The middleware owns reconnection (Socket.IO's is off): full-jitter backoff, one `socket/reconnecting` per attempt,
// and "try now" on the browser's online event or the tab becoming visible (an injected event source).

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date(T0))
})
afterEach(() => {
  // Spies first: a spy on the global setTimeout made under fake timers restores the fake one, and Vitest restores every
  // spy again once the file is over, so in a worker shared with other files (isolate: false) their timers never fired.
  vi.restoreAllMocks()
  vi.useRealTimers()
})

const attempts = (actions: unknown[]) =>
  actions.filter((a) => reconnecting.match(a)).map((a) => (a as ReturnType<typeof reconnecting>).payload.attempt)

function dropped(over: Parameters<typeof mockStore>[1] = {}) {
  const triggers = manualRetryTriggers()
  const setup = mockStore(undefined, { retryTriggers: triggers.setup, ...over })
  setup.dispatch(connect())
  const socket = setup.sockets.last
  socket.serverConnect('sock-1')
  socket.serverDrop('transport close')
  return { ...setup, socket, triggers }
}

describe('backoff', () => {
  test('full jitter: a uniform draw below min(cap, base · 2^(n-1))', () => {
    const top = (n: number) => backoffDelay(n, { baseMs: 500, capMs: 30_000 }, () => 0.999999)
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(top)).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999])
    expect(backoffDelay(5, { baseMs: 500, capMs: 30_000 }, () => 0)).toBe(0)
  })

  test('each failed attempt waits its own jittered delay, and reports itself once', () => {
    const draws = [0.9, 0.1, 0.5]
    const { store, socket } = dropped({ random: () => draws.shift() ?? 0.5 })
    const times: number[] = []
    const start = Date.now()
    for (let n = 0; n < 3; n++) {
      const before = socket.connectCalls
      while (socket.connectCalls === before) vi.advanceTimersByTime(1)
      times.push(Date.now() - start)
      socket.networkError()
    }
    // 0.9 × 500, then 0.1 × 1000, then 0.5 × 2000 after each failure.
    expect(times).toEqual([450, 450 + 100, 450 + 100 + 1000])
    expect(attempts(store.getActions())).toEqual([1, 2, 3])
  })

  test('clients dropped together spread out (no lockstep)', () => {
    const delays = Array.from({ length: 200 }, () => backoffDelay(6, { baseMs: 500, capMs: 30_000 }, Math.random))
    const buckets = new Set(delays.map((d) => Math.floor(d / 1000)))
    expect(buckets.size).toBeGreaterThan(10)
  })
})

describe('try now', () => {
  test.each(['online', 'visible'] as const)('%s during a backoff: the attempt goes at once, counted once', (reason) => {
    const { store, socket, triggers } = dropped({ backoff: { baseMs: 10_000, capMs: 30_000 } })
    expect(socket.connectCalls).toBe(1)
    triggers.fire(reason)
    expect(socket.connectCalls).toBe(2)
    expect(store.getActions().filter((a) => retryNow.match(a))).toEqual([retryNow({ reason })])
    // The backoff timer that was waiting is gone: no second attempt from it.
    vi.advanceTimersByTime(60_000)
    expect(socket.connectCalls).toBe(2)
    expect(attempts(store.getActions())).toEqual([1])
  })

  test('a signal while connected or while a handshake is under way changes nothing', () => {
    const { socket, triggers, dispatch } = dropped({ backoff: { baseMs: 10_000, capMs: 30_000 } })
    triggers.fire('online')
    triggers.fire('online') // the attempt is under way
    expect(socket.connectCalls).toBe(2)
    socket.serverConnect('sock-2')
    triggers.fire('visible')
    expect(socket.connectCalls).toBe(2)
    dispatch(disconnect())
    expect(triggers.listeners).toBe(0)
  })

  // The network comes back (or the tab shows) while an attempt is under way: that attempt, begun on the dead network,
  // then fails (Chrome's ERR_NETWORK_CHANGED right after `online`). The signal was for it; the next one goes at once,
  // not after a backoff of up to 30 s with the page saying "reconnecting…" on a working network.
  test.each(['online', 'visible'] as const)(
    '%s while a handshake is under way that then fails: the next attempt goes at once, once',
    (reason) => {
      const { store, socket, triggers } = dropped({ backoff: { baseMs: 10_000, capMs: 30_000 } })
      triggers.fire('online') // attempt 1, under way
      expect(socket.connectCalls).toBe(2)
      triggers.fire(reason)
      socket.networkError()
      expect(socket.connectCalls).toBe(3)
      expect(attempts(store.getActions())).toEqual([1, 2])
      // Spent: a failure after that backs off as usual.
      socket.networkError()
      expect(socket.connectCalls).toBe(3)
      vi.advanceTimersByTime(60_000)
      expect(socket.connectCalls).toBe(4)
    },
  )

  // An attempt that neither connects nor fails (begun before the laptop slept, or on the network that went: its
  // connection half-open) held the next one back until Socket.IO's connect timeout, 20 s of "reconnecting…" on a
  // network that works again.
  test.each(['online', 'wake'] as const)(
    '%s while a handshake hangs: a new socket tries at once, and a signal after that keeps it',
    (reason) => {
      const { store, sockets, socket, triggers } = dropped({ backoff: { baseMs: 10_000, capMs: 30_000 } })
      while (socket.connectCalls === 1) vi.advanceTimersByTime(100) // the backoff's attempt, which hangs
      triggers.fire(reason)
      expect(sockets.sockets).toHaveLength(2)
      expect(socket.disconnectCalls).toBe(1)
      expect(sockets.last.connectCalls).toBe(1)
      expect(attempts(store.getActions())).toEqual([1, 2])
      // Begun on the network as it is now: the signals that come with a wake (online, the tick, a follower's) keep it.
      triggers.fire('online')
      triggers.fire('wake')
      expect(sockets.sockets).toHaveLength(2)
      expect(sockets.last.connectCalls).toBe(1)
    },
  )

  test('a token refreshed (here or in another tab) while backing off tries at once with it', () => {
    const { socket, dispatch } = dropped({ backoff: { baseMs: 10_000, capMs: 30_000 } })
    dispatch(tokenRefreshed({ token: 'token-2' }))
    expect(socket.connectCalls).toBe(2)
    expect(socket.handshakeToken()).toBe('token-2')
  })

  test('a server-side kick: no reconnect before the refresh answered', async () => {
    let answer: (v: 'refreshed') => void = () => {}
    const refreshToken = vi.fn(() => new Promise<'refreshed'>((r) => (answer = r)))
    const { socket } = dropped({ refreshToken })
    socket.serverConnect('sock-2')
    socket.serverKick()
    vi.advanceTimersByTime(60_000)
    expect(socket.connectCalls).toBe(1)
    answer('refreshed')
    await settle()
    expect(socket.connectCalls).toBe(2)
    expect(refreshToken).toHaveBeenCalledTimes(1)
  })

  test('a server-side kick: a jittered wait, the refresh, then the handshake reported as an attempt', async () => {
    const refreshToken = vi.fn(async () => 'refreshed' as const)
    const { store, socket } = dropped({ refreshToken })
    socket.serverConnect('sock-2')
    store.clearActions()
    socket.serverKick()
    // Full jitter before the refresh (random 0.5 × 500 ms): a kick that came to every client at once (a server going
    // away) does not bring them all back to /auth/refresh and the handshake at once.
    vi.advanceTimersByTime(249)
    expect(refreshToken).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(refreshToken).toHaveBeenCalledTimes(1)
    await settle()
    expect(socket.connectCalls).toBe(2)
    expect(attempts(store.getActions())).toEqual([1])
    expect(store.getState().socket.connection).toMatchObject({ status: 'reconnecting', attempt: 1 })
    socket.serverConnect('sock-3')
    expect(store.getState().socket.connection).toMatchObject({ status: 'connected', attempt: 0 })
  })

  test('clients kicked together refresh at spread-out times', () => {
    const times: number[] = []
    for (const draw of [0.05, 0.35, 0.65, 0.95]) {
      const refreshToken = vi.fn(() => new Promise<'refreshed'>(() => {}))
      const { socket } = dropped({ refreshToken, random: () => draw })
      socket.serverConnect('sock-2')
      socket.serverKick()
      const start = Date.now()
      while (refreshToken.mock.calls.length === 0 && Date.now() - start < 1_000) vi.advanceTimersByTime(1)
      times.push(Date.now() - start)
    }
    expect(times).toEqual([25, 175, 325, 475])
  })

  test('online during the wait after a kick: the refresh goes at once, and the handshake only after it', async () => {
    let answer: (v: 'refreshed') => void = () => {}
    const refreshToken = vi.fn(() => new Promise<'refreshed'>((r) => (answer = r)))
    const { store, socket, triggers } = dropped({ refreshToken, backoff: { baseMs: 10_000, capMs: 30_000 } })
    socket.serverConnect('sock-2')
    store.clearActions()
    socket.serverKick()
    triggers.fire('online')
    expect(refreshToken).toHaveBeenCalledTimes(1)
    expect(socket.connectCalls).toBe(1)
    answer('refreshed')
    await settle()
    expect(socket.connectCalls).toBe(2)
    expect(attempts(store.getActions())).toEqual([1])
    vi.advanceTimersByTime(60_000)
    expect(refreshToken).toHaveBeenCalledTimes(1)
  })
})

type FakeSocketOf = ReturnType<typeof mockStore>['sockets']['last']

/** A solo store whose socket the app disconnects itself (`useSocket().socket.disconnect()`) after `before`. */
function disconnectedByApp(before: (socket: FakeSocketOf) => void) {
  const triggers = manualRetryTriggers()
  const { store, sockets, dispatch } = mockStore(undefined, { retryTriggers: triggers.setup })
  dispatch(connect())
  const socket = sockets.last
  before(socket)
  socket.disconnect()
  return { store, sockets, socket, dispatch, triggers }
}

/** Deliberate, as Socket.IO means it: never retried, not even on a signal; `connect()` tries at once. */
function expectNotRetriedThenConnects(
  { store, socket, dispatch, triggers }: ReturnType<typeof disconnectedByApp>,
  socketId: string,
) {
  triggers.fire('online')
  vi.advanceTimersByTime(60_000)
  expect(socket.connectCalls).toBe(1)
  expect(store.getState().socket.connection.status).toBe('disconnected')

  dispatch(connect())
  expect(socket.connectCalls).toBe(2)
  socket.serverConnect(socketId)
  expect(store.getState().socket.connection.status).toBe('connected')
}

describe('the app’s own socket.disconnect() (useSocket().socket, a solo store)', () => {
  test('deliberate, as Socket.IO means it: disconnected, never retried, not even on a signal; connect tries at once', () => {
    const ctx = disconnectedByApp((socket) => socket.serverConnect('sock-1'))
    expect(ctx.store.getState().socket.connection).toMatchObject({ status: 'disconnected', error: null })
    expectNotRetriedThenConnects(ctx, 'sock-2')
    expect(ctx.sockets.sockets).toHaveLength(1)
  })
})

describe('the app’s own socket.disconnect() then socket.connect() (useSocket().socket, a solo store)', () => {
  // Socket.IO's own way to go offline and back: the socket the app opened again is live, so is the status.
  test('connected again as the socket is: the badge says online, and a later drop is retried', () => {
    const ctx = disconnectedByApp((socket) => socket.serverConnect('sock-1'))
    expect(ctx.store.getState().socket.connection.status).toBe('disconnected')
    ctx.socket.connect()
    ctx.socket.serverConnect('sock-2')
    expect(ctx.store.getState().socket.connection).toMatchObject({ status: 'connected', socketId: 'sock-2' })
    ctx.socket.serverDrop('transport close')
    expect(ctx.store.getState().socket.connection.status).toBe('reconnecting')
    while (ctx.socket.connectCalls === 2) vi.advanceTimersByTime(100)
    expect(ctx.socket.connectCalls).toBe(3)
    expect(ctx.sockets.sockets).toHaveLength(1)
  })
})

describe('socket/disconnect, then connect() on the socket the app still holds (a solo store)', () => {
  // The layer closed it for good (a new one opens at the next connect): opened as it was, nothing would hear it.
  test('a connect: the socket the store opens connects, and no socket is left open unheard', () => {
    const { store, sockets, dispatch } = mockStore(undefined, { retryTriggers: manualRetryTriggers().setup })
    dispatch(connect())
    const first = sockets.last
    first.serverConnect('sock-1')
    dispatch(disconnect())
    first.connect()
    expect(store.getState().socket.connection.status).toBe('connecting')
    expect(sockets.sockets.filter((s) => s.active)).toEqual([sockets.last])
    sockets.last.serverConnect('sock-2')
    expect(store.getState().socket.connection).toMatchObject({ status: 'connected', socketId: 'sock-2' })
  })
})

describe('the app’s own socket.disconnect() on a socket not connected (a solo store)', () => {
  // Socket.IO fires no `disconnect` then, yet the call is as deliberate.
  test.each([
    ['during a handshake', (_socket: FakeSocketOf) => {}],
    ['while it waits out a backoff', (socket: FakeSocketOf) => socket.networkError()],
  ])('%s: disconnected, never retried; connect tries at once', (_name, before) => {
    const ctx = disconnectedByApp(before)
    expect(ctx.store.getState().socket.connection.status).toBe('disconnected')
    expectNotRetriedThenConnects(ctx, 'sock-1')
  })
})

describe('timers edge', () => {
  test('the backoff runs on the injected timers, not the global setTimeout', () => {
    const pending: { callback: () => void; ms: number }[] = []
    const timers = {
      setTimeout: (callback: () => void, ms: number) => pending.push({ callback, ms }),
      clearTimeout: vi.fn(),
    }
    const globalSpy = vi.spyOn(globalThis, 'setTimeout')
    // Restored even when an assertion fails: the next files of the shared thread would run on a spied setTimeout.
    try {
      const { store, socket } = dropped({ timers, random: () => 0.5 })
      // Beside it, the reads made again over HTTP while the socket is down (`fallbackReads.ts`), on the same timers.
      const backoff = pending.filter((t) => t.ms !== FALLBACK_READ_INTERVAL_MS)
      expect(backoff.map((t) => t.ms)).toEqual([250])
      expect(globalSpy.mock.calls.filter(([, ms]) => ms === 250)).toEqual([])
      const before = socket.connectCalls
      backoff[0]!.callback()
      expect(socket.connectCalls).toBe(before + 1)
      expect(attempts(store.getActions())).toEqual([1])
    } finally {
      globalSpy.mockRestore()
    }
  })
})
