import { afterEach, describe, expect, test, vi } from 'vitest'
import { createElection, staggerFor, type Election } from '../../../src/realtime/tabs/election'
import { createMemoryChannelBus } from '../../../src/realtime/tabs/memoryChannel'
import type { TabChannel, TabLock, TabMessage } from '../../../src/realtime/tabs/protocol'
import type { Timers } from '../../../src/realtime/timers'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { createVirtualTime } from './support/virtualTime'

const NAME = 'talemy.socket'

/** Two or more tabs on one virtual clock: the lock answers in a task of its own, the channel takes 1 ms. */
function browser() {
  const time = createVirtualTime()
  const lock = createMemoryTabLock({ deliver: (fn) => time.after(0, fn) })
  const bus = createMemoryChannelBus({ deliver: (fn) => time.after(1, fn) })
  /** Everything every tab did, in order: `a role leader`, `a post heartbeat 1`, `b gone`, `a request steal`… */
  const log: string[] = []

  function tab(id: string, options: { heartbeatMs?: number; missedBeats?: number; verifiable?: boolean } = {}) {
    const { verifiable = false, ...electionOptions } = options
    const inner = bus.channel()
    const channel: TabChannel = {
      ...inner,
      post(message) {
        log.push(`${id} post ${message.kind} ${(message as { term: number }).term}`)
        inner.post(message)
      },
      subscribe: inner.subscribe,
      close: inner.close,
    }
    const tabLock: TabLock = {
      request(name, opts, handlers) {
        log.push(`${id} request${opts.steal ? ' steal' : ''}`)
        const giveUp = lock.tab(id).request(name, opts, handlers)
        return () => {
          log.push(`${id} release`)
          giveUp()
        }
      },
      // Only where the test asks for a lock that can tell (Web Locks' query); the others step down unasked.
      ...(verifiable
        ? {
            held: (name: string) => {
              log.push(`${id} verify`)
              return lock.tab(id).held!(name)
            },
          }
        : {}),
    }
    // A frozen page runs its due timers only when it thaws.
    const timers: Timers = {
      setTimeout: (fn, ms) =>
        time.timers.setTimeout(() => {
          const until = frozenUntil.get(id) ?? 0
          if (until > time.now()) time.at(until, fn)
          else fn()
        }, ms),
      clearTimeout: time.timers.clearTimeout,
    }
    const election = createElection({
      tabId: id,
      name: NAME,
      channel,
      lock: tabLock,
      timers,
      now: time.now,
      ...electionOptions,
      onRole: (role) => log.push(`${id} role ${role}`),
      onLeaderGone: () => log.push(`${id} gone`),
    })
    return {
      election,
      /** The tab crashed: the browser releases its lock, its channel is gone, its timers never run. */
      crash() {
        lock.closeTab(id)
        inner.close()
      },
    }
  }

  /** A page that is not an election: it holds the lock and says what it likes on the channel. */
  function rogue(id: string) {
    const channel = bus.channel()
    return {
      post: (message: TabMessage) => channel.post(message),
      take: (steal: boolean, onLost = () => log.push(`${id} lost`)) =>
        lock.tab(id).request(NAME, { steal }, { onAcquired: () => log.push(`${id} acquired`), onLost }),
    }
  }

  const frozenUntil = new Map<string, number>()
  const freeze = (id: string, ms: number) => frozenUntil.set(id, time.now() + ms)
  const since = (n: number) => log.slice(n)
  return { time, lock, log, tab, rogue, since, freeze }
}

/** Tab a leads (since 0 ms), tab c follows it (since 100 ms); the clock at 1 s. */
function aLeadsCFollows() {
  const b = browser()
  const a = b.tab('a').election
  b.time.runUntil(100)
  const c = b.tab('c').election
  b.time.runUntil(1_000)
  return { b, a, c }
}

/** One ms later (the channel's delay) c has heard the leader go and leads with the next term: its log from `from` on. */
function expectCLeadsAtOnce(b: ReturnType<typeof browser>, c: Election, from: number) {
  b.time.runUntil(1_001)
  expect(c.role()).toBe('leader')
  expect(b.since(from)).toEqual(['c gone', 'c role leader', 'c post heartbeat 2'])
}

afterEach(() => vi.restoreAllMocks())

