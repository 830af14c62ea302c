import { describe, expect, test, vi } from 'vitest'
import { ephemeralEventSchemas, MAX_PRESENCE_SNAPSHOT, parse } from '../../../src/contract'
import { createTabHub, type TabHubOptions } from '../../../src/realtime/tabs/hub'
import type { RawEvent } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { FakeSocket } from '../support/fakeSocket'
import { eventually } from '../support/eventually'
import { memoryBus, testTab } from './support/hubHarness'
import { fakeVisibility, manualTimers } from './support/tabBus'

const OK = { ok: true, data: null }
const message = (offset: number) => ({ id: `m${offset}`, conversationId: 'c1', content: `hello ${offset}` })
const logged = (offset: number): RawEvent => ({ event: 'message:new', args: [message(offset), { offset }] })
const caughtUp = (offset: number, epoch = 'e1'): RawEvent => ({ event: 'sync:caughtUp', args: [{ offset, epoch }] })
const gap = (offset: number, epoch = 'e1'): RawEvent => ({ event: 'sync:gap', args: [{ offset, epoch }] })

function setup(options: Partial<TabHubOptions> = {}) {
  const bus = memoryBus()
  const socket = new FakeSocket('http://test', {})
  const clock = manualTimers()
  const visibility = fakeVisibility(true)
  const listenersBefore = socket.listenerCount()
  const hub = createTabHub({
    tabId: 'holder',
    userId: 'alice',
    channel: bus.channel(),
    socket,
    visibility,
    timers: clock,
    now: clock.now,
    ...options,
  })
  const a = testTab(bus, 'tab-a')
  const b = testTab(bus, 'tab-b')
  return {
    hub,
    socket,
    clock,
    visibility,
    listenersBefore,
    a,
    b,
    tab: (id: string) => testTab(bus, id),
    /** The real socket connects and the server's sync for it arrives: the hub is up. */
    up(offset = 0, epoch = 'e1', id = 'sock-1') {
      socket.serverConnect(id)
      socket.serverEmit('sync:caughtUp', { offset, epoch })
    },
    emitLogged(offset: number) {
      socket.serverEmit('message:new', message(offset), { offset })
    },
  }
}

/**
 * The hub up, with follower `a` attached hidden, wanting `rooms`, then shown: the hub joins them for it, with nobody
 * waiting for the answer. Retries draw 0.5 (the n-th waits 250 · 2^(n-1) ms); followers are not timed out meanwhile.
 */
function shownWanting(...rooms: string[]) {
  const hub = setup({ random: () => 0.5, heartbeatMs: 60_000 })
  hub.up(0)
  hub.a.attach('alice', null, null, false)
  rooms.forEach((room, i) => hub.a.emit(i + 1, 'conversation:join', [room]))
  hub.a.alive(true)
  return hub
}

describe('handshakeFrom: where the held socket resumes from, with tabs waiting for it', () => {
  test('a tab a little behind the holder: its point, so the server replays what it missed', () => {
    const { hub, a } = setup()
    a.attach('alice', 9_950, 'e1')
    expect(hub.handshakeFrom({ offset: 10_000, epoch: 'e1' })).toEqual({ offset: 9_950, epoch: 'e1' })
  })
  test('a tab far behind (one that was frozen): the holder’s own, so the server, which replays at most 1,000 from the handshake, answers the holder with what it missed, not a gap for every tab', () => {
    // The holder missed 200 events while its socket was down (the server at 10,200); from 9,100 the server would be
    // 1,100 behind and answer sync:gap; the lagging tab alone gets its gap from the hub instead.
    const { hub, a } = setup()
    a.attach('alice', 9_100, 'e1')
    expect(hub.handshakeFrom({ offset: 10_000, epoch: 'e1' })).toEqual({ offset: 10_000, epoch: 'e1' })
  })
})

describe('readiness: up after the connection and its sync', () => {
  test('an attach before the hub is up is answered once it is, before `up` is posted', () => {
    const { socket, a, b } = setup()
    a.attach('alice')
    socket.serverConnect('sock-1')
    expect(a.got('attached')).toEqual([])
    expect(b.got('up')).toEqual([])

    socket.serverEmit('sync:caughtUp', { offset: 4, epoch: 'e1' })
    expect(a.got('attached')).toEqual([
      {
        kind: 'attached',
        from: 'holder',
        to: 'tab-a',
        attachId: expect.any(Number),
        socketId: 'sock-1',
        replay: [],
        sync: caughtUp(4),
        presence: null,
      },
    ])
    expect(b.got('up')).toEqual([{ kind: 'up', from: 'holder', userId: 'alice' }])
    expect(a.received.map((m) => m.kind)).toEqual(['attached', 'up'])
  })

  test('a holder unsure it still holds the lock says `up` once it is sure, for a connection still up; it answers attaches', () => {
    const checks: (() => void)[] = []
    const { socket, up, a, b } = setup({ whenHeld: (fn) => void checks.push(fn) })
    a.attach('alice')
    up(4)
    expect(a.got('attached')).toHaveLength(1)
    expect(b.got('up')).toEqual([])

    // Its lock answers (it beats again): the `up`s held back are said, the one made at its start and this connection's.
    for (const fn of checks.splice(0)) fn()
    const said = { kind: 'up', from: 'holder', userId: 'alice' }
    expect(b.got('up')).toEqual([said, said])

    // Sure only once the next connection has dropped again: nothing is said for it. (A robbed holder never is sure.)
    socket.serverDrop('transport close')
    up(4, 'e1', 'sock-2')
    socket.serverDrop('transport close')
    for (const fn of checks.splice(0)) fn()
    expect(b.got('up')).toEqual([said, said])
  })

  test('the real socket dropping posts `down` with its reason, forgets the followers, and waits for the next sync', () => {
    const { socket, up, a } = setup()
    up(0)
    a.attach('alice')
    socket.serverDrop('transport close')
    expect(a.got('down')).toEqual([{ kind: 'down', from: 'holder', reason: 'transport close' }])

    // Forgotten: its emit is failed as Socket.IO fails an ack it cannot send, and nothing goes out.
    a.emit(1, 'message:send', [{ conversationId: 'c1', content: 'x', clientId: 'k1' }])
    expect(a.ack(1)).toMatchObject({ error: true, args: [] })
    expect(socket.emitted).toEqual([])

    // A new attach waits for this connection's sync, not the last one's.
    a.attach('alice', 0, 'e1')
    socket.serverConnect('sock-2')
    expect(a.got('attached')).toHaveLength(1)
    socket.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    expect(a.got('attached')).toHaveLength(2)
    expect(a.got('attached')[1]).toMatchObject({ socketId: 'sock-2', sync: caughtUp(0) })
  })

  test('a sync with a malformed payload does not make the hub up', () => {
    const { socket, a } = setup()
    a.attach('alice')
    socket.serverConnect('sock-1')
    socket.serverEmit('sync:caughtUp', { offset: -1, epoch: '' })
    expect(a.got('attached')).toEqual([])
    expect(a.got('up')).toEqual([])
  })
})

