import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { RefreshOutcome } from '../../../src/api'
import { connect } from '../../../src/realtime'
import { hangable } from './support/hangable'
import { aBrowser, connectedTabs, HEARTBEAT_MS, serve, settle, type Tab } from './support/tabStores'
import type { FakeSocket } from '../support/fakeSocket'

// The holder's handshake fails (the server unreachable, or refusing it: its handshake budget, a socket too many, an
// origin it does not allow): its store records why (`connection.error`), and its badge says it cannot connect, while a
// follower heard nothing: 'connecting', no error, as if it were about to connect. Its status mirrors the holder's
// (README, "One socket per browser"): told why as a `connect_error` of its own, it says the same. Stores with the real
// middleware, fake sockets, the in-memory channel and lock, on fake timers.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** Two tabs of one browser asking for the socket; the first holds it, its first handshake not answered yet. */
async function twoTabsConnecting(b = aBrowser({ backoff: { baseMs: 20_000, capMs: 30_000 } })) {
  const holder = b.openTab('t1')
  holder.store.dispatch(connect())
  await settle(HEARTBEAT_MS)
  const follower = b.openTab('t2')
  follower.store.dispatch(connect())
  await settle(HEARTBEAT_MS * 3)
  expect([holder.conn().role, follower.conn().role]).toEqual(['leader', 'follower'])
  expect([holder.conn().status, follower.conn().status]).toEqual(['connecting', 'connecting'])
  return { b, holder, follower }
}

const socketOf = (tab: Tab): FakeSocket => tab.own.at(-1)!

/** A refusal of the handshake budget, with the wait the server asks for (the server's `data`, beside the code). */
function refuseRateLimited(socket: FakeSocket, retryAfterMs: number) {
  socket.active = false
  socket.fire('connect_error', Object.assign(new Error('RATE_LIMITED'), { data: { retryAfterMs } }))
}

describe('the holder’s first handshake fails: a follower says why, as the holder does', () => {
  test.each<[string, (socket: FakeSocket) => void, { code: string; message: string }]>([
    ['the server cannot be reached', (s) => s.networkError(), { code: 'NETWORK', message: 'xhr poll error' }],
    [
      'the server refuses it (too many sockets)',
      (s) => s.serverRefuse('RATE_LIMITED'),
      { code: 'RATE_LIMITED', message: 'RATE_LIMITED' },
    ],
    [
      'the server refuses it (not allowed)',
      (s) => s.serverRefuse('FORBIDDEN'),
      { code: 'FORBIDDEN', message: 'FORBIDDEN' },
    ],
  ])('%s', async (_name, fail, error) => {
    const { holder, follower } = await twoTabsConnecting()
    fail(socketOf(holder))
    await settle(HEARTBEAT_MS)
    expect(holder.conn()).toMatchObject({ status: 'connecting', error })
    expect(follower.conn()).toMatchObject({ status: 'connecting', error })

    // The holder connects at last: so does the follower, its error gone.
    await settle(30_000)
    serve(socketOf(holder), 'sock-1', 3)
    await settle(HEARTBEAT_MS * 2)
    expect(follower.conn()).toMatchObject({ status: 'connected', error: null })
  })

  test('the wait a refusal asks for is the follower’s too: it tries no sooner', async () => {
    const { holder, follower } = await twoTabsConnecting()
    refuseRateLimited(socketOf(holder), 60_000)
    await settle(HEARTBEAT_MS)
    expect(follower.conn()).toMatchObject({ status: 'connecting', error: { code: 'RATE_LIMITED' } })
    const attempts = () => follower.actions.filter((a) => a.type === 'socket/reconnecting').length
    const before = attempts()
    await settle(50_000)
    expect(attempts()).toBe(before)
  })

  test('a tab opened while the holder waits to try again is told why too', async () => {
    const { b, holder } = await twoTabsConnecting()
    refuseRateLimited(socketOf(holder), 60_000)
    await settle(HEARTBEAT_MS)
    const opened = b.openTab('t3')
    opened.store.dispatch(connect())
    await settle(HEARTBEAT_MS * 3)
    expect(opened.conn()).toMatchObject({ role: 'follower', status: 'connecting', error: { code: 'RATE_LIMITED' } })
  })

  test('a refusal for the token is the holder’s to renew: a follower neither refreshes nor says it', async () => {
    // The holder's refresh takes its time; the follower's would be counted.
    const refreshes: string[] = []
    const b = aBrowser({
      backoff: { baseMs: 20_000, capMs: 30_000 },
      refreshToken: (tabId) => () => {
        refreshes.push(tabId)
        return new Promise<RefreshOutcome>(() => {})
      },
    })
    const { holder, follower } = await twoTabsConnecting(b)
    socketOf(holder).serverRefuse('UNAUTHORIZED')
    await settle(HEARTBEAT_MS)
    expect(refreshes).toEqual(['t1'])
    expect(follower.conn()).toMatchObject({ status: 'connecting', error: null })
  })
})

