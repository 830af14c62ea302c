/**
 * The edges "one socket per browser" runs on in a page, for several stores in one Node process (Node 20 has no
 * `navigator.locks`): the layer's own in-memory Web Locks (`createMemoryTabLock`, which can release everything one tab
 * holds, as the browser does when a tab closes or crashes), and Node's own `BroadcastChannel` as the channel
 * (structured clone, asynchronous delivery, never to the sender itself: as in a browser). Bench-only.
 */
// From the modules themselves, not the package's index: these edges load without the rest of the layer.
import { drainLockOver, type DrainLock } from '../../src/realtime/drainLock'
import { createBroadcastTabChannel } from '../../src/realtime/tabs/memoryChannel'
import { createMemoryTabLock, type MemoryTabLock } from '../../src/realtime/tabs/tabLock'
import type { TabsOptions } from '../../src/realtime/tabs/tabsLink'
import { manualVisibility } from '../../src/realtime/tabs/visibility'

/** One "browser": its lock manager, and the channel name its tabs share (distinct per figure run). */
export interface Browser {
  locks: MemoryTabLock
  channelName: string
  /** The edges of a new tab of this browser (its own channel instance, its own visible page). */
  tab(tabId: string): TabsOptions
  /**
   * The tab's outbox drain and token refresh lock: the same Web Locks as the election, as in a page (every browser
   * with the tabs mechanism has Web Locks), so a closed tab's drain lock is released with the rest.
   */
  drainLock(tabId: string): DrainLock
}

let browsers = 0

/** A fresh browser, named after `label` and unique in this process (no two runs or figures share a channel). */
export function memoryBrowser(label: string, tuning: Pick<TabsOptions, 'heartbeatMs' | 'missedBeats'> = {}): Browser {
  const locks = createMemoryTabLock()
  const channelName = `bench-${label}-${process.pid}-${++browsers}-${Date.now().toString(36)}`
  return {
    locks,
    channelName,
    tab: (tabId) => ({
      channelName,
      channel: createBroadcastTabChannel(`talemy.socket.${channelName}`),
      lock: locks.tab(tabId),
      visibility: manualVisibility(true),
      tabId,
      ...tuning,
    }),
    drainLock: (tabId) => drainLockOver(locks.tab(tabId)),
  }
}
