import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { UnknownAction } from '@reduxjs/toolkit'
import {
  catchUpStarted,
  connect,
  eventRejected,
  reconnecting,
  resumeStalled,
  serverEventActions,
  syncCaughtUp,
  syncGap,
} from '../../src/realtime'
import { gateLogged, gateSynced } from '../../src/realtime/resumeGate'
import { bob, message, T0 } from './support/fixtures'
import type { FakeSocket } from './support/fakeSocket'
import { mockStore } from './support/mockStore'

// The browser's side of durable resume: logged events are applied in offset order and once, a hole is waited for
// (then resumed from), the handshake carries the applied offset, and only a `sync:gap` refetches.

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date(T0))
})
afterEach(() => {
  vi.useRealTimers()
})

const epoch = 'epoch-1'
const incoming = (seq: number) => message(seq, { senderId: bob.id })

/** The `message:new` actions dispatched, as `[seq, offset]`. */
const applied = (actions: UnknownAction[]) =>
  actions
    .filter((a) => serverEventActions['message:new'].match(a))
    .map((a) => [(a.payload as { seq: number }).seq, (a.meta as { offset?: number }).offset])

const authOf = (socket: FakeSocket) => {
  let data: unknown
  const auth = socket.options.auth
  if (typeof auth === 'function') auth((d: object) => (data = d))
  return data
}

function caughtUpAt(offset: number, over: Parameters<typeof mockStore>[1] = {}) {
  const setup = mockStore(undefined, over)
  setup.dispatch(connect())
  setup.sockets.last.serverConnect('sock-1')
  setup.sockets.last.serverEmit('sync:caughtUp', { offset, epoch })
  setup.store.clearActions()
  return setup
}

describe('the gate (pure)', () => {
  test.each([
    { name: 'next in line: released', applied: 4, held: [], offset: 5, release: ['e5'], left: [] },
    { name: 'a duplicate: nothing', applied: 4, held: [], offset: 4, release: [], left: [] },
    { name: 'older than applied: nothing', applied: 4, held: [], offset: 2, release: [], left: [] },
    { name: 'above a hole: held', applied: 4, held: [], offset: 6, release: [], left: [6] },
    {
      name: 'the hole fills: it and what follows, in order',
      applied: 4,
      held: [6, 7, 9],
      offset: 5,
      release: ['e5', 'e6', 'e7'],
      left: [9],
    },
    { name: 'a held one again: nothing', applied: 4, held: [6], offset: 6, release: [], left: [6] },
    { name: 'out of order above the hole: kept sorted', applied: 4, held: [8], offset: 6, release: [], left: [6, 8] },
    { name: 'before the first sync: held', applied: null, held: [], offset: 1, release: [], left: [1] },
  ])('$name', ({ applied: at, held, offset, release, left }) => {
    const result = gateLogged(
      at,
      held.map((o) => ({ offset: o, action: `e${o}` })),
      offset,
      `e${offset}`,
    )
    expect(result.release).toEqual(release)
    expect(result.held.map((h) => h.offset)).toEqual(left)
  })

  test('a sync releases what follows its offset and drops what it covers', () => {
    const held = [3, 6, 7, 9].map((o) => ({ offset: o, action: `e${o}` }))
    const result = gateSynced(5, held)
    expect(result.release).toEqual(['e6', 'e7'])
    expect(result.held.map((h) => h.offset)).toEqual([9])
  })
})

