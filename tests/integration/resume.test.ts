import { cpSync, rmSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import {
  catchUpStarted,
  connect,
  disconnect,
  joinConversation,
  joined,
  selectConnection,
  serverEventActions,
  syncCaughtUp,
  syncGap,
} from '../../src/realtime'
import {
  ALICE,
  freshDataDir,
  http,
  login,
  manualClock,
  startTestServer,
  type TestServer,
} from '../server/support/server'
import { stablePort } from '../support/ports'
import { hangBound } from '../support/hangBound'

// The browser layer against the real server: Bob's store is away while events happen (and the server restarts); on
// reconnect it resumes from its offset with exactly the missed events and no HTTP request. Past the server's
// retention, it gets `sync:gap` and refetches what it has cached, once.

const CONV = 'conv-alice-bob'
const PASSWORD = 'talemy'
const MINUTE = 60_000

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer(options)
  // `dispose`, not `close`: a data folder the server made for itself goes with it.
  cleanups.push(() => server.dispose())
  return server
}

/** Bob's store: real socket.io-client and HTTP, every request counted (its `fetchFn`), every action recorded. */
function bobStore(url: string) {
  const actions: UnknownAction[] = []
  const requests: string[] = []
  const record: Middleware = () => (next) => (action) => {
    if (typeof action === 'object' && action !== null) actions.push(action as UnknownAction)
    return next(action)
  }
  const reads = { failing: false }
  const fetchFn: typeof fetch = (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init)
    const path = new URL(request.url).pathname
    requests.push(`${request.method} ${path}`)
    // The thread's read failing for want of the server (a database away), while the socket is fine.
    if (reads.failing && request.method === 'GET' && path === `/api/conversations/${CONV}/messages`)
      return Promise.resolve(
        new Response(JSON.stringify({ error: { code: 'INTERNAL', message: 'database away' } }), {
          status: 500,
          headers: { 'content-type': 'application/json' },
        }),
      )
    return fetch(input, init)
  }
  const store = makeStore({
    apiUrl: url,
    storage: createMemoryStorage(),
    fetchFn,
    extraMiddleware: [record],
    // Invalidations go out at once: a refetch asked for is visible as soon as it is asked.
    realtime: { invalidationWindowMs: 0 },
    createSocket: (socketUrl, options) => io(socketUrl, { ...options, transports: ['websocket'] }),
  })
  const subs: Array<{ unsubscribe(): void }> = []
  cleanups.push(() => {
    for (const s of subs) s.unsubscribe()
    store.dispatch({ type: 'socket/shutdown' })
  })
  return {
    store,
    actions,
    requests,
    reads,
    connection: () => selectConnection(store.getState()),
    async login() {
      const result = await store.dispatch(
        api.endpoints.login.initiate({ email: 'bob@talemy.test', password: PASSWORD }),
      )
      if (!('data' in result)) throw new Error('login failed')
    },
    async open() {
      const thread = store.dispatch(api.endpoints.getMessages.initiate(CONV))
      const list = store.dispatch(api.endpoints.getConversations.initiate())
      subs.push(thread, list)
      await Promise.all([thread, list])
    },
    thread: () => (api.endpoints.getMessages.select(CONV)(store.getState()).data ?? []).map((m) => m.content),
    /** `[offset, content]` of the `message:new` actions after the action at `from`. */
    newMessages: (from: number) =>
      actions
        .slice(from)
        .filter((a) => serverEventActions['message:new'].match(a))
        .map((a) => [(a.meta as { offset?: number }).offset, (a.payload as { content: string }).content]),
  }
}

const post = async (url: string, token: string, content: string) => {
  const result = await http(url, 'POST', `/api/conversations/${CONV}/messages`, {
    token,
    body: { content, clientId: randomUUID() },
  })
  expect(result.status).toBe(201)
}

const wait = (check: () => void) => vi.waitFor(check, { timeout: hangBound(), interval: 20 })

/** Bob logged in, his thread open, connected and caught up on `server`. */
async function bobConnectedTo(server: TestServer) {
  const bob = bobStore(server.url)
  await bob.login()
  await bob.open()
  await wait(() => expect(bob.connection()).toMatchObject({ status: 'connected', syncing: false }))
  return bob
}

