import { afterEach, describe, expect, test, vi } from 'vitest'
import {
  createLeaseLock,
  createMemoryLock,
  createWebLock,
  selectPendingMessages,
  sendMessage,
} from '../../src/realtime'
import { createMemoryStorage } from '../../src/app/store'
import { drainLockOver } from '../../src/realtime/drainLock'
import { drainLockName } from '../../src/realtime/outboxLock'
import { createMemoryTabLock } from '../../src/realtime/tabs/tabLock'
import { trackedStore } from '../support/trackedStores'
import { fakeSockets } from './support/fakeSocket'
import { alice, message } from './support/fixtures'

afterEach(() => {
  vi.useRealTimers()
})

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

describe('memory lock (two stores given the same one behave like two tabs)', () => {
  test('one holder at a time, granted in request order; giving up while waiting leaves the queue', async () => {
    const lock = createMemoryLock()
    const got: string[] = []
    const releases: Record<string, () => void> = {}
    const take = (who: string) =>
      lock.request('outbox', (release) => {
        got.push(who)
        releases[who] = release
      })
    take('a')
    take('b')
    const cancelC = take('c')
    take('d')
    expect(got).toEqual(['a'])
    cancelC()
    releases.a!()
    await flush()
    expect(got).toEqual(['a', 'b'])
    releases.b!()
    await flush()
    expect(got).toEqual(['a', 'b', 'd'])
    releases.d!()
    releases.d!() // twice is harmless
    await flush()
    expect(lock.holder('outbox')).toBeNull()
  })

  test('locks of different names are independent', () => {
    const lock = createMemoryLock()
    const got: string[] = []
    lock.request('u1', () => got.push('u1'))
    lock.request('u2', () => got.push('u2'))
    expect(got).toEqual(['u1', 'u2'])
  })
})

describe('lease lock in storage (no Web Locks)', () => {
  test('a second tab waits for the release, or for the lease to expire when the holder vanished', () => {
    vi.useFakeTimers()
    const storage = createMemoryStorage()
    const tab1 = createLeaseLock(storage, { ttlMs: 3000, owner: 'tab1' })
    const tab2 = createLeaseLock(storage, { ttlMs: 3000, owner: 'tab2' })
    const got: string[] = []
    const release1 = tab1.request('outbox', () => got.push('tab1'))
    tab2.request('outbox', () => got.push('tab2'))
    expect(got).toEqual(['tab1'])
    vi.advanceTimersByTime(10_000) // tab1 renews its lease: tab2 keeps waiting
    expect(got).toEqual(['tab1'])
    release1()
    vi.advanceTimersByTime(1000)
    expect(got).toEqual(['tab1', 'tab2'])

    // A tab that crashed holding the lease (no renewal) is replaced after the expiry.
    const storage2 = createMemoryStorage()
    storage2.setItem('talemy.lock.outbox', JSON.stringify({ owner: 'gone', expiresAt: Date.now() + 3000 }))
    const got2: string[] = []
    createLeaseLock(storage2, { ttlMs: 3000 }).request('outbox', () => got2.push('me'))
    vi.advanceTimersByTime(2900)
    expect(got2).toEqual([])
    vi.advanceTimersByTime(200)
    expect(got2).toEqual(['me'])
  })
})

describe('the lease lock runs on the timers it is given', () => {
  test('nothing on the host timers: a waiting tab is granted when the given timers run', () => {
    vi.useFakeTimers()
    const due: Array<{ fn: () => void; ms: number }> = []
    const timers = {
      setTimeout: (fn: () => void, ms: number) => due.push({ fn, ms }),
      clearTimeout: () => undefined,
    }
    const storage = createMemoryStorage()
    storage.setItem('talemy.lock.outbox', JSON.stringify({ owner: 'gone', expiresAt: Date.now() + 300 }))
    const got: string[] = []
    createLeaseLock(storage, { ttlMs: 3000, owner: 'me', now: () => Date.now(), timers }).request('outbox', () =>
      got.push('me'),
    )
    expect(vi.getTimerCount()).toBe(0)
    expect(due.map((d) => d.ms)).toEqual([300])
    vi.setSystemTime(Date.now() + 300)
    due.shift()!.fn()
    expect(got).toEqual(['me'])
    vi.useRealTimers()
  })
})

