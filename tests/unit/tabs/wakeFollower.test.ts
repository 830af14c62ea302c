import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { aBrowser, connectedTabs, HEARTBEAT_MS, replacedAndServed, serve, settle, type Tab } from './support/tabStores'

// A laptop on a wire woken from a sleep gives a shown page no signal but its wake watch (`browserRetryTriggers`: a
// look at the wall clock much later than due). With one socket per browser the page shown may be a follower's, while
// the holder, hidden, hears nothing of the wake: the follower's wake reaches the holder, whose socket, silent past the
// heartbeat, is replaced; one heard from is left as it is. Stores with the real middleware, fake sockets, the
// in-memory channel and lock, on fake timers; the wake is injected as the follower's retry trigger (its wake watch is
// tests/unit/wakeWatch.test.ts), after a silence the tabs' timers ran through (so the election, which a jump of the
// wall clock would stir, has nothing to say: only the wake can tell the holder).

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** Two connected tabs, the holder hidden and the follower shown, the holder's socket last heard from now. */
async function hiddenHolder() {
  const b = aBrowser()
  const [holder, follower] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  const socket = holder.own[0]!
  socket.io.fire('ping')
  holder.visibility.set(false)
  await settle(HEARTBEAT_MS)
  return { b, holder, follower, socket }
}

test('a shown follower woken from a sleep: the hidden holder replaces its silent socket, and both tabs are served', async () => {
  const { b, holder, follower, socket } = await hiddenHolder()
  await settle(50_000) // nothing heard from the server for longer than its heartbeat allows (45 s)
  expect(socket.disconnectCalls).toBe(0)
  follower.triggers.fire('wake')
  await settle(0)
  await replacedAndServed(b, socket, [holder, follower])
})

test('a shown follower’s wake while the holder’s socket is heard from leaves that socket as it is', async () => {
  const { b, holder, follower, socket } = await hiddenHolder()
  await settle(50_000)
  socket.io.fire('ping')
  follower.triggers.fire('wake')
  await settle(HEARTBEAT_MS)
  expect(socket.disconnectCalls).toBe(0)
  expect(b.sockets.sockets).toHaveLength(1)
  expect([holder, follower].map((t) => t.conn().status)).toEqual(['connected', 'connected'])
})

test('a shown follower woken while the hidden holder waits out its reconnect backoff: the holder tries again at once', async () => {
  const b = aBrowser({ backoff: { baseMs: 20_000, capMs: 30_000 } })
  const [holder, follower] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  holder.visibility.set(false)
  await settle(HEARTBEAT_MS)
  const attempts = () => holder.own.reduce((n, s) => n + s.connectCalls, 0)
  const before = attempts()
  holder.own[0]!.serverDrop()
  await settle(HEARTBEAT_MS)
  expect([attempts(), follower.conn().status]).toEqual([before, 'reconnecting'])

  follower.triggers.fire('wake')
  await settle(HEARTBEAT_MS)
  expect(attempts()).toBe(before + 1)
  serve(holder.own.at(-1)!, 'sock-2', 3)
  await settle(HEARTBEAT_MS)
  expect(follower.conn()).toMatchObject({ status: 'connected' })
})

test('a shown follower woken while the hidden holder’s attempt hangs: the holder tries again on a new socket', async () => {
  const b = aBrowser({ backoff: { baseMs: 20_000, capMs: 30_000 } })
  const [holder, follower] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  holder.visibility.set(false)
  await settle(HEARTBEAT_MS)
  holder.own[0]!.serverDrop()
  // The backoff's attempt, begun before the sleep: it hangs.
  while (holder.own[0]!.connectCalls === 1) await settle(1_000)
  expect(holder.own).toHaveLength(1)

  // Both pages hear the network come back; the shown one's wake reaches the holder too.
  follower.triggers.fire('online')
  holder.triggers.fire('online')
  follower.triggers.fire('wake')
  await settle(HEARTBEAT_MS)
  expect(holder.own).toHaveLength(2)
  expect([holder.own[0]!.disconnectCalls, holder.own[1]!.connectCalls]).toEqual([1, 1])
  serve(holder.own[1]!, 'sock-2', 3)
  await settle(HEARTBEAT_MS)
  expect([holder, follower].map((t) => t.conn().status)).toEqual(['connected', 'connected'])
})
