import { createMemoryStorage, type MakeStoreOptions } from '../../../src/app/store'
import { manualVisibility } from '../../../src/realtime'
import { trackedStore } from '../../support/trackedStores'
import { fakeSockets } from '../../unit/support/fakeSocket'
import { alice } from '../../unit/support/fixtures'
import { browser as tabsBrowser } from '../../unit/tabs/support/browser'
import { threadApi } from './page'

/**
 * Alice's tabs of one browser, sharing one socket (made by `sockets`), each a store of its own over the messages page's
 * API; `tab(tabId)` opens one (the first takes the socket). Each has a storage of its own unless `storage` is shared;
 * `fetchFn` stands for the network instead of that API. `crash(tabId)`: the tab dies without a word (no `pagehide`):
 * the browser frees its locks, and nothing it posts reaches the others any more.
 *
 * @example const { sockets, tab } = aliceTabs(); const holder = tab('t1'); const follower = tab('t2')
 */
export function aliceTabs(options: Pick<MakeStoreOptions, 'storage' | 'fetchFn'> = {}) {
  const edges = tabsBrowser()
  const sockets = fakeSockets()
  const tab = (tabId: string) =>
    trackedStore({
      apiUrl: 'http://api.test',
      createSocket: sockets.createSocket,
      storage: options.storage ?? createMemoryStorage(),
      fetchFn: options.fetchFn ?? threadApi,
      preloadedState: { auth: { token: 'token-1', user: alice } },
      realtime: {
        tabs: { channelName: 'x', ...edges.tab(tabId), visibility: manualVisibility(true), tabId, heartbeatMs: 100 },
      },
    })
  const crash = (tabId: string) => {
    edges.silence(tabId, true)
    edges.crash(tabId)
  }
  return { sockets, tab, crash }
}
