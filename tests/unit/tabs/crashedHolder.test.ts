import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../../src/api'
import type { ThreadMessage as Message } from '../../../src/api/types'
import { joinConversation, outboxStorageKey, selectPendingMessages, sendMessage } from '../../../src/realtime'
import type { EmittedPacket, FakeSocket } from '../support/fakeSocket'
import { alice, message } from '../support/fixtures'
import { aBrowser, connectedTabs, crash, HEARTBEAT_MS, handshake, serve, settle, type Tab } from './support/tabStores'

// A tab crashes (no pagehide, no resign: its posts stop, the browser frees its locks, its page runs nothing more) with
// something under way: the holder with another tab's send or join, its socket's replay, or a send of its own; a
// follower with its send or join under way through the holder. Regression guards (they held when written): stores
// with the real middleware, fake sockets, the in-memory channel and lock, on fake timers.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

const clientIdOf = (packet: EmittedPacket) => (packet.args[0] as { clientId: string }).clientId

function stored(packet: EmittedPacket, seq: number) {
  const { conversationId, clientId } = packet.args[0] as { conversationId: string; clientId: string }
  return message(seq, { senderId: alice.id, clientId, conversationId, content: `text ${clientId}` })
}

const statuses = (tab: Tab) => tab.conn().status

describe('the holder crashes with a follower’s send under way through it', () => {
  test.each([
    { sharedOutbox: false, sender: 1 },
    { sharedOutbox: false, sender: 2 },
    { sharedOutbox: true, sender: 1 },
    { sharedOutbox: true, sender: 2 },
  ])(
    'sharedOutbox $sharedOutbox, sent from tab $sender: confirmed once in every tab, nothing left pending',
    async ({ sharedOutbox, sender }) => {
      const b = aBrowser({ sharedOutbox })
      const tabs = await connectedTabs(b, ['t1', 't2', 't3'])
      const [one, two] = tabs as [Tab, Tab, Tab]
      const from = tabs[sender]!
      from.store.dispatch(sendMessage({ conversationId: 'c1', content: 'text k1', clientId: 'k1' }))
      await settle()
      const first = one.own[0]!
      expect(first.sent('message:send').map(clientIdOf)).toEqual(['k1'])
      // The server stores it (offset 4) and answers; the holder dies before anything reaches the other tabs.
      crash(b, one)
      one.dispose()
      const k1 = stored(first.sent('message:send')[0]!, 4)
      first.sent('message:send')[0]!.ack({ ok: true, data: k1 })
      first.serverEmit('message:sent', k1, { offset: 4 })
      await settle(HEARTBEAT_MS)
      expect(two.conn().role).toBe('leader')
      const second: FakeSocket = two.own[0]!
      expect(handshake(second)).toMatchObject({ offset: 3 })
      // Not up yet: nobody says online.
      expect(tabs.slice(1).map(statuses)).not.toContain('connected')
      second.serverConnect('sock-2')
      second.serverEmit('message:sent', k1, { offset: 4 })
      second.serverEmit('sync:caughtUp', { offset: 4, epoch: 'e1' })
      await settle(10 * HEARTBEAT_MS)
      // Sent again with the same clientId (the server answers the stored one), or not at all.
      for (const packet of second.sent('message:send')) {
        expect(clientIdOf(packet)).toBe('k1')
        packet.ack({ ok: true, data: k1 })
      }
      await settle(10 * HEARTBEAT_MS)
      for (const tab of tabs.slice(1)) {
        expect(tab.conn()).toMatchObject({ status: 'connected', offset: 4 })
        expect(selectPendingMessages(tab.store.getState())).toEqual([])
        expect(tab.actions.filter((a) => a.type === 'socket/message:sent')).toHaveLength(1)
      }
      for (const tab of tabs) tab.dispose()
    },
  )
})

