/**
 * Tabs of one user in one "browser" (P11, P12, P15): stores sharing one channel name, one lock manager and one Web
 * Storage, as the tabs of a page would. The first tab opened takes the lock (the leader, holding the socket); the
 * others are followers riding on it.
 */
import type { Middleware } from '@reduxjs/toolkit'
import type { User } from '../../src/contract'
import type { TabsOptions } from '../../src/realtime'
import { AUTH_STORAGE_KEY } from '../../src/app/store'
import { memoryStorage } from './clients'
import { layerClient, selectConnection, type LayerClient, type LayerStore } from './layer'
import { untilState } from './probe'
import { withTimeout } from './stats'
import { memoryBrowser, type Browser } from './tabs'

export interface Tab {
  id: string
  client: LayerClient
  edges: TabsOptions
}

type State = ReturnType<LayerStore['getState']>

export interface TabGroup {
  browser: Browser
  /** Open tabs, oldest first. */
  tabs: Tab[]
  /** Opens one more tab (logged in, as a page restoring its session would); resolves once it is connected. */
  open(probes?: Middleware[]): Promise<Tab>
  /** The tab whose store is the leader now (throws if none is). */
  leader(): Tab
  /**
   * Closes a tab as the browser does: its page goes away (the store is disposed: its socket or proxy ends, its
   * channel closes) and the browser releases every lock it held. Synchronous, as the closing is.
   */
  closeTab(tab: Tab): void
  /**
   * A tab's page crashes: nothing more reaches its channel (no goodbye: no `resign`, no `down`), the browser releases
   * its locks, and its connection ends (here the store is shut down after that, as the OS closing the TCP connection).
   */
  crashTab(tab: Tab): void
  close(): Promise<void>
}

export async function tabGroup(options: {
  url: string
  label: string
  session: { token: string; user: User }
  realtime?: Parameters<typeof layerClient>[0]['realtime']
}): Promise<TabGroup> {
  const browser = memoryBrowser(options.label)
  const storage = memoryStorage()
  let opened = 0
  const group: TabGroup = {
    browser,
    tabs: [],
    async open(probes) {
      const id = `${options.label}-tab-${++opened}`
      // A tab opened beside a logged-in one restores the session from the shared storage and connects by itself,
      // as a page does; only a first tab logs in.
      const restores = storage.getItem(AUTH_STORAGE_KEY) !== null
      const edges = browser.tab(id)
      const client = await layerClient({
        url: options.url,
        session: options.session,
        tabs: edges,
        storage,
        login: !restores,
        ...(probes ? { probes } : {}),
        realtime: { ...options.realtime, drainLock: browser.drainLock(id) },
      })
      if (restores)
        await untilState(client.store, (s) => selectConnection(s).status === 'connected', `${id} to connect`, 15_000)
      const tab = { id, client, edges }
      group.tabs.push(tab)
      return tab
    },
    leader() {
      const leaders = group.tabs.filter((t) => selectConnection(t.client.store.getState()).role === 'leader')
      if (leaders.length !== 1) throw new Error(`${options.label}: ${leaders.length} leader tabs`)
      return leaders[0]!
    },
    closeTab(tab) {
      group.tabs.splice(group.tabs.indexOf(tab), 1)
      tab.client.store.dispose()
      browser.locks.closeTab(tab.id)
    },
    crashTab(tab) {
      group.tabs.splice(group.tabs.indexOf(tab), 1)
      tab.edges.channel.close()
      browser.locks.closeTab(tab.id)
      tab.client.store.dispose()
    },
    async close() {
      // Followers first, so none of them takes over from a closing leader.
      const tabs = group.tabs.splice(0)
      const byRole = (t: Tab) => (selectConnection(t.client.store.getState()).role === 'leader' ? 1 : 0)
      tabs.sort((a, b) => byRole(a) - byRole(b))
      for (const tab of tabs) {
        await tab.client.close()
        browser.locks.closeTab(tab.id)
      }
    },
  }
  return group
}

/**
 * Resolves the moment `predicate` holds over all `stores` together, checked on every notification of any of them
 * (no polling), or rejects after `timeoutMs`.
 */
export function untilAll(
  stores: readonly LayerStore[],
  predicate: (states: State[]) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const check = () => predicate(stores.map((s) => s.getState()))
  if (check()) return Promise.resolve()
  const offs: Array<() => void> = []
  const reached = new Promise<void>((resolve) => {
    for (const store of stores)
      offs.push(
        store.subscribe(() => {
          if (check()) resolve()
        }),
      )
  })
  return withTimeout(reached, timeoutMs, what).finally(() => {
    for (const off of offs) off()
  })
}

/** Every tab connected with nothing left to catch up, exactly one of them the leader. */
export const settled = (states: State[]): boolean =>
  states.filter((s) => selectConnection(s).role === 'leader').length === 1 &&
  states.every((s) => {
    const c = selectConnection(s)
    return c.status === 'connected' && !c.syncing
  })