describe('the socket’s handshake failed: a tab that starts asking meanwhile is told why', () => {
  const refused = (retryAfterMs: number) =>
    Object.assign(new Error('RATE_LIMITED'), { data: { retryAfterMs } }) as unknown
  const toTab = (tab: ReturnType<ReturnType<typeof setup>['tab']>) =>
    tab.got('failed').filter((m) => m.to === tab.tabId)

  test('with what is left of the wait the server asked for, not the whole of it', () => {
    const { socket, clock, a, b, tab } = setup()
    socket.fire('connect_error', refused(60_000))
    expect(a.got('failed')).toEqual([
      { kind: 'failed', from: 'holder', userId: 'alice', message: 'RATE_LIMITED', retryAfterMs: 60_000 },
    ])

    // 20 s later a second tab opens: the server's wait ends in 40 s, for it as for the holder.
    clock.advance(20_000)
    b.attach('alice')
    expect(toTab(b)).toEqual([
      { kind: 'failed', from: 'holder', userId: 'alice', message: 'RATE_LIMITED', retryAfterMs: 40_000, to: 'tab-b' },
    ])

    // Once the wait is over, a tab is told why, with nothing more to wait.
    clock.advance(45_000)
    const c = tab('tab-c')
    c.attach('alice')
    expect(toTab(c)).toEqual([
      { kind: 'failed', from: 'holder', userId: 'alice', message: 'RATE_LIMITED', retryAfterMs: null, to: 'tab-c' },
    ])
  })
})

