import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { createElection, type Election } from '../../../src/realtime/tabs/election'
import { createMemoryChannelBus } from '../../../src/realtime/tabs/memoryChannel'
import type { TabChannel, TabLock } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import type { Timers } from '../../../src/realtime/timers'
import { createVirtualTime, seededRandom } from './support/virtualTime'

const NAME = 'talemy.socket'
const HEARTBEAT_MS = 500
const MISSED_BEATS = 3
/** From the moment no live tab leads, some live tab leads within: the followers' wait, its stagger (< one beat), and
 * a few ms of delivery. */
const LEADERLESS_BOUND_MS = MISSED_BEATS * HEARTBEAT_MS + HEARTBEAT_MS + 10

interface SimTab {
  id: string
  election: Election
  startedAt: number
  wokeAt: number
  closed: boolean
  hung: boolean
  /** What a hung page would run, in order, once it wakes. */
  inbox: (() => void)[]
  /** Losses of the lock the tab has not heard of yet. */
  lostPending: number
  /** Set on waking from a freeze during which its lock was stolen: its next act must be to become a follower. */
  mustFollowFirst: boolean
  /** When it last posted a heartbeat. */
  lastBeatAt: number
  leaderCalls: number
  followerCalls: number
  goneCalls: number
  /** The page goes away: the browser frees its lock, its channel and timers are gone. */
  close(): void
}

interface Counters {
  closes: number
  hangs: number
  stolenWhileHung: number
  stolenByLoss: number
  steals: number
  lost: number
  leaderChanges: number
}

/**
 * A browser with tabs on one virtual clock: the memory lock (released by the "browser" when a tab closes), the memory
 * channel (1 ms per message, optionally lossy), and pages that can crash, close, or hang (a hung page runs nothing; its
 * timers, messages and lock callbacks wait in order until it wakes, as in a real event loop).
 */
