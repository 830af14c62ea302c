import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { eventRejected, sendMessage, serverEventActions } from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir } from '../server/support/server'
import { fakeSockets } from '../unit/support/fakeSocket'
import { alice as aliceUser, message } from '../unit/support/fixtures'
import { client, conversationBetween, sleep, until, type Client } from './support'

// R5: what the server sends that it should not (wrong types, missing fields, an unknown event, a huge payload) and
// what it sends twice. Malformed events go out of the real server's Socket.IO instance to a real client.

let server: RunningServer
let dataDir: string
const open: Client[] = []
beforeAll(async () => {
  dataDir = freshDataDir()
  server = await startServer({ port: 0, dataDir, rateLimit: { perSecond: 1000, burst: 1000 } })
})
afterAll(async () => {
  for (const c of open.splice(0)) c.close()
  await server?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

async function pair() {
  const alice = client(server.url)
  const bob = client(server.url)
  open.push(alice, bob)
  await alice.login('alice@talemy.test')
  const bobUser = await bob.login('bob@talemy.test')
  await until(() => alice.status() === 'connected' && bob.status() === 'connected')
  const id = await conversationBetween(alice, bobUser)
  await alice.openThread(id)
  await bob.openThread(id)
  await alice.store.dispatch(api.endpoints.getConversations.initiate(undefined, { subscribe: false }))
  return { alice, bob, id }
}

const emitToId = (socketId: string, event: string, payload: unknown) =>
  (server.io.to(socketId) as unknown as { emit(e: string, p: unknown): void }).emit(event, payload)
const emitTo = (c: Client, event: string, payload: unknown) => emitToId(c.socket()!.id!, event, payload)

describe('R5: malformed server events', () => {
  test('each → socket/eventRejected (at most 10 issues, no raw input), state otherwise unchanged', async () => {
    const { alice, id } = await pair()
    const good = alice.thread(id).at(-1) ?? {
      id: 'm',
      conversationId: id,
      seq: 1,
      senderId: 'u',
      content: 'x',
      createdAt: new Date().toISOString(),
      clientId: null,
    }
    const cases: [string, string, unknown][] = [
      ['wrong types', 'message:new', { ...good, seq: 'three', content: 42 }],
      ['missing fields', 'lesson:created', { id: 'l1', tutorId: 't' }],
      ['not an object', 'conversation:read', 'c1'],
      [
        'an unknown status',
        'contactRequest:statusUpdated',
        { id: 'r', studentId: 's', tutorId: 't', message: 'm', status: 'maybe', createdAt: 'x', updatedAt: 'x' },
      ],
      ['an unknown event', 'bogus:event', { anything: true }],
      [
        'a huge payload (1 MB content)',
        'message:new',
        { ...good, id: 'huge', seq: 999, content: 'x'.repeat(1_000_000) },
      ],
      [
        'many bad fields',
        'lesson:statusUpdated',
        Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, i])),
      ],
    ]
    const rows: Record<string, unknown>[] = []
    for (const [name, event, payload] of cases) {
      const socketId = alice.socket()!.id!
      const before = alice.store.getState()
      const n = alice.actions.length
      emitToId(socketId, event, payload)
      await until(() => alice.actions.slice(n).some((a) => eventRejected.match(a)), name)
      await sleep(50)
      const after = alice.store.getState()
      const fresh = alice.actions.slice(n).filter((a) => !a.type.startsWith('api/internalSubscriptions/'))
      const rejected = fresh.filter((a) => eventRejected.match(a)) as ReturnType<typeof eventRejected>[]
      rows.push({
        case: name,
        actions: fresh.map((a) => a.type).join(','),
        issues: rejected[0]!.payload.issues.length,
        bytes: JSON.stringify(rejected[0]).length,
      })
      expect(fresh.map((a) => a.type)).toEqual(['socket/eventRejected'])
      expect(rejected[0]!.payload.event).toBe(event)
      expect(rejected[0]!.payload.issues.length).toBeLessThanOrEqual(10)
      expect(JSON.stringify(rejected[0]).length).toBeLessThan(4_000)
      expect(after.socket).toEqual(before.socket)
      // RTK Query's own bookkeeping of subscriptions syncs in the background; the cached data must not move.
      expect(after.api.queries, name).toBe(before.api.queries)
      expect(after.api.provided, name).toBe(before.api.provided)
      expect(after.auth).toBe(before.auth)
    }
    console.log('R5 malformed', JSON.stringify(rows))
  })
})

