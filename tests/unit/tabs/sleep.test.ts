import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { aBrowser, connectedTabs, HEARTBEAT_MS, serve, settle, type Tab } from './support/tabStores'

// After a sleep the holder's socket may be dead while Socket.IO's ping timeout, on a timer that stood still, still
// says it lives. With one socket per browser the holder may be a hidden tab, and the tab the user looks at a follower,
// whose own signals reach no socket: the election, which reads its beats on the wall clock, hands the socket over to
// a tab that makes a fresh one.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

test('after a sleep, with the holder hidden and a follower shown, a fresh socket serves both tabs', async () => {
  const b = aBrowser()
  const [holder, follower] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  const slept = holder.own[0]!
  slept.io.fire('ping')
  holder.visibility.set(false)
  follower.visibility.set(false)
  await settle(HEARTBEAT_MS)
  vi.setSystemTime(Date.now() + 10 * 60_000) // asleep: the wall clock moved, the timers did not
  follower.visibility.set(true)
  await settle(HEARTBEAT_MS)
  expect(slept.disconnectCalls).toBe(1)
  const fresh = b.sockets.sockets.filter((s) => s !== slept)
  expect(fresh).toHaveLength(1)
  serve(fresh[0]!, 'sock-2', 3)
  await settle(2 * HEARTBEAT_MS)
  expect([holder, follower].map((t) => t.conn().status)).toEqual(['connected', 'connected'])
  expect([holder, follower].map((t) => t.conn().role).sort()).toEqual(['follower', 'leader'])
})

test('a follower tab shown while the holder’s socket is heard from leaves that socket as it is', async () => {
  const b = aBrowser()
  const [holder, follower] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  const socket = holder.own[0]!
  follower.visibility.set(false)
  await settle(HEARTBEAT_MS)
  await settle(25_000)
  socket.io.fire('ping')
  follower.visibility.set(true)
  await settle(HEARTBEAT_MS)
  expect(socket.disconnectCalls).toBe(0)
  expect(b.sockets.sockets).toHaveLength(1)
  expect(holder.conn().status).toBe('connected')
})