describe('the holder crashes with a follower’s join under way through it', () => {
  test('the next holder joins every visible tab’s open thread; each tab shows its room joined once the server says so', async () => {
    const b = aBrowser()
    const tabs = await connectedTabs(b, ['t1', 't2', 't3'])
    const [one, two, three] = tabs as [Tab, Tab, Tab]
    const first = one.own[0]!
    three.store.dispatch(joinConversation({ conversationId: 'c3' }))
    await settle()
    for (const packet of first.sent('conversation:join')) packet.ack({ ok: true, data: null })
    await settle(HEARTBEAT_MS)
    expect(three.store.getState().socket.joinedRooms).toEqual(['c3'])
    // Tab 2 opens c2: its join reaches the holder's socket, and the holder dies before the answer is relayed.
    two.store.dispatch(joinConversation({ conversationId: 'c2' }))
    await settle()
    expect(first.sent('conversation:join').map((p) => p.args[0])).toEqual(['c3', 'c2'])
    crash(b, one)
    one.dispose()
    first.sent('conversation:join')[1]!.ack({ ok: true, data: null })
    await settle(HEARTBEAT_MS)
    expect(two.conn().role).toBe('leader')
    // Nobody is in a room now: no tab says so.
    for (const tab of [two, three]) expect(tab.store.getState().socket.joinedRooms).toEqual([])
    const second = two.own[0]!
    serve(second, 'sock-2', 3)
    await settle(10 * HEARTBEAT_MS)
    expect(
      second
        .sent('conversation:join')
        .map((p) => p.args[0])
        .toSorted(),
    ).toEqual(['c2', 'c3'])
    for (const packet of second.sent('conversation:join')) packet.ack({ ok: true, data: null })
    await settle(10 * HEARTBEAT_MS)
    expect(second.sent('conversation:join')).toHaveLength(2)
    expect(two.store.getState().socket.joinedRooms).toEqual(['c2'])
    expect(three.store.getState().socket.joinedRooms).toEqual(['c3'])
    for (const tab of tabs) expect(tab.actions.filter((a) => a.type === 'socket/joinFailed')).toEqual([])
    for (const tab of tabs) tab.dispose()
  })
})

describe('the holder crashes while its socket resumes', () => {
  test.each([{ replayedBeforeCrash: [] }, { replayedBeforeCrash: [4] }, { replayedBeforeCrash: [4, 5] }])(
    'replayed $replayedBeforeCrash: the next holder resumes from its own offset, every tab gets each event once',
    async ({ replayedBeforeCrash }) => {
      const b = aBrowser()
      const tabs = await connectedTabs(b, ['t1', 't2', 't3'])
      const [one, two, three] = tabs as [Tab, Tab, Tab]
      const first = one.own[0]!
      first.serverDrop()
      await settle(HEARTBEAT_MS)
      for (const tab of tabs) expect(tab.conn().status).toBe('reconnecting')
      first.serverConnect('sock-1b')
      for (const o of replayedBeforeCrash) first.serverEmit('message:new', message(o), { offset: o })
      await settle()
      // Mid-replay: the holder is connected and syncing; the followers get the stream once it has caught up.
      expect(one.conn()).toMatchObject({ status: 'connected', syncing: true })
      for (const tab of [two, three]) expect(tab.conn().status).not.toBe('connected')
      crash(b, one)
      one.dispose()
      await settle(HEARTBEAT_MS)
      expect(two.conn().role).toBe('leader')
      for (const tab of [two, three]) expect(tab.conn().status).not.toBe('connected')
      const second = two.own.at(-1)!
      const { offset } = handshake(second) as { offset: number }
      serve(
        second,
        'sock-2',
        6,
        [4, 5, 6].filter((o) => o > offset),
      )
      await settle(10 * HEARTBEAT_MS)
      for (const tab of [two, three]) {
        expect(tab.conn()).toMatchObject({ status: 'connected', offset: 6 })
        expect(tab.received()).toEqual([4, 5, 6])
      }
      for (const tab of tabs) tab.dispose()
    },
  )
})