describe('R5: duplicated deliveries', () => {
  test('message:new delivered twice (real server) → shown once', async () => {
    const { alice, bob, id } = await pair()
    const { payload } = alice.store.dispatch(sendMessage({ conversationId: id, content: 'once only' }))
    await until(() => bob.thread(id).some((m) => m.clientId === payload.clientId))
    const stored = bob.thread(id).find((m) => m.clientId === payload.clientId)!
    const deliveries = (c: typeof bob, event: 'message:new' | 'message:sent') =>
      c.actions.filter((a) => serverEventActions[event].match(a) && a.payload.clientId === payload.clientId).length
    const seen = { bob: deliveries(bob, 'message:new'), alice: deliveries(alice, 'message:sent') }
    emitTo(bob, 'message:new', stored)
    emitTo(bob, 'message:new', stored)
    emitTo(alice, 'message:sent', { ...stored })
    // Every duplicate has arrived (however slow the machine), then its cache work (a microtask) has run.
    await until(
      () => deliveries(bob, 'message:new') === seen.bob + 2 && deliveries(alice, 'message:sent') === seen.alice + 1,
      'the duplicates',
    )
    await sleep(10)
    const counts = {
      bob: bob.thread(id).filter((m) => m.clientId === payload.clientId).length,
      alice: alice.thread(id).filter((m) => m.clientId === payload.clientId).length,
    }
    console.log('R5 duplicates (real server)', JSON.stringify({ deliveriesToBob: 3, deliveriesToAlice: 2, ...counts }))
    expect(counts).toEqual({ bob: 1, alice: 1 })
  })

  test.each(['message:new', 'message:sent'])(
    '%s before the ack, then the ack, then it again → shown once, confirmed once',
    async (event) => {
      const sockets = fakeSockets()
      const actions: string[] = []
      const store = makeStore({
        apiUrl: 'http://unused.test',
        createSocket: sockets.createSocket,
        storage: createMemoryStorage(),
        preloadedState: { auth: { token: 't', user: aliceUser } },
        extraMiddleware: [() => (next) => (action) => (actions.push((action as { type: string }).type), next(action))],
      })
      await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', [message(1)]))
      sockets.last.serverConnect()
      store.dispatch(sendMessage({ conversationId: 'c1', content: 'early', clientId: 'k1' }))
      const stored = message(2, { senderId: aliceUser.id, clientId: 'k1', content: 'early' })
      sockets.last.serverEmit(event, stored)
      await sleep(10)
      const beforeAck = actions.length
      sockets.last.sent('message:send')[0]!.ack({ ok: true, data: stored })
      // The ack has confirmed the send (not only the event before it).
      await until(() => actions.slice(beforeAck).includes('socket/sendConfirmed'), 'the ack handled')
      sockets.last.serverEmit(event, stored)
      await sleep(10)
      const thread = api.endpoints.getMessages.select('c1')(store.getState()).data ?? []
      console.log(
        `R5 ${event} before the ack`,
        JSON.stringify({
          copies: thread.filter((m) => m.clientId === 'k1').length,
          outbox: store.getState().socket.outbox.length,
        }),
      )
      expect(thread.map((m) => m.id)).toEqual(['m1', 'm2'])
      expect(store.getState().socket.outbox).toEqual([])
      store.dispatch({ type: 'socket/shutdown' })
    },
  )
})
