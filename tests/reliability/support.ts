import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { afterAll, vi } from 'vitest'
import { api, type ThreadMessage } from '../../src/api'
import { createMemoryStorage, makeStore, type RealtimeOptions } from '../../src/app/store'
import type { Id, Message, User } from '../../src/contract'
import { selectConnection, selectPendingMessages, socketHolderRequested, type AppSocket } from '../../src/realtime'
import { killSpawned } from '../server/support/server'
import { hangBound } from '../support/hangBound'

export const PASSWORD = 'talemy'

/** A store as the browser builds it (real socket.io-client on websocket, real HTTP), recording every plain action. */
export function client(url: string, { storage = createMemoryStorage(), realtime = {} as RealtimeOptions } = {}) {
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    if (typeof action === 'object' && action !== null) actions.push(action as UnknownAction)
    return next(action)
  }
  const store = makeStore({
    apiUrl: url,
    storage,
    extraMiddleware: [record],
    realtime,
    createSocket: (socketUrl, options) => io(socketUrl, { ...options, transports: ['websocket'] }),
  })
  const subscriptions: Array<{ unsubscribe(): void }> = []
  return {
    store,
    storage,
    actions,
    async login(email: string): Promise<User> {
      const result = await store.dispatch(api.endpoints.login.initiate({ email, password: PASSWORD }))
      if (!('data' in result) || !result.data) throw new Error(`login ${email} failed`)
      return result.data.user
    },
    status: () => selectConnection(store.getState()).status,
    pending: () => selectPendingMessages(store.getState()),
    token: () => store.getState().auth.token ?? '',
    socket: (): AppSocket | null =>
      (store.dispatch(socketHolderRequested()) as unknown as { get(): AppSocket | null }).get(),
    async openThread(conversationId: Id) {
      const sub = store.dispatch(api.endpoints.getMessages.initiate(conversationId))
      subscriptions.push(sub)
      await sub
    },
    thread: (conversationId: Id): ThreadMessage[] =>
      api.endpoints.getMessages.select(conversationId)(store.getState()).data ?? [],
    /** Refetches a thread from the server (what a user would see after a reload of the page). */
    async refetchThread(conversationId: Id) {
      await store.dispatch(api.endpoints.getMessages.initiate(conversationId, { subscribe: false, forceRefetch: true }))
    },
    close() {
      for (const sub of subscriptions.splice(0)) sub.unsubscribe()
      store.dispatch({ type: 'socket/shutdown' })
    },
  }
}

export type Client = ReturnType<typeof client>

/**
 * Resolves once `predicate` answers true (asked every 20 ms). Its bound is only on a hang (`hangBound`): a slow machine
 * makes the wait longer, never fails it; a hang fails it with `not yet: ` and `what` (by default the predicate's
 * source).
 *
 * @example await until(() => alice.status() === 'connected')
 */
export async function until(predicate: () => boolean, what = String(predicate), timeout = hangBound()) {
  await vi.waitFor(
    () => {
      if (!predicate()) throw new Error(`not yet: ${what}`)
    },
    { timeout, interval: 20 },
  )
}

export async function conversationBetween(a: Client, other: User): Promise<Id> {
  const result = await a.store.dispatch(api.endpoints.createConversation.initiate({ participantId: other.id }))
  if (!('data' in result) || !result.data) throw new Error('no conversation')
  return result.data.id
}

/** The whole thread as the server's database has it, oldest first (paged HTTP GETs). */
export async function storedThread(url: string, token: string, conversationId: Id): Promise<Message[]> {
  const all: Message[] = []
  let before: number | null = null
  for (;;) {
    const query: string = before === null ? '?limit=200' : `?limit=200&before=${before}`
    const response = await fetch(`${url}/api/conversations/${encodeURIComponent(conversationId)}/messages${query}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    if (!response.ok) throw new Error(`GET thread: ${response.status}`)
    const page = (await response.json()) as Message[]
    all.unshift(...page)
    if (page.length < 200) return all
    before = page[0]!.seq
  }
}

/** Counts of each clientId in a list: the ones seen more than once, and the expected ones missing. */
export function tally(list: readonly { clientId: string | null }[], expected: readonly string[]) {
  const counts = new Map<string, number>()
  for (const m of list) if (m.clientId) counts.set(m.clientId, (counts.get(m.clientId) ?? 0) + 1)
  return {
    lost: expected.filter((id) => !counts.has(id)).length,
    duplicated: [...counts.values()].filter((n) => n > 1).length,
  }
}

/** Whether `ids` appear in `list` in that relative order. */
export function inOrder(list: readonly { clientId: string | null }[], ids: readonly string[]): boolean {
  const wanted = new Set(ids)
  const seen = list.map((m) => m.clientId).filter((id): id is string => id !== null && wanted.has(id))
  return seen.length === ids.length && seen.every((id, i) => id === ids[i])
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * What a file's tests leave to close after them: its clients (`open`), then the servers it spawned, then the rest in
 * the order pushed (`cleanups`: a proxy, a data folder).
 *
 * @example const { open, cleanups } = closedAfterFile(); open.push(alice, bob)
 */
export function closedAfterFile(): { open: Client[]; cleanups: Array<() => unknown> } {
  const open: Client[] = []
  const cleanups: Array<() => unknown> = []
  afterAll(async () => {
    for (const c of open.splice(0)) c.close()
    await killSpawned()
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })
  return { open, cleanups }
}
