import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createMemoryStorage } from '../../../src/app/store'
import { trackedStore } from '../../support/trackedStores'
import { connect, selectConnection, type AppSocket, type CreateSocket } from '../../../src/realtime'
import type { TabChannel, TabMessage } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { manualVisibility } from '../../../src/realtime/tabs/visibility'
import { FakeSocket } from '../support/fakeSocket'
import { alice } from '../support/fixtures'
import { json } from '../support/responses'
import { pageTimers } from './support/pageTimers'

// Tabs of one browser are separate processes: what two tabs post reaches a third in either order. Here the holder
// answers a follower's attach and crashes; the next holder's first beat reaches that follower before the crashed
// holder's answer does. The next holder is a background tab (its timers run once a minute) whose socket has not
// connected yet. Taking that answer, the follower said online, with nothing coming through, until it took the socket
// from the silent background tab 3 beats later (150 s later, were it hidden too).

const HEARTBEAT_MS = 100

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  vi.setSystemTime(Date.UTC(2026, 0, 1, 12))
})
afterEach(() => vi.useRealTimers())

/** A channel bus delivering in a microtask, where what one tab posts to another can be held back, then let through. */
function holdingBus() {
  const ends = new Map<string, Set<(m: TabMessage) => void>>()
  const held = new Map<string, (() => void)[]>()
  const silenced = new Set<string>()
  const key = (from: string, to: string) => `${from}>${to}`
  return {
    channel(tabId: string): TabChannel {
      const listeners = new Set<(m: TabMessage) => void>()
      ends.set(tabId, listeners)
      return {
        post(message) {
          if (silenced.has(tabId)) return
          for (const [other, theirs] of ends) {
            if (other === tabId) continue
            const copy = structuredClone(message)
            const run = () => {
              if (ends.get(other) === theirs) for (const listener of [...theirs]) listener(copy)
            }
            const queue = held.get(key(tabId, other))
            if (queue) queue.push(run)
            else queueMicrotask(run)
          }
        },
        subscribe(listener) {
          listeners.add(listener)
          return () => listeners.delete(listener)
        },
        close() {
          ends.delete(tabId)
        },
      }
    },
    hold: (from: string, to: string) => void held.set(key(from, to), []),
    release(from: string, to: string) {
      const queue = held.get(key(from, to)) ?? []
      held.delete(key(from, to))
      for (const run of queue) queueMicrotask(run)
    },
    silence: (tabId: string) => void silenced.add(tabId),
  }
}

async function settle(ms = 0) {
  await vi.advanceTimersByTimeAsync(ms)
  for (let i = 0; i < 30; i++) await Promise.resolve()
}

describe('a follower attaching while the holder crashes', () => {
  test('does not say connected through the crashed holder while the next one reconnects', async () => {
    const bus = holdingBus()
    const locks = createMemoryTabLock()
    const storage = createMemoryStorage()
    const sockets = new Map<string, FakeSocket[]>()
    const open = (id: string) => {
      const visibility = manualVisibility(true)
      const createSocket: CreateSocket = (url, options) => {
        const socket = new FakeSocket(url, options)
        sockets.set(id, [...(sockets.get(id) ?? []), socket])
        return socket as unknown as AppSocket
      }
      const store = trackedStore({
        apiUrl: 'http://api.test',
        fetchFn: (async () => json(200, [])) as typeof fetch,
        createSocket,
        storage,
        preloadedState: { auth: { token: 'token-1', user: alice } },
        realtime: {
          timers: pageTimers(visibility),
          tabs: {
            channelName: 'x',
            channel: bus.channel(id),
            lock: locks.tab(id),
            visibility,
            tabId: id,
            heartbeatMs: HEARTBEAT_MS,
          },
          backoff: { baseMs: 1_000, capMs: 8_000 },
          random: () => 0.5,
        },
      })
      store.dispatch(connect())
      return { store, visibility, conn: () => selectConnection(store.getState()) }
    }
    const serve = (socket: FakeSocket) => {
      socket.serverConnect('sock-a')
      socket.serverEmit('sync:caughtUp', { offset: 3, epoch: 'e1' })
    }

    const t0 = open('t0')
    await settle(HEARTBEAT_MS)
    serve(sockets.get('t0')![0]!)
    const t1 = open('t1')
    const t2 = open('t2')
    await settle(HEARTBEAT_MS * 2)
    expect([t0, t1, t2].map((t) => [t.conn().role, t.conn().status])).toEqual([
      ['leader', 'connected'],
      ['follower', 'connected'],
      ['follower', 'connected'],
    ])
    // t1 goes to the background: its timers run once a minute from now on.
    t1.visibility.set(false)
    await settle(HEARTBEAT_MS)

    // t0's socket drops and comes back; what t0 posts to t2 meanwhile is still on its way when t0 crashes.
    const real = sockets.get('t0')![0]!
    real.serverDrop()
    // t2 asks t0 for the socket again (its own backoff), t0's socket still down.
    await settle(2_000)
    bus.hold('t0', 't2')
    serve(real)
    await settle()
    bus.silence('t0')
    locks.closeTab('t0')
    // t1 takes the lock and beats (t2 hears it); its socket has not connected yet.
    await settle()
    expect(t1.conn().role).toBe('leader')
    bus.release('t0', 't2')
    await settle()

    expect(sockets.get('t1')!.some((s) => s.connected)).toBe(false)
    expect(t1.conn().status).not.toBe('connected')
    // t2, the page the user looks at, says what the browser's socket is: not online (no event nor ack would come).
    expect(t2.conn().status).not.toBe('connected')
    // The socket comes back (t2 takes it from the silent background tab meanwhile): every tab follows it.
    await settle(1_000)
    for (const socket of [...sockets.values()].flat()) if (socket.active && !socket.connected) serve(socket)
    await settle(HEARTBEAT_MS * 3)
    expect([t1, t2].map((t) => t.conn().status)).toEqual(['connected', 'connected'])
    expect([t1, t2].filter((t) => t.conn().role === 'leader')).toHaveLength(1)
    for (const t of [t1, t2]) t.store.dispose()
    t0.store.dispose()
  })
})
