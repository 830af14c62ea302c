/**
 * The edges "one socket per browser" runs on in a page, for several stores in one Node process (Node 20 has no
 * `navigator.locks`): a lock manager with Web Locks' semantics that can release everything one tab holds (what the
 * browser does when a tab closes or crashes), and Node's own `BroadcastChannel` as the channel (structured clone,
 * asynchronous delivery, never to the sender itself: as in a browser). Bench-only.
 */
// From the modules themselves, not the package's index: these edges load without the rest of the layer.
import type { TabChannel, TabLock, TabMessage } from '../../src/realtime/tabs/protocol'
import type { TabsOptions } from '../../src/realtime/tabs/tabsLink'
import { manualVisibility } from '../../src/realtime/tabs/visibility'
import type { DrainLock } from '../../src/realtime/drainLock'

interface Entry {
  tabId: string
  steal: boolean
  handlers: { onAcquired(): void; onLost(): void }
  /** Granted and not yet released. */
  held: boolean
  gone: boolean
}

/** One browser's lock manager: `forTab(id)` is that tab's `navigator.locks`; `closeTab(id)` is the tab going away. */
export interface MemoryLocks {
  forTab(tabId: string): TabLock
  /** Releases every lock the tab holds and drops its queued requests, without telling it (its page is gone). */
  closeTab(tabId: string): void
  /** The tab holding `name` now, if any. */
  holder(name: string): string | null
}

/**
 * Web Locks, exclusive mode, in memory: requests for a name are granted in order; `steal` takes the lock from its
 * holder at once (the holder's `onLost` runs) and the queue stays as it was; a grant runs in a microtask, never inside
 * the call that freed the lock.
 *
 * @example const locks = memoryLocks(); const lock = locks.forTab('tab-1'); locks.closeTab('tab-1')
 */
export function memoryLocks(): MemoryLocks {
  const holders = new Map<string, Entry>()
  const queues = new Map<string, Entry[]>()

  const queueOf = (name: string): Entry[] => {
    let queue = queues.get(name)
    if (!queue) queues.set(name, (queue = []))
    return queue
  }

  /** Grants the next waiter of `name` if the lock is free (in a microtask, as Web Locks grants in a later task). */
  function grantNext(name: string): void {
    queueMicrotask(() => {
      if (holders.has(name)) return
      const next = queueOf(name).shift()
      if (!next) return
      holders.set(name, next)
      next.held = true
      next.handlers.onAcquired()
    })
  }

  function release(name: string, entry: Entry): void {
    if (holders.get(name) !== entry) return
    holders.delete(name)
    entry.held = false
    grantNext(name)
  }

  return {
    forTab(tabId) {
      return {
        request(name, options, handlers) {
          const entry: Entry = { tabId, steal: options.steal, handlers, held: false, gone: false }
          if (options.steal) {
            const previous = holders.get(name)
            holders.set(name, entry)
            queueMicrotask(() => {
              if (previous) {
                previous.held = false
                previous.handlers.onLost()
              }
              if (holders.get(name) === entry && !entry.gone) {
                entry.held = true
                handlers.onAcquired()
              }
            })
          } else {
            queueOf(name).push(entry)
            grantNext(name)
          }
          return () => {
            if (entry.gone) return
            entry.gone = true
            const queue = queueOf(name)
            const at = queue.indexOf(entry)
            if (at !== -1) queue.splice(at, 1)
            if (holders.get(name) === entry) release(name, entry)
          }
        },
      }
    },
    closeTab(tabId) {
      for (const [name, queue] of queues) {
        for (const entry of queue.filter((e) => e.tabId === tabId)) entry.gone = true
        queues.set(
          name,
          queue.filter((e) => e.tabId !== tabId),
        )
      }
      for (const [name, entry] of [...holders]) {
        if (entry.tabId !== tabId) continue
        entry.gone = true
        release(name, entry)
      }
    },
    holder(name) {
      return holders.get(name)?.tabId ?? null
    },
  }
}

/**
 * Node's global `BroadcastChannel` as a `TabChannel`: every post reaches every other instance of `name` in the
 * process, structured-cloned, in a later task. Unreferenced, so a channel left open does not keep the bench alive.
 */
export function broadcastTabChannel(name: string): TabChannel {
  const channel = new BroadcastChannel(name)
  const listeners = new Set<(message: TabMessage) => void>()
  channel.onmessage = (event) => {
    const message = (event as MessageEvent<TabMessage>).data
    for (const listener of [...listeners]) listener(message)
  }
  ;(channel as unknown as { unref?: () => void }).unref?.()
  let closed = false
  return {
    post(message) {
      if (!closed) channel.postMessage(message)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    close() {
      if (closed) return
      closed = true
      listeners.clear()
      channel.close()
    },
  }
}

/** One "browser": its lock manager, and the channel name its tabs share (distinct per figure run). */
export interface Browser {
  locks: MemoryLocks
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
  const locks = memoryLocks()
  const channelName = `bench-${label}-${process.pid}-${++browsers}-${Date.now().toString(36)}`
  return {
    locks,
    channelName,
    tab: (tabId) => ({
      channelName,
      channel: broadcastTabChannel(`talemy.socket.${channelName}`),
      lock: locks.forTab(tabId),
      visibility: manualVisibility(true),
      tabId,
      ...tuning,
    }),
    drainLock(tabId) {
      const lock = locks.forTab(tabId)
      return {
        request(name, onAcquired) {
          const giveUp = lock.request(name, { steal: false }, { onAcquired: () => onAcquired(giveUp), onLost() {} })
          return giveUp
        },
      }
    },
  }
}
