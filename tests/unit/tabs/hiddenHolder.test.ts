import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import type { TabMessage } from '../../../src/realtime/tabs/protocol'
import { aBrowser, connectedTabs, HEARTBEAT_MS, serve, settle, type Tab } from './support/tabStores'

// A holder in the background, with every tab hidden: the browser runs each page's timers once a minute, so the
// holder's last beat is tens of seconds old most of the time, and nobody takes the lock from it (a hidden follower
// waits 150 s). Unlike a holder robbed while its page hung (robbedHolder.test.ts), it holds the lock: once its socket
// is back it says `up`, after asking the lock, and the followers attach at once. Stores with the real middleware, fake
// sockets, the in-memory channel and lock, on fake timers, each page's throttled as Chrome's (`pageTimers`).

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

test('a hidden holder, its beats throttled, whose socket drops and comes back says `up` after its lock answers: a follower attaches at once', async () => {
  const b = aBrowser({ throttled: true })
  // What the holder's page does on the channel and asks its lock, in order.
  const seen: string[] = []
  const tab = b.edges.tab
  b.edges.tab = (tabId) => {
    const own = tab(tabId)
    if (tabId !== 'a') return own
    return {
      channel: { ...own.channel, post: (message: TabMessage) => (seen.push(message.kind), own.channel.post(message)) },
      lock: { ...own.lock, held: (name: string) => (seen.push('query'), own.lock.held!(name)) },
    }
  }
  const [holder, follower] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  holder.visibility.set(false)
  follower.visibility.set(false)
  // Past the next whole minute, when the holder beat (having asked its lock), and 20 s on: no beat since.
  await settle(60_000 - (Date.now() % 60_000) + 1_000)
  await settle(20_000)
  expect([holder, follower].map((t) => [t.conn().role, t.conn().status])).toEqual([
    ['leader', 'connected'],
    ['follower', 'connected'],
  ])

  // A network blip: the server's end of the socket goes; the follower hears `down` and waits for its next try, on its
  // page's timer (the next whole minute). The holder's page tries again at once (the network back).
  const socket = holder.own.at(-1)!
  socket.serverDrop('transport close')
  await settle()
  expect(follower.conn().status).toBe('reconnecting')
  const from = seen.length
  holder.triggers.fire('online')
  await settle()
  serve(socket, 'sock-2', 3)
  await settle(HEARTBEAT_MS)
  expect(holder.conn()).toMatchObject({ role: 'leader', status: 'connected' })
  expect(follower.conn()).toMatchObject({ role: 'follower', status: 'connected', socketId: 'sock-2' })
  // Its lock asked, it beat, said `up`, and answered the follower's attach.
  expect(seen.slice(from)).toEqual(['query', 'heartbeat', 'up', 'attached'])
  expect(Date.now() % 60_000).toBeLessThan(30_000)
})
