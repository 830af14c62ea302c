import { describe, expect, test, vi } from 'vitest'
import { createBroadcastTabChannel, createMemoryChannelBus } from '../../../src/realtime/tabs/memoryChannel'
import { isTabMessage } from '../../../src/realtime/tabs/protocol'
import type { TabMessage } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock, createWebTabLock, type LockManagerLike } from '../../../src/realtime/tabs/tabLock'
import { eventually } from '../support/eventually'

const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

function recorder(log: string[], who: string) {
  return { onAcquired: () => log.push(`${who} acquired`), onLost: () => log.push(`${who} lost`) }
}

describe('createMemoryTabLock', () => {
  test('grants in request order, asynchronously, the next one when the holder lets go', async () => {
    const lock = createMemoryTabLock()
    const log: string[] = []
    const releaseA = lock.tab('a').request('L', { steal: false }, recorder(log, 'a'))
    lock.tab('b').request('L', { steal: false }, recorder(log, 'b'))
    lock.tab('c').request('L', { steal: false }, recorder(log, 'c'))
    expect(log).toEqual([])
    await flush()
    expect(log).toEqual(['a acquired'])
    expect(lock.holder('L')).toBe('a')
    expect(lock.waiting('L')).toEqual(['b', 'c'])
    releaseA()
    await flush()
    expect(log).toEqual(['a acquired', 'b acquired'])
    expect(lock.holder('L')).toBe('b')
  })

  test('a steal takes the lock at once, ahead of the queue; the holder hears it lost', async () => {
    const lock = createMemoryTabLock()
    const log: string[] = []
    lock.tab('a').request('L', { steal: false }, recorder(log, 'a'))
    lock.tab('b').request('L', { steal: false }, recorder(log, 'b'))
    await flush()
    lock.tab('c').request('L', { steal: true }, recorder(log, 'c'))
    expect(lock.holder('L')).toBe('c')
    await flush()
    expect(log).toEqual(['a acquired', 'a lost', 'c acquired'])
    expect(lock.waiting('L')).toEqual(['b'])
  })

  test('a waiting request given up leaves the queue and is never granted', async () => {
    const lock = createMemoryTabLock()
    const log: string[] = []
    const releaseA = lock.tab('a').request('L', { steal: false }, recorder(log, 'a'))
    const giveUpB = lock.tab('b').request('L', { steal: false }, recorder(log, 'b'))
    lock.tab('c').request('L', { steal: false }, recorder(log, 'c'))
    giveUpB()
    releaseA()
    await flush()
    expect(log).toEqual(['c acquired'])
  })

  test('a grant given up before it is delivered is never announced, and the lock moves on', async () => {
    const lock = createMemoryTabLock()
    const log: string[] = []
    const giveUpA = lock.tab('a').request('L', { steal: false }, recorder(log, 'a'))
    lock.tab('b').request('L', { steal: false }, recorder(log, 'b'))
    giveUpA()
    await flush()
    expect(log).toEqual(['b acquired'])
  })

  test('closeTab releases what the tab holds and drops its waits, with no callback to it', async () => {
    const lock = createMemoryTabLock()
    const log: string[] = []
    lock.tab('a').request('L', { steal: false }, recorder(log, 'a'))
    lock.tab('a').request('M', { steal: false }, recorder(log, 'a on M'))
    lock.tab('b').request('L', { steal: false }, recorder(log, 'b'))
    lock.tab('b').request('M', { steal: false }, recorder(log, 'b on M'))
    await flush()
    lock.tab('c').request('L', { steal: false }, recorder(log, 'c'))
    lock.closeTab('b') // waiting on L, waiting on M
    lock.closeTab('a') // holding both
    await flush()
    expect(log).toEqual(['a acquired', 'a on M acquired', 'c acquired'])
    expect(lock.holder('L')).toBe('c')
    expect(lock.holder('M')).toBeNull()
  })

  test('a stolen holder that closes before hearing it hears nothing', async () => {
    const lock = createMemoryTabLock()
    const log: string[] = []
    lock.tab('a').request('L', { steal: false }, recorder(log, 'a'))
    await flush()
    lock.tab('b').request('L', { steal: true }, recorder(log, 'b'))
    lock.closeTab('a')
    await flush()
    expect(log).toEqual(['a acquired', 'b acquired'])
    expect(lock.holder('L')).toBe('b')
  })
})