test('a follower reconnecting after the holder’s socket dropped says why the holder cannot connect again', async () => {
  const { holder, follower } = await twoTabsConnecting()
  serve(socketOf(holder), 'sock-1', 3)
  await settle(HEARTBEAT_MS * 2)
  expect(follower.conn().status).toBe('connected')
  socketOf(holder).serverDrop()
  await settle(30_000)
  socketOf(holder).networkError()
  await settle(HEARTBEAT_MS)
  expect(holder.conn()).toMatchObject({ status: 'reconnecting', error: { code: 'NETWORK' } })
  expect(follower.conn()).toMatchObject({ status: 'reconnecting', error: { code: 'NETWORK' } })
})

test('a follower that takes the socket over while the server’s wait runs tries only once that wait is over', async () => {
  const { holder, follower } = await twoTabsConnecting()
  refuseRateLimited(socketOf(holder), 60_000)
  await settle(10_000)
  expect(follower.conn()).toMatchObject({ status: 'connecting', error: { code: 'RATE_LIMITED' } })

  // The holder's tab closes with 50 s of the wait left: the follower takes the socket over.
  holder.dispose()
  await settle(HEARTBEAT_MS)
  expect(follower.conn().role).toBe('leader')
  const socket = socketOf(follower)
  expect(socket.connectCalls).toBe(0)
  await settle(60_000 - 10_000 - 2 * HEARTBEAT_MS)
  expect(socket.connectCalls).toBe(0)
  await settle(2 * HEARTBEAT_MS)
  expect(socket.connectCalls).toBe(1)
})

test('a follower in a backoff of its own, told of the server’s wait, takes the socket over and tries only once that wait is over', async () => {
  const b = aBrowser({ backoff: { baseMs: 20_000, capMs: 30_000 } })
  const [holder, follower] = (await connectedTabs(b, ['t1', 't2'])) as [Tab, Tab]
  // The socket drops: each tab backs off on its own. The holder's next handshake is refused for its budget, 60 s,
  // while the follower still waits out its backoff.
  socketOf(holder).serverDrop()
  await settle(HEARTBEAT_MS)
  expect(follower.conn().status).toBe('reconnecting')
  const held = socketOf(holder)
  // Its backoff (at most 30 s) on the tabs' fake clock.
  for (let ms = 0; ms <= 30_000 && held.connectCalls === 0; ms += HEARTBEAT_MS) await settle(HEARTBEAT_MS)
  expect(held.connectCalls).toBe(1)
  refuseRateLimited(held, 60_000)
  await settle(HEARTBEAT_MS)
  expect(follower.conn()).toMatchObject({ status: 'reconnecting', error: { code: 'RATE_LIMITED' } })

  // The holder's tab closes: the follower takes the socket over, and waits out what is left of the server's wait.
  holder.dispose()
  await settle(HEARTBEAT_MS)
  expect(follower.conn().role).toBe('leader')
  const socket = socketOf(follower)
  await settle(60_000 - 10 * HEARTBEAT_MS)
  expect(socket.connectCalls).toBe(0)
  await settle(10 * HEARTBEAT_MS)
  expect(socket.connectCalls).toBe(1)
})

test('a holder that hands the socket over while the server’s wait runs attaches at once to a new holder that is up', async () => {
  // A lone holder refused, told to wait 60 s; its page then hangs, and a tab opened meanwhile (never told of the wait)
  // takes the lock from the silent holder and connects.
  const b = aBrowser({ backoff: { baseMs: 20_000, capMs: 30_000 } })
  const page = hangable(b, 't1')
  const old = b.openTab('t1')
  old.store.dispatch(connect())
  await settle(HEARTBEAT_MS)
  refuseRateLimited(socketOf(old), 60_000)
  await settle(HEARTBEAT_MS)
  expect(old.conn()).toMatchObject({ role: 'leader', status: 'connecting', error: { code: 'RATE_LIMITED' } })
  page.hang()
  const fresh = b.openTab('t2')
  fresh.store.dispatch(connect())
  await settle(10 * HEARTBEAT_MS)
  expect(fresh.conn().role).toBe('leader')
  serve(socketOf(fresh), 'sock-2', 3)
  await settle(HEARTBEAT_MS)
  expect(fresh.conn().status).toBe('connected')

  // The old holder wakes, 58 s of the wait left, and hears of its loss: its proxy attaches to the new holder at once.
  page.wake()
  await settle(3 * HEARTBEAT_MS)
  expect(old.conn()).toMatchObject({ role: 'follower', status: 'connected', error: null })
})
