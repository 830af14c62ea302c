import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import fc from 'fast-check'
import { expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import type { Lesson, Message, ServerEventName } from '../../src/contract'
import { shutdown, syncCaughtUp, syncGap } from '../../src/realtime'
import { fakeSockets, type FakeSocket } from '../unit/support/fakeSocket'
import { alice, bob, lesson } from '../unit/support/fixtures'

// The property of durable resume: any interleaving of events, lost and delayed deliveries, duplicates, drops,
// restarts, pruning and reads in flight ends with the cache equal to the model server's data, and every offset the
// store applies is the previous one plus one, except across a `sync:gap`. Against an in-memory model that speaks
// offsets (handshake `auth.offset`, replay, `sync:caughtUp`/`sync:gap`), so hundreds of runs take seconds.

type Command =
  | { kind: 'message'; conversation: 'c1' | 'c2' }
  | { kind: 'lesson' }
  | { kind: 'lose' }
  | { kind: 'delay' }
  | { kind: 'release' }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'drop' }
  | { kind: 'restart' }
  | { kind: 'prune' }
  | { kind: 'read'; conversation: 'c1' | 'c2' }
  | { kind: 'wait'; ms: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('message' as const),
      conversation: fc.constantFrom('c1' as const, 'c2' as const),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'lesson' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'lose' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'delay' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'release' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'prune' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      conversation: fc.constantFrom('c1' as const, 'c2' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 12 }) }) },
)

interface Logged {
  offset: number
  event: ServerEventName
  payload: unknown
}

const turn = () => new Promise((r) => setImmediate(r))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The server, in memory: Alice's log of events with offsets, her data, one socket of hers, and HTTP reads. */
class ModelServer {
  readonly threads = new Map<string, Message[]>([
    ['c1', []],
    ['c2', []],
  ])
  lesson: Lesson = lesson('l1')
  readonly log: Logged[] = []
  epoch = 'epoch-1'
  /** Offsets at or below this one are pruned: a resume from below it is a gap. */
  prunedThrough = 0
  /** The socket events go to once its replay is over. */
  live: FakeSocket | null = null
  loseNext = false
  delayNext = false
  readonly delayed: Array<{ socket: FakeSocket; item: Logged }> = []
  reads = 0
  private answered = new WeakMap<FakeSocket, number>()

  get head(): number {
    return this.log.at(-1)?.offset ?? 0
  }

  private emit(socket: FakeSocket, item: Logged) {
    socket.serverEmit(item.event, item.payload, { offset: item.offset })
  }

  append(event: ServerEventName, payload: unknown) {
    const item = { offset: this.head + 1, event, payload }
    this.log.push(item)
    const socket = this.live
    if (!socket?.connected) return
    if (this.loseNext) this.loseNext = false
    else if (this.delayNext) (this.delayNext = false), this.delayed.push({ socket, item })
    else this.emit(socket, item)
  }

  message(conversationId: string) {
    const thread = this.threads.get(conversationId)!
    const seq = thread.length + 1
    const message: Message = {
      id: `${conversationId}-m${seq}`,
      conversationId,
      seq,
      senderId: bob.id,
      content: `hello ${seq}`,
      createdAt: new Date(Date.parse('2026-11-24T08:00:00.000Z') + seq * 1000).toISOString(),
      clientId: null,
    }
    thread.push(message)
    this.append('message:new', message)
  }

  bumpLesson() {
    const statuses = ['pending', 'confirmed', 'cancelled'] as const
    const next = statuses[(statuses.indexOf(this.lesson.status as (typeof statuses)[number]) + 1) % statuses.length]!
    this.lesson = {
      ...this.lesson,
      status: next,
      updatedAt: new Date(Date.parse(this.lesson.updatedAt) + 60_000).toISOString(),
    }
    this.append('lesson:statusUpdated', this.lesson)
  }

  release() {
    for (const { socket, item } of this.delayed.splice(0))
      if (socket.connected && socket === this.live) this.emit(socket, item)
  }

