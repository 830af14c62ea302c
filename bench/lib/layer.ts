/**
 * The realtime layer as the app builds it: `makeStore` with a socket factory that records the sockets it makes (so
 * figures can count their listeners or watch their transport), a memory storage, and the bench's probe first in the
 * chain (`extraMiddleware`). Everything the bench imports from `src/` goes through this file.
 */
import type { Middleware } from '@reduxjs/toolkit'
import { io, type Socket } from 'socket.io-client'
import type { Id, User } from '../../src/contract'
import { api, type ThreadMessage } from '../../src/api'
import { loggedIn, loggedOut } from '../../src/app/authSlice'
import { makeStore, type RealtimeOptions } from '../../src/app/store'
import { disconnect, selectConnection, selectIsConnected, shutdown, type TabsOptions } from '../../src/realtime'
import { memoryStorage, onWebsocket } from './clients'
import { untilState } from './probe'
import { requestsUntilQuiet, type Host } from './server'
import { waitFor } from './stats'

export { api, loggedIn, loggedOut, selectConnection, selectIsConnected }
export { sendMessage, connect, disconnect, joinConversation, leaveConversation } from '../../src/realtime'

export type LayerStore = ReturnType<typeof makeStore>

/**
 * Resolves once `store`'s cached thread shows its own message `content` confirmed (`sent`): what a layer sender waits
 * for, untimed, before its next send, as a bare sender waits for its ack.
 *
 * @example await untilSent(a.store, conversationId, tag)
 */
export function untilSent(store: LayerStore, conversationId: Id, content: string, timeoutMs = 10_000): Promise<void> {
  const selectThread = api.endpoints.getMessages.select(conversationId)
  return untilState(
    store,
    (state) =>
      (selectThread(state).data as ThreadMessage[] | undefined)?.some(
        (m) => m.content === content && m.status === 'sent',
      ) ?? false,
    'the sending store to see its message confirmed',
    timeoutMs,
  )
}

/**
 * Resolves once `store` has had its session's first sync and every read that sync started has landed and gone quiet
 * at the server (`key`'s requests; see `requestsUntilQuiet`). A page that read before its first sync reads again once
 * (the layer's catch-up, behind its invalidation window): a figure that counts refetches lets that one pass first.
 *
 * @example await firstSyncSettled(client.store, host, 'GET /api/lessons', isFetching, 1500)
 */
export async function firstSyncSettled(
  store: LayerStore,
  host: Pick<Host, 'call'>,
  key: string,
  isFetching: () => boolean,
  quietMs: number,
): Promise<void> {
  const synced = () => {
    const connection = selectConnection(store.getState())
    return connection.offset !== null && !connection.syncing
  }
  await waitFor(synced, 'the first sync', 15_000)
  await requestsUntilQuiet(host, key, isFetching, 0, quietMs)
}

export interface LayerClient {
  store: LayerStore
  /** Every socket the layer created, oldest first (empty with `keepSockets: false`). */
  sockets: Socket[]
  /** How many sockets the layer created. */
  created(): number
  /** How many of them are still reachable (created minus collected; exact after `heapAfterGc`). */
  alive(): number
  /** The socket the layer created last. */
  socket(): Socket
  subscribeThread(conversationId: Id): Promise<() => void>
  subscribeLessons(): Promise<() => void>
  close(): Promise<void>
}

export async function layerClient(options: {
  url: string
  session: { token: string; user: User }
  probes?: Middleware[]
  /** Log in (which connects) right away; default true. */
  login?: boolean
  /** Keep every socket made (default); false keeps only the latest, so the bench retains nothing the layer dropped. */
  keepSockets?: boolean
  /** Tuning of the realtime layer (e.g. `random: () => 0`: reconnect after a drop without a backoff wait). */
  realtime?: RealtimeOptions
  /**
   * A tab of a "browser" whose tabs share one socket (`memoryBrowser(…).tab(id)`, see `tabs.ts`); without it the
   * store is solo, as in Node by default (no `navigator.locks`). A follower makes no socket of its own.
   */
  tabs?: TabsOptions
  /** The Web Storage the store keeps its session and outbox in: tabs of one browser share one. Default a fresh one. */
  storage?: Storage
}): Promise<LayerClient> {
  const sockets: Socket[] = []
  let latest: Socket | null = null
  let created = 0
  let collected = 0
  const registry = new FinalizationRegistry<null>(() => {
    collected++
  })
  const store = makeStore({
    apiUrl: options.url,
    createSocket: (url, socketOptions) => {
      const socket = io(url, socketOptions)
      created++
      registry.register(socket, null)
      latest = socket
      if (options.keepSockets ?? true) sockets.push(socket)
      return socket
    },
    storage: options.storage ?? memoryStorage(),
    extraMiddleware: options.probes ?? [],
    ...(options.realtime || options.tabs
      ? { realtime: { ...options.realtime, ...(options.tabs ? { tabs: options.tabs } : {}) } }
      : {}),
  })
  const subscriptions: Array<() => void> = []
  const client: LayerClient = {
    store,
    sockets,
    created: () => created,
    alive: () => created - collected,
    socket() {
      if (!latest) throw new Error('the layer has not created a socket')
      return latest
    },
    async subscribeThread(conversationId) {
      const subscription = store.dispatch(api.endpoints.getMessages.initiate(conversationId))
      await subscription.unwrap()
      const off = () => subscription.unsubscribe()
      subscriptions.push(off)
      return off
    },
    async subscribeLessons() {
      const subscription = store.dispatch(api.endpoints.getLessons.initiate())
      await subscription.unwrap()
      const off = () => subscription.unsubscribe()
      subscriptions.push(off)
      return off
    },
    async close() {
      for (const off of subscriptions.splice(0)) off()
      // Ends this client, not the seeded user's session: `auth/loggedOut` would revoke it on the server (POST
      // /api/auth/logout), and later figures log in with the same seeded token.
      store.dispatch(disconnect())
      store.dispatch(shutdown())
      store.dispatch(api.util.resetApiState())
      const all = latest && !sockets.includes(latest) ? [...sockets, latest] : sockets
      await waitFor(() => all.every((s) => !s.connected), 'the layer to close its socket', 10_000).catch(() => {
        for (const socket of all) socket.close()
      })
      options.tabs?.channel.close()
    },
  }
  if (options.login ?? true) {
    store.dispatch(loggedIn(options.session))
    await waitFor(() => selectIsConnected(store.getState()), 'the layer to connect', 15_000)
    // A follower tab has no socket of its own: it rides on the holder's.
    if (latest) await onWebsocket(latest)
  }
  return client
}