describe('sync events', () => {
  test('sync:caughtUp and sync:gap are actions, never rejected; the offset, epoch and syncing follow them', () => {
    const { dispatch, store, sockets } = mockStore()
    dispatch(connect())
    sockets.last.serverConnect('sock-1')
    expect(store.getState().socket.connection).toMatchObject({ offset: null, epoch: null, syncing: true })
    sockets.last.serverEmit('sync:caughtUp', { offset: 12, epoch })
    expect(store.getState().socket.connection).toMatchObject({ offset: 12, epoch, syncing: false })
    sockets.last.serverEmit('sync:gap', { offset: 3, epoch: 'epoch-2' })
    expect(store.getState().socket.connection).toMatchObject({ offset: 3, epoch: 'epoch-2', syncing: false })
    const actions = store.getActions()
    expect(actions.filter((a) => eventRejected.match(a))).toEqual([])
    // A fresh connect is not a resume: `recovered` false.
    expect(actions.filter((a) => syncCaughtUp.match(a))).toEqual([
      syncCaughtUp({ offset: 12, epoch, recovered: false }),
    ])
    expect(actions.filter((a) => syncGap.match(a))).toEqual([syncGap({ offset: 3, epoch: 'epoch-2' })])
  })

  test('a malformed sync payload is rejected and changes nothing', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('sync:caughtUp', { offset: -1, epoch })
    expect(store.getActions().map((a) => a.type)).toEqual([eventRejected.type])
    expect(store.getState().socket.connection.offset).toBe(5)
  })

  test('the handshake carries the applied offset and epoch once there is one, and only then', () => {
    const { dispatch, store, sockets } = mockStore()
    dispatch(connect())
    expect(authOf(sockets.last)).toEqual({ token: 'token-1' })
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 5, epoch })
    sockets.last.serverEmit('message:new', incoming(1), { offset: 6 })
    expect(store.getState().socket.connection.offset).toBe(6)
    expect(authOf(sockets.last)).toEqual({ token: 'token-1', offset: 6, epoch })
  })
})

describe('logged events', () => {
  test('each carries its offset as meta.offset and advances the applied offset', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('message:new', incoming(1), { offset: 6 })
    expect(applied(store.getActions())).toEqual([[1, 6]])
    expect(store.getState().socket.connection.offset).toBe(6)
  })

  test('duplicates and events at or below the applied offset dispatch nothing', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('message:new', incoming(1), { offset: 3 })
    sockets.last.serverEmit('message:new', incoming(2), { offset: 5 })
    sockets.last.serverEmit('message:new', incoming(3), { offset: 6 })
    sockets.last.serverEmit('message:new', incoming(3), { offset: 6 })
    expect(store.getActions()).toHaveLength(1)
    expect(applied(store.getActions())).toEqual([[3, 6]])
  })

  test('events above offset + 1 are held, then released in order when the hole fills', async () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('message:new', incoming(3), { offset: 8 })
    sockets.last.serverEmit('message:new', incoming(2), { offset: 7 })
    expect(store.getActions()).toEqual([])
    await vi.advanceTimersByTimeAsync(1_000)
    sockets.last.serverEmit('message:new', incoming(1), { offset: 6 })
    expect(applied(store.getActions())).toEqual([
      [1, 6],
      [2, 7],
      [3, 8],
    ])
    // The hold timer stopped with the hole filled: no resume later.
    await vi.advanceTimersByTimeAsync(10_000)
    expect(store.getActions().filter((a) => resumeStalled.match(a))).toEqual([])
    expect(sockets.sockets).toHaveLength(1)
  })

  test('a hole left once an earlier one fills gets the whole hold time from then, not what was left of the first', async () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('message:new', incoming(2), { offset: 7 })
    await vi.advanceTimersByTimeAsync(1_900)
    // Two holes (6 and 8); 6 comes: 7 goes out, 9 waits for 8.
    sockets.last.serverEmit('message:new', incoming(4), { offset: 9 })
    sockets.last.serverEmit('message:new', incoming(1), { offset: 6 })
    await vi.advanceTimersByTimeAsync(1_999)
    expect(store.getActions().filter((a) => resumeStalled.match(a))).toEqual([])
    expect(sockets.sockets).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(store.getActions().filter((a) => resumeStalled.match(a))).toEqual([resumeStalled({ offset: 7, held: 1 })])
  })

  test('a hole that does not fill: after the hold time the socket resumes from its offset, and gets the missed events', async () => {
    const { store, sockets } = caughtUpAt(5)
    const first = sockets.last
    first.serverEmit('message:new', incoming(2), { offset: 7 })
    await vi.advanceTimersByTimeAsync(1_999)
    expect(store.getActions()).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(store.getActions()).toEqual([resumeStalled({ offset: 5, held: 1 }), reconnecting({ attempt: 1 })])
    // A new socket, the old one closed without feeding the machine; it resumes from offset 5.
    expect(sockets.sockets).toHaveLength(2)
    expect(first.disconnectCalls).toBe(1)
    expect(first.listenerCount()).toBe(0)
    expect(store.getState().socket.connection).toMatchObject({ status: 'reconnecting', offset: 5 })
    const second = sockets.last
    expect(second.connectCalls).toBe(1)
    expect(authOf(second)).toEqual({ token: 'token-1', offset: 5, epoch })
    second.serverConnect('sock-2')
    expect(store.getState().socket.connection).toMatchObject({ status: 'connected', syncing: true })
    second.serverEmit('message:new', incoming(1), { offset: 6 })
    second.serverEmit('message:new', incoming(2), { offset: 7 })
    second.serverEmit('sync:caughtUp', { offset: 7, epoch })
    expect(applied(store.getActions())).toEqual([
      [1, 6],
      [2, 7],
    ])
    expect(store.getActions().filter((a) => syncCaughtUp.match(a))).toEqual([
      syncCaughtUp({ offset: 7, epoch, recovered: true }),
    ])
    expect(store.getState().socket.connection).toMatchObject({ offset: 7, syncing: false })
    // A resume costs no refetch.
    await vi.advanceTimersByTimeAsync(5_000)
    expect(store.getActions().filter((a) => catchUpStarted.match(a))).toEqual([])
  })

  test('the hold time is an option', async () => {
    const { store, sockets } = caughtUpAt(5, { resumeHoldMs: 100 })
    sockets.last.serverEmit('message:new', incoming(2), { offset: 7 })
    await vi.advanceTimersByTimeAsync(100)
    expect(store.getActions().filter((a) => resumeStalled.match(a))).toHaveLength(1)
  })

  test('an event that came before the first sync waits for it: applied if above its offset, dropped if not', () => {
    const { dispatch, store, sockets } = mockStore()
    dispatch(connect())
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('message:new', incoming(1), { offset: 4 })
    sockets.last.serverEmit('message:new', incoming(2), { offset: 5 })
    expect(applied(store.getActions())).toEqual([])
    sockets.last.serverEmit('sync:caughtUp', { offset: 4, epoch })
    expect(applied(store.getActions())).toEqual([[2, 5]])
  })

  test('a sync:gap adopts its offset: held events it covers are dropped, later ones follow it', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('message:new', incoming(1), { offset: 8 })
    sockets.last.serverEmit('message:new', incoming(2), { offset: 10 })
    sockets.last.serverEmit('sync:gap', { offset: 9, epoch })
    expect(applied(store.getActions())).toEqual([[2, 10]])
    expect(store.getActions().filter((a) => catchUpStarted.match(a))).toHaveLength(1)
  })

  test('a payload that fails its schema is rejected but keeps its place: the next offset is not held', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('message:new', { id: 'broken' }, { offset: 6 })
    sockets.last.serverEmit('message:new', incoming(2), { offset: 7 })
    expect(store.getActions()[0]).toMatchObject({ type: eventRejected.type, meta: { offset: 6 } })
    expect(applied(store.getActions())).toEqual([[2, 7]])
  })

  test('a malformed offset is rejected; an event without one (no log behind it) passes as it comes', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('message:new', incoming(1), { offset: 'x' })
    sockets.last.serverEmit('message:new', incoming(2))
    expect(store.getActions().map((a) => a.type)).toEqual([eventRejected.type, serverEventActions['message:new'].type])
    expect(applied(store.getActions())).toEqual([[2, undefined]])
    expect(store.getState().socket.connection.offset).toBe(5)
  })
})

