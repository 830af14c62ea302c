import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { tokenRefreshed } from '../../src/api'
import { type AppSocket, connect, manualRetryTriggers, selectConnection } from '../../src/realtime'
import { FakeSocket } from './support/fakeSocket'
import { T0 } from './support/fixtures'
import { mockStore, settle } from './support/mockStore'

// The connection's edges over time (fake timers): what a run of attempts remembers, and how a server that kicks every
// socket right after its handshake is backed off.

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date(T0))
})
afterEach(() => {
  vi.useRealTimers()
})

// A refresh spent early in a run of attempts is remembered through any number of network failures: a later refusal
// (the refreshed token has since expired, e.g. after a long time offline) is taken as "refused again with a fresh
// token" and ends the session, although the refresh token is fine.
test('a refusal long after a refresh, with network failures in between, refreshes again (no false "session expired")', async () => {
  let n = 1
  const triggers = manualRetryTriggers()
  const setup = mockStore(undefined, {
    retryTriggers: triggers.setup,
    refreshToken: vi.fn(async (mw) => {
      n += 1
      mw.dispatch(tokenRefreshed({ token: `token-${n}` }))
      return 'refreshed' as const
    }),
  })
  const { dispatch, options, store } = setup
  dispatch(connect())
  const socket = setup.sockets.last
  socket.serverConnect('sock-1')
  socket.serverDrop('transport close') // the phone goes offline
  triggers.fire('online')
  socket.serverRefuse('UNAUTHORIZED') // token-1 expired meanwhile: refresh → token-2, handshake
  await settle()
  expect(options.refreshToken).toHaveBeenCalledTimes(1)
  socket.networkError() // offline again (a tunnel), for longer than token-2 lives
  vi.advanceTimersByTime(20 * 60_000)
  triggers.fire('online') // the attempt under way began offline: made again on a new socket
  setup.sockets.last.serverRefuse('UNAUTHORIZED') // token-2 expired too; the refresh token is still valid
  await settle()
  expect(options.refreshToken).toHaveBeenCalledTimes(2)
  expect(selectConnection(store.getState() as never).status).not.toBe('unauthorized')
})

// A server that accepts the handshake and then kicks the socket at once, every time (its replay fails: `resume failed`
// → `socket.disconnect(true)`, server/realtime/index.ts). A run of attempts ends at the first sync, not at the
// handshake: the wait before the next refresh + handshake grows, where it stayed at ≤ 500 ms for every client.
test('a socket kicked right after every handshake backs off more and more (and does not refresh every 250 ms)', async () => {
  const refreshToken = vi.fn(async () => 'refreshed' as const)
  const setup = mockStore(undefined, { refreshToken, random: () => 0.5 })
  setup.dispatch(connect())
  const socket = setup.sockets.last
  const waits: number[] = []
  for (let i = 0; i < 10; i++) {
    socket.serverConnect(`sock-${i}`)
    socket.serverKick()
    const before = refreshToken.mock.calls.length
    const start = Date.now()
    while (refreshToken.mock.calls.length === before && Date.now() - start < 120_000) vi.advanceTimersByTime(10)
    waits.push(Date.now() - start)
    await settle()
  }
  expect(waits[9]).toBeGreaterThan(waits[0]!)
  expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(10_000)
})

// Socket.IO reads the handshake's `auth` (the token) when its transport opens, before the server has answered. A token
// refreshed in between (the scheduled refresh, or another tab's, landing during a reconnect) is not the one the socket
// was accepted with: the server ends that socket when the older token expires, and the layer then reconnects and
// refreshes again, where a renewal would have kept it ("a live socket is renewed without reconnecting").
test('a token refreshed while the handshake is under way renews the socket once it is connected', () => {
  const setup = mockStore()
  setup.dispatch(connect())
  const socket = setup.sockets.last
  expect(socket.handshakeToken()).toBe('token-1') // the transport opened: the handshake carries token-1
  setup.dispatch(tokenRefreshed({ token: 'token-2' }))
  socket.serverConnect('sock-1')
  expect(socket.sent('session:renew').map((p) => p.args)).toEqual([[{ token: 'token-2' }]])
})

test('a socket connected with the current token is not renewed', () => {
  const setup = mockStore()
  setup.dispatch(connect())
  const socket = setup.sockets.last
  setup.dispatch(tokenRefreshed({ token: 'token-2' }))
  expect(socket.handshakeToken()).toBe('token-2') // refreshed before the transport opened: the handshake has it
  socket.serverConnect('sock-1')
  expect(socket.sent('session:renew')).toEqual([])
})

/** The server refuses the handshake for the user's handshake budget, asking for `retryAfterMs`. */
function refuseForTheBudget(socket: { fire(event: string, error: Error): void }, retryAfterMs: number) {
  socket.fire(
    'connect_error',
    Object.assign(new Error('RATE_LIMITED'), {
      data: { code: 'RATE_LIMITED', message: 'too many handshakes', retryAfterMs },
    }),
  )
}

