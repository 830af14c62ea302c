import type { ApiExtra, ServerClock } from '../api'
import {
  browserTabs,
  defaultDrainLock,
  type DrainLock,
  randomTabId,
  type StorageLike,
  type TabsOptions,
  tabPageWatch,
} from '../realtime'
import { syncDiscards } from './discardSync'
import { syncSession } from './sessionSync'
import { browserStorage, createMemoryStorage, defaultApiUrl } from './storage'
import type { MakeStoreOptions } from './store'
import { watchUnsavedOutbox, type UnsavedOutbox } from './unsavedOutbox'
import type { UnsentExtra } from './unsent'
import { unsentInTabs, type UnsentInTabs } from './unsentTabs'

/** What the page's listeners need of the store: its session and its outbox. */
type ListenedStore = Parameters<typeof syncSession>[0] & Parameters<typeof syncDiscards>[0]

/** The page outside the store, chosen once for it: where the session lives, the lock, the clock, the tabs. */
export interface StoreEdges {
  apiUrl: string
  storage: StorageLike
  /** One lock for the outbox drain and the token refresh (different names): Web Locks, else a lease in `storage`. */
  lock: DrainLock
  /** The offset from the server's clock, learnt by the session middleware and read by the api's refresh. */
  serverClock: ServerClock
  /** The api's thunk argument (and `countUnsent`'s). */
  extra: ApiExtra & UnsentExtra
  /** The edges the tabs share one socket on, or null (see `tabsEdges`). */
  tabs: TabsOptions | null
  unsavedOutbox: UnsavedOutbox
  /** The unsent sends the other tabs hold in their memory alone (told over the tabs' channel), or null. */
  unsentInTabs: UnsentInTabs | null
  /** Keeps the store's session saved and in step with the other tabs; returns what removes its window listeners. */
  listen(store: ListenedStore): () => void
  /** Gives up waiting reads, the unsaved notice and the tabs' channel. */
  close(): void
}

/**
 * The edges `makeStore` wires its store to, from its options and what the page offers.
 *
 * @example const edges = storeEdges({ apiUrl }); const stop = edges.listen(store); stop(); edges.close()
 */
export function storeEdges(options: MakeStoreOptions): StoreEdges {
  const pageStorage = browserStorage()
  const storage = options.storage ?? pageStorage ?? createMemoryStorage()
  const apiUrl = (options.apiUrl ?? defaultApiUrl()).replace(/\/+$/, '')
  const lock = options.realtime?.drainLock ?? defaultDrainLock(storage, options.realtime?.timers, options.realtime?.now)
  const serverClock: ServerClock = { skewMs: 0 }
  const lifetime = new AbortController()
  const tabs = tabsEdges(options, storage === pageStorage)
  const page = pageWindow()
  const unsent = tabs ? unsentInTabs(tabs.channel, { tabId: tabs.tabId, watchTab: tabPageWatch(tabs) }) : null
  const unsavedOutbox = watchUnsavedOutbox({
    // Memory put in for a page without storage: nothing of the outbox outlives the page.
    durable: options.storage !== undefined || pageStorage !== undefined,
    noticeAfterMs: options.unsavedNoticeAfterMs ?? 2_000,
    ...(page ? { page } : {}),
  })
  return {
    apiUrl,
    storage,
    lock,
    serverClock,
    extra: {
      apiUrl,
      storage,
      refreshLock: lock,
      serverClock,
      stopped: lifetime.signal,
      ...(unsent ? { heldElsewhere: unsent.heldElsewhere } : {}),
      ...(options.session?.now ? { now: options.session.now } : {}),
      ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    },
    tabs,
    unsavedOutbox,
    unsentInTabs: unsent,
    listen(store) {
      // Tabs are kept in step only through the page's own storage (its `storage` event).
      const tabsWindow = storage === pageStorage ? page : undefined
      const stopSync = syncSession(store, storage, tabsWindow)
      const stopDiscardSync = tabsWindow ? syncDiscards(store, storage, tabsWindow) : () => {}
      return () => {
        stopSync()
        stopDiscardSync()
      }
    },
    close() {
      lifetime.abort()
      unsavedOutbox.dispose()
      unsent?.close()
      tabs?.channel.close()
    },
  }
}

/** The page's `window` where there is one that takes listeners (not in Node). */
function pageWindow(): Window | undefined {
  return typeof window !== 'undefined' && typeof window.addEventListener === 'function' ? window : undefined
}

/**
 * The edges the store's tabs share one socket on, or null. `realtime.tabs` given (edges, or null for none) wins over
 * the page's. By default the page's are used only when the session lives in the page's own storage: the tabs then
 * follow one another's logins and logouts, so the tab holding the socket is always logged in as the others are.
 */
function tabsEdges(options: MakeStoreOptions, sessionInPageStorage: boolean): TabsOptions | null {
  const tabs = pickedTabs(options, sessionInPageStorage)
  // One id for the election and the unsent count: the count watches the page lock named after it.
  return tabs && { ...tabs, tabId: tabs.tabId ?? randomTabId() }
}

function pickedTabs(options: MakeStoreOptions, sessionInPageStorage: boolean): TabsOptions | null {
  if (options.shareSocket === false) return null
  if (options.realtime && 'tabs' in options.realtime) return options.realtime.tabs ?? null
  if (options.shareSocket !== true && !sessionInPageStorage) return null
  return browserTabs(options.channelName ?? 'talemy')
}