function simulate(seed: number, options: { tabs: number; durationMs: number; failures: boolean }) {
  const random = seededRandom(seed)
  const time = createVirtualTime()
  const lock = createMemoryTabLock({ deliver: (fn) => fn() })
  let lossRate = 0
  const counters: Counters = {
    closes: 0,
    hangs: 0,
    stolenWhileHung: 0,
    stolenByLoss: 0,
    steals: 0,
    lost: 0,
    leaderChanges: 0,
  }
  const bus = createMemoryChannelBus({
    deliver: (fn) => time.after(1, fn),
    drop: () => {
      const dropped = lossRate > 0 && random() < lossRate
      if (dropped) counters.lost++
      return dropped
    },
  })
  const tabs: SimTab[] = []
  let nextId = 0

  const run = (tab: SimTab, fn: () => void) => {
    if (tab.closed) return
    if (tab.hung) tab.inbox.push(fn)
    else fn()
  }

  /** Every act of a tab goes through here: (c) a woken holder robbed of its lock becomes a follower before anything. */
  const act = (tab: SimTab, what: string) => {
    if (tab.mustFollowFirst) {
      expect(what, `${tab.id} acted before stepping down after its freeze`).toBe('role follower')
      tab.mustFollowFirst = false
    }
  }

  function open() {
    const id = `t${String(nextId++).padStart(2, '0')}`
    const inner = bus.channel()
    const tab: SimTab = {
      id,
      election: undefined as unknown as Election,
      startedAt: time.now(),
      wokeAt: 0,
      closed: false,
      hung: false,
      inbox: [],
      lostPending: 0,
      mustFollowFirst: false,
      lastBeatAt: 0,
      leaderCalls: 0,
      followerCalls: 0,
      goneCalls: 0,
      close: () => {},
    }
    const channel: TabChannel = {
      post(message) {
        act(tab, `post ${message.kind}`)
        if (message.kind === 'heartbeat') tab.lastBeatAt = time.now()
        inner.post(message)
      },
      subscribe: (listener) => inner.subscribe((message) => run(tab, () => listener(message))),
      close: inner.close,
    }
    const tabLock: TabLock = {
      request(name, opts, handlers) {
        act(tab, 'request')
        if (opts.steal) counters.steals++
        const giveUp = lock.tab(id).request(name, opts, {
          onAcquired: () => time.after(0, () => run(tab, handlers.onAcquired)),
          onLost: () => {
            tab.lostPending++
            time.after(0, () =>
              run(tab, () => {
                tab.lostPending--
                handlers.onLost()
              }),
            )
          },
        })
        return () => {
          act(tab, 'release')
          giveUp()
        }
      },
    }
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        const handle = { cancelled: false, task: null as unknown }
        handle.task = time.after(ms, () => run(tab, () => !handle.cancelled && fn()))
        return handle
      },
      clearTimeout: (handle) => {
        ;(handle as { cancelled: boolean }).cancelled = true
      },
    }
    tab.election = createElection({
      tabId: id,
      name: NAME,
      channel,
      lock: tabLock,
      timers,
      now: time.now,
      heartbeatMs: HEARTBEAT_MS,
      missedBeats: MISSED_BEATS,
      onRole: (role) => {
        act(tab, `role ${role}`)
        if (role === 'leader') tab.leaderCalls++
        else tab.followerCalls++
      },
      onLeaderGone: () => {
        act(tab, 'gone')
        tab.goneCalls++
      },
    })
    tab.close = () => {
      tab.closed = true
      tab.inbox = []
      lock.closeTab(id)
      inner.close()
    }
    tabs.push(tab)
    return tab
  }

  const live = () => tabs.filter((t) => !t.closed)
  const awake = () => live().filter((t) => !t.hung)
  const leaderOf = (list: SimTab[]) => list.find((t) => t.election.role() === 'leader' && lock.holder(NAME) === t.id)

  function hang(tab: SimTab, ms: number) {
    counters.hangs++
    tab.hung = true
    time.after(ms, () => {
      if (tab.closed || !tab.hung) return
      tab.hung = false
      tab.wokeAt = time.now()
      // Robbed because of its silence (it beat last as long ago as followers wait): it must step down before it acts.
      // A holder robbed sooner (its beats were lost) hears of it with the loss in its inbox, like any live holder: (a).
      if (tab.election.role() === 'leader' && lock.holder(NAME) !== tab.id) {
        if (time.now() - tab.lastBeatAt >= MISSED_BEATS * HEARTBEAT_MS) {
          counters.stolenWhileHung++
          tab.mustFollowFirst = true
        } else counters.stolenByLoss++
      }
      const inbox = tab.inbox
      tab.inbox = []
      for (const fn of inbox) fn()
    })
  }

  function disturb() {
    const choice = random()
    const candidates = live()
    const leader = leaderOf(candidates)
    if (choice < 0.25 && candidates.length > 1) {
      // Close a tab (the leader more often): gracefully (pagehide: stop, then the browser frees the lock) or a crash.
      const tab = leader && random() < 0.6 ? leader : candidates[Math.floor(random() * candidates.length)]!
      counters.closes++
      if (!tab.hung && random() < 0.5) tab.election.stop()
      tab.close()
    } else if (choice < 0.5) {
      const tab = leader && random() < 0.7 ? leader : candidates[Math.floor(random() * candidates.length)]!
      if (!tab.hung) hang(tab, 100 + Math.floor(random() * 5_000))
    } else if (choice < 0.6 && candidates.length < 10) {
      open()
    } else if (choice < 0.8) {
      lossRate = random() < 0.5 ? 0 : random() * 0.5
    }
    // else: a quiet spell
  }

  // The invariants, checked after every task.
  let leaderlessSince: number | null = null
  let lastLeader: string | null = null
  let notLeaderHolder: { id: string; since: number } | null = null
  function check() {
    const now = time.now()
    // (a) A tab that thinks it leads holds the lock, or the news of its loss is on its way (it has not run since).
    for (const tab of live()) {
      if (tab.election.role() !== 'leader') continue
      expect(
        lock.holder(NAME) === tab.id || tab.lostPending > 0,
        `${tab.id} leads at ${now} without the lock (holder ${lock.holder(NAME)})`,
      ).toBe(true)
    }
    // (b) Some awake tab leads within the bound, counted from when leadership went missing (or, for a tab that
    // started or woke since, from that moment: its own clock starts there).
    const leader = leaderOf(awake())
    if (leader || awake().length === 0) leaderlessSince = null
    else {
      leaderlessSince ??= now
      const waited = Math.min(...awake().map((t) => now - Math.max(leaderlessSince!, t.startedAt, t.wokeAt)))
      expect(waited, `no leader among awake tabs at ${now}`).toBeLessThanOrEqual(LEADERLESS_BOUND_MS)
    }
    if (leader && leader.id !== lastLeader) {
      counters.leaderChanges++
      lastLeader = leader.id
    }
    // The lock is never lost track of: an awake holder leads at once (no grant is dropped on the floor).
    const holder = tabs.find((t) => t.id === lock.holder(NAME))
    if (holder && !holder.closed && !holder.hung && holder.election.role() !== 'leader') {
      if (notLeaderHolder?.id !== holder.id) notLeaderHolder = { id: holder.id, since: now }
      expect(now - notLeaderHolder.since, `${holder.id} holds the lock without leading`).toBeLessThanOrEqual(1)
    } else notLeaderHolder = null
  }

  for (let i = 0; i < options.tabs; i++) time.after(Math.floor(random() * 3_000), open)
  if (options.failures) {
    for (let at = 4_000; at < options.durationMs; at += 200 + Math.floor(random() * 3_000)) time.at(at, disturb)
  }
  time.runUntil(options.durationMs, check)
  return { tabs, counters }
}

describe('the election, simulated', () => {
  test('random closes, hangs and lost messages: (a) one holder acts as leader, (b) a live leader within the bound, (c) a robbed holder steps down first', () => {
    const totals: Counters = {
      closes: 0,
      hangs: 0,
      stolenWhileHung: 0,
      stolenByLoss: 0,
      steals: 0,
      lost: 0,
      leaderChanges: 0,
    }
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 10 }), fc.integer(), (tabs, seed) => {
        const { counters } = simulate(seed, { tabs, durationMs: 90_000, failures: true })
        for (const key of Object.keys(totals) as (keyof Counters)[]) totals[key] += counters[key]
      }),
      { numRuns: 40 },
    )
    // The runs did go through the failures the invariants are about.
    expect(totals.closes).toBeGreaterThan(50)
    expect(totals.hangs).toBeGreaterThan(50)
    expect(totals.stolenWhileHung).toBeGreaterThan(5)
    expect(totals.steals).toBeGreaterThan(20)
    expect(totals.lost).toBeGreaterThan(100)
  })

  test('(d) nothing fails: the first tab leads for the whole run, nobody steps down, steals, or hears it gone', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 10 }), fc.integer(), (count, seed) => {
        const { tabs, counters } = simulate(seed, { tabs: count, durationMs: 10 * 60_000, failures: false })
        const first = [...tabs].sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id))[0]!
        expect(tabs.map((t) => t.leaderCalls)).toEqual(tabs.map((t) => (t === first ? 1 : 0)))
        expect(first.election.role()).toBe('leader')
        expect(tabs.every((t) => t.followerCalls === 0 && t.goneCalls === 0)).toBe(true)
        expect(counters.steals).toBe(0)
        expect(counters.leaderChanges).toBe(1)
      }),
      { numRuns: 15 },
    )
  })
})
