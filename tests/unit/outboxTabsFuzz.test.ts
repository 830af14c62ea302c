import { describe, expect, test, vi } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { Message } from '../../src/contract'
import {
  createLeaseLock,
  createMemoryLock,
  drainStarted,
  drainStopped,
  outboxStorageKey,
  selectPendingMessages,
  sendMessage,
  shutdown,
  type AppSocket,
  type CreateSocket,
  type DrainLock,
} from '../../src/realtime'
import { drainLockOver } from '../../src/realtime/drainLock'
import { createMemoryTabLock } from '../../src/realtime/tabs/tabLock'
import type { Timers } from '../../src/realtime/timers'
import { FakeSocket } from './support/fakeSocket'
import { expectStoredAsWritten, fuzzMessageServer, turns, withFuzzClock } from './support/fuzzMessageServer'
import { alice } from './support/fixtures'
import { json } from './support/responses'
import { seededRandom } from './tabs/support/virtualTime'

// Several tabs of one user (one storage, one drain lock: a queued lock granted at once, Web Locks granted a microtask
// later as browsers do, or each tab's lease over the storage), each a socket of its own (no tabs option), over seeded
// random orderings of what can happen around their shared outbox: a
// tab writes in one of two conversations, the server answers a send (stored; RATE_LIMITED with retryAfterMs; or
// INTERNAL, stored or not, whose backoff lets the lock go to the other tabs meanwhile), an answer is lost (the send
// times out and goes again; the server may or may not have stored it), time passes, a tab's socket drops or comes
// back (its missed confirmations replayed), a tab closes. Once everything is answered and the timers have run out:
// each message written is stored once, each conversation in the order written, storage is empty and no tab holds the
// lock. The timers are vitest's fake ones (the layer's host timers, the fake socket's ack timeout, the lease's polls
// and clock): nothing waits on the wall clock.
//
// Left out of the model, known and accepted: with the lease, a tab letting it go and writing again within a waiting
// tab's poll period may send first (each write is preceded by the waiting tabs' polls); a tab closed while it holds
// the lock (a send of its own in flight or waiting to go again) leaves it until a survivor's next send or a reload
// (only a tab not holding the lock closes).
//
// Seeds 5 and 173 (both with the lease) failed before the holder looked at storage on letting the lock go with no
// read of its own in that run: a send written in a tab closed while it waited, after the holder's last write, stayed in
// storage and went after the survivor's next send of its conversation (its deterministic form, over both lock kinds:
// tests/unit/durableOutbox.test.ts, the send already confirmed). `FUZZ_SEEDS` and `FUZZ_STEPS` run more (600 seeds of
// 80 steps pass, in about 100 s).

const SEEDS = Number(process.env.FUZZ_SEEDS ?? 36)
const STEPS = Number(process.env.FUZZ_STEPS ?? 40)
const ACK_TIMEOUT_MS = 5_000
const CONVERSATIONS = ['c1', 'c2'] as const
const lockName = `talemy.outbox.${alice.id}`

withFuzzClock()

/** A `message:send` emit as the fake server sees it; `settled` once its callback has run by any path. */
interface Emit {
  tab: number
  clientId: string
  conversationId: string
  answer: (response: unknown) => void
  settled: () => boolean
  lost: boolean
}

/** The socket of a tab: its emits with an ack are recorded for the model, each knowing whether it was settled. */
class ModelSocket extends FakeSocket {
  readonly sends: Emit[] = []
  constructor(
    url: string,
    options: ConstructorParameters<typeof FakeSocket>[1],
    readonly tab: number,
    private readonly onSend: (emit: Emit) => void,
  ) {
    super(url, options)
  }
  override timeout(ms: number) {
    const inner = super.timeout(ms)
    return {
      emit: (event: string, ...args: unknown[]) => {
        const callback = args.at(-1)
        if (event !== 'message:send' || typeof callback !== 'function') return inner.emit(event, ...args)
        let settled = false
        const wrapped = (...a: unknown[]) => {
          settled = true
          ;(callback as (...x: unknown[]) => void)(...a)
        }
        inner.emit(event, ...args.slice(0, -1), wrapped)
        const packet = this.sent('message:send').at(-1)!
        const { clientId, conversationId } = args[0] as { clientId: string; conversationId: string }
        const emit = {
          tab: this.tab,
          clientId,
          conversationId,
          answer: packet.ack,
          settled: () => settled,
          lost: false,
        }
        this.sends.push(emit)
        this.onSend(emit)
      },
    }
  }
}

