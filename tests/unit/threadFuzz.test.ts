import { describe, expect, test } from 'vitest'
import { api, type ThreadMessage } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { Message } from '../../src/contract'
import { firstSeq, mergeOlder } from '../../src/features/messages/order'
import { sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, message } from './support/fixtures'
import { json } from './support/responses'

// "No message that was accepted is ever lost or shown twice", for one thread, over seeded random orderings of what can
// happen around it: Bob writes (one at a time, or more than a page at once), the socket delivers some of what is
// waiting, a read of the thread is answered (with the server as it was when asked, or as it is now), the connection
// comes back with a gap (what was waiting is never delivered: the thread is read again) or resumes (its replay
// repeating some of what came before the drop), the reader loads earlier messages (as the thread page does), Alice
// sends, and the server takes her send over the socket (with or without its ack) or over HTTP. Once everything is delivered and answered, the thread holds no message twice and no hole,
// ends at the server's last message, and "Load earlier" reaches the first.

const SEEDS = 40

const stored = (m: ThreadMessage) => m.status === undefined || m.status === 'sent'
const upTo = (from: number, length: number) => Array.from({ length }, (_, i) => from + i)

/** A few task turns: whatever the last step set going (a fetch, its answer, the cache work) has mostly landed. */
async function turns() {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** mulberry32: a small seeded generator, so a failing seed replays. */
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

/** The server's side of thread c1: its messages, the events on their way to Alice's socket, the requests held. */
function server(log: string[]) {
  const all: Message[] = []
  let offset = 10
  let waiting: { event: string; message: Message; offset: number }[] = []
  const sentSoFar: { event: string; message: Message; offset: number }[] = []
  const reads: { asOfAsking: Message[]; answer: (r: Response) => void }[] = []
  const posts: { clientId: string; answer: (r: Response) => void }[] = []
  /** Stores a message (Alice's once per clientId) and puts its event on its way. */
  const store = (clientId: string | null = null): Message => {
    const known = all.find((m) => clientId !== null && m.clientId === clientId)
    if (known) return known
    const m = message(all.length + 1, clientId === null ? {} : { senderId: alice.id, clientId })
    all.push(m)
    waiting.push({ event: clientId === null ? 'message:new' : 'message:sent', message: m, offset: ++offset })
    return m
  }
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    if (url.pathname !== '/api/conversations/c1/messages') return json(200, [])
    if (request.method === 'POST') {
      const { clientId } = (await request.json()) as { clientId: string }
      return new Promise<Response>((resolve) => posts.push({ clientId, answer: resolve }))
    }
    const before = url.searchParams.get('before')
    if (before !== null) return json(200, all.filter((m) => m.seq < Number(before)).slice(-50))
    log.push(`  read asked at ${all.length}`)
    return new Promise<Response>((resolve) => reads.push({ asOfAsking: [...all], answer: resolve }))
  }) as typeof fetch
  return {
    all,
    reads,
    posts,
    fetchFn,
    store,
    get offset() {
      return offset
    },
    /** The next `n` events, off to the socket. */
    take: (n: number) => {
      const out = waiting.splice(0, n)
      sentSoFar.push(...out)
      return out
    },
    sentSoFar,
    /** What was on its way when the connection dropped with a gap: never delivered. */
    lose: () => void (waiting = []),
    get waiting() {
      return waiting.length
    },
  }
}