describe('a follower crashes with its send under way through the holder', () => {
  test.each([{ answered: 'before' }, { answered: 'after' }])(
    'the server answers $answered the crash: the holder shows it sent, once, never pending again, and sends it no more',
    async ({ answered }) => {
      const b = aBrowser({ sharedOutbox: true })
      const tabs = await connectedTabs(b, ['t1', 't2'])
      const [one, two] = tabs as [Tab, Tab]
      for (const tab of tabs) await tab.store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
      const socket = one.own[0]!
      const thread = () =>
        (one.store.getState().api.queries['getMessages("c1")']?.data as Message[] | undefined)
          ?.filter((m) => m.clientId === 'k1' || m.id === 'k1')
          .map((m) => ({ id: m.id, status: m.status ?? 'sent' })) ?? []
      const seen: string[] = []
      one.store.subscribe(() => {
        const now = JSON.stringify(thread())
        if (seen.at(-1) !== now) seen.push(now)
      })
      two.store.dispatch(sendMessage({ conversationId: 'c1', content: 'text k1', clientId: 'k1' }))
      await settle()
      expect(socket.sent('message:send').map(clientIdOf)).toEqual(['k1'])
      const k1 = stored(socket.sent('message:send')[0]!, 2)
      const answer = async () => {
        socket.sent('message:send')[0]!.ack({ ok: true, data: k1 })
        socket.serverEmit('message:sent', k1, { offset: 4 })
        await settle()
      }
      if (answered === 'before') {
        b.edges.silence(two.tabId, true)
        await answer()
        b.edges.crash(two.tabId)
      } else {
        crash(b, two)
        await settle()
        await answer()
      }
      await settle(10 * HEARTBEAT_MS)
      for (const packet of socket.sent('message:send').slice(1)) packet.ack({ ok: true, data: k1 })
      await settle(10 * HEARTBEAT_MS)
      expect(thread()).toEqual([{ id: k1.id, status: 'sent' }])
      expect(selectPendingMessages(one.store.getState())).toEqual([])
      expect(JSON.parse(b.storage!.getItem(outboxStorageKey(alice.id)) ?? '[]')).toEqual([])
      // Confirmed, it stays so.
      const confirmed = seen.indexOf(JSON.stringify([{ id: k1.id, status: 'sent' }]))
      expect(seen.slice(confirmed)).toEqual([JSON.stringify([{ id: k1.id, status: 'sent' }])])
      one.dispose()
    },
  )
})

describe('the holder crashes with a send of its own under way', () => {
  test.each([{ answered: false }, { answered: true }])(
    'stored (answered by the server: $answered): the next holder sends it, and shows it sent',
    async ({ answered }) => {
      const b = aBrowser({ sharedOutbox: true })
      const tabs = await connectedTabs(b, ['t1', 't2', 't3'])
      const [one, two, three] = tabs as [Tab, Tab, Tab]
      for (const tab of tabs) await tab.store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
      const first = one.own[0]!
      one.store.dispatch(sendMessage({ conversationId: 'c1', content: 'text k1', clientId: 'k1' }))
      await settle()
      expect(first.sent('message:send').map(clientIdOf)).toEqual(['k1'])
      expect(JSON.parse(b.storage!.getItem(outboxStorageKey(alice.id)) ?? '[]')).toHaveLength(1)
      const k1 = stored(first.sent('message:send')[0]!, 2)
      crash(b, one)
      one.dispose()
      if (answered) {
        first.sent('message:send')[0]!.ack({ ok: true, data: k1 })
        first.serverEmit('message:sent', k1, { offset: 4 })
      }
      await settle(HEARTBEAT_MS)
      const second = two.own[0]!
      second.serverConnect('sock-2')
      if (answered) second.serverEmit('message:sent', k1, { offset: 4 })
      second.serverEmit('sync:caughtUp', { offset: answered ? 4 : 3, epoch: 'e1' })
      await settle(10 * HEARTBEAT_MS)
      const sends = second.sent('message:send')
      if (!answered) expect(sends.map(clientIdOf)).toEqual(['k1'])
      for (const packet of sends) {
        packet.ack({ ok: true, data: k1 })
        if (!answered) second.serverEmit('message:sent', k1, { offset: 4 })
      }
      await settle(10 * HEARTBEAT_MS)
      for (const tab of [two, three]) {
        const data = tab.store.getState().api.queries['getMessages("c1")']?.data as Message[]
        expect(data.filter((m) => m.clientId === 'k1').map((m) => [m.id, m.status ?? 'sent'])).toEqual([['m2', 'sent']])
        expect(selectPendingMessages(tab.store.getState())).toEqual([])
      }
      expect(JSON.parse(b.storage!.getItem(outboxStorageKey(alice.id)) ?? '[]')).toEqual([])
      for (const tab of tabs) tab.dispose()
    },
  )
})