// A handshake refused for the user's handshake budget says how long to wait (`connect_error`'s `data.retryAfterMs`,
// server/realtime/index.ts). The backoff's draw (here 250 ms) or a retry trigger would come back before that, only to be
// refused again, and the run of attempts (and its waits) would grow for nothing.
test('a handshake refused RATE_LIMITED waits the retryAfterMs the server asked for, retry triggers included', () => {
  const triggers = manualRetryTriggers()
  const setup = mockStore(undefined, { retryTriggers: triggers.setup, random: () => 0.5 })
  setup.dispatch(connect())
  const socket = setup.sockets.last
  refuseForTheBudget(socket, 5_000)
  expect(selectConnection(setup.store.getState() as never)).toMatchObject({
    status: 'connecting',
    error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' },
  })
  vi.advanceTimersByTime(4_999)
  triggers.fire('online')
  expect(socket.connectCalls).toBe(1)
  vi.advanceTimersByTime(1)
  expect(socket.connectCalls).toBe(2)
})

// The wait a RATE_LIMITED handshake asked for is the server's handshake budget (the user's sockets), which a new token
// does not change: the scheduled refresh, or another tab's, landing in that wait brought the next handshake forward,
// refused again, and another wait on top.
test('a token refreshed during the wait a RATE_LIMITED handshake asked for does not cut it short', () => {
  const setup = mockStore(undefined, { random: () => 0.5 })
  setup.dispatch(connect())
  const socket = setup.sockets.last
  refuseForTheBudget(socket, 5_000)
  setup.dispatch(tokenRefreshed({ token: 'token-2' }))
  expect(socket.connectCalls).toBe(1)
  vi.advanceTimersByTime(5_000)
  expect(socket.connectCalls).toBe(2)
  expect(socket.handshakeToken()).toBe('token-2')
})

// The laptop slept with the socket connected. The server dropped it after its heartbeat (no FIN reached the sleeping
// machine, so no close comes), and the client's own ping timeout runs on timers that stood still during the sleep: up
// to 45 s more of "online" with nothing delivered. The wall clock did move, and the tab being shown (or the network
// coming back) is the moment to look at it.
test('a socket that heard no ping for longer than the heartbeat allows is replaced when the tab is shown after a sleep', () => {
  const triggers = manualRetryTriggers()
  const setup = mockStore(undefined, { retryTriggers: triggers.setup })
  const status = () => selectConnection(setup.store.getState() as never).status
  setup.dispatch(connect())
  const slept = setup.sockets.last
  slept.serverConnect('sock-1')
  slept.io.fire('ping')
  vi.setSystemTime(Date.now() + 10 * 60_000) // asleep: the wall clock moved, the timers did not
  triggers.fire('visible')
  expect(status()).toBe('reconnecting')
  expect(slept.disconnectCalls).toBe(1)
  const fresh = setup.sockets.last
  expect(fresh).not.toBe(slept)
  expect(fresh.connectCalls).toBe(1)
  fresh.serverConnect('sock-2')
  expect(status()).toBe('connected')
})

test('a socket whose pings keep coming stays as it is when the tab is shown or the network comes back', () => {
  const triggers = manualRetryTriggers()
  const setup = mockStore(undefined, { retryTriggers: triggers.setup })
  setup.dispatch(connect())
  const socket = setup.sockets.last
  socket.serverConnect('sock-1')
  for (let i = 0; i < 10; i++) {
    vi.advanceTimersByTime(10_000)
    socket.io.fire('ping')
  }
  vi.advanceTimersByTime(19_000) // a ping late, within the heartbeat's allowance (10 s + 10 s)
  triggers.fire('visible')
  triggers.fire('online')
  expect(selectConnection(setup.store.getState() as never).status).toBe('connected')
  expect(setup.sockets.last).toBe(socket)
  expect(socket.disconnectCalls).toBe(0)
})

test('a stand-in socket with no manager to tell its pings is not replaced for its silence after a long time', () => {
  const triggers = manualRetryTriggers()
  const made: FakeSocket[] = []
  // A custom `createSocket` whose socket has no Socket.IO manager: its silence says nothing about a sleep.
  const setup = mockStore(undefined, {
    retryTriggers: triggers.setup,
    createSocket: (url, options) => {
      const socket = new FakeSocket(url, options)
      Object.defineProperty(socket, 'io', { value: undefined })
      made.push(socket)
      return socket as unknown as AppSocket
    },
  })
  setup.dispatch(connect())
  const socket = made[0]!
  socket.serverConnect('sock-1')
  vi.setSystemTime(Date.now() + 10 * 60_000)
  triggers.fire('visible')
  expect(selectConnection(setup.store.getState() as never).status).toBe('connected')
  expect(made).toHaveLength(1)
  expect(socket.disconnectCalls).toBe(0)
})