describe('forwarding', () => {
  test('every server event reaches the attached followers once, raw with its offset, for the hub user', () => {
    const { socket, up, a, b } = setup()
    up(0)
    a.attach('alice')
    socket.serverEmit('message:new', message(1), { offset: 1 })
    socket.serverEmit('typing', { conversationId: 'c1', userId: 'bob' })
    socket.serverEmit('something:unknown', 42)

    const expected = [
      { kind: 'event', from: 'holder', userId: 'alice', raw: logged(1) },
      {
        kind: 'event',
        from: 'holder',
        userId: 'alice',
        raw: { event: 'typing', args: [{ conversationId: 'c1', userId: 'bob' }] },
      },
      { kind: 'event', from: 'holder', userId: 'alice', raw: { event: 'something:unknown', args: [42] } },
    ]
    expect(a.got('event')).toEqual(expected)
    // One broadcast post: every other tab hears the same posts, once each.
    expect(b.got('event')).toEqual(expected)
  })

  test("the connection's first sync is each follower's own (in `attached`); a later one (the server resyncing a live socket) is forwarded", () => {
    const { socket, up, a, b } = setup()
    a.attach('alice', 3, 'e1')
    up(3)
    expect(a.got('attached')[0]).toMatchObject({ sync: caughtUp(3) })
    // More was missed than the server can replay: the holder adopts the gap and refetches, and so must every follower.
    socket.serverEmit('sync:gap', { offset: 2000, epoch: 'e1' })
    socket.serverEmit('sync:caughtUp', { offset: 2000, epoch: 'e1' })
    expect(a.got('event').map((m) => m.raw)).toEqual([gap(2000), caughtUp(2000)])
    // A tab attaching afterwards is answered from the new head.
    b.attach('alice', 3, 'e1')
    expect(b.got('attached')[0]).toMatchObject({ replay: [], sync: gap(2000) })
    // After a drop, the next connection's first sync is again each follower's own.
    socket.serverDrop()
    b.attach('alice', 2000, 'e1')
    up(2000, 'e1', 'sock-2')
    expect(b.got('attached')[1]).toMatchObject({ sync: caughtUp(2000) })
    expect(b.got('event')).toHaveLength(2)
  })

  test('a follower ahead of a log that went back in its epoch (the holder told sync:gap) is told the gap too, as the server tells such a handshake', () => {
    // Holder and follower at offset 10. The server comes back on a log that went back to 5 under the same epoch (a
    // restore in place, a lagging standby promoted): the holder's handshake from 10 is answered sync:gap at 5
    // (tests/server/resume.test.ts, "an offset ahead of the log in its own epoch"). Answered caught up at its own 10,
    // the follower would keep counting from 10: the server's next events, 6 to 10, dispatch nothing there (at or below
    // its offset) and it never refetches, so those messages never show in that tab.
    const { socket, up, a } = setup()
    a.attach('alice', 10, 'e1')
    up(10)
    expect(a.got('attached')[0]).toMatchObject({ sync: caughtUp(10) })
    socket.serverDrop()
    a.attach('alice', 10, 'e1')
    socket.serverConnect('sock-2')
    socket.serverEmit('sync:gap', { offset: 5, epoch: 'e1' })
    expect(a.got('attached')[1]).toMatchObject({ replay: [], sync: gap(5) })
  })

  test('nothing is posted while no follower is attached (a solo holder costs the channel nothing)', () => {
    const { up, emitLogged, socket, a, b } = setup()
    up(0)
    emitLogged(1)
    socket.serverEmit('typing', { conversationId: 'c1', userId: 'bob' })
    a.attach('alice', 0, 'e1')
    emitLogged(2)
    expect(b.got('event').map((m) => m.raw)).toEqual([logged(2)])
    // What it missed before attaching came in the replay.
    expect(a.got('attached')[0]).toMatchObject({ replay: [logged(1)], sync: caughtUp(1) })
  })

  test('a server ack callback is not posted (it cannot cross the channel)', () => {
    const { up, socket, a } = setup()
    up(0)
    a.attach('alice')
    socket.serverEmit('typing', { conversationId: 'c1', userId: 'bob' }, () => {})
    expect(a.got('event').map((m) => m.raw)).toEqual([
      { event: 'typing', args: [{ conversationId: 'c1', userId: 'bob' }] },
    ])
  })

  test('a follower attaching later gets the presence the hub knows, as a snapshot', () => {
    const { up, socket, a, b } = setup()
    up(0)
    a.attach('alice')
    expect(a.got('attached')[0]!.presence).toBeNull()

    const bob = { userId: 'bob', online: true, lastSeenAt: null }
    const carol = { userId: 'carol', online: false, lastSeenAt: '2026-01-01T00:00:00.000Z' }
    socket.serverEmit('presence:snapshot', { users: [bob, carol] })
    socket.serverEmit('presence:changed', { ...bob, online: false, lastSeenAt: '2026-01-02T00:00:00.000Z' })
    socket.serverEmit('presence:changed', { userId: 'dave', online: true, lastSeenAt: null })
    socket.serverEmit('presence:changed', { userId: 'eve', online: 'yes' }) // malformed: forwarded, not remembered

    b.attach('alice')
    expect(b.got('attached')[0]!.presence).toEqual({
      event: 'presence:snapshot',
      args: [
        {
          users: [
            { userId: 'bob', online: false, lastSeenAt: '2026-01-02T00:00:00.000Z' },
            carol,
            { userId: 'dave', online: true, lastSeenAt: null },
          ],
        },
      ],
    })
  })
})

test('the presence a follower gets lists at most what a snapshot may (a longer one is refused whole)', () => {
  const { up, socket, a } = setup()
  up(0)
  const users = Array.from({ length: MAX_PRESENCE_SNAPSHOT }, (_, i) => ({
    userId: `u${i}`,
    online: true,
    lastSeenAt: null,
  }))
  socket.serverEmit('presence:snapshot', { users })
  // Changes of people beyond the server's snapshot still come.
  socket.serverEmit('presence:changed', { userId: 'one-more', online: true, lastSeenAt: null })
  a.attach('alice')
  const snapshot = a.got('attached')[0]!.presence!
  expect(parse(ephemeralEventSchemas['presence:snapshot'], snapshot.args[0]).ok).toBe(true)
  expect((snapshot.args[0] as { users: unknown[] }).users).toHaveLength(MAX_PRESENCE_SNAPSHOT)
})

describe('tabs that think they are attached and are not', () => {
  test('an `alive` or an emit from a tab the hub does not know (it missed a `down`) is answered with a `down` for it', () => {
    const { up, socket, a } = setup()
    up(0)
    a.attach('alice')
    // The real socket drops and comes back; tab a missed the `down` and still thinks it is attached.
    socket.serverDrop('transport close')
    up(0, 'e1', 'sock-2')
    a.received.length = 0
    a.alive(true)
    expect(a.got('down')).toMatchObject([{ reason: 'unknown', to: 'tab-a' }])
    a.emit(1, 'typing', [{ conversationId: 'c1' }])
    expect(a.got('down')).toHaveLength(2)
    expect(a.ack(1)).toMatchObject({ error: true })
  })

  test('a hidden follower is given much longer before it counts as gone (its timers may run once a minute)', () => {
    const { up, clock, a } = setup({ heartbeatMs: 500, missedBeats: 3 })
    up(0)
    a.attach('alice', 0, 'e1', false)
    clock.advance(60_000)
    expect(a.got('down')).toEqual([])
    a.alive(false)
    clock.advance(149_999)
    expect(a.got('down')).toEqual([])
    clock.advance(1)
    expect(a.got('down')).toMatchObject([{ reason: 'silent', to: 'tab-a' }])
  })

  test('presence is forgotten with the connection: a tab attaching before the new snapshot gets none', () => {
    const { up, socket, a } = setup()
    up(0)
    socket.serverEmit('presence:snapshot', { users: [{ userId: 'bob', online: true, lastSeenAt: null }] })
    socket.serverDrop('transport close')
    up(0, 'e1', 'sock-2')
    a.attach('alice')
    expect(a.got('attached')[0]!.presence).toBeNull()
  })

  // A change comes on its own (notices are not held during the replay): it says nothing of the others, whom the tab
  // would take as told anew. Its last word on Bob dates from before the drop, when he may have left since.
  test('nor a tab attaching after a change came on the new connection, before its snapshot', () => {
    const { up, socket, a, b } = setup()
    up(0)
    socket.serverEmit('presence:snapshot', { users: [{ userId: 'bob', online: true, lastSeenAt: null }] })
    socket.serverDrop('transport close')
    socket.serverConnect('sock-2')
    socket.serverEmit('presence:changed', { userId: 'carol', online: true, lastSeenAt: null })
    socket.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    a.attach('alice')
    expect(a.got('attached')[0]!.presence).toBeNull()

    // The snapshot comes: from then on the changes are remembered with it.
    const bob = { userId: 'bob', online: false, lastSeenAt: '2026-01-02T00:00:00.000Z' }
    socket.serverEmit('presence:snapshot', { users: [bob] })
    socket.serverEmit('presence:changed', { userId: 'carol', online: false, lastSeenAt: '2026-01-03T00:00:00.000Z' })
    b.attach('alice')
    expect(b.got('attached')[0]!.presence).toEqual({
      event: 'presence:snapshot',
      args: [{ users: [bob, { userId: 'carol', online: false, lastSeenAt: '2026-01-03T00:00:00.000Z' }] }],
    })
  })
})