describe('createElection', () => {
  test('a lone tab queues, leads once granted (never synchronously), and beats every heartbeatMs', () => {
    const b = browser()
    const a = b.tab('a').election
    expect(a.role()).toBe('follower')
    expect(b.log).toEqual(['a request'])
    b.time.runUntil(0)
    expect(a.role()).toBe('leader')
    expect(b.log).toEqual(['a request', 'a role leader', 'a post heartbeat 1'])
    b.time.runUntil(2_000)
    expect(b.since(3)).toEqual(Array(4).fill('a post heartbeat 1'))
  })

  test('a second tab follows and stays a follower while the leader beats (no steal, no flapping)', () => {
    const b = browser()
    const a = b.tab('a').election
    b.time.runUntil(100)
    const c = b.tab('c').election
    b.time.runUntil(60_000)
    expect(a.role()).toBe('leader')
    expect(c.role()).toBe('follower')
    expect(b.log.filter((l) => l.startsWith('c'))).toEqual(['c request'])
    expect(b.lock.waiting(NAME)).toEqual(['c'])
  })

  test('the leader stops: it resigns and lets go; the follower hears it gone at once and leads with the next term', () => {
    const { b, a, c } = aLeadsCFollows()
    const n = b.log.length
    a.stop()
    expect(b.since(n)).toEqual(['a post resign 1', 'a release'])
    expectCLeadsAtOnce(b, c, n + 2)
    const m = b.log.length
    a.stop()
    b.time.runUntil(10_000)
    expect(b.since(m).filter((l) => l.startsWith('a'))).toEqual([])
    expect(a.role()).toBe('follower')
  })

  test('the leader crashes: the browser hands the lock to the queued follower, which leads at once', () => {
    const b = browser()
    const a = b.tab('a')
    b.time.runUntil(100)
    const c = b.tab('c').election
    b.time.runUntil(1_200)
    a.crash()
    b.time.runUntil(1_200)
    expect(c.role()).toBe('leader')
    // The followed holder is gone (its pending acks will not come), then the new leader beats with the next term.
    expect(b.log.slice(-3)).toEqual(['c gone', 'c role leader', 'c post heartbeat 2'])
  })

  test('a silent holder: the follower steals only after missed beats (3 × 500 ms + its stagger), not before', () => {
    const b = browser()
    const holder = b.rogue('h')
    holder.take(false)
    b.time.runUntil(0)
    const c = b.tab('c').election
    b.time.runUntil(10)
    holder.post({ kind: 'heartbeat', from: 'h', term: 3 })
    b.time.runUntil(11) // heard at 11
    const deadline = 11 + 1_500 + staggerFor('c', 500)
    b.time.runUntil(deadline - 1)
    expect(c.role()).toBe('follower')
    expect(b.log).toEqual(['h acquired', 'c request'])
    b.time.runUntil(deadline)
    expect(b.log.slice(2, 5)).toEqual(['c gone', 'c release', 'c request steal'])
    b.time.runUntil(deadline + 1)
    expect(c.role()).toBe('leader')
    expect(b.log).toContain('h lost')
    expect(b.log).toContain('c post heartbeat 4')
  })

  test('a follower that never hears a beat counts from its start', () => {
    const b = browser()
    b.rogue('h').take(false)
    b.time.runUntil(1_000)
    const c = b.tab('c').election
    b.time.runUntil(1_000 + 1_500 + staggerFor('c', 500) - 1)
    expect(c.role()).toBe('follower')
    b.time.runUntil(1_000 + 1_500 + staggerFor('c', 500) + 1)
    expect(c.role()).toBe('leader')
    expect(b.log).not.toContain('c gone')
  })

  test('a leader whose lock is stolen becomes follower before anything else, then queues again', () => {
    const b = browser()
    const a = b.tab('a').election
    b.time.runUntil(200)
    const n = b.log.length
    b.rogue('r').take(true)
    b.time.runUntil(200)
    expect(a.role()).toBe('follower')
    expect(b.since(n).filter((l) => l.startsWith('a'))).toEqual(['a role follower', 'a request'])
    // Back in the queue, behind nobody: when the thief goes silent, it steals back.
    b.time.runUntil(5_000)
    expect(a.role()).toBe('leader')
  })

  test('a leader that hears a newer term steps down: follower first, then lets go, then queues again', () => {
    const b = browser()
    b.tab('a')
    b.time.runUntil(200)
    const n = b.log.length
    b.rogue('z').post({ kind: 'heartbeat', from: 'z', term: 9 })
    b.time.runUntil(201)
    expect(b.since(n)).toEqual([
      'a role follower',
      'a release',
      'a request',
      // That "leader" holds no lock: the queue grants it straight back, above the term it heard.
      'a gone',
      'a role leader',
      'a post heartbeat 10',
    ])
  })

  test('a leader frozen longer than followers wait steps down on waking, before it beats', () => {
    const b = browser()
    const a = b.tab('a').election
    b.time.runUntil(0)
    // Freeze: the clock jumps past the wait while the tab's tick has not run (the task runs late).
    const n = b.log.length
    b.freeze('a', 2_000)
    b.time.runUntil(2_000)
    expect(b.since(n)).toEqual([
      'a role follower',
      'a release',
      'a request',
      // Alone: granted again, with a new term.
      'a role leader',
      'a post heartbeat 2',
    ])
    expect(a.role()).toBe('leader')
  })

  test('a leader silent as long as followers wait is not sure it holds the lock until it has beaten again', () => {
    const b = browser()
    const a = b.tab('a').election
    expect(a.holds()).toBe(false)
    b.time.runUntil(0)
    expect(a.holds()).toBe(true)
    b.freeze('a', 5_000)
    b.time.runUntil(1_499)
    expect([a.role(), a.holds()]).toEqual(['leader', true])
    // Its tick has not run yet (the page hangs): a follower may have taken the lock, the news not in yet.
    b.time.runUntil(1_500)
    expect([a.role(), a.holds()]).toEqual(['leader', false])
    // Woken, it steps down and, alone, leads again on a new term, beating.
    b.time.runUntil(5_000)
    expect([a.role(), a.holds()]).toEqual(['leader', true])
  })

  test('with a lock that can tell: a frozen leader still holding it asks, keeps its socket and beats on', async () => {
    const b = browser()
    const a = b.tab('a', { verifiable: true }).election
    b.time.runUntil(0)
    const n = b.log.length
    // A lone hidden tab: its timers ran once a minute, nobody took the lock meanwhile.
    b.freeze('a', 60_000)
    b.time.runUntil(60_000)
    await Promise.resolve()
    b.time.runUntil(61_000)
    expect(b.since(n)).toEqual(['a verify', 'a post heartbeat 1', 'a post heartbeat 1', 'a post heartbeat 1'])
    expect(a.role()).toBe('leader')
  })

  test('with a lock that can tell: a frozen leader whose lock was taken meanwhile steps down once told', async () => {
    const b = browser()
    b.tab('a', { verifiable: true })
    b.time.runUntil(0)
    b.freeze('a', 5_000)
    b.time.runUntil(10)
    // Another page takes the lock while a sleeps: whichever comes first on waking (the loss, or the lock's answer),
    // a never beats again on that term and becomes a follower.
    b.rogue('z').take(true, () => 0)
    const n = b.log.length
    b.time.runUntil(5_000)
    await Promise.resolve()
    b.time.runUntil(5_001)
    const after = b.since(n)
    expect(after).toContain('a role follower')
    // Nothing on the old term before it let go (later it may steal from the silent page, on a new term).
    expect(after.slice(0, after.indexOf('a role follower'))).not.toContain('a post heartbeat 1')
    expect(after).not.toContain('a post heartbeat 1')
  })

  describe('whenHeld: called back once the tab surely holds the lock', () => {
    test('at once for a leader that beats; never for a follower', () => {
      const { b, a, c } = aLeadsCFollows()
      const calls: string[] = []
      a.whenHeld(() => calls.push('a'))
      c.whenHeld(() => calls.push('c'))
      b.time.runUntil(5_000)
      expect(calls).toEqual(['a'])
    })

    /** A leader whose page froze (timers stopped) longer than its followers wait; its lock can be asked. */
    const silentLeader = () => {
      const b = browser()
      const a = b.tab('a', { verifiable: true }).election
      b.time.runUntil(0)
      b.freeze('a', 60_000)
      b.time.runUntil(20_000)
      return { b, a }
    }

    test('a leader silent past the wait (its timers throttled) asks its lock now and is called back once it beats', async () => {
      const { b, a } = silentLeader()
      const n = b.log.length
      const calls: string[] = []
      a.whenHeld(() => calls.push(`held ${b.log.length - n}`))
      expect(calls).toEqual([])
      b.time.runUntil(20_000)
      await Promise.resolve()
      b.time.runUntil(20_000)
      // Called back after its beat: `holds()` is true again, and the followers heard it.
      expect(b.since(n)).toEqual(['a verify', 'a post heartbeat 1'])
      expect(calls).toEqual(['held 2'])
      expect(a.holds()).toBe(true)
    })

    test('a silent leader robbed meanwhile is never called back', async () => {
      const { b, a } = silentLeader()
      // Another page takes the lock, the news not in yet when a is asked (whichever comes first: the loss, the answer).
      b.rogue('z').take(true, () => 0)
      const calls: string[] = []
      a.whenHeld(() => calls.push('held'))
      b.time.runUntil(20_000)
      await Promise.resolve()
      b.time.runUntil(20_000)
      expect(a.role()).toBe('follower')
      // Not either once it leads again on a term of its own (it steals from the silent page when it thaws).
      b.time.runUntil(61_000)
      expect(calls).toEqual([])
    })

    test('with a lock that cannot tell, a silent leader steps down at once (as at its tick) and is never called back', () => {
      const b = browser()
      const a = b.tab('a').election
      b.time.runUntil(0)
      b.freeze('a', 60_000)
      b.time.runUntil(20_000)
      const n = b.log.length
      const calls: string[] = []
      a.whenHeld(() => calls.push('held'))
      expect(b.since(n).slice(0, 2)).toEqual(['a role follower', 'a release'])
      b.time.runUntil(61_000)
      expect(calls).toEqual([])
    })
  })

  test('stop on a follower leaves the queue and its timer: nothing more happens', () => {
    const b = browser()
    b.tab('a')
    b.time.runUntil(100)
    const c = b.tab('c').election
    b.time.runUntil(200)
    c.stop()
    expect(b.lock.waiting(NAME)).toEqual([])
    const n = b.log.length
    b.time.runUntil(20_000)
    expect(b.since(n).filter((l) => l.startsWith('c'))).toEqual([])
  })

  test('the leader leaves (socket/disconnect): follower first, resigns, lets go; the next tab leads at once; join queues it again', () => {
    const { b, a, c } = aLeadsCFollows()
    const n = b.log.length
    a.leave()
    expect(a.role()).toBe('follower')
    expect(b.since(n)).toEqual(['a role follower', 'a post resign 1', 'a release'])
    expectCLeadsAtOnce(b, c, n + 3)
    // Aside, it asks for nothing and steals nothing, however long the others beat (or fall silent).
    a.leave()
    b.time.runUntil(10_000)
    expect(b.log.filter((l, i) => i >= n + 3 && l.startsWith('a'))).toEqual([])
    expect(b.lock.waiting(NAME)).toEqual([])
    // Back in: behind the holder, as a follower; it leads next, with a term above every one it heard meanwhile.
    a.join()
    a.join()
    expect(b.lock.waiting(NAME)).toEqual(['a'])
    c.stop()
    b.time.runUntil(10_001)
    expect(a.role()).toBe('leader')
    expect(b.log.slice(-2)).toEqual(['a role leader', 'a post heartbeat 3'])
  })

  test('a follower that leaves gives its place in the queue up: a holder that goes hands the lock to another tab', () => {
    const b = browser()
    const a = b.tab('a').election
    b.time.runUntil(100)
    const c = b.tab('c').election
    const d = b.tab('d').election
    b.time.runUntil(200)
    expect(b.lock.waiting(NAME)).toEqual(['c', 'd'])
    c.leave()
    expect(b.lock.waiting(NAME)).toEqual(['d'])
    a.stop()
    b.time.runUntil(5_000)
    expect([c.role(), d.role()]).toEqual(['follower', 'leader'])
    expect(b.log.filter((l) => l.startsWith('c'))).toEqual(['c request', 'c release'])
  })

  test('only the injected timers are used', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout')
    const b = browser()
    const elections: Election[] = [b.tab('a').election, b.tab('c').election]
    b.time.runUntil(5_000)
    for (const e of elections) e.stop()
    expect(spy).not.toHaveBeenCalled()
  })
})
