import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createMemoryStorage, type StorageLike } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { Message } from '../../src/contract'
import {
  createMemoryLock,
  outboxStorageKey,
  selectPendingMessages,
  sendMessage,
  sendRetryScheduled,
  shutdown,
  type DrainLock,
} from '../../src/realtime'
import type { Timers } from '../../src/realtime/timers'
import { eventually } from './support/eventually'
import { fakeSockets, type EmittedPacket } from './support/fakeSocket'
import { alice, message } from './support/fixtures'

// Two tabs of one user (one storage, one queued drain lock, each a socket of its own). Tab A's send got a retryable
// answer (INTERNAL, or one the layer cannot trust) and waits its backoff; the user then writes in tab B. B's send must
// not wait for A's backoff (up to 30 s) behind the drain lock A held through it, nor reach the server before A's
// earlier send of the same conversation. The retry timers are the tabs' own injected edge: nothing waits on time.

let consoleError: ReturnType<typeof vi.spyOn>
beforeEach(() => {
  consoleError = vi.spyOn(console, 'error')
})
afterEach(() => {
  // Restored even when the check fails: a spy left on console.error (spying again returns it, its calls kept) would
  // fail this same check in the next files of the shared thread.
  try {
    expect(consoleError).not.toHaveBeenCalled()
  } finally {
    consoleError.mockRestore()
  }
})

const lockName = `talemy.outbox.${alice.id}`
const stored = (seq: number, clientId: string, conversationId: string): Message => ({
  ...message(seq, { senderId: alice.id, clientId, content: `text ${clientId}` }),
  conversationId,
})
const at = (second: number) => ({ meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString() } })
const send = (clientId: string, conversationId: string, second: number) => ({
  ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
  ...at(second),
})
const clientIdOf = (p: EmittedPacket) => (p.args[0] as { clientId: string }).clientId
const savedIds = (storage: StorageLike) =>
  (JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]') as { clientId: string }[]).map((m) => m.clientId)

/** A timer edge the test runs by hand: `due(ms)` runs the timers set for `ms` that are still set. */
function manualTimers() {
  const set = new Set<{ fn: () => void; ms: number }>()
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const handle = { fn, ms }
      set.add(handle)
      return handle
    },
    clearTimeout: (handle) => void set.delete(handle as never),
  }
  return {
    timers,
    pending: (ms: number) => [...set].filter((t) => t.ms === ms).length,
    due(ms: number) {
      for (const t of [...set].filter((x) => x.ms === ms)) {
        set.delete(t)
        t.fn()
      }
    },
  }
}

function tab(storage: StorageLike, drainLock: DrainLock) {
  const sockets = fakeSockets()
  const clock = manualTimers()
  const actions: { type: string; payload?: unknown }[] = []
  const store = trackedStore({
    apiUrl: 'http://unused.test',
    createSocket: sockets.createSocket,
    storage,
    shareSocket: false,
    preloadedState: { auth: { token: 'token-1', user: alice } },
    extraMiddleware: [() => (next) => (action) => (actions.push(action as { type: string }), next(action))],
    realtime: { drainLock, timers: clock.timers, backoff: { baseMs: 1_000, capMs: 30_000 }, random: () => 0.5 },
  })
  sockets.last.serverConnect()
  const retries = () => actions.filter((a) => sendRetryScheduled.match(a))
  return { store, clock, retries, sends: () => sockets.last.sent('message:send'), socket: () => sockets.last }
}

function twoTabs() {
  const storage = createMemoryStorage()
  const lock = createMemoryLock()
  return { storage, lock, tabA: tab(storage, lock), tabB: tab(storage, lock) }
}

const RETRYABLE = [
  { answer: 'INTERNAL', response: { ok: false, error: { code: 'INTERNAL', message: 'boom' } } },
  { answer: 'one the layer cannot trust', response: { ok: true, data: { id: 42 } } },
]