describe('replay or gap at attach', () => {
  test('from its offset: the missed logged events in order, then caughtUp at the hub offset', () => {
    const { up, emitLogged, a, b, tab } = setup()
    up(0)
    for (const offset of [1, 2, 3]) emitLogged(offset)
    a.attach('alice', 1, 'e1')
    expect(a.got('attached')[0]).toMatchObject({ replay: [logged(2), logged(3)], sync: caughtUp(3) })

    b.attach('alice', null, null)
    expect(b.got('attached')[0]).toMatchObject({ replay: [], sync: caughtUp(3) })

    const stale = tab('tab-c')
    stale.attach('alice', 2, 'e0')
    expect(stale.got('attached')[0]).toMatchObject({ replay: [], sync: gap(3) })
  })

  test('the hub offset follows contiguous offsets only; a hole is replayed along and fills later', () => {
    const { up, emitLogged, a, b, tab } = setup()
    up(5)
    emitLogged(6)
    emitLogged(7)
    emitLogged(9)
    a.attach('alice', 6, 'e1')
    expect(a.got('attached')[0]).toMatchObject({ replay: [logged(7), logged(9)], sync: caughtUp(7) })

    emitLogged(8)
    b.attach('alice', 7, 'e1')
    expect(b.got('attached')[0]).toMatchObject({ replay: [logged(8), logged(9)], sync: caughtUp(9) })

    // Ahead of the head: a gap at it, as the server answers a handshake ahead of its log.
    const ahead = tab('tab-c')
    ahead.attach('alice', 12, 'e1')
    expect(ahead.got('attached')[0]).toMatchObject({ replay: [], sync: gap(9) })
  })

  test('a tab attaching at the head, or afresh, while an event is held above a hole gets it too (live, it came before)', () => {
    const { up, emitLogged, a, b } = setup()
    up(5)
    emitLogged(7)
    a.attach('alice', 5, 'e1')
    b.attach('alice', null, null)
    expect(a.got('attached')[0]).toMatchObject({ replay: [logged(7)], sync: caughtUp(5) })
    expect(b.got('attached')[0]).toMatchObject({ replay: [logged(7)], sync: caughtUp(5) })
  })

  test('an event this tab does not know, in the log (a newer server), counts in the hub offset and is replayed along', () => {
    const { up, emitLogged, socket, a, b } = setup()
    up(5)
    const unknown: RawEvent = { event: 'lesson:rescheduled', args: [{ lessonId: 'l1' }, { offset: 6 }] }
    socket.serverEmit(unknown.event, ...unknown.args)
    emitLogged(7)
    a.attach('alice', 5, 'e1')
    expect(a.got('attached')[0]).toMatchObject({ replay: [unknown, logged(7)], sync: caughtUp(7) })
    b.attach('alice', null, null)
    expect(b.got('attached')[0]).toMatchObject({ replay: [], sync: caughtUp(7) })
  })

  test('more missed than the buffer holds: a gap', () => {
    const { up, emitLogged, a, b } = setup({ bufferSize: 2 })
    up(0)
    for (const offset of [1, 2, 3, 4]) emitLogged(offset)
    a.attach('alice', 1, 'e1')
    expect(a.got('attached')[0]).toMatchObject({ replay: [], sync: gap(4) })
    b.attach('alice', 2, 'e1')
    expect(b.got('attached')[0]).toMatchObject({ replay: [logged(3), logged(4)], sync: caughtUp(4) })
  })

  test('events replayed to the holder during its handshake fill the buffer across a reconnect', () => {
    const { up, emitLogged, socket, a } = setup()
    up(0)
    emitLogged(1)
    socket.serverDrop()
    socket.serverConnect('sock-2')
    emitLogged(2)
    emitLogged(3)
    socket.serverEmit('sync:caughtUp', { offset: 3, epoch: 'e1' })
    a.attach('alice', 0, 'e1')
    expect(a.got('attached')[0]).toMatchObject({ replay: [logged(1), logged(2), logged(3)], sync: caughtUp(3) })
  })

  test("a new holder's first sync keeps what the server replayed from the holder's offset before it", () => {
    const { emitLogged, socket, a, b } = setup()
    socket.serverConnect('sock-1')
    emitLogged(8)
    emitLogged(9)
    socket.serverEmit('sync:caughtUp', { offset: 9, epoch: 'e1' })
    a.attach('alice', 8, 'e1')
    expect(a.got('attached')[0]).toMatchObject({ replay: [logged(9)], sync: caughtUp(9) })
    // Behind the holder's own offset: the server did not replay that far back, so a gap.
    b.attach('alice', 5, 'e1')
    expect(b.got('attached')[0]).toMatchObject({ replay: [], sync: gap(9) })
  })

  test.each([
    { name: 'a gap', sync: 'sync:gap' as const, epoch: 'e1' },
    { name: 'another epoch', sync: 'sync:caughtUp' as const, epoch: 'e2' },
  ])('$name clears the buffer: an older offset gets a gap', ({ sync, epoch }) => {
    const { up, emitLogged, socket, a } = setup()
    up(0)
    for (const offset of [1, 2, 3]) emitLogged(offset)
    socket.serverDrop()
    socket.serverConnect('sock-2')
    socket.serverEmit(sync, { offset: 3, epoch })
    a.attach('alice', 1, epoch)
    expect(a.got('attached')[0]).toMatchObject({ replay: [], sync: gap(3, epoch) })
  })
})

