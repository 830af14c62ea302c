import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createMemoryChannelBus } from '../../../src/realtime/tabs/memoryChannel'
import type { TabLock } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { createTabsLink, type TabsLink } from '../../../src/realtime/tabs/tabsLink'
import type { Timers } from '../../../src/realtime/timers'
import { fakeVisibility } from './support/tabBus'

// Every tab of a browser in the background: the browser runs a hidden page's chained timers about once a minute
// (Chrome's intensive throttling), while channel messages still arrive. Two tabs through `createTabsLink` (as the
// middleware builds them) on the in-memory lock and channel, with fake timers.

const NAME = 'talemy.socket.x'
const HEARTBEAT_MS = 500
const MISSED_BEATS = 3
const MINUTE = 60_000

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(0)
})
afterEach(() => vi.useRealTimers())

function aBrowser() {
  const lock = createMemoryTabLock()
  const bus = createMemoryChannelBus()
  let steals = 0

  /**
   * `throttled`: while the page is hidden, its timers run once a minute, on the minute plus `phaseMs` (each page has
   * its own: the browser aligns a page's wake-ups, not every page's to one moment).
   */
  function openTab(tabId: string, { throttled = true, phaseMs = 0 } = {}) {
    const visibility = fakeVisibility(true)
    const roles: string[] = []
    let crashed = false
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        const due = Date.now() + ms
        const at = throttled && !visibility.visible() ? Math.ceil((due - phaseMs) / MINUTE) * MINUTE + phaseMs : due
        return setTimeout(() => crashed || hung || fn(), at - Date.now())
      },
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    }
    let hung = false
    const mine = lock.tab(tabId)
    const counted: TabLock = {
      ...mine,
      request(name, options, handlers) {
        if (options.steal) steals++
        return mine.request(name, options, handlers)
      },
    }
    const channel = bus.channel()
    const link: TabsLink = createTabsLink(
      {
        channelName: 'x',
        channel,
        lock: counted,
        visibility,
        tabId,
        heartbeatMs: HEARTBEAT_MS,
        missedBeats: MISSED_BEATS,
      },
      {
        timers,
        now: () => Date.now(),
        backoff: { baseMs: 10, capMs: 20 },
        random: () => 0.5,
        onRole: (role) => roles.push(role),
      },
    )
    return {
      link,
      visibility,
      roles,
      /** The page hangs (its main thread blocked, or frozen) and never wakes: nothing runs, nothing is said or heard, its lock is kept. */
      hang() {
        hung = true
        channel.close()
      },
      /** The page is gone: the browser frees its lock, its channel and timers are gone, nothing is said. */
      crash() {
        crashed = true
        lock.closeTab(tabId)
        channel.close()
      },
    }
  }

  return { lock, openTab, steals: () => steals }
}

/** Tab a holds the lock, tab b follows it; then both pages are hidden (at 1 s). */
async function twoHiddenTabs(options: { followerThrottled: boolean }) {
  const browser = aBrowser()
  const a = browser.openTab('a')
  await vi.advanceTimersByTimeAsync(100)
  const b = browser.openTab('b', { throttled: options.followerThrottled, phaseMs: 20_000 })
  await vi.advanceTimersByTimeAsync(900)
  expect([a.link.role(), b.link.role(), browser.lock.holder(NAME)]).toEqual(['leader', 'follower', 'a'])
  a.visibility.set(false)
  b.visibility.set(false)
  return { browser, a, b }
}