async function run(seed: number, kind: LockKind) {
  const lease = kind === 'lease'
  const next = seededRandom(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!
  const log: string[] = []
  const storage = createMemoryStorage()

  // --- The server: one message per clientId (a repeat answers the stored one), seq per conversation. -------------
  const { storedOrder, posts, storeMessage, fetchOf } = fuzzMessageServer({
    log,
    // Its confirmation goes to every socket of the sender; one that is down gets it on its next connect (its replay).
    stored: (m) => {
      for (const t of tabs) {
        if (t.closed) continue
        if (t.socket().connected) t.socket().serverEmit('message:sent', m)
        else t.missed.push(m)
      }
    },
    otherRequest: () => json(404, { error: { code: 'NOT_FOUND', message: 'no' } }),
  })
  const fetchFn = fetchOf('any')

  // --- The tabs. ---------------------------------------------------------------------------------------------------
  const queuedLock = createMemoryLock()
  /** Web Locks as browsers grant them: asynchronously, a crashed tab's grants released. */
  const webLocks = createMemoryTabLock()
  /** The lease's polls for a lease held by another tab (≤ 1 s), run before each write (see the note at the top). */
  const polls = new Set<{ fn: () => void; handle: unknown }>()
  const pollTimers: Timers = {
    setTimeout: (fn, ms) => {
      if (ms > 1_000) return globalThis.setTimeout(fn, ms)
      const poll = {
        fn,
        handle: globalThis.setTimeout(() => {
          polls.delete(poll)
          fn()
        }, ms),
      }
      polls.add(poll)
      return poll
    },
    clearTimeout: (handle) => {
      const poll = handle as { handle?: unknown }
      if (polls.has(poll as never)) {
        polls.delete(poll as never)
        globalThis.clearTimeout(poll.handle as number)
      } else globalThis.clearTimeout(handle as number)
    },
  }
  const runPolls = () => {
    for (const poll of [...polls]) {
      polls.delete(poll)
      globalThis.clearTimeout(poll.handle as number)
      poll.fn()
    }
  }
  /** A tab's drain lock, counting the grants it holds (taken, not yet released or given up). */
  const tracked = (inner: DrainLock, t: { holding: number }): DrainLock => ({
    request(name, onAcquired) {
      let holding = false
      const drop = () => {
        if (!holding) return
        holding = false
        t.holding--
      }
      const giveUp = inner.request(name, (release) => {
        holding = true
        t.holding++
        onAcquired(() => (drop(), release()))
      })
      return () => (drop(), giveUp())
    },
  })
  const openTab = (i: number) => {
    const sockets: ModelSocket[] = []
    const createSocket: CreateSocket = (url, options) => {
      const socket = new ModelSocket(url, options, i, (e) => log.push(`  t${i} emits ${e.clientId}`))
      sockets.push(socket)
      return socket as unknown as AppSocket
    }
    const t = {
      i,
      closed: false,
      holding: 0,
      missed: [] as Message[],
      sockets,
      socket: () => sockets.at(-1)!,
      store: undefined as unknown as ReturnType<typeof trackedStore>,
    }
    const lock = lease
      ? createLeaseLock(storage, { owner: `t${i}`, timers: pollTimers })
      : kind === 'webLocks'
        ? drainLockOver(webLocks.tab(`t${i}`))
        : queuedLock
    t.store = trackedStore({
      apiUrl: 'http://api.test',
      fetchFn,
      createSocket,
      storage,
      shareSocket: false,
      extraMiddleware: [
        () => (next) => (action) => {
          if (drainStarted.match(action) || drainStopped.match(action)) log.push(`  t${i} ${action.type}`)
          return next(action)
        },
      ],
      preloadedState: { auth: { token: 'token-1', user: alice } },
      realtime: {
        drainLock: tracked(lock, t),
        ackTimeoutMs: ACK_TIMEOUT_MS,
        backoff: { baseMs: 1_000, capMs: 8_000 },
        random: () => 0.5,
      },
    })
    t.socket().serverConnect(`s${i}`)
    return t
  }
  const tabCount = 2 + Math.floor(next() * 2)
  const tabs = Array.from({ length: tabCount }, (_, i) => openTab(i))
  const open = () => tabs.filter((t) => !t.closed)
  const openEmits = () => tabs.flatMap((t) => t.sockets.flatMap((s) => s.sends)).filter((e) => !e.settled() && !e.lost)

  const connect = (t: (typeof tabs)[number]) => {
    t.socket().serverConnect(`s${t.i}-${t.sockets.length}`)
    for (const m of t.missed.splice(0)) t.socket().serverEmit('message:sent', m)
  }
  const answerOne = (ok: 'stored' | 'rateLimited' | 'internal') => {
    const emits = openEmits()
    const choices = [...emits.map((e) => ({ emit: e })), ...posts.map((p) => ({ post: p }))]
    if (choices.length === 0) return
    const choice = pick(choices)
    const retryAfterMs = 100 + Math.floor(next() * 3_000)
    const rateLimited = { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs }
    const internal = { code: 'INTERNAL', message: 'boom' }
    // An INTERNAL answer may come after the server stored the message (its confirmation reaches every tab).
    const storedAnyway = ok === 'internal' && next() < 0.5
    if ('emit' in choice) {
      const e = choice.emit
      if (storedAnyway) storeMessage(e.clientId, e.conversationId)
      if (ok === 'rateLimited') e.answer({ ok: false, error: rateLimited })
      else if (ok === 'internal') e.answer({ ok: false, error: internal })
      else e.answer({ ok: true, data: storeMessage(e.clientId, e.conversationId) })
      log.push(`${ok}${storedAnyway ? ' (stored)' : ''} ${e.clientId} (t${e.tab}, socket)`)
    } else {
      const p = choice.post
      if (storedAnyway) storeMessage(p.clientId, p.conversationId)
      if (ok === 'rateLimited') p.answer(json(429, { error: rateLimited }))
      else if (ok === 'internal') p.answer(json(500, { error: internal }))
      else p.answer(json(201, storeMessage(p.clientId, p.conversationId)))
      log.push(`${ok}${storedAnyway ? ' (stored)' : ''} ${p.clientId} (http)`)
    }
  }
  const loseOne = () => {
    const emits = openEmits()
    const choices = [...emits.map((e) => ({ emit: e })), ...posts.map((p) => ({ post: p }))]
    if (choices.length === 0) return
    const choice = pick(choices)
    const reached = next() < 0.5
    if ('emit' in choice) {
      const e = choice.emit
      e.lost = true
      if (reached) storeMessage(e.clientId, e.conversationId)
      log.push(`answer lost ${e.clientId} (t${e.tab}, socket${reached ? ', stored' : ''})`)
      // Its ack timeout runs out (and whatever else falls due meanwhile).
      vi.advanceTimersByTime(ACK_TIMEOUT_MS)
    } else {
      const p = choice.post
      if (reached) storeMessage(p.clientId, p.conversationId)
      p.fail()
      log.push(`answer lost ${p.clientId} (http${reached ? ', stored' : ''})`)
    }
  }

  const written: { clientId: string; conversationId: string }[] = []
  const context = () =>
    [
      `seed ${seed} (${kind}, ${tabCount} tabs)`,
      ...log,
      `written ${written.map((w) => `${w.clientId}@${w.conversationId}`).join(' ')}`,
      `stored  ${storedOrder.map((m) => `${m.clientId}@${m.conversationId}`).join(' ')}`,
    ].join('\n')

  await turns()
  for (let step = 0; step < STEPS; step++) {
    const x = next()
    if (x < 0.3) {
      const t = pick(open())
      const conversationId = pick(CONVERSATIONS)
      const clientId = `w${written.length}`
      if (lease) runPolls()
      await turns()
      written.push({ clientId, conversationId })
      const createdAt = new Date(Date.UTC(2026, 0, 1, 12) + written.length * 1_000).toISOString()
      t.store.dispatch({
        ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
        meta: { createdAt },
      })
      log.push(`t${t.i} writes ${clientId} in ${conversationId}`)
    } else if (x < 0.49) answerOne('stored')
    else if (x < 0.57) answerOne('internal')
    else if (x < 0.63) answerOne('rateLimited')
    else if (x < 0.73) loseOne()
    else if (x < 0.81) {
      const ms = Math.floor(next() * 3_000)
      vi.advanceTimersByTime(ms)
      log.push(`${ms} ms pass`)
    } else if (x < 0.93) {
      const t = pick(open())
      if (t.socket().connected) t.socket().serverDrop()
      else connect(t)
      log.push(`t${t.i}'s socket ${t.socket().connected ? 'reconnects' : 'drops'}`)
    } else {
      const closable = open().filter((t) => t.holding === 0)
      if (open().length > 1 && closable.length > 0) {
        const t = pick(closable)
        t.store.dispatch(shutdown())
        webLocks.closeTab(`t${t.i}`)
        t.closed = true
        log.push(`t${t.i} closes`)
      }
    }
    await turns()
  }

  // Everything answered, every socket up, until nothing is left to send and the timers have run out.
  log.push('--- the end: every send answered')
  for (let round = 0; round < 100; round++) {
    for (const t of open()) if (!t.socket().connected) connect(t)
    if (lease) runPolls()
    for (const e of openEmits()) e.answer({ ok: true, data: storeMessage(e.clientId, e.conversationId) })
    for (const p of [...posts]) p.answer(json(201, storeMessage(p.clientId, p.conversationId)))
    await turns()
    const quiet =
      openEmits().length === 0 &&
      posts.length === 0 &&
      storage.getItem(outboxStorageKey(alice.id)) === null &&
      open().every((t) => selectPendingMessages(t.store.getState()).length === 0 && t.holding === 0)
    if (quiet) break
    vi.advanceTimersByTime(5_000)
    await turns()
  }

  expectStoredAsWritten(written, storedOrder, CONVERSATIONS, context)
  expect(storage.getItem(outboxStorageKey(alice.id)), context()).toBeNull()
  for (const t of open()) expect(selectPendingMessages(t.store.getState()), `t${t.i}\n${context()}`).toEqual([])
  expect(
    tabs.map((t) => t.holding),
    context(),
  ).toEqual(tabs.map(() => 0))
  if (lease) expect(storage.getItem(`talemy.lock.${lockName}`), context()).toBeNull()
  else if (kind === 'webLocks') expect(webLocks.holder(lockName), context()).toBeNull()
  else expect(queuedLock.holder(lockName), context()).toBeNull()
  for (const t of open()) t.store.dispatch(shutdown())
}

type LockKind = 'queued' | 'webLocks' | 'lease'

const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1)

describe('tabs of one user sharing the outbox, over random orderings of writes, answers, losses, drops and closes', () => {
  describe.each([
    { lockKind: 'a queued lock', kind: 'queued' },
    { lockKind: 'Web Locks, granted asynchronously', kind: 'webLocks' },
    { lockKind: 'the storage lease', kind: 'lease' },
  ] as const)('$lockKind', ({ kind }) => {
    test.each(seeds)('seed %i: each message stored once, in the order written, nothing left', async (seed) => {
      await run(seed, kind)
    })
  })
})