/** Two tabs; tab A's send a1 (c1) answered `response`, waiting out its backoff of `delayMs`. */
async function aWaitsItsBackoff(response: unknown) {
  const tabs = twoTabs()
  tabs.tabA.store.dispatch(send('a1', 'c1', 0))
  tabs.tabA.sends()[0]!.ack(response)
  const wait = await eventually(() => tabs.tabA.retries()[0] ?? expect.fail('a1 not waiting yet'))
  return { ...tabs, delayMs: (wait.payload as { delayMs: number }).delayMs }
}

describe('a tab waiting out its backoff does not hold back the other tabs of its user', () => {
  test.each(RETRYABLE)(
    "A's send answered $answer waits to go again: B's send in another conversation goes at once, and A's goes when its wait ends",
    async ({ response }) => {
      const { storage, lock, tabA, tabB, delayMs } = await aWaitsItsBackoff(response)
      tabB.store.dispatch(send('b1', 'c2', 1))
      await eventually(() => expect(tabB.sends().map(clientIdOf)).toEqual(['b1']))
      expect(tabA.sends().map(clientIdOf)).toEqual(['a1'])
      tabB.sends()[0]!.ack({ ok: true, data: stored(1, 'b1', 'c2') })
      for (const t of [tabA, tabB]) t.socket().serverEmit('message:sent', stored(1, 'b1', 'c2'))
      await eventually(() => expect(savedIds(storage)).toEqual(['a1']))
      // A's wait ends: it asks for the lock again and a1 goes, once.
      expect(tabA.clock.pending(delayMs)).toBe(1)
      tabA.clock.due(delayMs)
      await eventually(() => expect(tabA.sends().map(clientIdOf)).toEqual(['a1', 'a1']))
      tabA.sends()[1]!.ack({ ok: true, data: stored(1, 'a1', 'c1') })
      for (const t of [tabA, tabB]) t.socket().serverEmit('message:sent', stored(1, 'a1', 'c1'))
      await eventually(() => expect(savedIds(storage)).toEqual([]))
      expect(tabB.sends().map(clientIdOf)).toEqual(['b1'])
      for (const t of [tabA, tabB]) expect(selectPendingMessages(t.store.getState())).toEqual([])
      await eventually(() => expect(lock.holder(lockName)).toBeNull())
      for (const t of [tabA, tabB]) t.store.dispatch(shutdown())
    },
  )
  test.each(RETRYABLE)(
    "A's send answered $answer waits to go again: B's later send of the same conversation reaches the server only after it, and neither goes twice",
    async ({ response }) => {
      const { storage, lock, tabA, tabB, delayMs } = await aWaitsItsBackoff(response)
      tabB.store.dispatch(send('b2', 'c1', 1))
      const all = () => [...tabA.sends(), ...tabB.sends()]
      // a1 goes again first, without waiting for A's backoff (B takes it in, written before its own), then b2.
      const second = await eventually(() => all()[1] ?? expect.fail('nothing more sent yet'))
      expect(all().map(clientIdOf)).toEqual(['a1', 'a1'])
      second.ack({ ok: true, data: stored(1, 'a1', 'c1') })
      for (const t of [tabA, tabB]) t.socket().serverEmit('message:sent', stored(1, 'a1', 'c1'))
      const third = await eventually(() => all()[2] ?? expect.fail('b2 not sent yet'))
      expect(all().map(clientIdOf)).toEqual(['a1', 'a1', 'b2'])
      third.ack({ ok: true, data: stored(2, 'b2', 'c1') })
      for (const t of [tabA, tabB]) t.socket().serverEmit('message:sent', stored(2, 'b2', 'c1'))
      await eventually(() => expect(savedIds(storage)).toEqual([]))
      // A heard a1 confirmed: its wait is over, and nothing goes when its time would have come.
      expect(tabA.clock.pending(delayMs)).toBe(0)
      expect(all().map(clientIdOf)).toEqual(['a1', 'a1', 'b2'])
      for (const t of [tabA, tabB]) expect(selectPendingMessages(t.store.getState())).toEqual([])
      await eventually(() => expect(lock.holder(lockName)).toBeNull())
      for (const t of [tabA, tabB]) t.store.dispatch(shutdown())
    },
  )
})
