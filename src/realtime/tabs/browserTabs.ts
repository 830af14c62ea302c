import { createBroadcastTabChannel } from './memoryChannel'
import { createWebTabLock, type LockManagerLike } from './tabLock'
import type { TabsOptions } from './tabsLink'
import { documentVisibility } from './visibility'

/**
 * The page's edges for one socket per browser: Web Locks, a BroadcastChannel and the document's visibility, named
 * after `channelName`; `null` where the page lacks Web Locks or BroadcastChannel (then each tab keeps its own socket).
 *
 * @example createSocketMiddleware({ …, tabs: browserTabs('talemy') })
 */
export function browserTabs(channelName: string): TabsOptions | null {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  if (!locks || typeof locks.request !== 'function' || typeof globalThis.BroadcastChannel !== 'function') return null
  return {
    channelName,
    channel: createBroadcastTabChannel(`talemy.socket.${channelName}`),
    lock: createWebTabLock(locks),
    visibility: documentVisibility(),
  }
}
