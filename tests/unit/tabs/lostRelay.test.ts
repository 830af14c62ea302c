import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { api } from '../../../src/api'
import type { TabMessage } from '../../../src/realtime/tabs/protocol'
import { message } from '../support/fixtures'
import { aBrowser, connectedTabs, HEARTBEAT_MS, settle, type Tab } from './support/tabStores'

// A follower can miss a message the holder posts on the channel (a page paused in the debugger, or being frozen or
// discarded): the holder's relay of a logged event is then lost to it. Its store must still get that event, once and in
// order, from the holder's replay: a later event shows the hole (the store's resume gate), and when none comes after
// it, the holder's heartbeat says how far its stream has gone. Stores with the real middleware, fake sockets, the
// in-memory channel and lock, on fake timers.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** A browser where tab `b` loses the messages `lose` picks (the others reach it). */
function lossyBrowser(lose: (message: TabMessage) => boolean) {
  const b = aBrowser()
  const tab = b.edges.tab
  b.edges.tab = (tabId) => {
    const edges = tab(tabId)
    if (tabId !== 'b') return edges
    const { channel } = edges
    const subscribe: typeof channel.subscribe = (listener) =>
      channel.subscribe((m) => (lose(m) ? undefined : listener(m)))
    return { ...edges, channel: { ...channel, subscribe } }
  }
  return b
}

/** The holder's relay of the logged event at `offset`. */
const relayOf = (m: TabMessage, offset: number) =>
  m.kind === 'event' && (m.raw.args.at(-1) as { offset?: unknown } | null)?.offset === offset

/** Two connected tabs, holder `a` and follower `b` (which loses what `lose` picks), c1's thread cached at m1–m3. */
async function tabsWithThread(lose: (message: TabMessage) => boolean) {
  const [holder, follower] = (await connectedTabs(lossyBrowser(lose), ['a', 'b'])) as [Tab, Tab]
  for (const tab of [holder, follower])
    tab.store.dispatch(
      api.util.upsertQueryData(
        'getMessages',
        'c1',
        [1, 2, 3].map((seq) => message(seq)),
      ),
    )
  await settle(0)
  return { holder, follower, socket: holder.own[0]! }
}

/** The ids of the messages `tab` shows in c1's thread. */
const thread = (tab: Tab) => (api.endpoints.getMessages.select('c1')(tab.store.getState()).data ?? []).map((m) => m.id)

test('a follower that missed a relayed event, a later one showing the hole, gets it once, in order', async () => {
  const { holder, follower, socket } = await tabsWithThread((m) => relayOf(m, 4))
  socket.serverEmit('message:new', message(4), { offset: 4 })
  socket.serverEmit('message:new', message(5), { offset: 5 })
  await settle(HEARTBEAT_MS)
  expect(holder.received()).toEqual([4, 5])
  await settle(3_000)
  expect(follower.received()).toEqual([4, 5])
  expect(thread(follower)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5'])
  expect(follower.conn()).toMatchObject({ status: 'connected', offset: 5 })
})

test('a follower that missed the last relayed event gets it from the holder, once, at the next heartbeat', async () => {
  const { holder, follower, socket } = await tabsWithThread((m) => relayOf(m, 4))
  socket.serverEmit('message:new', message(4), { offset: 4 })
  await settle(0)
  expect(thread(holder)).toEqual(['m1', 'm2', 'm3', 'm4'])
  await settle(3 * HEARTBEAT_MS)
  expect(follower.received()).toEqual([4])
  expect(thread(follower)).toEqual(['m1', 'm2', 'm3', 'm4'])
  expect(follower.conn()).toMatchObject({ role: 'follower', status: 'connected', offset: 4 })
})

test('a follower that missed the holder’s live resync into another log (a relayed sync:gap) adopts it', async () => {
  const { holder, follower, socket } = await tabsWithThread((m) => m.kind === 'event' && m.raw.event === 'sync:gap')
  socket.serverEmit('sync:gap', { offset: 1, epoch: 'e2' })
  await settle(0)
  expect(holder.conn()).toMatchObject({ offset: 1, epoch: 'e2' })
  await settle(3 * HEARTBEAT_MS)
  expect(follower.conn()).toMatchObject({ status: 'connected', offset: 1, epoch: 'e2' })
})

test('a follower that missed nothing logged, or only events without an offset, does not attach again', async () => {
  const { holder, follower, socket } = await tabsWithThread(
    (m) => m.kind === 'event' && (m.raw.event === 'typing' || m.raw.event === 'presence:changed'),
  )
  const connects = () => follower.actions.filter((a) => a.type === 'socket/connected').length
  const before = connects()
  for (let offset = 4; offset <= 8; offset++) {
    socket.serverEmit('typing', { conversationId: 'c1', userId: 'bob' })
    socket.serverEmit('presence:changed', { userId: 'bob', online: offset % 2 === 0, lastSeenAt: null })
    socket.serverEmit('message:new', message(offset), { offset })
    await settle(HEARTBEAT_MS / 2)
  }
  await settle(5 * HEARTBEAT_MS)
  expect([holder.received(), follower.received()]).toEqual([
    [4, 5, 6, 7, 8],
    [4, 5, 6, 7, 8],
  ])
  expect(connects()).toBe(before)
  expect(thread(follower)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
})