describe('emits from followers', () => {
  test('performed on the real socket; the ack goes back to that tab only', () => {
    const { up, socket, a, b } = setup()
    up(0)
    a.attach('alice')
    const payload = { conversationId: 'c1', content: 'hi', clientId: 'k1' }
    a.emit(7, 'message:send', [payload], 3000)
    expect(socket.sent('message:send')).toMatchObject([{ args: [payload], timeoutMs: 3000 }])

    const stored = { ok: true, data: { ...payload, id: 'm1' } }
    socket.sent('message:send')[0]!.ack(stored)
    expect(a.ack(7)).toEqual({ kind: 'ack', from: 'holder', to: 'tab-a', id: 7, error: false, args: [stored] })
    expect(b.got('ack')).toEqual([])
  })

  test('without a timeout: a plain ack callback; without an id: no ack at all', () => {
    const { up, socket, a } = setup()
    up(0)
    a.attach('alice')
    a.emit(1, 'typing', [{ conversationId: 'c1' }], null)
    a.emit(null, 'typing', [{ conversationId: 'c2' }], null)
    const [withAck, withoutAck] = socket.sent('typing')
    expect(withAck).toMatchObject({ args: [{ conversationId: 'c1' }], timeoutMs: null })
    withAck!.ack(OK)
    expect(a.ack(1)).toMatchObject({ error: false, args: [OK] })
    // The fake records a callback only when one was passed: this one had none to call.
    withoutAck!.ack(OK)
    expect(a.got('ack')).toHaveLength(1)
  })

  test('an emit the real socket times out is answered with error: true', async () => {
    const { up, a } = setup()
    up(0)
    a.attach('alice')
    a.emit(2, 'message:send', [{ conversationId: 'c1', content: 'hi', clientId: 'k2' }], 1)
    await eventually(() => expect(a.ack(2)).toMatchObject({ error: true, args: [] }))
  })

  test('an unknown event is answered INVALID and not emitted; an emit from a tab not attached fails and is not emitted', () => {
    const { up, socket, a, b } = setup()
    up(0)
    a.attach('alice')
    a.emit(3, 'admin:dropTables', [{}])
    expect(a.ack(3)).toMatchObject({ error: false, args: [{ ok: false, error: { code: 'INVALID' } }] })
    b.emit(4, 'message:send', [{ conversationId: 'c1', content: 'hi', clientId: 'k3' }])
    expect(b.ack(4)).toMatchObject({ error: true, args: [] })
    expect(socket.emitted).toEqual([])
  })
})

