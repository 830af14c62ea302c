import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { loggedIn, loggedOut } from '../../../src/app/authSlice'
import { connect, disconnect } from '../../../src/realtime'
import { alice, bob, message } from '../support/fixtures'
import { aBrowser, connectedTabs, crash, HEARTBEAT_MS, handshake, serve, settle } from './support/tabStores'
import { fakeVisibility, manualTimers, memoryBus, scriptedHolder } from './support/tabBus'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { createTabsLink } from '../../../src/realtime/tabs/tabsLink'
import type { AppSocket } from '../../../src/realtime'

// Hand-overs of the browser's socket (the holder crashes, is robbed, its session changes): stores with the real
// middleware, fake sockets, the in-memory channel and lock, on fake timers (heartbeat 100 ms).

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('a follower never stays connected to a holder that is gone', () => {
  test('one that attached before it heard the holder beat: the holder crashes, the next one cannot connect yet', async () => {
    const b = aBrowser()
    const [one, two, three] = await connectedTabs(b, ['t1', 't2', 't3'])
    // The third tab stands aside and comes back: it attaches to the holder at once, before the holder's next beat
    // (its election has heard no holder since it came back).
    three!.store.dispatch(disconnect())
    await settle()
    three!.store.dispatch(connect())
    await settle()
    expect(three!.conn()).toMatchObject({ status: 'connected', role: 'follower' })

    // The holder crashes: the browser hands the lock to the second tab, whose socket cannot reach the server.
    crash(b, one!)
    await settle(10 * HEARTBEAT_MS)
    expect(two!.conn()).toMatchObject({ role: 'leader', status: 'reconnecting' })
    expect(two!.own).toHaveLength(1)
    // No tab has a connected socket: the follower mirrors the holder's status, it does not say "online".
    expect(three!.conn().status).not.toBe('connected')
    // Once the new holder is up, the follower rides on it.
    serve(two!.own[0]!, 'sock-2', 3)
    await settle(HEARTBEAT_MS)
    expect(three!.conn()).toMatchObject({ status: 'connected', role: 'follower', socketId: 'sock-2' })
  })

  test('one that took the answer of a holder its election no longer follows, which then went without a word', () => {
    // Tab S holds the lock and the socket; tab H held them before, was robbed and has not noticed yet, so both answer
    // the follower's attach. The follower takes H's answer (it came first), then H is gone (closed before it heard
    // of its loss): nothing H would have said comes, while S beats on.
    const bus = memoryBus()
    const timers = manualTimers()
    const lock = createMemoryTabLock({ deliver: (fn) => fn() })
    lock.tab('S').request('talemy.socket.x', { steal: false }, { onAcquired() {}, onLost() {} })
    const link = createTabsLink(
      { channelName: 'x', channel: bus.channel(), lock: lock.tab('F'), visibility: fakeVisibility(true), tabId: 'F' },
      { timers, now: timers.now, backoff: { baseMs: 10, capMs: 20 }, random: () => 0.5, onRole() {} },
    )
    const holder = scriptedHolder(bus, 'H')
    const stealer = scriptedHolder(bus, 'S')
    stealer.send({ kind: 'heartbeat', term: 2 })
    const { socket } = link.makeSocket(
      () => ({}) as AppSocket,
      alice.id,
      () => ({ offset: 3, epoch: 'e1' }),
    )
    const heard: string[] = []
    socket.on('disconnect', (reason: string) => heard.push(reason))
    socket.connect()
    bus.deliver()
    const caughtUp = { event: 'sync:caughtUp', args: [{ offset: 3, epoch: 'e1' }] }
    holder.send({ kind: 'attached', to: 'F', socketId: 'sock-h', replay: [], sync: caughtUp, presence: null })
    stealer.send({ kind: 'attached', to: 'F', socketId: 'sock-s', replay: [], sync: caughtUp, presence: null })
    expect(socket.connected).toBe(true)

    for (let beat = 0; beat < 10; beat++) {
      timers.advance(1000)
      stealer.send({ kind: 'heartbeat', term: 2 })
    }
    expect(link.role()).toBe('follower')
    // S's live events are not taken from a tab the proxy is not attached to: it must not stay "connected" to H.
    expect(socket.connected).toBe(false)
    expect(heard).toEqual(['transport close'])
  })
})