describe('an event this client does not know, in the log (a newer server during a rolling deploy)', () => {
  test('is rejected but keeps its place: the events after it are applied, and nothing stalls', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('lesson:rescheduled', { lessonId: 'l1' }, { offset: 6 })
    sockets.last.serverEmit('message:new', incoming(2), { offset: 7 })
    expect(store.getActions()[0]).toMatchObject({
      type: eventRejected.type,
      payload: { event: 'lesson:rescheduled', issues: [{ path: '', message: 'unknown event' }] },
      meta: { offset: 6 },
    })
    expect(applied(store.getActions())).toEqual([[2, 7]])
    expect(store.getState().socket.connection.offset).toBe(7)
    vi.advanceTimersByTime(10_000)
    expect(store.getActions().filter((a) => resumeStalled.match(a))).toEqual([])
  })

  test('without an offset (not logged) is only rejected: the applied offset stays', () => {
    const { store, sockets } = caughtUpAt(5)
    sockets.last.serverEmit('lesson:rescheduled', { lessonId: 'l1' })
    expect(store.getActions()).toEqual([
      expect.objectContaining({
        type: eventRejected.type,
        payload: { event: 'lesson:rescheduled', issues: [{ path: '', message: 'unknown event' }] },
      }),
    ])
    expect(store.getState().socket.connection.offset).toBe(5)
  })
})
