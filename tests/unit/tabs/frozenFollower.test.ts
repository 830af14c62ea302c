import { expect, test } from 'vitest'
import { createElection } from '../../../src/realtime/tabs/election'
import { createMemoryChannelBus } from '../../../src/realtime/tabs/memoryChannel'
import type { TabLock, Visibility } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { freezablePage } from './support/freezablePage'
import { createVirtualTime } from './support/virtualTime'

// A follower whose page was busy (a long task, a GC, the OS not scheduling it) past the wait runs its overdue steal
// timer and the holder's beats queued meanwhile on the channel in an order the browser does not promise (timers and
// messages are different task sources): here the worst one, its timers first. The real election on a virtual clock;
// the lock answers in a task of its own, the channel takes 1 ms.

const NAME = 'talemy.socket'
const HEARTBEAT_MS = 500

function browser() {
  const time = createVirtualTime()
  const lock = createMemoryTabLock({ deliver: (fn) => time.after(0, fn) })
  const bus = createMemoryChannelBus({ deliver: (fn) => time.after(1, fn) })
  /** What the tabs did, stamped with the clock: `1500 f request steal`. */
  const log: string[] = []
  const say = (what: string) => log.push(`${time.now()} ${what}`)

  /**
   * Tab `id`, whose page can freeze: its timers and what reaches it wait until it thaws, then run timers first.
   * `roleMs`: how long its page is busy taking a role (its clock runs on meanwhile).
   */
  function tab(id: string, visibility?: Visibility, roleMs = 0) {
    /** How far its clock ran in its own synchronous work: what comes after runs that much later. */
    let busy = 0
    const page = freezablePage(time, bus.channel())
    const tabLock: TabLock = {
      request(name, options, handlers) {
        say(`${id} request${options.steal ? ' steal' : ''}`)
        return lock.tab(id).request(name, options, handlers)
      },
    }
    const election = createElection({
      tabId: id,
      name: NAME,
      channel: page.channel,
      lock: tabLock,
      timers: page.timers,
      now: () => time.now() + busy,
      heartbeatMs: HEARTBEAT_MS,
      onRole: (role) => {
        say(`${id} role ${role}`)
        busy += roleMs
      },
      onLeaderGone: () => say(`${id} gone`),
      ...(visibility ? { visibility } : {}),
    })
    return {
      election,
      /** `first`: what the page does on thawing before its timers and messages run (it is shown, say). */
      freeze: page.freeze,
    }
  }

  return { time, lock, log, tab, bus }
}

test('a follower frozen past the wait while the holder beats does not take the lock from it on waking', () => {
  const b = browser()
  const holder = b.tab('a').election
  b.time.runUntil(100)
  const follower = b.tab('f')
  b.time.runUntil(1_000)
  // Frozen from 1000 ms (the beat posted then waits for it) to 4000 ms: well past 3 beats and its stagger.
  follower.freeze(3_000)
  b.time.runUntil(10_000)
  expect(b.log).toEqual(['0 a request', '0 a role leader', '100 f request'])
  expect([holder.role(), follower.election.role()]).toEqual(['leader', 'follower'])
})

test('a follower frozen past the wait takes the lock from a holder still silent one beat after it woke', () => {
  const b = browser()
  const silent = b.bus.channel()
  b.lock.tab('h').request(NAME, { steal: false }, { onAcquired: () => {}, onLost: () => {} })
  b.time.runUntil(0)
  const follower = b.tab('f')
  b.time.runUntil(10)
  silent.post({ kind: 'heartbeat', from: 'h', term: 3 })
  b.time.runUntil(100)
  // The holder hangs for good; the follower, frozen till 5000 ms, hears nothing queued when it wakes.
  follower.freeze(4_900)
  b.time.runUntil(5_000 + HEARTBEAT_MS - 1)
  expect(b.log).toEqual(['0 f request'])
  b.time.runUntil(5_000 + HEARTBEAT_MS + 1)
  expect(b.log).toEqual(['0 f request', '5500 f gone', '5500 f request steal', '5500 f role leader'])
  expect(follower.election.role()).toBe('leader')
})

test('a follower frozen from before the first missed beat until just past its deadline does not take the lock either', () => {
  const b = browser()
  const holder = b.tab('a').election
  b.time.runUntil(100)
  const follower = b.tab('f')
  b.time.runUntil(1_800)
  // Its deadline is 3102 ms (the beat of 1500 ms heard at 1501, 3 beats and its stagger of 101 ms): frozen from 1800 ms
  // (the beats of 2000, 2500 and 3000 ms wait for it) till 3110 ms, its timer runs a few ms past it.
  follower.freeze(1_310)
  b.time.runUntil(10_000)
  expect(b.log).toEqual(['0 a request', '0 a role leader', '100 f request'])
  expect([holder.role(), follower.election.role()]).toEqual(['leader', 'follower'])
})

test('a hidden follower frozen by the browser, shown while the holder beats, does not take the lock from it', () => {
  const b = browser()
  const holder = b.tab('a').election
  b.time.runUntil(100)
  let visible = false
  const watchers = new Set<() => void>()
  const follower = b.tab('f', {
    visible: () => visible,
    subscribe: (listener) => {
      watchers.add(listener)
      return () => watchers.delete(listener)
    },
  })
  b.time.runUntil(1_000)
  // Frozen in the background (within its hidden wait) from 1000 to 30000 ms; it thaws as the user shows it, and the
  // page's visibilitychange runs before the beats queued meanwhile (again an order the browser does not promise).
  follower.freeze(29_000, () => {
    visible = true
    for (const listener of [...watchers]) listener()
  })
  b.time.runUntil(40_000)
  expect(b.log).toEqual(['0 a request', '0 a role leader', '100 f request'])
  expect([holder.role(), follower.election.role()]).toEqual(['leader', 'follower'])
})

test('a holder robbed, frozen again as it took its follower role, does not rob the new holder on waking', () => {
  const b = browser()
  // Taking the follower's role (its hub and socket closed, a proxy made) keeps its page busy for 5 ms.
  const a = b.tab('a', undefined, 5)
  b.time.runUntil(1_000)
  // Another tab takes the lock (it found `a` silent): `a` hears of its loss and follows, waiting for the new holder.
  const beats = b.bus.channel()
  b.lock.tab('h').request(NAME, { steal: true }, { onAcquired: () => {}, onLost: () => {} })
  b.time.runUntil(1_000)
  // Its page freezes again at once, till 4000 ms, while `h` beats from 1000 ms.
  a.freeze(3_000)
  const beat = () => {
    beats.post({ kind: 'heartbeat', from: 'h', term: 5 })
    b.time.after(HEARTBEAT_MS, beat)
  }
  beat()
  b.time.runUntil(10_000)
  expect(b.log).toEqual(['0 a request', '0 a role leader', '1000 a role follower', '1000 a request'])
  expect(a.election.role()).toBe('follower')
})