async function run(seed: number) {
  const next = random(seed)
  const log: string[] = []
  const srv = server(log)
  for (let i = 0; i < 70; i++) srv.store()
  const sockets = fakeSockets()
  const store = trackedStore({
    apiUrl: 'http://api.test',
    fetchFn: srv.fetchFn,
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    preloadedState: { auth: { token: 'token-1', user: alice } },
    realtime: { invalidationWindowMs: 0 },
  })
  const thread = (): ThreadMessage[] => api.endpoints.getMessages.select('c1')(store.getState()).data ?? []
  const context = () =>
    [`seed ${seed}`, ...log, `thread ${thread().map((m) => `${m.seq}${m.status ? `:${m.status}` : ''}`)}`].join('\n')
  // The thread page is open: its subscription keeps the thread read again on a gap.
  const open = store.dispatch(api.endpoints.getMessages.initiate('c1'))
  sockets.last.serverConnect()
  sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
  await turns()

  const deliver = async (n: number) => {
    for (const e of srv.take(n)) sockets.last.serverEmit(e.event, e.message, { offset: e.offset })
    log.push(`deliver ${n}`)
    await turns()
  }
  const answerRead = async (asOfAsking: boolean) => {
    const read = srv.reads.shift()
    if (!read) return
    const list = asOfAsking ? read.asOfAsking : [...srv.all]
    log.push(`answer a read with ${list.length > 50 ? list.length - 49 : 1}..${list.length}`)
    read.answer(json(200, list.slice(-50)))
    await turns()
  }
  const answerPost = async () => {
    const post = srv.posts.shift()
    if (!post) return
    const m = srv.store(post.clientId)
    log.push(`server takes ${post.clientId} over HTTP: ${m.seq}`)
    post.answer(json(201, m))
    await turns()
  }
  // As the thread page's "Load earlier": a page that no longer ends where the thread starts is not merged.
  const loadEarlier = async () => {
    const before = firstSeq(thread())
    if (before === null || before <= 1) return
    const older = await store
      .dispatch(api.endpoints.getMessagesBefore.initiate({ conversationId: 'c1', before, limit: 50 }))
      .unwrap()
    if (firstSeq(thread()) !== before) return
    store.dispatch(api.util.updateQueryData('getMessages', 'c1', (draft) => mergeOlder(draft, older)))
    log.push(`load earlier before ${before}`)
    await turns()
  }

  let sent = 0
  for (let step = 0; step < 40; step++) {
    const x = next()
    if (x < 0.25) {
      const n = next() < 0.3 ? 60 : 1 + Math.floor(next() * 5)
      for (let i = 0; i < n; i++) srv.store()
      log.push(`bob writes ${n}`)
    } else if (x < 0.5) await deliver(1 + Math.floor(next() * 70))
    else if (x < 0.65) await answerRead(next() < 0.5)
    else if (x < 0.72) {
      sockets.last.serverDrop()
      srv.lose()
      sockets.last.serverConnect('sock-2')
      sockets.last.serverEmit('sync:gap', { offset: srv.offset, epoch: 'e1' })
      log.push(`gap at ${srv.all.length}`)
      await turns()
    } else if (x < 0.78) {
      // A resume: the replay overlaps what was delivered before the drop, then what was waiting, then caught up.
      sockets.last.serverDrop()
      sockets.last.serverConnect('sock-3')
      const k = Math.floor(next() * 20)
      for (const e of srv.sentSoFar.slice(-k)) sockets.last.serverEmit(e.event, e.message, { offset: e.offset })
      for (const e of srv.take(1000)) sockets.last.serverEmit(e.event, e.message, { offset: e.offset })
      sockets.last.serverEmit('sync:caughtUp', { offset: srv.offset, epoch: 'e1' })
      log.push(`resume, ${k} again`)
      await turns()
    } else if (x < 0.85) await loadEarlier()
    else if (x < 0.92) {
      const clientId = `k${sent++}`
      store.dispatch(sendMessage({ conversationId: 'c1', content: `text ${clientId}`, clientId }))
      log.push(`alice sends ${clientId}`)
      await turns()
    } else if (srv.posts.length > 0 && next() < 0.5) await answerPost()
    else {
      // The server takes the last send on the socket; its ack may be lost (the event still comes).
      const packet = sockets.last.sent('message:send').at(-1)
      if (packet) {
        const m = srv.store((packet.args[0] as { clientId: string }).clientId)
        if (next() < 0.7) packet.ack({ ok: true, data: m })
        log.push(`server takes ${m.clientId} on the socket: ${m.seq}`)
        await turns()
      }
    }
  }

  // Everything delivered and answered, until nothing more is asked.
  await eventually(async () => {
    while (srv.posts.length > 0) await answerPost()
    // Every send on the socket taken and answered (an answer on a connection since closed goes nowhere).
    for (const packet of sockets.last.sent('message:send'))
      packet.ack({ ok: true, data: srv.store((packet.args[0] as { clientId: string }).clientId) })
    await deliver(srv.waiting)
    while (srv.reads.length > 0) await answerRead(false)
    await turns()
    expect(srv.posts.length + srv.waiting + srv.reads.length).toBe(0)
    expect(
      thread().some((m) => !stored(m)),
      context(),
    ).toBe(false)
  })
  const ids = thread().map((m) => m.id)
  expect(new Set(ids).size, context()).toBe(ids.length)
  const seqs = thread().map((m) => m.seq)
  expect(seqs, context()).toEqual(upTo(seqs[0]!, seqs.length))
  expect(seqs.at(-1), context()).toBe(srv.all.length)
  for (let i = 0; i < 40 && (firstSeq(thread()) ?? 1) > 1; i++) await loadEarlier()
  expect(
    thread().map((m) => m.seq),
    context(),
  ).toEqual(upTo(1, srv.all.length))
  open.unsubscribe()
  store.dispose()
}

describe('a thread over random orderings of events, reads, gaps, sends and "Load earlier"', () => {
  test.each(upTo(1, SEEDS))('seed %i: no message missing, none twice', async (seed) => {
    await run(seed)
  })
})