  duplicate(pick: number) {
    if (this.log.length === 0 || !this.live?.connected) return
    this.emit(this.live, this.log[pick % this.log.length]!)
  }

  drop() {
    if (this.live?.connected) this.live.serverDrop('transport close')
    this.live = null
  }

  /** Answers a handshake under way: the replay after the client's offset (or a gap), then live events. */
  handshake(socket: FakeSocket | undefined) {
    if (!socket || socket.connected || socket.connectCalls <= (this.answered.get(socket) ?? 0)) return
    this.answered.set(socket, socket.connectCalls)
    let auth: { offset?: number; epoch?: string } = {}
    const option = socket.options.auth
    if (typeof option === 'function') option((data: object) => (auth = data as typeof auth))
    socket.serverConnect(`s-${socket.connectCalls}`)
    if (auth.offset === undefined) socket.serverEmit('sync:caughtUp', { offset: this.head, epoch: this.epoch })
    else if (auth.epoch === this.epoch && auth.offset >= this.prunedThrough && auth.offset <= this.head) {
      for (const item of this.log) if (item.offset > auth.offset) this.emit(socket, item)
      socket.serverEmit('sync:caughtUp', { offset: this.head, epoch: this.epoch })
    } else socket.serverEmit('sync:gap', { offset: this.head, epoch: this.epoch })
    this.live = socket
  }

  /** HTTP reads: the data as of the request, answered a moment later (events can overtake the answer). */
  readonly fetch = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init)
    const path = new URL(request.url).pathname
    this.reads++
    const json = (body: unknown) =>
      new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })
    const thread = /^\/api\/conversations\/([^/]+)\/messages$/.exec(path)
    const body = thread
      ? [...(this.threads.get(decodeURIComponent(thread[1]!)) ?? [])]
      : path === '/api/lessons'
        ? [this.lesson]
        : null
    await sleep(this.reads % 3)
    return body === null ? new Response('{}', { status: 404 }) : json(body)
  }) as typeof fetch
}

async function run(commands: Command[]) {
  const model = new ModelServer()
  const sockets = fakeSockets()
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    if (typeof action === 'object' && action !== null) actions.push(action as UnknownAction)
    return next(action)
  }
  const store = makeStore({
    apiUrl: 'http://model.test',
    createSocket: sockets.createSocket,
    fetchFn: model.fetch,
    storage: createMemoryStorage(),
    extraMiddleware: [record],
    preloadedState: { auth: { token: 'token-1', user: alice } },
    realtime: {
      retryTriggers: () => () => {},
      backoff: { baseMs: 2, capMs: 10 },
      invalidationWindowMs: 3,
      resumeHoldMs: 8,
    },
  })
  const subs = [
    store.dispatch(api.endpoints.getMessages.initiate('c1')),
    store.dispatch(api.endpoints.getMessages.initiate('c2')),
    store.dispatch(api.endpoints.getLessons.initiate()),
  ]
  const current = () => sockets.sockets.at(-1)

  for (const c of commands) {
    model.handshake(current())
    switch (c.kind) {
      case 'message':
        model.message(c.conversation)
        break
      case 'lesson':
        model.bumpLesson()
        break
      case 'lose':
        model.loseNext = true
        break
      case 'delay':
        model.delayNext = true
        break
      case 'release':
        model.release()
        break
      case 'duplicate':
        model.duplicate(c.pick)
        break
      case 'drop':
        model.drop()
        break
      case 'restart':
        // The process goes: its sockets drop, deliveries it had not sent are gone; the log is in the database.
        model.delayed.length = 0
        model.drop()
        break
      case 'prune':
        model.prunedThrough = model.head
        break
      case 'read':
        void store.dispatch(
          api.endpoints.getMessages.initiate(c.conversation, { subscribe: false, forceRefetch: true }),
        )
        break
      case 'wait':
        await sleep(c.ms)
        break
    }
    await turn()
  }

  // Quiet again: delayed deliveries arrive, one more event reveals any lost one, and the model answers handshakes
  // until the store has applied the head and no read is in flight. Given up only when nothing moved for 10 s.
  model.loseNext = false
  model.delayNext = false
  model.release()
  model.bumpLesson()
  let progress = ''
  let movedAt = Date.now()
  const reading = () => Object.values(store.getState().api.queries).some((q) => q?.status === 'pending')
  /**
   * After the last `sync:gap`, the refetch it asked for (after its invalidation window) has landed for every list: a
   * read that started before the gap (still in flight when it came) answers with data from before it, so only a read
   * started after it counts.
   */
  const refetchedAfterGap = () => {
    const gap = actions.findLastIndex((a) => syncGap.match(a))
    if (gap === -1) return true
    type QueryMeta = { requestId?: string; arg?: { queryCacheKey?: string } }
    const startedAfterGap = new Set(
      actions
        .slice(gap)
        .filter((a) => a.type === 'api/executeQuery/pending')
        .map((a) => (a.meta as QueryMeta).requestId),
    )
    const landed = new Set(
      actions
        .slice(gap)
        .filter((a) => a.type === 'api/executeQuery/fulfilled' && startedAfterGap.has((a.meta as QueryMeta).requestId))
        .map((a) => String((a.meta as QueryMeta).arg?.queryCacheKey)),
    )
    return landed.size >= subs.length
  }
  while (Date.now() - movedAt < 10_000) {
    const { offset, syncing, status } = store.getState().socket.connection
    if (status === 'connected' && !syncing && offset === model.head && !reading() && refetchedAfterGap()) break
    const now = `${offset}/${status}/${actions.length}`
    if (now !== progress) (progress = now), (movedAt = Date.now())
    model.handshake(current())
    await sleep(2)
  }
  await sleep(10)
  const state = store.getState()
  for (const s of subs) s.unsubscribe()
  store.dispatch(shutdown())
  return { model, actions, state }
}

