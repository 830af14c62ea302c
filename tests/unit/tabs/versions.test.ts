import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { browserTabs } from '../../../src/realtime/tabs/browserTabs'
import { TAB_PROTOCOL, type TabChannel, type TabMessage } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { createTabsLink, type TabsOptions } from '../../../src/realtime/tabs/tabsLink'
import { settle } from './support/tabStores'

// Two versions of the app in two tabs of one browser (a deploy): the page's edges (`browserTabs`) over one origin's
// BroadcastChannels and locks. The other version is this code built with the next protocol number, whose heartbeat
// carries its term under another name: neither can read the other's.

const HEARTBEAT_MS = 100

/** The origin's BroadcastChannels: a post reaches the other open channels of the same name, as a structured copy. */
class MemoryBroadcastChannel {
  static open = new Set<MemoryBroadcastChannel>()
  onmessage: ((event: { data: unknown }) => void) | null = null
  constructor(readonly name: string) {
    MemoryBroadcastChannel.open.add(this)
  }
  postMessage(data: unknown) {
    for (const other of MemoryBroadcastChannel.open) {
      if (other === this || other.name !== this.name) continue
      const copy = structuredClone(data)
      queueMicrotask(() => other.onmessage?.({ data: copy }))
    }
  }
  close() {
    MemoryBroadcastChannel.open.delete(this)
  }
}

/** The other version's channel: its heartbeat says `beat` where this one says `term`, and it cannot read this one's. */
function otherShapes(channel: TabChannel): TabChannel {
  return {
    ...channel,
    post: (message) =>
      channel.post(
        message.kind === 'heartbeat'
          ? ({ kind: 'heartbeat', from: message.from, beat: message.term } as never)
          : message,
      ),
    subscribe: (listener) =>
      channel.subscribe((message: TabMessage) => {
        if (message.kind !== 'heartbeat' && message.kind !== 'resign') listener(message)
      }),
  }
}

beforeEach(() => {
  vi.useFakeTimers()
  vi.stubGlobal('navigator', { locks: { request: () => new Promise(() => {}) } })
  vi.stubGlobal('BroadcastChannel', MemoryBroadcastChannel)
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  vi.doUnmock('../../../src/realtime/tabs/protocol')
  vi.resetModules()
})

describe('two versions of the app in one browser (a deploy)', () => {
  test('each version elects its own holder, and neither takes the lock from the other', async () => {
    vi.resetModules()
    vi.doMock('../../../src/realtime/tabs/protocol', async (original) => ({
      ...(await original<object>()),
      TAB_PROTOCOL: TAB_PROTOCOL + 1,
    }))
    const next = {
      ...(await import('../../../src/realtime/tabs/browserTabs')),
      ...(await import('../../../src/realtime/tabs/tabsLink')),
    }
    // One lock manager for the origin (Web Locks), whichever version asks.
    const locks = createMemoryTabLock()
    const roles: Record<string, string[]> = { old: [], new: [] }
    const hooks = (tab: string) => ({
      timers: { setTimeout, clearTimeout } as never,
      now: Date.now,
      backoff: { baseMs: 10, capMs: 20 },
      random: Math.random,
      onRole: (role: string) => void roles[tab]!.push(role),
    })
    const edges = (tabs: TabsOptions | null, tabId: string): TabsOptions => ({
      ...tabs!,
      lock: locks.tab(tabId),
      tabId,
      heartbeatMs: HEARTBEAT_MS,
    })
    const theirs = edges(next.browserTabs('talemy'), 'new')
    const links = [next.createTabsLink({ ...theirs, channel: otherShapes(theirs.channel) }, hooks('new'))]
    await settle(HEARTBEAT_MS)
    links.push(createTabsLink(edges(browserTabs('talemy'), 'old'), hooks('old')))
    for (let beat = 0; beat < 30; beat++) await settle(HEARTBEAT_MS)
    expect(roles).toEqual({ new: ['leader'], old: ['leader'] })
    for (const link of links) link.stop()
  })
})
