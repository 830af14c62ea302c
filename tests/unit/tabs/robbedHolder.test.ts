import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { hangable } from './support/hangable'
import { aBrowser, connectedTabs, HEARTBEAT_MS, serve, settle, type Tab } from './support/tabStores'

// A holder whose page hung (or slept) while the tabs around it ran on is robbed of the lock: a follower took it from
// the silent holder and holds the browser's socket now. Woken, the robbed tab hears of its loss (the lock's word, the
// new holder's beats, its own check of the lock) as tasks of its page, which may come after its own overdue ones: its
// wake watch, which finds its socket silent past the server's heartbeat and makes a new one. Stores with the real
// middleware, fake sockets, the in-memory channel and lock, on fake timers; what reaches the hung tab is held until it
// wakes.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

test('a holder robbed while hung, woken before it hears of its loss, does not draw the followers off the new holder', async () => {
  const b = aBrowser()
  const page = hangable(b, 'a')
  const [robbed, ...others] = (await connectedTabs(b, ['a', 'b', 'c'])) as [Tab, Tab, Tab]
  robbed.own[0]!.io.fire('ping')

  // The browser sleeps; every page wakes but 'a', which hangs on: another tab takes the lock from it.
  page.hang()
  vi.setSystemTime(Date.now() + 10 * 60_000)
  await settle(HEARTBEAT_MS)
  const holder = others.find((t) => t.conn().role === 'leader')!
  const follower = others.find((t) => t !== holder)!
  serve(holder.own.at(-1)!, 'sock-2', 3)
  await settle(2 * HEARTBEAT_MS)
  expect([holder, follower].map((t) => [t.conn().role, t.conn().status])).toEqual([
    ['leader', 'connected'],
    ['follower', 'connected'],
  ])
  const seen = follower.actions.length

  // 'a' wakes: its wake watch, overdue, runs before the news of its loss.
  page.wake(() => robbed.triggers.fire('wake'))
  await settle(3 * HEARTBEAT_MS)
  expect(robbed.conn().role).toBe('follower')
  expect(follower.actions.slice(seen).map((a) => a.type)).not.toContain('socket/disconnected')
  expect(follower.conn().status).toBe('connected')
})
