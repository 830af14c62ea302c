import fc from 'fast-check'
import { expect, test } from 'vitest'
import { api, type ThreadMessage } from '../../src/api'
import { createMemoryStorage, makeStore, type StorageLike } from '../../src/app/store'
import type { Message } from '../../src/contract'
import { createMemoryLock, sendMessage, shutdown, type DrainLock } from '../../src/realtime'
import { fakeSockets, type EmittedPacket, type FakeSocket } from '../unit/support/fakeSocket'
import { alice } from '../unit/support/fixtures'

// The property: any interleaving of send, ack, ack lost, drop, reconnect, reload, duplicate delivery and HTTP outages
// ends — once the network is good again — with each message exactly once in the database, in the order sent (per
// conversation), and exactly once in the cache, confirmed. It runs against a fast in-memory model of the server (a
// fake socket and a fake `fetch`, idempotent by (sender, clientId) like the real one), not the real server, so that
// hundreds of runs take seconds; R1–R3 cover the real server.

type Command =
  | { kind: 'send'; conversation: 'c1' | 'c2' }
  | { kind: 'ack'; sentFirst: boolean }
  | { kind: 'ackLost' }
  | { kind: 'drop' }
  | { kind: 'reconnect' }
  | { kind: 'reload' }
  | { kind: 'duplicate'; pick: number; asNew: boolean }
  | { kind: 'http'; up: boolean }
  | { kind: 'wait'; ms: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      conversation: fc.constantFrom('c1' as const, 'c2' as const),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ack' as const), sentFirst: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'ackLost' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reconnect' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reload' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat(), asNew: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('http' as const), up: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
)

/** The server, in memory: messages per conversation, idempotent by (sender, clientId), HTTP that can be down. */
class ModelServer {
  readonly threads = new Map<string, Message[]>([
    ['c1', []],
    ['c2', []],
  ])
  private readonly byKey = new Map<string, Message>()
  httpUp = true
  httpPosts = 0

  store(senderId: string, conversationId: string, content: string, clientId: string): Message {
    const key = `${senderId}\u0000${clientId}`
    const known = this.byKey.get(key)
    if (known) return known
    const thread = this.threads.get(conversationId)!
    const message: Message = {
      id: `${conversationId}-m${thread.length + 1}`,
      conversationId,
      seq: thread.length + 1,
      senderId,
      content,
      createdAt: '2026-11-24T08:00:00.000Z',
      clientId,
    }
    thread.push(message)
    this.byKey.set(key, message)
    return message
  }

  all(): Message[] {
    return [...this.threads.values()].flat()
  }

  readonly fetch = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init)
    if (!this.httpUp) throw new TypeError('fetch failed')
    const url = new URL(request.url)
    const match = /^\/api\/conversations\/([^/]+)\/messages$/.exec(url.pathname)
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
    if (!match) return json(404, { error: { code: 'NOT_FOUND', message: 'no such path' } })
    const conversationId = decodeURIComponent(match[1]!)
    if (request.method === 'GET') return json(200, this.threads.get(conversationId) ?? [])
    const body = (await request.json()) as { content: string; clientId: string }
    this.httpPosts++
    return json(201, this.store(alice.id, conversationId, body.content, body.clientId))
  }) as typeof fetch
}