describe('a follower crashes with its join under way through the holder', () => {
  test.each([{ answered: 'before' }, { answered: 'after' }])(
    'the server answers the join $answered the crash: the socket leaves the room (nobody looks at it any more)',
    async ({ answered }) => {
      const b = aBrowser()
      const tabs = await connectedTabs(b, ['t1', 't2'])
      const [one, two] = tabs as [Tab, Tab]
      const socket = one.own[0]!
      two.store.dispatch(joinConversation({ conversationId: 'c2' }))
      await settle()
      expect(socket.sent('conversation:join').map((p) => p.args[0])).toEqual(['c2'])
      const join = socket.sent('conversation:join')[0]!
      if (answered === 'before') {
        b.edges.silence(two.tabId, true)
        join.ack({ ok: true, data: null })
        await settle()
        b.edges.crash(two.tabId)
      } else {
        crash(b, two)
        await settle()
        join.ack({ ok: true, data: null })
      }
      await settle(10 * HEARTBEAT_MS)
      for (const packet of socket.sent('conversation:leave')) packet.ack({ ok: true, data: null })
      await settle(10 * HEARTBEAT_MS)
      const words = socket.emitted
        .filter((p) => p.event === 'conversation:join' || p.event === 'conversation:leave')
        .map((p) => `${p.event} ${String(p.args[0])}`)
      expect(words.at(-1)).toBe('conversation:leave c2')
      one.dispose()
    },
  )
})

describe('the holder crashes and the next in the lock’s queue is hidden (its timers throttled)', () => {
  test('the shown follower ends up online on one socket, its open thread joined there, within seconds', async () => {
    const b = aBrowser({ throttled: true })
    const tabs = await connectedTabs(b, ['t1', 't2', 't3'])
    const [one, two, three] = tabs as [Tab, Tab, Tab]
    two.visibility.set(false)
    three.store.dispatch(joinConversation({ conversationId: 'c3' }))
    await settle(HEARTBEAT_MS)
    for (const packet of one.own[0]!.sent('conversation:join')) packet.ack({ ok: true, data: null })
    // Past the whole minute, and a little more: the hidden tab's next timers fall due a minute on.
    await settle(60_000 - (Date.now() % 60_000) + 1_000)
    const start = Date.now()
    crash(b, one)
    one.dispose()
    // Each socket made meanwhile is served as it comes; the last one made is the browser's.
    const served = new Set([one.own[0]!])
    for (let i = 0; i < 20; i++) {
      await settle(HEARTBEAT_MS)
      for (const socket of [...two.own, ...three.own])
        if (!served.has(socket) && socket.active) {
          served.add(socket)
          serve(socket, `sock-${served.size}`, 3)
        }
    }
    const live = [...two.own, ...three.own].filter((s) => s.connected)
    expect(live).toHaveLength(1)
    expect(three.conn()).toMatchObject({ status: 'connected', socketId: live[0]!.id })
    expect(two.conn()).toMatchObject({ status: 'connected', socketId: live[0]!.id })
    expect(live[0]!.sent('conversation:join').map((p) => p.args[0])).toEqual(['c3'])
    expect(Date.now() - start).toBeLessThan(30_000)
    for (const tab of tabs) tab.dispose()
  })
})
