import { createMemoryChannelBus } from '../../../../src/realtime/tabs/memoryChannel'
import { createMemoryTabLock } from '../../../../src/realtime/tabs/tabLock'

/** One "browser" in a test process: its tabs share a channel bus and a lock manager, like BroadcastChannel + Web Locks. */
export function browser() {
  // A silenced tab's posts are lost (a hung page says nothing); what is posted to it still arrives.
  const silenced = new Set<string>()
  const bus = createMemoryChannelBus({ drop: (message) => silenced.has(message.from) })
  const locks = createMemoryTabLock()
  return {
    /** A tab's edges: its own end of the channel, and the lock as that tab asks for it. */
    tab: (tabId: string) => ({ channel: bus.channel(), lock: locks.tab(tabId) }),
    /** The tab went away: the browser releases every lock it held or waited for. */
    crash: (tabId: string) => locks.closeTab(tabId),
    /** The tab hangs (its posts stop) or wakes up again. */
    silence: (tabId: string, silent: boolean) => void (silent ? silenced.add(tabId) : silenced.delete(tabId)),
    locks,
  }
}