describe('hand-overs that already hold (regression guards)', () => {
  test('the holder crashes: the next one resumes from its offset, every tab gets each event once', async () => {
    const b = aBrowser()
    const [one, two, three] = await connectedTabs(b, ['t1', 't2', 't3'])
    one!.own[0]!.serverEmit('message:new', message(4), { offset: 4 })
    await settle()
    crash(b, one!)
    // The dead holder's last event reaches nobody.
    one!.own[0]!.serverEmit('message:new', message(5), { offset: 5 })
    await settle(HEARTBEAT_MS)
    expect(two!.conn().role).toBe('leader')
    const second = two!.own[0]!
    expect(handshake(second)).toEqual({ token: 'token-1', offset: 4, epoch: 'e1' })
    serve(second, 'sock-2', 6, [5, 6])
    await settle(HEARTBEAT_MS)
    second.serverEmit('message:new', message(7), { offset: 7 })
    second.serverEmit('message:new', message(6), { offset: 6 })
    await settle(HEARTBEAT_MS)
    expect([two!.received(), three!.received()]).toEqual([
      [4, 5, 6, 7],
      [4, 5, 6, 7],
    ])
    expect(three!.conn()).toMatchObject({ status: 'connected', role: 'follower', offset: 7 })
  })

  test('another user logs in in a follower: the old holder’s events never reach it, the new session’s do', async () => {
    const b = aBrowser()
    const [one, two] = await connectedTabs(b, ['t1', 't2'])
    two!.store.dispatch(loggedOut({ keepOutbox: true }))
    two!.store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    await settle()
    // The holder has not followed yet: Alice's events go on on its socket.
    one!.own[0]!.serverEmit('message:new', message(4), { offset: 4 })
    await settle(HEARTBEAT_MS)
    expect(two!.received()).toEqual([])
    expect(two!.conn().status).not.toBe('connected')
    one!.store.dispatch(loggedOut({ keepOutbox: true }))
    one!.store.dispatch(loggedIn({ token: 'token-bob', user: bob }))
    await settle()
    serve(one!.own[1]!, 'sock-bob', 10)
    await settle(HEARTBEAT_MS)
    one!.own[1]!.serverEmit('message:new', message(11), { offset: 11 })
    await settle()
    expect(two!.conn()).toMatchObject({ status: 'connected', role: 'follower', offset: 11 })
    expect(two!.received()).toEqual([11])
  })
})

describe('a holder that hangs while the follower is hidden', () => {
  test('the follower takes the socket over once the holder has been silent 150 s, unshown, and gets events again', async () => {
    const b = aBrowser()
    const [one, two] = await connectedTabs(b, ['t1', 't2'])
    two!.visibility.set(false)
    // Blocked (its lock kept): it says nothing, events included.
    b.edges.silence(one!.tabId, true)
    one!.own[0]!.serverEmit('message:new', message(4), { offset: 4 })
    await settle(60_000)
    expect(two!.conn().role).toBe('follower')
    expect(two!.received()).toEqual([])

    await settle(100_000)
    expect(two!.conn().role).toBe('leader')
    expect(two!.own).toHaveLength(1)
    expect(handshake(two!.own[0]!)).toEqual({ token: 'token-1', offset: 3, epoch: 'e1' })
    serve(two!.own[0]!, 'sock-2', 5, [4, 5])
    await settle(HEARTBEAT_MS)
    expect(two!.conn()).toMatchObject({ status: 'connected', role: 'leader' })
    expect(two!.received()).toEqual([4, 5])
  })
})

describe('a tab just opened (no offset yet) takes the socket over', () => {
  test('from a hung holder, and its socket cannot connect: a hidden follower stops saying online through the hung one', async () => {
    const b = aBrowser()
    const [one, two] = await connectedTabs(b, ['t1', 't2'])
    two!.visibility.set(false)
    await settle(HEARTBEAT_MS)
    b.edges.silence(one!.tabId, true)
    const three = b.openTab('t3')
    three.store.dispatch(connect())
    await settle(10 * HEARTBEAT_MS)
    expect(three.conn()).toMatchObject({ role: 'leader', status: 'connecting' })
    // The hung tab no longer holds the socket, and the one that does is not connected: nothing reaches this tab.
    expect(two!.conn()).toMatchObject({ role: 'follower' })
    expect(two!.conn().status).not.toBe('connected')
  })

  test('a follower behind the server gets what it missed as events, not a gap: its toasts show, nothing is read again', async () => {
    const b = aBrowser()
    const [one, two] = await connectedTabs(b, ['t1', 't2'])
    two!.visibility.set(false)
    await settle(HEARTBEAT_MS)
    // The holder hangs (its lock kept, it says nothing): Bob's messages 4 and 5 reach no tab.
    b.edges.silence(one!.tabId, true)
    one!.own[0]!.serverEmit('message:new', message(4), { offset: 4 })
    one!.own[0]!.serverEmit('message:new', message(5), { offset: 5 })
    // The user opens a new tab: shown, it takes the lock from the silent holder before the hidden one would.
    const three = b.openTab('t3')
    three.store.dispatch(connect())
    await settle(10 * HEARTBEAT_MS)
    expect(three.conn()).toMatchObject({ role: 'leader', offset: null })
    expect(two!.conn().role).toBe('follower')
    const socket = three.own[0]!
    // The server answers the handshake from where the tabs stand: the follower asked the new holder from offset 3.
    const auth = handshake(socket) as { offset?: number }
    serve(socket, 'sock-3', 5, auth.offset === undefined ? [] : [4, 5].filter((o) => o > auth.offset!))
    await settle(HEARTBEAT_MS)
    expect(two!.conn()).toMatchObject({ status: 'connected', role: 'follower', offset: 5 })
    expect(two!.received()).toEqual([4, 5])
    expect(two!.actions.filter((a) => a.type === 'socket/sync:gap')).toEqual([])
    // The new tab read what it shows after its first sync: it starts at the head, the old news not told as new.
    expect(three.conn()).toMatchObject({ status: 'connected', role: 'leader', offset: 5 })
    expect(three.received()).toEqual([])
    socket.serverEmit('message:new', message(6), { offset: 6 })
    await settle()
    expect([two!.received(), three.received()]).toEqual([[4, 5, 6], [6]])
  })
})