describe('every tab hidden: the holder beats about once a minute', () => {
  test.each([
    ['the follower’s timers throttled as well (20 s out of phase with the holder’s)', true],
    ['the follower’s timers running', false],
  ])('%s: the lock stays put; the follower shown takes it once, a beat later', async (_name, followerThrottled) => {
    const { browser, a, b } = await twoHiddenTabs({ followerThrottled })

    await vi.advanceTimersByTimeAsync(5 * MINUTE)
    expect({ holder: browser.lock.holder(NAME), steals: browser.steals(), a: a.roles, b: b.roles }).toEqual({
      holder: 'a',
      steals: 0,
      a: ['leader'],
      b: [],
    })

    // Someone looks at b, half a minute after a's last beat: a may be hung, and b is the tab in use.
    await vi.advanceTimersByTimeAsync(30_000)
    // It gives a's beats one beat to come (a page frozen in the background may see them after it is shown).
    b.visibility.set(true)
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS - 1)
    expect(browser.lock.holder(NAME)).toBe('a')
    await vi.advanceTimersByTimeAsync(2)
    expect([browser.lock.holder(NAME), b.link.role(), a.link.role()]).toEqual(['b', 'leader', 'follower'])

    // a, hidden and robbed, follows b and does not take it back.
    await vi.advanceTimersByTimeAsync(5 * MINUTE)
    expect({ holder: browser.lock.holder(NAME), steals: browser.steals(), a: a.roles, b: b.roles }).toEqual({
      holder: 'b',
      steals: 1,
      a: ['leader', 'follower'],
      b: ['leader'],
    })

    // The election watches the page while it runs, and stops watching when it stops.
    expect([a.visibility.subscribers(), b.visibility.subscribers()]).toEqual([1, 1])
    a.link.stop()
    b.link.stop()
    expect([a.visibility.subscribers(), b.visibility.subscribers()]).toEqual([0, 0])
  })

  test('shown soon after the holder beat: the follower waits out the rest of the wait, then takes the lock', async () => {
    const { browser, a, b } = await twoHiddenTabs({ followerThrottled: true })
    await vi.advanceTimersByTimeAsync(2 * MINUTE - 1_000 + 10)
    // a beat at 2 min, 10 ms ago.
    b.visibility.set(true)
    await vi.advanceTimersByTimeAsync(MISSED_BEATS * HEARTBEAT_MS - 100)
    expect(browser.lock.holder(NAME)).toBe('a')
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS + 100)
    expect([browser.lock.holder(NAME), browser.steals(), a.roles, b.roles]).toEqual([
      'b',
      1,
      ['leader', 'follower'],
      ['leader'],
    ])
  })

  test('the holder crashes while the follower is hidden: the follower gets the lock from the queue, at once', async () => {
    const { browser, a, b } = await twoHiddenTabs({ followerThrottled: false })
    await vi.advanceTimersByTimeAsync(2 * MINUTE + 10_000)
    expect(browser.lock.holder(NAME)).toBe('a')

    a.crash()
    await vi.advanceTimersByTimeAsync(1)
    expect([browser.lock.holder(NAME), b.link.role(), b.roles, browser.steals()]).toEqual([
      'b',
      'leader',
      ['leader'],
      0,
    ])

    await vi.advanceTimersByTimeAsync(3 * MINUTE)
    expect([browser.lock.holder(NAME), b.roles, browser.steals()]).toEqual(['b', ['leader'], 0])
  })

  // A hung page keeps its lock (the browser frees it only when the page goes), so no tab would get it from the queue.
  test.each([
    ['hidden', false],
    ['visible', true],
  ])(
    'the holder (%s) hangs: the hidden follower takes the lock once it has been silent 150 s, unshown',
    async (_name, holderVisible) => {
      const { browser, a, b } = await twoHiddenTabs({ followerThrottled: true })
      a.visibility.set(holderVisible)
      await vi.advanceTimersByTimeAsync(MINUTE)
      a.hang()
      // Silent for less than 150 s: as a throttled holder may be (its beats about a minute apart).
      await vi.advanceTimersByTimeAsync(2 * MINUTE)
      expect([browser.lock.holder(NAME), browser.steals(), b.roles]).toEqual(['a', 0, []])
      // Past it: taken, on the follower's next (throttled) wake-up, once.
      await vi.advanceTimersByTimeAsync(2 * MINUTE)
      expect([browser.lock.holder(NAME), browser.steals(), b.roles, b.link.role()]).toEqual([
        'b',
        1,
        ['leader'],
        'leader',
      ])
      await vi.advanceTimersByTimeAsync(5 * MINUTE)
      expect([browser.lock.holder(NAME), browser.steals()]).toEqual(['b', 1])
    },
  )

  // Tab n, opened while every other tab is hidden, never heard a's beats (a minute apart): it takes the lock from a with
  // the term a has (1), from a larger tab id, so its beats are stale to b, which follows a.
  test('a tab opened meanwhile takes the lock from the throttled holder: the hidden follower follows it, never robs it', async () => {
    const { browser, a, b } = await twoHiddenTabs({ followerThrottled: true })
    await vi.advanceTimersByTimeAsync(5 * MINUTE + 100)
    expect(browser.lock.holder(NAME)).toBe('a')
    const n = browser.openTab('n')
    await vi.advanceTimersByTimeAsync(MINUTE)
    expect([browser.lock.holder(NAME), browser.steals(), n.roles, a.roles]).toEqual([
      'n',
      1,
      ['leader'],
      ['leader', 'follower'],
    ])
    // n beats, in sight, for ten minutes: the socket stays with it (each steal is a new socket for every tab).
    await vi.advanceTimersByTimeAsync(10 * MINUTE)
    expect({ holder: browser.lock.holder(NAME), steals: browser.steals(), b: b.roles, n: n.roles }).toEqual({
      holder: 'n',
      steals: 1,
      b: [],
      n: ['leader'],
    })
  })
})