/** The offsets applied, checked against the sync actions: each the previous + 1, except after a `sync:gap`. */
function offsetTrail(actions: UnknownAction[]): { ok: boolean; applied: number; gaps: number; why?: string } {
  let last: number | null = null
  let applied = 0
  let gaps = 0
  for (const a of actions) {
    if (syncGap.match(a)) {
      last = a.payload.offset
      gaps++
    } else if (syncCaughtUp.match(a)) {
      if (last === null) last = a.payload.offset
      else if (a.payload.offset !== last)
        return { ok: false, applied, gaps, why: `caught up at ${a.payload.offset} after ${last}` }
    } else {
      const offset = (a.meta as { offset?: unknown } | undefined)?.offset
      if (typeof offset !== 'number') continue
      if (last === null || offset !== last + 1) return { ok: false, applied, gaps, why: `${offset} after ${last}` }
      last = offset
      applied++
    }
  }
  return { ok: true, applied, gaps }
}

test('property: any interleaving of events, losses, delays, duplicates, drops, restarts and pruning → offsets applied one by one, the cache equal to the model', async () => {
  const t0 = Date.now()
  let runs = 0
  let applied = 0
  let gaps = 0
  let resumes = 0
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40, size: 'large' }), async (commands) => {
      runs++
      const { model, actions, state } = await run(commands)
      const trail = offsetTrail(actions)
      expect(trail).toMatchObject({ ok: true })
      applied += trail.applied
      gaps += trail.gaps
      resumes += actions.filter((a) => a.type === 'socket/resumeStalled').length
      expect(state.socket.connection.offset).toBe(model.head)
      for (const id of ['c1', 'c2']) {
        const cached = api.endpoints.getMessages.select(id)(state).data ?? []
        expect(cached.map((m) => [m.id, m.seq])).toEqual(model.threads.get(id)!.map((m) => [m.id, m.seq]))
      }
      expect(api.endpoints.getLessons.select()(state).data).toEqual([model.lesson])
    }),
    { numRuns: 200 },
  )
  console.log(
    'resume property',
    JSON.stringify({ runs, applied, gaps, resumes, seconds: +((Date.now() - t0) / 1000).toFixed(1) }),
  )
  expect(resumes).toBeGreaterThan(0)
  expect(gaps).toBeGreaterThan(0)
}, 240_000)
