import { configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit'
import { expect, vi } from 'vitest'
import { api, type RefreshOutcome } from '../../../../src/api'
import {
  connect,
  createSocketMiddleware,
  manualRetryTriggers,
  selectConnection,
  type TabsOptions,
} from '../../../../src/realtime'
import { shutdown } from '../../../../src/realtime/actions'
import type { Timers } from '../../../../src/realtime/timers'
import { drainLockOver } from '../../../../src/realtime/drainLock'
import { createMemoryStorage } from '../../../../src/app/storage'
import { manualVisibility } from '../../../../src/realtime/tabs/visibility'
import { fakeSockets, type FakeSocket } from '../../support/fakeSocket'
import { message } from '../../support/fixtures'
import { loggedInState, rootReducer, socketOptions } from '../../support/mockStore'
import { browser } from './browser'
import { pageTimers } from './pageTimers'

// Tabs of one browser as stores with the real middleware: fake sockets, the in-memory channel and lock, on fake
// timers (heartbeat 100 ms: a follower would steal after 300). For the hand-over tests (disconnect, handover).

export const HEARTBEAT_MS = 100

/**
 * One browser's edges and sockets; `openTab(id)` opens a tab as a store of its own.
 *
 * @example const b = aBrowser(); const [holder, follower] = await connectedTabs(b, ['a', 'b'])
 */
export function aBrowser({
  sharedOutbox = false,
  backoff = { baseMs: 10, capMs: 20 },
  refreshToken,
  throttled = false,
  fetchFn,
}: {
  sharedOutbox?: boolean
  /** The tabs' HTTP (the api's `fetchFn`, at `http://api.test`). Default none: a request fails before it leaves. */
  fetchFn?: typeof fetch
  /** Each tab's timers as Chrome runs them: hidden, they fall due only at the next whole minute (`pageTimers`). */
  throttled?: boolean
  backoff?: { baseMs: number; capMs: number }
  /** Each tab's token refresh (default: refused). */
  refreshToken?: (tabId: string) => () => Promise<RefreshOutcome>
} = {}) {
  const edges = browser()
  const sockets = fakeSockets()
  /** `sharedOutbox`: the tabs keep the user's outbox in one storage and drain it under the browser's lock (Web Locks). */
  const storage = sharedOutbox ? createMemoryStorage() : null
  /** A tab's own timers, where a test gives it some (`hangable`'s, which stop while its page hangs). */
  const timersOf: { get: (tabId: string) => Timers | undefined } = { get: () => undefined }
  function openTab(tabId: string) {
    const ownTimers = timersOf.get(tabId)
    const own = edges.tab(tabId)
    const visibility = manualVisibility(true)
    const tabs: TabsOptions = {
      channelName: 'x',
      ...own,
      visibility,
      tabId,
      heartbeatMs: HEARTBEAT_MS,
    }
    const actions: UnknownAction[] = []
    const record: Middleware = () => (next) => (action) => {
      actions.push(action as UnknownAction)
      return next(action)
    }
    const mine: FakeSocket[] = []
    const triggers = manualRetryTriggers()
    const store = configureStore({
      reducer: rootReducer,
      preloadedState: loggedInState(),
      middleware: (gDM) =>
        gDM({
          serializableCheck: false,
          immutableCheck: false,
          ...(fetchFn ? { thunk: { extraArgument: { apiUrl: 'http://api.test', fetchFn } } } : {}),
        })
          .prepend(record)
          .concat(
            api.middleware,
            createSocketMiddleware(
              socketOptions(sockets, {
                createSocket: (url, options) => {
                  const socket = sockets.createSocket(url, options)
                  mine.push(socket as unknown as FakeSocket)
                  return socket
                },
                tabs,
                retryTriggers: triggers.setup,
                backoff,
                ...(refreshToken ? { refreshToken: refreshToken(tabId) } : {}),
                ...(ownTimers ? { timers: ownTimers } : throttled ? { timers: pageTimers(visibility) } : {}),
                ...(storage ? { storage, drainLock: drainLockOver(own.lock) } : {}),
              }),
            ),
          ),
    })
    return {
      tabId,
      store,
      /** The page's visibility, as the test sets it. */
      visibility,
      /** The page's retry triggers (the browser's `online`, the page shown), fired by the test. */
      triggers,
      /** Every action this tab's store saw, in order. */
      actions,
      /** The real sockets this tab made (as the holder). */
      own: mine,
      conn: () => selectConnection(store.getState()),
      /** The `message:new` offsets this tab's store got. */
      received: () =>
        actions.filter((a) => a.type === 'socket/message:new').map((a) => (a.meta as { offset?: number }).offset),
      dispose: () => store.dispatch(shutdown()),
    }
  }
  return { edges, sockets, storage, openTab, timersOf }
}

export type Tab = ReturnType<ReturnType<typeof aBrowser>['openTab']>

/**
 * The tab goes away as a crash does: no goodbye (its posts are lost from now on), and the browser frees its locks. Its
 * store runs on here (a crashed page runs nothing): dispose it where what it would still do matters.
 */
export function crash(b: ReturnType<typeof aBrowser>, tab: Tab) {
  b.edges.silence(tab.tabId, true)
  b.edges.crash(tab.tabId)
}

/** Fake time on by `ms`, then the microtasks it queued. */
export async function settle(ms = 0) {
  await vi.advanceTimersByTimeAsync(ms)
  for (let i = 0; i < 30; i++) await Promise.resolve()
}

/** What `socket`'s handshake would carry now (its `auth` callback, as Socket.IO calls it). */
export function handshake(socket: FakeSocket): unknown {
  let data: unknown
  ;(socket.options.auth as (cb: (d: object) => void) => void)((d) => (data = d))
  return data
}

/** `socket` connects as the server's `id` and says the store is caught up at `offset` (after replaying `replay`). */
export function serve(socket: FakeSocket, id: string, offset: number, replay: number[] = []) {
  socket.serverConnect(id)
  for (const o of replay) socket.serverEmit('message:new', message(o), { offset: o })
  socket.serverEmit('sync:caughtUp', { offset, epoch: 'e1' })
}

/** Tabs opened one after the other, each connected; the first holds the browser's socket, caught up at offset 3. */
export async function connectedTabs(b: ReturnType<typeof aBrowser>, ids: string[]): Promise<Tab[]> {
  const tabs: Tab[] = []
  for (const id of ids) {
    const tab = b.openTab(id)
    tab.store.dispatch(connect())
    await settle()
    if (tabs.length === 0) serve(tab.own[0]!, 'sock-1', 3)
    tabs.push(tab)
    await settle(HEARTBEAT_MS)
  }
  await settle(HEARTBEAT_MS)
  expect(tabs.map((t) => [t.conn().role, t.conn().status])).toEqual(
    tabs.map((_, i) => [i === 0 ? 'leader' : 'follower', 'connected']),
  )
  return tabs
}

/**
 * The holder dropped `socket` (silent past the heartbeat) for one new socket, which is served: both tabs are connected
 * through it, the holder still holding.
 */
export async function replacedAndServed(
  b: ReturnType<typeof aBrowser>,
  socket: FakeSocket,
  [holder, follower]: [Tab, Tab],
) {
  expect(socket.disconnectCalls).toBe(1)
  const fresh = b.sockets.sockets.filter((s) => s !== socket)
  expect(fresh).toHaveLength(1)
  serve(fresh[0]!, 'sock-2', 3)
  await settle(2 * HEARTBEAT_MS)
  expect([holder, follower].map((t) => [t.conn().role, t.conn().status])).toEqual([
    ['leader', 'connected'],
    ['follower', 'connected'],
  ])
}
