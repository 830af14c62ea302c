import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { connect } from '../../../src/realtime'
import { aBrowser, connectedTabs, HEARTBEAT_MS, replacedAndServed, serve, settle, type Tab } from './support/tabStores'

// A tab shown while its connection waits out a reconnect backoff tries again at once (README, "Reconnects"). With one
// socket per browser the tab the user comes back to is often a follower, while the holder, in the background, is the
// one waiting. Stores with the real middleware, fake sockets, the in-memory channel and lock, on fake timers.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** The page shows, as the browser tells it: its visibility, then its retry trigger. */
function show(tab: Tab) {
  tab.visibility.set(true)
  tab.triggers.fire('visible')
}

/**
 * Two connected tabs of one browser whose backoff is long (20–30 s), the holder hidden (and the follower too, when
 * `followerHidden`), and `attempts()`: how many times the holder's sockets tried to connect.
 */
async function twoTabs(followerHidden: boolean) {
  const b = aBrowser({ backoff: { baseMs: 20_000, capMs: 30_000 } })
  const [holder, follower] = (await connectedTabs(b, ['t1', 't2'])) as [Tab, Tab]
  holder.visibility.set(false)
  if (followerHidden) follower.visibility.set(false)
  await settle(HEARTBEAT_MS)
  const attempts = () => holder.own.reduce((n, s) => n + s.connectCalls, 0)
  return { b, holder, follower, attempts, before: attempts() }
}

/** The server answers the holder's latest try: `tab` is connected again. */
async function servedAgain(holder: Tab, tab: Tab) {
  serve(holder.own.at(-1)!, 'sock-2', 3)
  await settle(HEARTBEAT_MS)
  expect(tab.conn()).toMatchObject({ status: 'connected' })
}

test('a follower shown while the holder waits out its reconnect backoff: the holder tries again at once', async () => {
  const { holder, follower, attempts, before } = await twoTabs(true)
  // The server goes away for a moment: the holder's socket drops, and the holder waits out its backoff.
  holder.own[0]!.serverDrop()
  await settle(HEARTBEAT_MS)
  expect([attempts(), follower.conn().status]).toEqual([before, 'reconnecting'])

  // The server is back; the user comes back to the follower's tab, not to the holder's.
  show(follower)
  await settle(HEARTBEAT_MS)
  expect(attempts()).toBe(before + 1)
  await servedAgain(holder, follower)
})

test('a follower shown while it already asks the holder for the socket (its own wait over): the holder tries at once', async () => {
  const { holder, follower, attempts, before } = await twoTabs(true)
  holder.own[0]!.serverDrop()
  // Both waits end (the same draw): the holder's attempt finds no server, the hidden follower asks for the socket.
  await settle(15_000)
  expect(attempts()).toBe(before + 1)
  holder.own.at(-1)!.networkError()
  await settle(HEARTBEAT_MS)
  const waiting = attempts()

  show(follower)
  await settle(HEARTBEAT_MS)
  expect(attempts()).toBe(waiting + 1)
  await servedAgain(holder, follower)
})

test('a tab opened (or a follower reloaded) while the holder waits out its reconnect backoff: the holder tries at once', async () => {
  const { b, holder, follower, attempts, before } = await twoTabs(false)
  holder.own[0]!.serverDrop()
  await settle(HEARTBEAT_MS)
  expect([attempts(), follower.conn().status]).toEqual([before, 'reconnecting'])

  // The user reloads the page that says "reconnecting…": the page goes, and comes back as a new tab.
  follower.dispose()
  b.edges.crash('t2')
  const reloaded = b.openTab('t3')
  reloaded.store.dispatch(connect())
  await settle(HEARTBEAT_MS)
  expect(attempts()).toBe(before + 1)
  await servedAgain(holder, reloaded)
  expect(reloaded.conn().role).toBe('follower')
})

test('a follower hidden after the drop and shown again before its own wait ends: the holder tries at once', async () => {
  const { holder, follower, attempts, before } = await twoTabs(false)
  holder.own[0]!.serverDrop()
  await settle(HEARTBEAT_MS)
  // The user leaves the page that says "reconnecting…" and comes back to it a few seconds later.
  follower.visibility.set(false)
  await settle(3_000)
  expect([attempts(), follower.conn().status]).toEqual([before, 'reconnecting'])
  show(follower)
  await settle(HEARTBEAT_MS)
  expect(attempts()).toBe(before + 1)
})

test('ten visible tabs, the server down: the followers asking for the socket at once make one attempt, not one each', async () => {
  // Full jitter drawn at 0.5 (the tests' draw): a wait before attempt n is min(30 s, 5 s·2^(n-1)) / 2.
  const b = aBrowser({ backoff: { baseMs: 5_000, capMs: 30_000 } })
  const ids = Array.from({ length: 10 }, (_, i) => `t${i + 1}`)
  const [holder, ...followers] = (await connectedTabs(b, ids)) as Tab[]
  const said = () =>
    holder!.actions
      .filter((a) => a.type === 'socket/reconnecting')
      .map((a) => (a.payload as { attempt: number }).attempt)
  const before = said().length
  const since = () => said().slice(before)
  // The server restarts: the socket drops, and every tab's wait ends at once (the same draw): the holder tries, and
  // each follower asks it for the socket.
  holder!.own.at(-1)!.serverDrop('transport close')
  await settle(2_500)
  expect(followers.every((f) => f.conn().status === 'reconnecting')).toBe(true)
  expect(since()).toEqual([1])
  // The server is still down: every attempt fails.
  for (let tries = said().length; ; tries = said().length) {
    holder!.own.at(-1)!.networkError()
    await settle(HEARTBEAT_MS)
    if (said().length === tries) break
  }
  // A single tab's run: no attempt at once, and the next after a wait drawn with exponent 2 (5 s), not more.
  expect(since()).toEqual([1])
  await settle(5_000 - HEARTBEAT_MS)
  expect(since()).toEqual([1, 2])
})

// A shown page is also the check of a live socket (README, "Reconnects"): one the server has not pinged for longer than
// its heartbeat allows is replaced, rather than say "online" until Socket.IO's ping timeout runs out, on a timer that a
// hidden page's browser runs about once a minute. The page shown may be a follower's, the holder's page hidden.

/** Two connected tabs, both hidden, the holder's socket last heard from now. */
async function bothHidden() {
  const b = aBrowser()
  const [holder, follower] = (await connectedTabs(b, ['t1', 't2'])) as [Tab, Tab]
  const socket = holder.own[0]!
  socket.io.fire('ping')
  holder.visibility.set(false)
  follower.visibility.set(false)
  await settle(HEARTBEAT_MS)
  return { b, holder, follower, socket }
}

test('a follower shown while the hidden holder’s socket has been silent past the heartbeat: the holder replaces it', async () => {
  const { b, holder, follower, socket } = await bothHidden()
  await settle(50_000) // nothing heard from the server for longer than its heartbeat allows (20 s)
  expect([socket.disconnectCalls, follower.conn().status]).toEqual([0, 'connected'])

  show(follower)
  await settle(0)
  await replacedAndServed(b, socket, [holder, follower])
})

test('a follower shown while the hidden holder’s socket is heard from leaves that socket as it is', async () => {
  const { b, holder, follower, socket } = await bothHidden()
  await settle(50_000)
  socket.io.fire('ping')
  show(follower)
  await settle(HEARTBEAT_MS)
  expect(socket.disconnectCalls).toBe(0)
  expect(b.sockets.sockets).toHaveLength(1)
  expect([holder, follower].map((t) => t.conn().status)).toEqual(['connected', 'connected'])
})
