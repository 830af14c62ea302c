import { afterEach, describe, expect, test, vi } from 'vitest'
import { createMemoryStorage } from '../../../src/app/store'
import { trackedStore } from '../../support/trackedStores'
import { browserTabs, selectConnection } from '../../../src/realtime'
import { TAB_PROTOCOL } from '../../../src/realtime/tabs/protocol'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('browserTabs: the page’s edges, or none', () => {
  test('without Web Locks (Node 20 has no navigator.locks): none, and a store is solo with a socket of its own', async () => {
    expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined()
    expect(browserTabs('talemy')).toBeNull()
    const store = trackedStore({ apiUrl: 'http://127.0.0.1:1' })
    await Promise.resolve()
    expect(selectConnection(store.getState()).role).toBe('solo')
    store.dispose()
  })

  test('without BroadcastChannel: none either', () => {
    vi.stubGlobal('navigator', { locks: { request: () => new Promise(() => {}) } })
    vi.stubGlobal('BroadcastChannel', undefined)
    expect(browserTabs('talemy')).toBeNull()
  })

  test('with both: a channel and a lock named after channelName and the protocol, and the document’s visibility', () => {
    const requests: string[] = []
    vi.stubGlobal('navigator', {
      locks: {
        request: (name: string) => {
          requests.push(name)
          return new Promise(() => {})
        },
      },
    })
    const tabs = browserTabs('shop')
    expect(tabs).not.toBeNull()
    expect(tabs!.channelName).toBe(`shop.${TAB_PROTOCOL}`)
    expect(tabs!.visibility.visible()).toBe(true)
    tabs!.lock.request(`talemy.socket.shop.${TAB_PROTOCOL}`, { steal: false }, { onAcquired() {}, onLost() {} })
    expect(requests).toEqual([`talemy.socket.shop.${TAB_PROTOCOL}`])
    tabs!.channel.close()
    // A late post after the close (an ack coming back after dispose) is dropped, not thrown.
    expect(() => tabs!.channel.post({ kind: 'detach', from: 't' })).not.toThrow()
  })

  test('a session kept elsewhere than the page’s storage shares nothing unless asked (the tabs would not follow one another’s logins)', async () => {
    vi.stubGlobal('navigator', { locks: { request: () => new Promise(() => {}) } })
    const own = trackedStore({ apiUrl: 'http://127.0.0.1:1', storage: createMemoryStorage() })
    await Promise.resolve()
    expect(selectConnection(own.getState()).role).toBe('solo')
    own.dispose()
    const asked = trackedStore({ apiUrl: 'http://127.0.0.1:1', storage: createMemoryStorage(), shareSocket: true })
    await Promise.resolve()
    expect(selectConnection(asked.getState()).role).toBe('follower')
    asked.dispose()
  })

  test('shareSocket: false keeps a store solo even where the page could share', async () => {
    vi.stubGlobal('navigator', { locks: { request: () => new Promise(() => {}) } })
    const store = trackedStore({ apiUrl: 'http://127.0.0.1:1', shareSocket: false })
    await Promise.resolve()
    expect(selectConnection(store.getState()).role).toBe('solo')
    store.dispose()
    // `realtime.tabs: null` says "no edges": solo too.
    const none = trackedStore({ apiUrl: 'http://127.0.0.1:1', realtime: { tabs: null } })
    await Promise.resolve()
    expect(selectConnection(none.getState()).role).toBe('solo')
    none.dispose()
  })
})