describe('steal (over the tabs’ lock edge)', () => {
  test('takes the lock from its silent holder and lets it go at once: the queue’s head gets it', async () => {
    const tabs = createMemoryTabLock()
    const [a, b, c] = ['a', 'b', 'c'].map((id) => drainLockOver(tabs.tab(id)))
    const heard: string[] = []
    a!.request(
      'outbox',
      () => heard.push('a granted'),
      () => heard.push('a lost'),
    )
    await flush()
    b!.request('outbox', () => heard.push('b granted'))
    c!.steal!('outbox')
    await flush()
    expect(heard).toEqual(['a granted', 'a lost', 'b granted'])
    expect([tabs.holder('outbox'), tabs.waiting('outbox')]).toEqual(['b', []])
  })

  test('robbed during a RATE_LIMITED wait and granted the lock back: no send before retryAfterMs', async () => {
    const tabs = createMemoryTabLock()
    const sockets = fakeSockets()
    const hand = handTimers()
    const store = trackedStore({
      apiUrl: 'http://unused.test',
      createSocket: sockets.createSocket,
      storage: createMemoryStorage(),
      shareSocket: false,
      preloadedState: { auth: { token: 'token-1', user: alice } },
      realtime: { drainLock: drainLockOver(tabs.tab('a')), timers: hand.timers },
    })
    sockets.last.serverConnect()
    const tries = () => sockets.last.sent('message:send')
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'a1', clientId: 'a1' }))
    await flush()
    tries()[0]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3_600_000 } })
    await flush()
    // The tabs' hub took this page for hung (frozen, a busy loop) and stole its lock; nobody else waited, so the lock
    // comes back to it when it asks again.
    drainLockOver(tabs.tab('c')).steal!(drainLockName(alice.id))
    await flush()
    expect(tabs.holder(drainLockName(alice.id))).toBe('a')
    expect(tries()).toHaveLength(1)
    // The wait's own timer ends it.
    hand.runDue()
    await flush()
    expect(tries()).toHaveLength(2)
    store.dispose()
  })
})

describe('Web Locks adapter', () => {
  test('holds the lock until release; giving up while waiting aborts the request', async () => {
    const calls: { name: string; signal?: AbortSignal; callback: (lock?: unknown) => Promise<unknown> }[] = []
    const locks = {
      request: (name: string, options: { signal?: AbortSignal }, callback: (lock: unknown) => Promise<unknown>) => {
        calls.push({ name, signal: options.signal, callback })
        return Promise.resolve()
      },
    }
    const lock = createWebLock(locks)
    let release: (() => void) | null = null
    lock.request('outbox', (r) => (release = r))
    expect(calls[0]?.name).toBe('outbox')
    const held = calls[0]!.callback()
    let settled = false
    void held.then(() => (settled = true))
    await flush()
    expect(settled).toBe(false)
    release!()
    await flush()
    expect(settled).toBe(true)

    const giveUp = lock.request('outbox', () => {})
    giveUp()
    expect(calls[1]!.signal?.aborted).toBe(true)
  })
})

describe("makeStore's default lease lock", () => {
  test('runs on the realtime timers and clock it is given', async () => {
    const due: number[] = []
    const timers = { setTimeout: (_fn: () => void, ms: number) => due.push(ms), clearTimeout: () => undefined }
    const storage = createMemoryStorage()
    const store = trackedStore({
      apiUrl: 'http://unused.test',
      createSocket: fakeSockets().createSocket,
      storage,
      preloadedState: { auth: { token: 'token-1', user: alice } },
      realtime: { timers, now: () => 5_000 },
    })
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }))
    await flush()
    expect(JSON.parse(storage.getItem(`talemy.lock.talemy.outbox.${alice.id}`) ?? 'null')).toMatchObject({
      expiresAt: 15_000,
    })
    expect(due).toContain(10_000 / 3)
    store.dispose()
  })
})

/** A timer edge run by hand: `runDue()` runs the timers set so far (not those they set), as a page's timers would. */
function handTimers() {
  const set = new Set<{ fn: () => void }>()
  const timers = {
    setTimeout: (fn: () => void) => {
      const handle = { fn }
      set.add(handle)
      return handle
    },
    clearTimeout: (handle: unknown) => void set.delete(handle as never),
  }
  return {
    timers,
    runDue() {
      for (const t of [...set]) {
        set.delete(t)
        t.fn()
      }
    },
  }
}

