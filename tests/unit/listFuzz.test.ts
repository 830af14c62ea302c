import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { Conversation, Message } from '../../src/contract'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, at, bob } from './support/fixtures'
import { json } from './support/responses'
import { sendMessage } from '../../src/realtime'

// The conversation list (last message, unread count, order) over seeded random orderings of: Bob writes, Alice writes
// from another device (`message:sent`), Alice reads elsewhere (`conversation:read`), the socket delivers some of what
// is waiting, the list is read again (answered as the server was when asked, or as it is now), a drop with a gap, a
// resume whose replay repeats some of what came before. Once everything is delivered and answered, the cached list is
// the server's.

const SEEDS = 60

async function turns() {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

function random(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Ev = { event: string; payload: unknown; offset: number }

function server() {
  let clock = 0
  let offset = 10
  const convs = new Map<string, { messages: Message[]; lastRead: number }>([
    ['c1', { messages: [], lastRead: 0 }],
    ['c2', { messages: [], lastRead: 0 }],
  ])
  let waiting: Ev[] = []
  const sentSoFar: Ev[] = []
  const reads: { asOfAsking: Conversation[]; answer: (r: Response) => void }[] = []
  const threadReads: { asOfAsking: Message[]; answer: (r: Response) => void }[] = []
  const posts: { conversationId: string; clientId: string; answer: (r: Response) => void }[] = []
  const snapshot = (): Conversation[] =>
    [...convs.entries()]
      .map(([id, c]) => {
        const last = c.messages.at(-1) ?? null
        return {
          id,
          participantIds: [alice.id, bob.id],
          lastMessage: last,
          unreadCount: c.messages.filter((m) => m.senderId === bob.id && m.seq > c.lastRead).length,
          updatedAt: last?.createdAt ?? at(0),
          readSeq: { [alice.id]: c.lastRead, [bob.id]: 0 },
        }
      })
      .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt) || (a.id < b.id ? -1 : 1))
  let n = 0
  const write = (id: string, from: 'bob' | 'alice', clientId?: string): Message => {
    const c = convs.get(id)!
    const known = c.messages.find((m) => clientId !== undefined && m.clientId === clientId)
    if (known) return known
    const seq = c.messages.length + 1
    const m: Message = {
      id: `${id}-m${seq}`,
      conversationId: id,
      seq,
      senderId: from === 'bob' ? bob.id : alice.id,
      content: `message ${seq}`,
      createdAt: at(++clock),
      clientId: from === 'bob' ? null : (clientId ?? `elsewhere-${n++}`),
    }
    c.messages.push(m)
    waiting.push({ event: from === 'bob' ? 'message:new' : 'message:sent', payload: m, offset: ++offset })
    // Replying is reading (the server's SEND_MESSAGE): Alice's read position moves to her message, and her sockets are
    // told when it moved past something.
    if (from === 'alice') {
      const moved = c.lastRead < seq - 1
      c.lastRead = Math.max(c.lastRead, seq)
      if (moved)
        waiting.push({ event: 'conversation:read', payload: { conversationId: id, unreadCount: 0 }, offset: ++offset })
    }
    return m
  }
  const read = (id: string) => {
    const c = convs.get(id)!
    const last = c.messages.length
    if (c.lastRead === last) return false
    c.lastRead = last
    waiting.push({ event: 'conversation:read', payload: { conversationId: id, unreadCount: 0 }, offset: ++offset })
    return true
  }
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    const posted = /^\/api\/conversations\/(c\d)\/messages$/.exec(url.pathname)
    if (posted && request.method === 'POST') {
      const { clientId } = (await request.json()) as { clientId: string }
      return new Promise<Response>((resolve) => posts.push({ conversationId: posted[1]!, clientId, answer: resolve }))
    }
    if (url.pathname === '/api/conversations/c1/messages' && !url.searchParams.has('before'))
      return new Promise<Response>((resolve) =>
        threadReads.push({ asOfAsking: convs.get('c1')!.messages.slice(-50), answer: resolve }),
      )
    if (url.pathname !== '/api/conversations') return json(200, [])
    return new Promise<Response>((resolve, reject) => {
      const entry = { asOfAsking: snapshot(), answer: resolve }
      reads.push(entry)
      request.signal.addEventListener('abort', () => {
        reads.splice(reads.indexOf(entry), 1)
        reject(new DOMException('aborted', 'AbortError'))
      })
    })
  }) as typeof fetch
  return {
    write,
    read,
    reads,
    threadReads,
    posts,
    thread: () => convs.get('c1')!.messages,
    fetchFn,
    snapshot,
    sentSoFar,
    get offset() {
      return offset
    },
    take: (k: number) => {
      const out = waiting.splice(0, k)
      sentSoFar.push(...out)
      return out
    },
    lose: () => void (waiting = []),
    get waiting() {
      return waiting.length
    },
  }
}