describe('rooms: the union of the visible tabs', () => {
  test('one join per room; every tab waiting for it gets that ack; an already joined room answers at once', () => {
    const { up, socket, a, b, tab } = setup()
    up(0)
    a.attach('alice')
    b.attach('alice')
    a.emit(1, 'conversation:join', ['c1'])
    b.emit(1, 'conversation:join', ['c1'])
    expect(socket.sent('conversation:join')).toMatchObject([{ args: ['c1'], timeoutMs: 5000 }])
    expect(a.ack(1)).toBeUndefined()

    socket.sent('conversation:join')[0]!.ack(OK)
    expect(a.ack(1)).toMatchObject({ error: false, args: [OK] })
    expect(b.ack(1)).toMatchObject({ error: false, args: [OK] })

    const c = tab('tab-c')
    c.attach('alice')
    c.emit(1, 'conversation:join', ['c1'])
    expect(c.ack(1)).toMatchObject({ error: false, args: [OK] })
    expect(socket.sent('conversation:join')).toHaveLength(1)
  })

  test('a hidden tab does not join (answered at once); it joins when it shows; the last visible wanter leaving leaves', () => {
    const { up, socket, a, b } = setup()
    up(0)
    a.attach('alice', null, null, false)
    b.attach('alice')
    a.emit(1, 'conversation:join', ['c2'])
    expect(a.ack(1)).toMatchObject({ error: false, args: [OK] })
    expect(socket.sent('conversation:join')).toEqual([])

    a.alive(true)
    expect(socket.sent('conversation:join')).toMatchObject([{ args: ['c2'] }])
    socket.sent('conversation:join')[0]!.ack(OK)

    b.emit(2, 'conversation:join', ['c2'])
    expect(b.ack(2)).toMatchObject({ error: false, args: [OK] })
    a.emit(3, 'conversation:leave', ['c2'])
    expect(a.ack(3)).toMatchObject({ error: false, args: [OK] })
    expect(socket.sent('conversation:leave')).toEqual([])

    b.alive(false)
    expect(socket.sent('conversation:leave')).toMatchObject([{ args: ['c2'] }])
  })

  test("the holder's own joins and leaves go through the union, with its page's visibility", () => {
    const { up, socket, visibility, hub, a } = setup()
    up(0)
    const answered = vi.fn()
    hub.localSocket.timeout(4000).emit('conversation:join', 'c1', answered)
    expect(socket.sent('conversation:join')).toMatchObject([{ args: ['c1'], timeoutMs: 4000 }])
    socket.sent('conversation:join')[0]!.ack(OK)
    expect(answered).toHaveBeenCalledWith(null, OK)

    a.attach('alice', null, null, false)
    a.emit(1, 'conversation:join', ['c1'])
    visibility.set(false)
    expect(socket.sent('conversation:leave')).toMatchObject([{ args: ['c1'] }])
    visibility.set(true)
    expect(socket.sent('conversation:join')).toHaveLength(2)

    const left = vi.fn()
    hub.localSocket.timeout(4000).emit('conversation:leave', 'c1', left)
    expect(left).toHaveBeenCalledWith(null, OK)
    expect(socket.sent('conversation:leave')).toHaveLength(2)
  })

  test("the holder's join while the socket is down goes out once it connects", () => {
    const { socket, hub } = setup()
    const answered = vi.fn()
    hub.localSocket.timeout(4000).emit('conversation:join', 'c1', answered)
    expect(socket.emitted).toEqual([])
    socket.serverConnect('sock-1')
    expect(socket.sent('conversation:join')).toMatchObject([{ args: ['c1'] }])
    socket.sent('conversation:join')[0]!.ack(OK)
    expect(answered).toHaveBeenCalledWith(null, OK)
  })

  test('a refused join is final for the tabs told so: the room is not joined again when the union changes', () => {
    const { up, socket, a, visibility } = setup()
    up(0)
    a.attach('alice')
    a.emit(1, 'conversation:join', ['secret'])
    const forbidden = { ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } }
    socket.sent('conversation:join')[0]!.ack(forbidden)
    expect(a.ack(1)).toMatchObject({ error: false, args: [forbidden] })
    visibility.set(false)
    visibility.set(true)
    a.alive(false)
    a.alive(true)
    expect(socket.sent('conversation:join')).toHaveLength(1)
  })

  test('a join that times out leaves the room wanted: the next change of the union tries it again', async () => {
    const { up, socket, a, visibility } = setup()
    up(0)
    a.attach('alice')
    a.emit(1, 'conversation:join', ['c1'], 1)
    await eventually(() => expect(a.ack(1)).toMatchObject({ error: true }))
    visibility.set(false)
    expect(socket.sent('conversation:join')).toHaveLength(2)
  })

  test.each([
    ['the tab closes the thread', (t: ReturnType<typeof setup>) => t.a.emit(2, 'conversation:leave', ['c1'])],
    ['the tab hides', (t: ReturnType<typeof setup>) => t.a.alive(false)],
  ])(
    'a join unanswered in time may have been done all the same: left once no visible tab wants it (%s)',
    async (_, change) => {
      const t = setup()
      t.up(0)
      t.a.attach('alice')
      t.a.emit(1, 'conversation:join', ['c1'], 1)
      await eventually(() => expect(t.a.ack(1)).toMatchObject({ error: true }))
      // Only the answer was late: the server has the socket in the room, marking the thread read as it comes.
      change(t)
      expect(t.socket.sent('conversation:leave').map((p) => p.args[0])).toEqual(['c1'])
    },
  )

  test('a join the hub made for a tab that showed, failed without a refusal, is tried again after a growing backoff', () => {
    const { socket, clock } = shownWanting('c2')
    const joins = () => socket.sent('conversation:join')
    joins()[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    // random 0.5: the first wait is 0.5 × 500 ms, the second 0.5 × 1000 ms.
    clock.advance(249)
    expect(joins()).toHaveLength(1)
    clock.advance(1)
    expect(joins().map((p) => p.args)).toEqual([['c2'], ['c2']])
    joins()[1]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 2000 } })
    clock.advance(1999)
    expect(joins()).toHaveLength(2)
    clock.advance(1)
    expect(joins()).toHaveLength(3)
    joins()[2]!.ack(OK)
    clock.advance(60_000)
    expect(joins()).toHaveLength(3)
  })

  test('each failed room waits its own retry: a rate-limited one is not joined before its retryAfterMs', () => {
    const { socket, clock } = shownWanting('c1', 'c2')
    const joinsOf = (room: string) => socket.sent('conversation:join').filter((p) => p.args[0] === room)
    joinsOf('c1')[0]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 2000 } })
    joinsOf('c2')[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    clock.advance(250)
    expect(joinsOf('c2')).toHaveLength(2)
    expect(joinsOf('c1')).toHaveLength(1)
    clock.advance(1749)
    expect(joinsOf('c1')).toHaveLength(1)
    clock.advance(1)
    expect(joinsOf('c1')).toHaveLength(2)
  })

  test('a tab asking for a room that waits its retry joins it at once (the hub does not wait for its timer)', () => {
    const { socket, b } = shownWanting('c1')
    const joins = () => socket.sent('conversation:join')
    joins()[0]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 5000 } })
    b.attach('alice')
    b.emit(2, 'conversation:join', ['c1'], 4000)
    expect(joins()).toHaveLength(2)
    joins()[1]!.ack(OK)
    expect(b.ack(2)).toMatchObject({ error: false, args: [OK] })
  })

  test('stopping the hub leaves no retry timer behind', () => {
    const { socket, clock, hub } = shownWanting('c1')
    socket.sent('conversation:join')[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    hub.stop('test over')
    expect(clock.pending()).toBe(0)
  })

  test('a join nobody asked for that the server refuses is not asked again when the union changes', () => {
    const { socket, visibility, a } = shownWanting('secret')
    socket.sent('conversation:join')[0]!.ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } })
    visibility.set(false)
    visibility.set(true)
    a.alive(false)
    a.alive(true)
    expect(socket.sent('conversation:join')).toHaveLength(1)
  })

  test('no retry of a failed join once nobody visible wants the room, or after a drop', () => {
    const { socket, clock, a } = shownWanting('c2')
    socket.sent('conversation:join')[0]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    a.alive(false)
    clock.advance(10_000)
    expect(socket.sent('conversation:join')).toHaveLength(1)
    a.alive(true)
    expect(socket.sent('conversation:join')).toHaveLength(2)
    socket.sent('conversation:join')[1]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    socket.serverDrop()
    clock.advance(10_000)
    expect(socket.sent('conversation:join')).toHaveLength(2)
  })

  test("a reconnect starts with no rooms: the holder's wants are forgotten with the followers'", () => {
    const { up, socket, hub } = setup()
    up(0)
    hub.localSocket.timeout(4000).emit('conversation:join', 'c1', () => {})
    socket.sent('conversation:join')[0]!.ack(OK)
    socket.serverDrop()
    socket.serverConnect('sock-2')
    expect(socket.sent('conversation:join')).toHaveLength(1)
    // The middleware joins its rooms again on connect: that goes out as a new join.
    hub.localSocket.timeout(4000).emit('conversation:join', 'c1', () => {})
    expect(socket.sent('conversation:join')).toHaveLength(2)
  })
})