/**
 * Web Locks' exclusive mode as the specification and its platform tests describe it: the callback's promise holds
 * the lock; `steal` rejects the holder's request with an AbortError; an aborted signal rejects a waiting request;
 * `signal` with `steal` is refused with NotSupportedError.
 */
function fakeLockManager() {
  interface Entry {
    callback: (lock: unknown) => Promise<unknown>
    resolve: (value: unknown) => void
    reject: (error: unknown) => void
  }
  let held: Entry | null = null
  const queue: Entry[] = []
  const abortError = () => new DOMException('The lock request is aborted', 'AbortError')
  function run(entry: Entry) {
    held = entry
    queueMicrotask(() => {
      entry.callback({ name: 'L', mode: 'exclusive' }).then(
        (value) => {
          if (held === entry) next()
          entry.resolve(value)
        },
        (error) => {
          if (held === entry) next()
          entry.reject(error)
        },
      )
    })
  }
  function next() {
    held = null
    const entry = queue.shift()
    if (entry) run(entry)
  }
  const manager: LockManagerLike & { queued(): number; isHeld(): boolean } = {
    request(_name, options, callback) {
      return new Promise((resolve, reject) => {
        if (options.steal && options.signal) {
          reject(new DOMException("The 'signal' and 'steal' options cannot be used together.", 'NotSupportedError'))
          return
        }
        if (options.ifAvailable && held) {
          queueMicrotask(() => void callback(null).then(resolve, reject))
          return
        }
        const entry: Entry = { callback, resolve, reject }
        if (options.steal) {
          if (held) held.reject(abortError())
          run(entry)
          return
        }
        options.signal?.addEventListener('abort', () => {
          const i = queue.indexOf(entry)
          if (i === -1) return
          queue.splice(i, 1)
          reject(abortError())
        })
        if (held) queue.push(entry)
        else run(entry)
      })
    },
    queued: () => queue.length,
    isHeld: () => held !== null,
  }
  return manager
}

describe('createWebTabLock', () => {
  test('holds the lock from the grant until given up; the next request gets it then', async () => {
    const manager = fakeLockManager()
    const lock = createWebTabLock(manager)
    const log: string[] = []
    const releaseA = lock.request('L', { steal: false }, recorder(log, 'a'))
    lock.request('L', { steal: false }, recorder(log, 'b'))
    await eventually(() => expect(log).toEqual(['a acquired']))
    await flush()
    expect(log).toEqual(['a acquired'])
    releaseA()
    await eventually(() => expect(log).toEqual(['a acquired', 'b acquired']))
  })

  test('a stolen holder hears onLost (its request rejected with AbortError); the stealer holds it', async () => {
    const manager = fakeLockManager()
    const lock = createWebTabLock(manager)
    const log: string[] = []
    lock.request('L', { steal: false }, recorder(log, 'a'))
    await eventually(() => expect(log).toEqual(['a acquired']))
    lock.request('L', { steal: true }, recorder(log, 'b'))
    // The two tabs hear it in either order (two tasks in two tabs).
    await eventually(() => expect([...log].sort()).toEqual(['a acquired', 'a lost', 'b acquired']))
    expect(manager.isHeld()).toBe(true)
  })

  test('a waiting request given up is aborted: it leaves the queue, is never granted, and reports no loss', async () => {
    const manager = fakeLockManager()
    const lock = createWebTabLock(manager)
    const log: string[] = []
    const releaseA = lock.request('L', { steal: false }, recorder(log, 'a'))
    const giveUpB = lock.request('L', { steal: false }, recorder(log, 'b'))
    await eventually(() => expect(log).toEqual(['a acquired']))
    expect(manager.queued()).toBe(1)
    giveUpB()
    expect(manager.queued()).toBe(0)
    releaseA()
    await eventually(() => expect(manager.isHeld()).toBe(false))
    await flush()
    expect(log).toEqual(['a acquired'])
  })

  test('a steal given up before its grant lets the lock go as soon as it comes', async () => {
    const manager = fakeLockManager()
    const lock = createWebTabLock(manager)
    const log: string[] = []
    lock.request('L', { steal: false }, recorder(log, 'a'))
    await eventually(() => expect(log).toEqual(['a acquired']))
    const giveUpB = lock.request('L', { steal: true }, recorder(log, 'b'))
    giveUpB()
    await eventually(() => expect(manager.isHeld()).toBe(false))
    expect(log).toEqual(['a acquired', 'a lost'])
  })

  test('after giving up a held lock, nothing more is reported', async () => {
    const manager = fakeLockManager()
    const lock = createWebTabLock(manager)
    const log: string[] = []
    const releaseA = lock.request('L', { steal: false }, recorder(log, 'a'))
    await eventually(() => expect(log).toEqual(['a acquired']))
    releaseA()
    releaseA()
    await eventually(() => expect(manager.isHeld()).toBe(false))
    lock.request('L', { steal: true }, recorder(log, 'b'))
    await eventually(() => expect(log).toEqual(['a acquired', 'b acquired']))
  })
})