/** One page of the app over the model: a store with its threads open, and the model answering its handshakes. */
function page(model: ModelServer, storage: StorageLike, lock: DrainLock) {
  const sockets = fakeSockets()
  const store = makeStore({
    apiUrl: 'http://model.test',
    createSocket: sockets.createSocket,
    fetchFn: model.fetch,
    storage,
    preloadedState: { auth: { token: 'token-1', user: alice } },
    realtime: {
      drainLock: lock,
      retryTriggers: () => () => {},
      backoff: { baseMs: 4, capMs: 20 },
      ackTimeoutMs: 25,
      invalidationWindowMs: 5,
    },
  })
  const subs = [
    store.dispatch(api.endpoints.getMessages.initiate('c1')),
    store.dispatch(api.endpoints.getMessages.initiate('c2')),
  ]
  let answered = 0
  return {
    store,
    sockets,
    /** Answers a handshake under way (the middleware called `connect()`). */
    handshake() {
      const socket = sockets.sockets.at(-1)
      if (socket && !socket.connected && socket.connectCalls > answered) {
        answered = socket.connectCalls
        socket.serverConnect(`s${sockets.sockets.length}-${answered}`)
      }
    },
    socket: (): FakeSocket | undefined => sockets.sockets.at(-1),
    thread: (id: string): ThreadMessage[] => api.endpoints.getMessages.select(id)(store.getState()).data ?? [],
    close() {
      for (const sub of subs) sub.unsubscribe()
      store.dispatch(shutdown())
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const turn = () => new Promise((r) => setImmediate(r))

async function run(commands: Command[]) {
  const model = new ModelServer()
  const storage = createMemoryStorage()
  const lock = createMemoryLock()
  const pages = [page(model, storage, lock)]
  let current = pages[0]!
  const sent: Record<'c1' | 'c2', string[]> = { c1: [], c2: [] }
  /** Every `message:send` packet any page's socket emitted, oldest first, and how many the model took. */
  const seen = new Set<EmittedPacket>()
  const queue: EmittedPacket[] = []
  const collect = () => {
    for (const p of pages)
      for (const s of p.sockets.sockets)
        for (const packet of s.sent('message:send')) if (!seen.has(packet)) seen.add(packet), queue.push(packet)
  }
  const storePacket = (packet: EmittedPacket) => {
    const { conversationId, content, clientId } = packet.args[0] as {
      conversationId: string
      content: string
      clientId: string
    }
    return model.store(alice.id, conversationId, content, clientId)
  }

  for (const c of commands) {
    current.handshake()
    collect()
    switch (c.kind) {
      case 'send': {
        const { payload } = current.store.dispatch(
          sendMessage({ conversationId: c.conversation, content: `text ${sent[c.conversation].length}` }),
        )
        sent[c.conversation].push(payload.clientId)
        break
      }
      case 'ack': {
        const packet = queue.shift()
        if (!packet) break
        const message = storePacket(packet)
        if (c.sentFirst) current.socket()?.connected && current.socket()!.serverEmit('message:sent', message)
        packet.ack({ ok: true, data: message })
        break
      }
      case 'ackLost': {
        const packet = queue.shift()
        if (packet) storePacket(packet)
        break
      }
      case 'drop':
        queue.shift()
        break
      case 'reconnect':
        if (current.socket()?.connected) current.socket()!.serverDrop('transport close')
        break
      case 'reload':
        current.close()
        current = page(model, storage, lock)
        pages.push(current)
        break
      case 'duplicate': {
        const all = model.all()
        const socket = current.socket()
        if (all.length > 0 && socket?.connected)
          socket.serverEmit(c.asNew ? 'message:new' : 'message:sent', all[c.pick % all.length])
        break
      }
      case 'http':
        model.httpUp = c.up
        break
      case 'wait':
        await sleep(c.ms)
        break
    }
    await turn()
  }

  // The network is good again: the model answers everything promptly until the outbox is empty. Given up only when
  // nothing moved for 10 s (a stall), not after a fixed time: a slow machine gets there later, not never.
  model.httpUp = true
  let progress = ''
  let movedAt = Date.now()
  while (Date.now() - movedAt < 10_000) {
    const now = `${current.store.getState().socket.outbox.length}/${seen.size}/${model.all().length}/${model.httpPosts}`
    if (now !== progress) (progress = now), (movedAt = Date.now())
    current.handshake()
    collect()
    for (const packet of queue.splice(0)) packet.ack({ ok: true, data: storePacket(packet) })
    // A thread whose load failed while HTTP was down is loaded again, as the page's retry would.
    for (const id of ['c1', 'c2']) {
      if (api.endpoints.getMessages.select(id)(current.store.getState()).status === 'rejected') {
        void current.store.dispatch(api.endpoints.getMessages.initiate(id, { subscribe: false, forceRefetch: true }))
      }
    }
    const idle = current.store.getState().socket.outbox.length === 0
    const loading = ['c1', 'c2'].some(
      (id) => api.endpoints.getMessages.select(id)(current.store.getState()).status === 'pending',
    )
    if (idle && !loading) break
    await sleep(2)
  }
  await sleep(10)

  const result = { model, current, sent }
  for (const p of pages) p.close()
  return result
}

test('property: any interleaving ends with each accepted message exactly once in the cache and in the database', async () => {
  const t0 = Date.now()
  let runs = 0
  let messages = 0
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40, size: 'large' }), async (commands) => {
      runs++
      const { model, current, sent } = await run(commands)
      expect(current.store.getState().socket.outbox).toEqual([])
      for (const id of ['c1', 'c2'] as const) {
        messages += sent[id].length
        // The database: each message once, in the order written.
        expect(model.threads.get(id)!.map((m) => m.clientId)).toEqual(sent[id])
        // The cache: each once, confirmed, ordered by seq, and as stored.
        const thread = current.thread(id)
        expect(thread.map((m) => m.clientId)).toEqual(sent[id])
        expect(thread.every((m) => m.status === undefined || m.status === 'sent')).toBe(true)
        expect(thread.map((m) => m.seq)).toEqual(model.threads.get(id)!.map((m) => m.seq))
      }
    }),
    { numRuns: 300 },
  )
  console.log('property', JSON.stringify({ runs, messages, seconds: +((Date.now() - t0) / 1000).toFixed(1) }))
}, 240_000)