describe('follower liveness', () => {
  test('a second attach from the same tab is a new connection: its old rooms leave until it joins again', () => {
    const { up, socket, a } = setup()
    up(0)
    a.attach('alice')
    a.emit(1, 'conversation:join', ['c1'])
    socket.sent('conversation:join')[0]!.ack(OK)
    a.attach('alice', 0, 'e1')
    expect(a.got('attached')).toHaveLength(2)
    expect(socket.sent('conversation:leave')).toMatchObject([{ args: ['c1'] }])
  })

  test('`alive` keeps a follower; one silent for missedBeats × heartbeatMs is dropped and its rooms leave', () => {
    const onFollowerGone = vi.fn()
    const { up, socket, clock, a } = setup({ heartbeatMs: 500, missedBeats: 3, onFollowerGone })
    up(0)
    a.attach('alice')
    a.emit(1, 'conversation:join', ['c1'])
    socket.sent('conversation:join')[0]!.ack(OK)

    clock.advance(1000)
    a.alive(true)
    clock.advance(1000)
    expect(socket.sent('conversation:leave')).toEqual([])
    clock.advance(500)
    expect(socket.sent('conversation:leave')).toMatchObject([{ args: ['c1'] }])

    // Told so (it may only be a hidden tab whose timers sleep), so it attaches again when it wakes.
    expect(a.got('down')).toMatchObject([{ reason: 'silent', to: a.tabId }])
    // Gone silent: its page, maybe hung, still holds what it held (the user's drain lock).
    expect(onFollowerGone.mock.calls).toEqual([[true]])

    a.emit(2, 'typing', [{ conversationId: 'c1' }])
    expect(a.ack(2)).toMatchObject({ error: true })
    expect(socket.sent('typing')).toEqual([])
  })

  test('an attached tab shown is the holder’s page shown (onFollowerRetry), once per showing', () => {
    const onFollowerRetry = vi.fn()
    const { up, a } = setup({ onFollowerRetry })
    up(0)
    a.attach('alice', null, null, false)
    a.alive(false)
    expect(onFollowerRetry).not.toHaveBeenCalled()
    a.alive(true)
    a.alive(true)
    expect(onFollowerRetry).toHaveBeenCalledTimes(1)
    a.alive(false)
    a.alive(true)
    expect(onFollowerRetry).toHaveBeenCalledTimes(2)
    expect(onFollowerRetry.mock.calls).toEqual([['visible'], ['visible']])
  })

  test('an emit addressed to another holder is not acted on', () => {
    const { up, socket, a } = setup()
    up(0)
    a.attach('alice')
    a.emit(1, 'typing', [{ conversationId: 'c1' }], 5000, 'an-old-holder')
    a.emit(2, 'typing', [{ conversationId: 'c2' }], 5000)
    expect(socket.sent('typing')).toMatchObject([{ args: [{ conversationId: 'c2' }] }])
  })

  test('`detach` drops it at once', () => {
    const { up, socket, clock, a } = setup()
    up(0)
    a.attach('alice')
    a.emit(1, 'conversation:join', ['c1'])
    a.detach()
    expect(socket.sent('conversation:leave')).toMatchObject([{ args: ['c1'] }])
    expect(clock.pending()).toBe(0)
  })
})

