import { createBroadcastTabChannel } from './memoryChannel'
import { TAB_PROTOCOL } from './protocol'
import { createWebTabLock, type LockManagerLike } from './tabLock'
import type { TabsOptions } from './tabsLink'
import { documentVisibility } from './visibility'

/**
 * The page's edges for one socket per browser: Web Locks, a BroadcastChannel and the document's visibility, named
 * after `channelName` and `TAB_PROTOCOL` (the tabs of another version of the app share another socket); `null` where
 * the page lacks Web Locks or BroadcastChannel (then each tab keeps its own socket).
 *
 * @example createSocketMiddleware({ …, tabs: browserTabs('talemy') })
 */
export function browserTabs(channelName: string): TabsOptions | null {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  if (!locks || typeof locks.request !== 'function' || typeof globalThis.BroadcastChannel !== 'function') return null
  const name = `${channelName}.${TAB_PROTOCOL}`
  return {
    channelName: name,
    channel: createBroadcastTabChannel(`talemy.socket.${name}`),
    lock: createWebTabLock(locks),
    visibility: documentVisibility(),
  }
}