describe('watching another tab’s lock (its page closes or crashes: the browser frees it)', () => {
  const watcher = (log: string[]) => ({ onFree: () => log.push('free'), onUnheld: () => log.push('unheld') })

  test('Web Locks: held, it waits, then says free once the holder lets go, and lets go at once itself', async () => {
    const manager = fakeLockManager()
    const lock = createWebTabLock(manager)
    const log: string[] = []
    const release = lock.request('L', { steal: false }, recorder(log, 'a'))
    await eventually(() => expect(log).toEqual(['a acquired']))
    lock.watch!('L', watcher(log))
    await eventually(() => expect(manager.queued()).toBe(1))
    await flush()
    expect(log).toEqual(['a acquired'])
    release()
    await eventually(() => expect(log).toEqual(['a acquired', 'free']))
    await eventually(() => expect(manager.isHeld()).toBe(false))
  })

  test('Web Locks: nobody holds it: unheld, and nothing waits on it; stopped, it is never said free', async () => {
    const manager = fakeLockManager()
    const lock = createWebTabLock(manager)
    const log: string[] = []
    lock.watch!('L', watcher(log))
    await eventually(() => expect(log).toEqual(['unheld']))
    await eventually(() => expect(manager.isHeld()).toBe(false))
    const release = lock.request('L', { steal: false }, recorder(log, 'a'))
    await eventually(() => expect(log).toEqual(['unheld', 'a acquired']))
    const stop = lock.watch!('L', watcher(log))
    await eventually(() => expect(manager.queued()).toBe(1))
    stop()
    expect(manager.queued()).toBe(0)
    release()
    await eventually(() => expect(manager.isHeld()).toBe(false))
    await flush()
    expect(log).toEqual(['unheld', 'a acquired'])
  })

  test('in memory: free when its tab crashes, unheld when no tab holds it, never after stopping', async () => {
    const lock = createMemoryTabLock()
    const log: string[] = []
    lock.tab('a').request('L', { steal: false }, recorder(log, 'a'))
    await flush()
    lock.tab('h').watch!('L', watcher(log))
    const stopped = lock.tab('h').watch!('L', { onFree: () => log.push('stopped free'), onUnheld: () => {} })
    stopped()
    lock.closeTab('a')
    await flush()
    expect(log).toEqual(['a acquired', 'free'])
    expect(lock.holder('L')).toBe(null)
    lock.tab('h').watch!('M', watcher(log))
    await flush()
    expect(log).toEqual(['a acquired', 'free', 'unheld'])
  })
})

const beat = (from: string, term = 1): TabMessage => ({ kind: 'heartbeat', from, term })

describe('createWebTabLock: still held? (Web Locks query)', () => {
  test('compares the holder’s client id with this page’s, read while it held the lock; unsure counts as not held', async () => {
    let holderClient = 'page-1'
    const manager = Object.assign(fakeLockManager(), {
      query: async () => ({ held: [{ name: 'L', clientId: holderClient }] }),
    })
    const lock = createWebTabLock(manager)
    // Before this page ever held it, it cannot know its own id: not held.
    expect(await lock.held!('L')).toBe(false)
    const log: string[] = []
    lock.request('L', { steal: false }, recorder(log, 'a'))
    await eventually(() => expect(log).toEqual(['a acquired']))
    await eventually(async () => expect(await lock.held!('L')).toBe(true))
    // Another page took it (the browser shows its client as the holder now).
    holderClient = 'page-2'
    expect(await lock.held!('L')).toBe(false)
  })

  test('without query there is nothing to ask: no `held`, and the election steps down unasked', () => {
    expect(createWebTabLock(fakeLockManager()).held).toBeUndefined()
  })
})