describe('a tab that leaves: what it left unsent is the holder’s (onFollowerGone)', () => {
  test('its detach counts attached or not: while the socket is down, before its attach is answered, or unknown', () => {
    const onFollowerGone = vi.fn()
    const { up, socket, a, b, tab } = setup({ onFollowerGone })
    up(0)
    a.attach('alice')
    socket.serverDrop()
    a.detach()
    expect(onFollowerGone).toHaveBeenCalledTimes(1)
    b.attach('alice', 0, 'e1')
    b.detach()
    tab('tab-c').detach()
    // A goodbye: its page holds no lock of the user's any more (it said so as it left), nothing to take from it.
    expect(onFollowerGone.mock.calls).toEqual([[false], [false], [false]])
  })

  test('a follower that does not attach again once the socket is back (it crashed while it was down) counts as gone', () => {
    const onFollowerGone = vi.fn()
    const { up, socket, clock, a, b } = setup({ heartbeatMs: 500, missedBeats: 3, onFollowerGone })
    up(0)
    a.attach('alice')
    b.attach('alice')
    socket.serverDrop()
    clock.advance(10_000)
    socket.serverConnect('sock-2')
    socket.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    // `a` hears `up` and attaches again; `b` is gone without a word.
    a.attach('alice', 0, 'e1')
    clock.advance(1000)
    a.alive(true)
    clock.advance(499)
    expect(onFollowerGone).not.toHaveBeenCalled()
    clock.advance(1)
    // Silent: its page, maybe hung, still holds what it held (the user's drain lock), which is taken from it.
    expect(onFollowerGone.mock.calls).toEqual([[true]])
    expect(a.got('down')).toHaveLength(1) // the drop's only: `a` is still attached
  })

  test('a tab whose page lock the browser frees (closed or crashed, no goodbye) is gone at once, hidden too', () => {
    const onFollowerGone = vi.fn()
    const lock = createMemoryTabLock({ deliver: (fn) => fn() })
    const { up, socket, a, b, tab } = setup({
      onFollowerGone,
      watchTab: (id, handlers) => lock.tab('holder').watch!(`page.${id}`, handlers),
    })
    up(0)
    lock.tab('tab-a').request('page.tab-a', { steal: false }, { onAcquired() {}, onLost() {} })
    lock.tab('tab-b').request('page.tab-b', { steal: false }, { onAcquired() {}, onLost() {} })
    a.attach('alice', null, null, false)
    a.emit(1, 'conversation:join', ['c1'])
    b.attach('alice')
    b.emit(2, 'conversation:join', ['c2'])
    // A tab that holds no page lock (another build, or one just opened) is not taken for gone: asked again later.
    tab('tab-c').attach('alice')
    expect(onFollowerGone).not.toHaveBeenCalled()
    lock.closeTab('tab-a')
    expect(onFollowerGone).toHaveBeenCalledTimes(1)
    // A shown one leaves the rooms' union at once too; one that said goodbye is not counted again when its lock goes.
    lock.closeTab('tab-b')
    expect(onFollowerGone).toHaveBeenCalledTimes(2)
    expect(socket.sent('conversation:leave')).toMatchObject([{ args: ['c2'] }])
    lock.tab('tab-c').request('page.tab-c', { steal: false }, { onAcquired() {}, onLost() {} })
    tab('tab-c').alive()
    tab('tab-c').detach()
    expect(onFollowerGone).toHaveBeenCalledTimes(3)
    lock.closeTab('tab-c')
    expect(onFollowerGone.mock.calls).toEqual([[false], [false], [false]])
  })
})

describe('security: only the hub user is served', () => {
  test("another user's tab is never answered nor given anything to emit, and events carry only the hub's user", () => {
    const { socket, up, emitLogged, tab, a } = setup()
    const mallory = tab('tab-mallory')
    mallory.attach('mallory', 0, 'e1')
    up(0)
    mallory.attach('mallory', 0, 'e1')
    emitLogged(1)
    mallory.emit(1, 'message:send', [{ conversationId: 'c1', content: 'x', clientId: 'k' }])
    a.attach('alice')
    emitLogged(2)

    expect(mallory.got('attached')).toEqual([])
    expect(mallory.ack(1)).toMatchObject({ error: true, args: [] })
    expect(socket.emitted).toEqual([])
    // The marker (event 2, after `a` attached) arrived: event 1 was not posted for anyone.
    expect(mallory.got('event').map((m) => [m.userId, m.raw])).toEqual([['alice', logged(2)]])
  })
})

describe('localSocket and stop', () => {
  test('localSocket mirrors the real socket and passes other emits straight through', () => {
    const { socket, hub } = setup()
    const local = hub.localSocket
    const onConnect = vi.fn()
    local.on('connect', onConnect)
    socket.serverConnect('sock-9', true)
    expect(onConnect).toHaveBeenCalledTimes(1)
    expect([local.connected, local.id, local.recovered]).toEqual([true, 'sock-9', true])
    local.off('connect', onConnect)
    expect(socket.listenerCount('connect')).toBe(1) // the hub's own

    const acked = vi.fn()
    local.timeout(2000).emit('message:send', { clientId: 'k' }, acked)
    local.emit('typing', { conversationId: 'c1' })
    expect(socket.emitted.map((p) => [p.event, p.args, p.timeoutMs])).toEqual([
      ['message:send', [{ clientId: 'k' }], 2000],
      ['typing', [{ conversationId: 'c1' }], null],
    ])
    socket.emitted[0]!.ack(OK)
    expect(acked).toHaveBeenCalledWith(null, OK)

    local.disconnect()
    expect(socket.disconnectCalls).toBe(1)
    local.connect()
    expect(socket.connectCalls).toBe(1)
  })

  test('stop posts down, removes every listener it added and cancels its timers', () => {
    const { up, socket, hub, clock, listenersBefore, a, b } = setup()
    up(0)
    a.attach('alice')
    expect(clock.pending()).toBe(1)
    hub.stop('lock lost')
    expect(b.got('down')).toEqual([{ kind: 'down', from: 'holder', reason: 'lock lost', userId: 'alice' }])
    expect(socket.listenerCount()).toBe(listenersBefore)
    expect(clock.pending()).toBe(0)

    a.emit(1, 'typing', [{ conversationId: 'c1' }])
    b.attach('alice')
    expect(a.ack(1)).toBeUndefined()
    expect(b.got('attached')).toEqual([])
    expect(socket.emitted).toEqual([])
  })
})
