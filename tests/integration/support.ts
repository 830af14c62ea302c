import { rmSync } from 'node:fs'
import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, vi } from 'vitest'
import { api, type ThreadMessage } from '../../src/api'
import {
  createMemoryStorage,
  type MakeStoreOptions,
  makeStore,
  type RealtimeOptions,
  type StorageLike,
} from '../../src/app/store'
import type { Id, User } from '../../src/contract'
import { selectConnection } from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir } from '../server/support/server'
import { hangBound } from '../support/hangBound'

export const PASSWORD = 'talemy'

/**
 * A store as the browser builds it (real socket.io-client, real HTTP), recording every plain action it sees. Two
 * stores given one `storage` are two tabs of one browser.
 */
export function browserStore(
  url: string,
  options: {
    storage?: StorageLike
    fetchFn?: typeof fetch
    realtime?: RealtimeOptions
    session?: MakeStoreOptions['session']
  } = {},
) {
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    if (typeof action === 'object' && action !== null) actions.push(action as UnknownAction)
    return next(action)
  }
  let sockets = 0
  const store = makeStore({
    apiUrl: url,
    storage: options.storage ?? createMemoryStorage(),
    ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
    ...(options.realtime ? { realtime: options.realtime } : {}),
    ...(options.session ? { session: options.session } : {}),
    extraMiddleware: [record],
    createSocket: (socketUrl, options) => {
      sockets++
      // Websocket only: the Node test process has no browser to upgrade from polling, and it is what browsers end on.
      return io(socketUrl, { ...options, transports: ['websocket'] })
    },
  })
  const subscriptions: Array<{ unsubscribe(): void }> = []
  return {
    store,
    actions,
    sockets: () => sockets,
    async login(email: string) {
      const result = await store.dispatch(api.endpoints.login.initiate({ email, password: PASSWORD }))
      if (!('data' in result) || !result.data) throw new Error(`login ${email} failed`)
      return result.data.user
    },
    /**
     * Resolves once `predicate` answers true (asked every 20 ms). The bound is only on a hang (`hangBound`): a slow
     * machine makes the wait longer, never fails it; a hang fails it with `not yet: ` and the predicate's source.
     */
    async until(predicate: () => boolean, timeout = hangBound()) {
      await vi.waitFor(
        () => {
          if (!predicate()) throw new Error(`not yet: ${String(predicate)}`)
        },
        { timeout, interval: 20 },
      )
    },
    status: () => selectConnection(store.getState()).status,
    /** Subscribes to a thread like the page does, and waits for it. */
    async openThread(conversationId: Id) {
      const sub = store.dispatch(api.endpoints.getMessages.initiate(conversationId))
      subscriptions.push(sub)
      await sub
    },
    async openConversations() {
      const sub = store.dispatch(api.endpoints.getConversations.initiate())
      subscriptions.push(sub)
      return (await sub).data ?? []
    },
    thread: (conversationId: Id): ThreadMessage[] =>
      api.endpoints.getMessages.select(conversationId)(store.getState()).data ?? [],
    conversations: () => api.endpoints.getConversations.select()(store.getState()).data ?? [],
    close() {
      for (const sub of subscriptions.splice(0)) sub.unsubscribe()
      store.dispatch({ type: 'socket/disconnect' })
      store.dispatch({ type: 'socket/shutdown' })
    },
  }
}

export type BrowserStore = ReturnType<typeof browserStore>

/**
 * The reference server for one test file (port 0, a private copy of the seeded data, send limits raised), and the
 * stores its tests open, closed after each test. Call it once at the top of the file: it registers its own hooks.
 *
 * @example const file = serverPerFile(); const alice = await file.loggedIn('alice@talemy.test')
 */
export function serverPerFile() {
  let server: RunningServer | null = null
  let dataDir = ''
  const open: BrowserStore[] = []
  beforeAll(async () => {
    dataDir = freshDataDir()
    server = await startServer({ port: 0, dataDir, rateLimit: { perSecond: 1000, burst: 1000 } })
  })
  afterEach(() => closeAll())
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const running = (): RunningServer => {
    if (!server) throw new Error('the server is not started (serverPerFile runs in beforeAll)')
    return server
  }
  function closeAll() {
    for (const s of open.splice(0)) s.close()
  }
  /** A store closed after the test. */
  function track<T extends BrowserStore>(s: T): T {
    open.push(s)
    return s
  }
  return {
    get server() {
      return running()
    },
    track,
    closeAll,
    /** A store of its own (no tabs shared), logged in as `email` and connected to `url` (default this file's server). */
    async loggedIn(email: string, url = running().url): Promise<BrowserStore & { user: User }> {
      const s = track(browserStore(url))
      const user = await s.login(email)
      await s.until(() => s.status() === 'connected')
      return Object.assign(s, { user })
    },
  }
}

/** The conversation between `a`'s user and `other` (created, or the existing one). */
export async function conversationBetween(a: BrowserStore, other: User): Promise<Id> {
  const result = await a.store.dispatch(api.endpoints.createConversation.initiate({ participantId: other.id }))
  if (!('data' in result) || !result.data) throw new Error('no conversation')
  return result.data.id
}