describe('createMemoryChannelBus', () => {
  test('a post reaches every other open channel, later, as a copy; never its sender', async () => {
    const bus = createMemoryChannelBus()
    const [a, b, c] = [bus.channel(), bus.channel(), bus.channel()]
    const got: Record<string, TabMessage[]> = { a: [], b: [], c: [] }
    a.subscribe((m) => got.a!.push(m))
    b.subscribe((m) => got.b!.push(m))
    c.subscribe((m) => got.c!.push(m))
    const message = beat('a')
    a.post(message)
    expect(got.b).toEqual([])
    await flush()
    expect(got).toEqual({ a: [], b: [message], c: [message] })
    expect(got.b![0]).not.toBe(message)
  })

  test('a closed channel neither receives nor posts; an unsubscribed listener hears nothing', async () => {
    const bus = createMemoryChannelBus()
    const [a, b, c] = [bus.channel(), bus.channel(), bus.channel()]
    const heardB: TabMessage[] = []
    const heardC: TabMessage[] = []
    b.subscribe((m) => heardB.push(m))
    const off = c.subscribe((m) => heardC.push(m))
    a.post(beat('a', 1))
    b.close()
    off()
    await flush()
    expect(heardB).toEqual([])
    expect(heardC).toEqual([])
    expect(() => b.post(beat('b'))).toThrow()
  })

  test('drop loses the copies it picks (per recipient), the others arrive in order', async () => {
    let n = 0
    const bus = createMemoryChannelBus({ drop: () => n++ % 2 === 0 })
    const [a, b] = [bus.channel(), bus.channel()]
    const heard: number[] = []
    b.subscribe((m) => heard.push((m as { term: number }).term))
    for (let term = 1; term <= 6; term++) a.post(beat('a', term))
    await flush()
    expect(heard).toEqual([2, 4, 6])
  })

  test('deliver decides when copies arrive', () => {
    const pending: (() => void)[] = []
    const bus = createMemoryChannelBus({ deliver: (fn) => pending.push(fn) })
    const [a, b] = [bus.channel(), bus.channel()]
    const heard: TabMessage[] = []
    b.subscribe((m) => heard.push(m))
    a.post(beat('a'))
    expect(heard).toEqual([])
    for (const fn of pending) fn()
    expect(heard).toEqual([beat('a')])
  })
})