describe('a lease lock whose holder was suspended past its expiry (timers frozen)', () => {
  test('its renewal finds the lease another tab took meanwhile: it gives the lock up and says so, and the lease stays the other tab’s', () => {
    let clock = 0
    const now = () => clock
    const storage = createMemoryStorage()
    const [t1, t2] = [handTimers(), handTimers()]
    const got: string[] = []
    const lost: string[] = []
    const release1 = createLeaseLock(storage, { ttlMs: 3000, owner: 'tab1', now, timers: t1.timers }).request(
      'outbox',
      () => got.push('tab1'),
      () => lost.push('tab1'),
    )
    createLeaseLock(storage, { ttlMs: 3000, owner: 'tab2', now, timers: t2.timers }).request(
      'outbox',
      () => got.push('tab2'),
      () => lost.push('tab2'),
    )
    expect(got).toEqual(['tab1'])
    // tab1's page is suspended: none of its timers run, and its lease expires. tab2 takes the lock.
    clock = 3000
    t2.runDue()
    expect(got).toEqual(['tab1', 'tab2'])
    // tab1 wakes: its renewal comes due.
    clock = 3500
    t1.runDue()
    const owner = () => (JSON.parse(storage.getItem('talemy.lock.outbox') ?? 'null') as { owner: string }).owner
    expect(lost).toEqual(['tab1'])
    expect(owner()).toMatch(/^tab2#/)
    // tab2 goes on holding it; tab1 neither renews nor, let go late, removes tab2's lease.
    clock = 4500
    t2.runDue()
    t1.runDue()
    release1()
    expect(owner()).toMatch(/^tab2#/)
    expect(lost).toEqual(['tab1'])
  })

  test("two tabs' outboxes over lease locks: the tab that woke sends nothing more while the other holds the lock, which sends what it wrote, once", async () => {
    let clock = 0
    const now = () => clock
    const storage = createMemoryStorage()
    const tab = (name: string) => {
      const sockets = fakeSockets()
      const hand = handTimers()
      const store = trackedStore({
        apiUrl: 'http://unused.test',
        createSocket: sockets.createSocket,
        storage,
        shareSocket: false,
        preloadedState: { auth: { token: 'token-1', user: alice } },
        realtime: {
          drainLock: createLeaseLock(storage, { ttlMs: 3000, owner: name, now, timers: hand.timers }),
          timers: hand.timers,
        },
      })
      sockets.last.serverConnect()
      const sends = () => sockets.last.sent('message:send')
      const ids = () => sends().map((p) => (p.args[0] as { clientId: string }).clientId)
      return { store, hand, sends, ids, socket: () => sockets.last }
    }
    const stored = (seq: number, clientId: string, conversationId: string) => ({
      ...message(seq, { senderId: alice.id, clientId, content: clientId }),
      conversationId,
    })
    const send = (clientId: string, conversationId: string) =>
      sendMessage({ conversationId, content: clientId, clientId })
    const a = tab('tabA')
    const b = tab('tabB')
    a.store.dispatch(send('a1', 'c1'))
    await flush()
    expect(a.ids()).toEqual(['a1'])
    // Tab A's page is suspended with a1 in flight; its lease expires, and tab B takes the lock for its own send.
    clock = 3000
    b.store.dispatch(send('b1', 'c2'))
    await flush()
    expect(b.ids()).toEqual(['b1'])
    // Tab A wakes: its renewal is due, then a1's answer comes and the user writes a2 there.
    clock = 3500
    a.hand.runDue()
    a.sends()[0]!.ack({ ok: true, data: stored(1, 'a1', 'c1') })
    for (const t of [a, b]) t.socket().serverEmit('message:sent', stored(1, 'a1', 'c1'))
    await flush()
    a.store.dispatch(send('a2', 'c1'))
    await flush()
    expect(a.ids()).toEqual(['a1'])
    // B, the holder, takes in what A wrote and sends it: a2 goes once, from B.
    b.sends()[0]!.ack({ ok: true, data: stored(2, 'b1', 'c2') })
    for (const t of [a, b]) t.socket().serverEmit('message:sent', stored(2, 'b1', 'c2'))
    await flush()
    expect(b.ids()).toEqual(['b1', 'a2'])
    b.sends()[1]!.ack({ ok: true, data: stored(3, 'a2', 'c1') })
    for (const t of [a, b]) t.socket().serverEmit('message:sent', stored(3, 'a2', 'c1'))
    await flush()
    clock = 4000
    a.hand.runDue()
    b.hand.runDue()
    await flush()
    for (const t of [a, b]) expect(selectPendingMessages(t.store.getState())).toEqual([])
    expect(a.ids()).toEqual(['a1'])
    expect(storage.getItem(`talemy.lock.talemy.outbox.${alice.id}`)).toBeNull()
    a.store.dispose()
    b.store.dispose()
  })
})
