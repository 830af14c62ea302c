import { afterEach, describe, expect, test, vi } from 'vitest'
import { createLeaseLock, createMemoryLock, createWebLock, sendMessage } from '../../src/realtime'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { fakeSockets } from './support/fakeSocket'
import { alice } from './support/fixtures'

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
    const store = makeStore({
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