describe('isTabMessage: what another page of the origin (or another version of the app) may post is checked', () => {
  const raw = { event: 'sync:caughtUp', args: [{ offset: 0, epoch: 'e1' }] }
  const valid: TabMessage[] = [
    { kind: 'heartbeat', from: 'a', term: 3 },
    { kind: 'resign', from: 'a', term: 3 },
    { kind: 'attach', from: 'f', attachId: 1, userId: 'u1', resume: { offset: null, epoch: null }, visible: true },
    { kind: 'detach', from: 'f' },
    { kind: 'alive', from: 'f', visible: false },
    { kind: 'wake', from: 'f' },
    { kind: 'emit', from: 'f', to: 'h', id: null, event: 'typing', args: [{ conversationId: 'c1' }], timeoutMs: null },
    { kind: 'up', from: 'h', userId: 'u1' },
    { kind: 'attached', from: 'h', to: 'f', attachId: 1, socketId: 's1', replay: [raw], sync: raw, presence: null },
    { kind: 'ack', from: 'h', to: 'f', id: 7, error: false, args: [{ ok: true, data: null }] },
    { kind: 'event', from: 'h', userId: 'u1', raw },
    { kind: 'down', from: 'h', reason: 'transport close' },
    { kind: 'down', from: 'h', reason: 'UNAUTHORIZED', to: 'f', userId: 'u1' },
    { kind: 'failed', from: 'h', userId: 'u1', message: 'xhr poll error', retryAfterMs: null },
    { kind: 'failed', from: 'h', userId: 'u1', message: 'RATE_LIMITED', retryAfterMs: 60_000, to: 'f' },
    { kind: 'unsaved', from: 'f', userId: 'u1', clientIds: ['k1', 'k2'] },
    { kind: 'unsaved', from: 'f', userId: 'u1', clientIds: [] },
    { kind: 'unsavedAsk', from: 'f' },
  ]
  test.each(valid.map((message) => [message.kind, message] as const))('a well-formed %s passes', (_kind, message) => {
    expect(isTabMessage(structuredClone(message))).toBe(true)
  })

  test.each([
    [
      'an ack whose args is no list (it threw after its timer was cleared: the send waited for ever)',
      { kind: 'ack', from: 'h', to: 'f', id: 7, error: false, args: null },
    ],
    [
      'an attach without resume (it threw in the hub, and the attaches queued after it went unanswered)',
      { kind: 'attach', from: 'x', attachId: 1, userId: 'u1', visible: true },
    ],
    ['a heartbeat with term NaN', { kind: 'heartbeat', from: 'a', term: Number.NaN }],
    ['a heartbeat with term Infinity', { kind: 'heartbeat', from: 'a', term: Number.POSITIVE_INFINITY }],
    [
      'an attached whose replay holds something that is not an event',
      { kind: 'attached', from: 'h', to: 'f', attachId: 1, socketId: 's1', replay: [null], sync: raw, presence: null },
    ],
    ['an event without raw', { kind: 'event', from: 'h', userId: 'u1' }],
    ['a down whose userId is a number', { kind: 'down', from: 'h', reason: 'x', userId: 5 }],
    [
      'a failed whose wait is no number',
      { kind: 'failed', from: 'h', userId: 'u1', message: 'RATE_LIMITED', retryAfterMs: '60000' },
    ],
    ['an unsaved whose clientIds holds a number', { kind: 'unsaved', from: 'f', userId: 'u1', clientIds: ['k1', 2] }],
    ['an unknown kind', { kind: 'toString', from: 'h' }],
    ['no from', { kind: 'detach' }],
    ['not an object', 'heartbeat'],
    ['null', null],
  ])('%s is dropped', (_name, data) => {
    expect(isTabMessage(data)).toBe(false)
  })
})

describe('createBroadcastTabChannel (Node’s own BroadcastChannel)', () => {
  test('two instances with the same name exchange messages; another name hears nothing; junk is ignored', async () => {
    const name = `talemy.test.${Math.random()}`
    const a = createBroadcastTabChannel(name)
    const b = createBroadcastTabChannel(name)
    const other = createBroadcastTabChannel(`${name}.other`)
    const raw = new BroadcastChannel(name)
    const heardA: TabMessage[] = []
    const heardB: TabMessage[] = []
    const heardOther: TabMessage[] = []
    a.subscribe((m) => heardA.push(m))
    b.subscribe((m) => heardB.push(m))
    other.subscribe((m) => heardOther.push(m))
    try {
      a.post(beat('a', 1))
      b.post(beat('b', 2))
      // Junk, then a real message from the same sender: once the real one is heard, the junk was delivered before it.
      raw.postMessage('not a tab message')
      raw.postMessage({ kind: 'heartbeat' })
      raw.postMessage({ kind: 'ack', from: 'raw', to: 'a', id: 1, error: false, args: null })
      raw.postMessage(beat('raw', 3))
      await vi.waitFor(() => expect(heardB).toContainEqual(beat('raw', 3)), { timeout: 10_000 })
      await vi.waitFor(() => expect(heardA).toContainEqual(beat('raw', 3)), { timeout: 10_000 })
      await vi.waitFor(() => expect(heardB).toContainEqual(beat('a', 1)), { timeout: 10_000 })
      await vi.waitFor(() => expect(heardA).toContainEqual(beat('b', 2)), { timeout: 10_000 })
      expect(heardA).toHaveLength(2)
      expect(heardB).toHaveLength(2)
      // Proof that `other` is served too (a marker on its name arrived), then that it heard nothing of `name`.
      const marker = createBroadcastTabChannel(`${name}.other`)
      marker.post(beat('marker'))
      await vi.waitFor(() => expect(heardOther).toContainEqual(beat('marker')), { timeout: 10_000 })
      expect(heardOther).toEqual([beat('marker')])
      marker.close()
    } finally {
      a.close()
      b.close()
      other.close()
      raw.close()
    }
  })
})