describe('resume against the real server', () => {
  test('Bob away while messages come and the server restarts: on reconnect exactly the missed events, in order, and no HTTP request', async () => {
    const dataDir = freshDataDir()
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const first = await startTestServer({ dataDir, port: await stablePort() })
    const port = Number(new URL(first.url).port)
    const bob = await bobConnectedTo(first)
    const start = bob.connection().offset!
    expect(start).toEqual(expect.any(Number))

    bob.store.dispatch(disconnect())
    const alice = (await login(first.url, ALICE)).token
    await post(first.url, alice, 'away 1')
    await post(first.url, alice, 'away 2')
    await first.close()
    // Same port, same data: a restart.
    const second = await serve({ dataDir, port })
    await post(second.url, (await login(second.url, ALICE)).token, 'away 3')

    const before = bob.requests.length
    const mark = bob.actions.length
    bob.store.dispatch(connect())
    await wait(() => expect(bob.actions.slice(mark).some((a) => syncCaughtUp.match(a))).toBe(true))
    // After the first, the receipt of Alice's read: her reply passed Bob's last message, which the seed leaves unread.
    expect(bob.newMessages(mark)).toEqual([
      [start + 1, 'away 1'],
      [start + 3, 'away 2'],
      [start + 4, 'away 3'],
    ])
    const sync = bob.actions.slice(mark).find((a) => syncCaughtUp.match(a))
    expect(sync?.payload).toEqual({ offset: start + 4, epoch: expect.any(String), recovered: true })
    await wait(() => expect(bob.thread().slice(-3)).toEqual(['away 1', 'away 2', 'away 3']))
    expect(bob.connection()).toMatchObject({ status: 'connected', offset: start + 4, syncing: false })
    // A resume costs no request: nothing invalidated, nothing fetched.
    expect(
      bob.actions.slice(mark).filter((a) => a.type === api.util.invalidateTags([]).type || catchUpStarted.match(a)),
    ).toEqual([])
    expect(bob.requests.slice(before)).toEqual([])

    // And live events follow, one offset on.
    await post(second.url, (await login(second.url, ALICE)).token, 'live')
    await wait(() => expect(bob.newMessages(mark).at(-1)).toEqual([start + 5, 'live']))
  })

  test('Bob connected while the server comes back on a backup older than what he saw: his offset is ahead of the log, so sync:gap, a refetch, and live events from the new offset', async () => {
    const dataDir = freshDataDir()
    const backup = `${dataDir}-backup`
    cleanups.push(() => {
      rmSync(dataDir, { recursive: true, force: true })
      rmSync(backup, { recursive: true, force: true })
    })
    const first = await serve({ dataDir, port: await stablePort() })
    const port = Number(new URL(first.url).port)
    const bob = await bobConnectedTo(first)
    const start = bob.connection().offset!
    await first.close()
    // The backup, taken while the server is stopped: Bob's session is in it, his next events are not.
    cpSync(dataDir, backup, { recursive: true })

    const second = await serve({ dataDir, port })
    const alice = (await login(second.url, ALICE)).token
    await post(second.url, alice, 'after the backup 1')
    await post(second.url, alice, 'after the backup 2')
    // Two messages and, after the first, the receipt of Alice's read (her reply passed Bob's last message, unread in
    // the seed).
    await wait(() => expect(bob.connection()).toMatchObject({ offset: start + 3, syncing: false }))
    await wait(() => expect(bob.thread()).toContain('after the backup 2'))
    const { epoch } = bob.connection()

    const mark = bob.actions.length
    await second.close()
    // The folder is lost and the backup served instead, on the same port: Bob's socket comes back to it by itself.
    const restored = await serve({ dataDir: backup, port })
    await wait(() => expect(bob.actions.slice(mark).some((a) => syncGap.match(a) || syncCaughtUp.match(a))).toBe(true))
    const sync = bob.actions.slice(mark).find((a) => syncGap.match(a) || syncCaughtUp.match(a))!
    expect(sync.type).toBe(syncGap.type)
    const payload = sync.payload as { offset: number; epoch: string }
    expect(payload.offset).toBe(start)
    expect(payload.epoch).not.toBe(epoch)
    // What he had cached is read again: the messages the backup does not hold are gone from his thread.
    await wait(() => expect(bob.thread()).not.toContain('after the backup 1'))
    expect(bob.actions.slice(mark).filter((a) => catchUpStarted.match(a))).toHaveLength(1)

    // The log counts on from the backup's offset: its events are applied, not taken for ones already seen.
    await post(restored.url, (await login(restored.url, ALICE)).token, 'after the restore')
    await wait(() => expect(bob.newMessages(mark)).toEqual([[start + 1, 'after the restore']]))
    await wait(() => expect(bob.thread().at(-1)).toBe('after the restore'))
    // And the receipt after it: the backup's Alice had not read Bob's last message either.
    await wait(() => expect(bob.connection()).toMatchObject({ status: 'connected', offset: start + 2, syncing: false }))
    // Three starts of PGlite and a folder copy: well over the default bound on a loaded machine; this one only catches a hang.
  }, 120_000)

  test('Bob away past the retention: sync:gap, and what he has cached is refetched once', async () => {
    const clock = manualClock()
    const server = await serve({ now: clock.now, eventRetentionSeconds: 60 })
    const bob = await bobConnectedTo(server)

    bob.store.dispatch(disconnect())
    await post(server.url, (await login(server.url, ALICE)).token, 'long ago')
    clock.advance(5 * MINUTE)

    const before = bob.requests.length
    const mark = bob.actions.length
    bob.store.dispatch(connect())
    await wait(() => expect(bob.actions.slice(mark).some((a) => syncGap.match(a))).toBe(true))
    await wait(() => expect(bob.thread().at(-1)).toBe('long ago'))
    await wait(() => expect(bob.requests.length - before).toBe(2))
    expect(bob.actions.slice(mark).filter((a) => catchUpStarted.match(a))).toHaveLength(1)
    expect(bob.requests.slice(before).sort()).toEqual([
      `GET /api/conversations`,
      `GET /api/conversations/${CONV}/messages`,
    ])
    expect(bob.newMessages(mark)).toEqual([])
    expect(bob.connection()).toMatchObject({ status: 'connected', syncing: false })
  })

  test('Bob looking at the thread, back past the retention and its re-read failing: not marked read (no "Seen") until he has the messages', async () => {
    const clock = manualClock()
    const server = await serve({ now: clock.now, eventRetentionSeconds: 60 })
    const bob = bobStore(server.url)
    await bob.login()
    await bob.open()
    bob.store.dispatch(joinConversation({ conversationId: CONV }))
    await wait(() => expect(bob.actions.some((a) => joined.match(a) && a.payload.conversationId === CONV)).toBe(true))
    const token = (bob.store.getState() as { auth: { token: string } }).auth.token
    const unread = async () => {
      const list = await http<Array<{ id: string; unreadCount: number }>>(server.url, 'GET', '/api/conversations', {
        token,
      })
      return list.body.find((c) => c.id === CONV)?.unreadCount
    }

    bob.store.dispatch(disconnect())
    await post(server.url, (await login(server.url, ALICE)).token, 'while away')
    clock.advance(5 * MINUTE)
    expect(await unread()).toBe(1)

    bob.reads.failing = true
    const mark = bob.actions.length
    bob.store.dispatch(connect())
    await wait(() => expect(bob.actions.slice(mark).some((a) => syncGap.match(a))).toBe(true))
    // The re-read fails, and fails again when the layer makes it again (by then a join would long be in).
    const failedReads = () => bob.actions.slice(mark).filter((a) => api.endpoints.getMessages.matchRejected(a)).length
    await wait(() => expect(failedReads()).toBeGreaterThanOrEqual(2))
    expect(bob.thread()).not.toContain('while away')
    expect(bob.actions.slice(mark).filter((a) => joined.match(a))).toEqual([])
    expect(await unread()).toBe(1)

    // Read at last: now he is looking at what he has, and the thread is his again.
    bob.reads.failing = false
    await wait(() => expect(bob.thread()).toContain('while away'))
    await wait(() => expect(bob.actions.slice(mark).some((a) => joined.match(a))).toBe(true))
    await wait(async () => expect(await unread()).toBe(0))
  })
})