async function run(seed: number, withSends: boolean) {
  const next = random(seed)
  const log: string[] = []
  const srv = server()
  for (let i = 0; i < 3; i++) srv.write('c1', 'bob')
  srv.write('c2', 'bob')
  srv.take(1000)
  const sockets = fakeSockets()
  const store = trackedStore({
    apiUrl: 'http://api.test',
    fetchFn: srv.fetchFn,
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    preloadedState: { auth: { token: 'token-1', user: alice } },
    realtime: { invalidationWindowMs: 0 },
    // The list's reads and patches in the log, for a failing seed's story.
    extraMiddleware: [
      () => (nextMw) => (action) => {
        const a = action as { type: string; meta?: { arg?: { endpointName?: string }; condition?: boolean } }
        const result = nextMw(action)
        if (a.meta?.arg?.endpointName === 'getConversations')
          log.push(`  list read ${a.type.split('/').at(-1)}${a.meta.condition ? ' (nothing asked)' : ''}`)
        else if (a.type === 'api/queries/queryResultPatched') log.push(`  patched: ${show(list())}`)
        else if (a.type === 'socket/sync:gap') log.push('  gap: the list is read again')
        return result
      },
    ],
  })
  const list = () => api.endpoints.getConversations.select()(store.getState()).data ?? []
  const show = (cs: readonly Conversation[]) =>
    cs.map((c) => `${c.id}:last=${c.lastMessage?.seq ?? 0},unread=${c.unreadCount}`).join(' ')
  const context = () => [`seed ${seed}`, ...log, `list   ${show(list())}`, `server ${show(srv.snapshot())}`].join('\n')
  const open = store.dispatch(api.endpoints.getConversations.initiate())
  // The thread page of c1 open too (its join is never answered: nothing is read for this page by the server).
  const thread = withSends ? store.dispatch(api.endpoints.getMessages.initiate('c1')) : null
  const threadNow = () => api.endpoints.getMessages.select('c1')(store.getState()).data ?? []
  sockets.last.serverConnect()
  sockets.last.serverEmit('sync:caughtUp', { offset: srv.offset, epoch: 'e1' })
  await turns()

  const deliver = async (k: number) => {
    const out = srv.take(k)
    for (const e of out) sockets.last.serverEmit(e.event, e.payload, { offset: e.offset })
    log.push(`deliver ${out.map((e) => `${e.offset}:${e.event}`).join(' ')}`)
    await turns()
  }
  const answerRead = async (asOfAsking: boolean) => {
    const read = srv.reads.shift()
    if (!read) return
    const body = asOfAsking ? read.asOfAsking : srv.snapshot()
    log.push(`answer a list read ${asOfAsking ? 'as asked' : 'as now'}: ${show(body)}`)
    read.answer(json(200, body))
    await turns()
  }

  let sent = 0
  const answerPost = async () => {
    const post = srv.posts.shift()
    if (!post) return
    const m = srv.write(post.conversationId, 'alice', post.clientId)
    log.push(`server takes ${post.clientId} over HTTP: ${m.conversationId} ${m.seq}`)
    post.answer(json(201, m))
    await turns()
  }
  const takeSend = async (packet: ReturnType<typeof sockets.last.sent>[number], ack: boolean) => {
    const { conversationId, clientId } = packet.args[0] as { conversationId: string; clientId: string }
    const m = srv.write(conversationId, 'alice', clientId)
    if (ack) packet.ack({ ok: true, data: m })
    log.push(`server takes ${clientId} on the socket${ack ? '' : ' (ack lost)'}: ${conversationId} ${m.seq}`)
    await turns()
  }
  const answerThread = async (asOfAsking: boolean) => {
    const read = srv.threadReads.shift()
    if (!read) return
    const body = asOfAsking ? read.asOfAsking : srv.thread().slice(-50)
    log.push(`answer a thread read with ..${body.at(-1)?.seq ?? 0}`)
    read.answer(json(200, body))
    await turns()
  }

  for (let step = 0; step < 40; step++) {
    const x = next()
    const id = next() < 0.7 ? 'c1' : 'c2'
    if (withSends && next() < 0.3) {
      const y = next()
      if (y < 0.35) {
        const clientId = `k${sent++}`
        store.dispatch(sendMessage({ conversationId: id, content: `text ${clientId}`, clientId }))
        log.push(`alice sends ${clientId} in ${id} from this page`)
        await turns()
      } else if (y < 0.55) await answerPost()
      else if (y < 0.8) {
        const packet = sockets.last.sent('message:send').at(-1)
        if (packet) await takeSend(packet, next() < 0.7)
      } else await answerThread(next() < 0.5)
      continue
    }
    if (x < 0.25) {
      srv.write(id, 'bob')
      log.push(`bob writes in ${id}`)
    } else if (x < 0.35) {
      srv.write(id, 'alice')
      log.push(`alice writes in ${id} elsewhere`)
    } else if (x < 0.45) {
      if (srv.read(id)) log.push(`alice reads ${id} elsewhere`)
    } else if (x < 0.65) await deliver(1 + Math.floor(next() * 4))
    else if (x < 0.75) {
      void open.refetch()
      log.push('list read again')
      await turns()
    } else if (x < 0.87) await answerRead(next() < 0.5)
    else if (x < 0.93) {
      sockets.last.serverDrop()
      srv.lose()
      sockets.last.serverConnect('sock-2')
      sockets.last.serverEmit('sync:gap', { offset: srv.offset, epoch: 'e1' })
      log.push('gap')
      await turns()
    } else {
      sockets.last.serverDrop()
      sockets.last.serverConnect('sock-3')
      const k = Math.floor(next() * 6)
      for (const e of srv.sentSoFar.slice(-k)) sockets.last.serverEmit(e.event, e.payload, { offset: e.offset })
      const rest = srv.take(1000)
      for (const e of rest) sockets.last.serverEmit(e.event, e.payload, { offset: e.offset })
      sockets.last.serverEmit('sync:caughtUp', { offset: srv.offset, epoch: 'e1' })
      log.push(`resume, ${k} again, then ${rest.map((e) => `${e.offset}:${e.event}`).join(' ')}`)
      await turns()
    }
  }

  await eventually(async () => {
    while (srv.posts.length > 0) await answerPost()
    for (const packet of sockets.last.sent('message:send')) await takeSend(packet, true)
    await deliver(srv.waiting)
    while (srv.reads.length > 0) await answerRead(false)
    while (srv.threadReads.length > 0) await answerThread(false)
    await turns()
    expect(srv.waiting + srv.reads.length + srv.posts.length + srv.threadReads.length).toBe(0)
    expect(store.getState().socket.outbox).toHaveLength(0)
  })
  expect(show(list()), context()).toBe(show(srv.snapshot()))
  if (thread) {
    const ids = threadNow().map((m) => m.id)
    expect(new Set(ids).size, context()).toBe(ids.length)
    expect(threadNow().at(-1)?.id, context()).toBe(srv.thread().at(-1)?.id)
    thread.unsubscribe()
  }
  open.unsubscribe()
  store.dispose()
}

describe('the conversation list over random orderings of events, reads, gaps and resumes', () => {
  test.each(Array.from({ length: SEEDS }, (_, i) => i + 1))(
    'seed %i: the list ends as the server has it',
    async (seed) => {
      await run(seed, false)
    },
  )
  test.each(Array.from({ length: SEEDS }, (_, i) => i + 1))(
    'seed %i, with sends from this page and its thread open: the list ends as the server has it',
    async (seed) => {
      await run(seed, true)
    },
  )
})
