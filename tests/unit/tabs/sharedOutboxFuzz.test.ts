import { describe, expect, test, vi } from 'vitest'
import { createMemoryStorage } from '../../../src/app/store'
import { trackedStore } from '../../support/trackedStores'
import type { Message } from '../../../src/contract'
import {
  connect,
  disconnect,
  outboxStorageKey,
  selectConnection,
  selectPendingMessages,
  sendMessage,
  type AppSocket,
  type CreateSocket,
} from '../../../src/realtime'
import { drainLockOver } from '../../../src/realtime/drainLock'
import { manualVisibility } from '../../../src/realtime/tabs/visibility'
import { FakeSocket } from '../support/fakeSocket'
import { expectStoredAsWritten, fuzzMessageServer, turns, withFuzzClock } from '../support/fuzzMessageServer'
import { alice } from '../support/fixtures'
import { json } from '../support/responses'
import { browser } from './support/browser'
import { seededRandom } from './support/virtualTime'

// Tabs of one user in one browser sharing ONE socket (the tabs' election, hub and proxies on the in-memory channel and
// lock) and one stored outbox drained under the browser's lock, over seeded random orderings: a tab writes, the server
// answers a send (stored; RATE_LIMITED; or INTERNAL, stored or not), an answer is lost, time passes, the holder's socket drops or comes back
// (the server replays what it missed from its offset), a tab closes or crashes (the holder and a tab holding the drain
// lock included; its HTTP requests go with it), hangs a while, hides or shows, disconnects by choice or connects again,
// a tab is opened. Once everything is answered: each message written is stored, in its conversation in the order
// written, storage is empty, every open tab has nothing pending and says connected, and one holds the socket.
// `FUZZ_SEEDS` and `FUZZ_STEPS` run more (200 seeds of 60 steps pass in about 30 s).

const SEEDS = Number(process.env.FUZZ_SEEDS ?? 24)
const STEPS = Number(process.env.FUZZ_STEPS ?? 40)
const ACK_TIMEOUT_MS = 5_000
const HEARTBEAT_MS = 100
const CONVERSATIONS = ['c1', 'c2'] as const

withFuzzClock()

async function run(seed: number) {
  const next = seededRandom(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!
  const log: string[] = []
  const storage = createMemoryStorage()
  const edges = browser()

  // --- The server ------------------------------------------------------------------------------------------------
  /** The user's log: message:sent events, offset = index + 1. */
  const events: Message[] = []
  const sockets: { tab: string; socket: FakeSocket }[] = []
  const live = () => sockets.filter((s) => s.socket.connected)
  const { storedOrder, posts, storeMessage, fetchOf } = fuzzMessageServer({
    log,
    stored: (m) => {
      events.push(m)
      for (const s of live()) s.socket.serverEmit('message:sent', m, { offset: events.length })
    },
    otherRequest: () => json(200, []),
  })
  const serve = (s: { tab: string; socket: FakeSocket }) => {
    let auth: { offset?: number } = {}
    ;(s.socket.options.auth as (cb: (d: object) => void) => void)((d) => (auth = d as { offset?: number }))
    s.socket.serverConnect(`${s.tab}-s${sockets.indexOf(s)}`)
    const from = auth.offset ?? events.length
    for (let o = from + 1; o <= events.length; o++) s.socket.serverEmit('message:sent', events[o - 1], { offset: o })
    s.socket.serverEmit('sync:caughtUp', { offset: events.length, epoch: 'e1' })
  }

  // --- The tabs --------------------------------------------------------------------------------------------------
  interface Tab {
    id: string
    closed: boolean
    store: ReturnType<typeof trackedStore>
    visibility: ReturnType<typeof manualVisibility>
  }
  const tabs: Tab[] = []
  const openTab = () => {
    const id = `t${tabs.length}`
    const own = edges.tab(id)
    const createSocket: CreateSocket = (url, options) => {
      const socket = new FakeSocket(url, options)
      sockets.push({ tab: id, socket })
      log.push(`  ${id} makes a socket`)
      return socket as unknown as AppSocket
    }
    const visibility = manualVisibility(true)
    const store = trackedStore({
      apiUrl: 'http://api.test',
      fetchFn: fetchOf(id),
      createSocket,
      storage,
      preloadedState: { auth: { token: 'token-1', user: alice } },
      realtime: {
        drainLock: drainLockOver(own.lock),
        tabs: { channelName: 'x', ...own, visibility, tabId: id, heartbeatMs: HEARTBEAT_MS },
        ackTimeoutMs: ACK_TIMEOUT_MS,
        backoff: { baseMs: 1_000, capMs: 8_000 },
        random: () => 0.5,
      },
    })
    const tab = { id, closed: false, store, visibility }
    tabs.push(tab)
    log.push(`${id} opens`)
    return tab
  }
  const open = () => tabs.filter((t) => !t.closed)
  /** The unanswered message:send emits on every socket. */
  const unanswered = () =>
    sockets.flatMap((s) =>
      s.socket
        .sent('message:send')
        .filter((p) => !(p as { done?: boolean }).done)
        .map((p) => ({ s, p })),
    )
  const connectHolderSockets = () => {
    for (const s of sockets) if (s.socket.active && !s.socket.connected) serve(s)
  }

  const written: { clientId: string; conversationId: string }[] = []
  const context = () =>
    [
      `seed ${seed}`,
      ...log,
      `written ${written.map((w) => `${w.clientId}@${w.conversationId}`).join(' ')}`,
      `stored  ${storedOrder.map((m) => `${m.clientId}@${m.conversationId}`).join(' ')}`,
    ].join('\n')

  const advance = async (ms: number) => {
    await vi.advanceTimersByTimeAsync(ms)
    await turns()
  }

  const tabCount = 2 + Math.floor(next() * 2)
  for (let i = 0; i < tabCount; i++) {
    openTab()
    await turns()
    await advance(HEARTBEAT_MS)
    connectHolderSockets()
    await advance(HEARTBEAT_MS)
  }

  for (let step = 0; step < STEPS; step++) {
    const x = next()
    if (x < 0.3) {
      const t = pick(open())
      const conversationId = pick(CONVERSATIONS)
      const clientId = `w${written.length}`
      written.push({ clientId, conversationId })
      const createdAt = new Date(Date.UTC(2026, 0, 1, 12) + written.length * 1_000).toISOString()
      t.store.dispatch({
        ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
        meta: { createdAt },
      })
      log.push(`${t.id} writes ${clientId} in ${conversationId}`)
    } else if (x < 0.58) {
      const rate = x >= 0.53
      // An INTERNAL answer, maybe after the server stored the message: its backoff lets the drain lock go meanwhile.
      const internal = !rate && x >= 0.46
      const choices = [...unanswered().map((e) => ({ e })), ...posts.map((p) => ({ p }))]
      if (choices.length > 0) {
        const c = pick(choices)
        const rateLimited = {
          code: 'RATE_LIMITED',
          message: 'slow down',
          retryAfterMs: 100 + Math.floor(next() * 2000),
        }
        const storedAnyway = internal && next() < 0.5
        const boom = { code: 'INTERNAL', message: 'boom' }
        const what = rate ? 'rate limited' : internal ? `internal${storedAnyway ? ' (stored)' : ''}` : 'stored'
        if ('e' in c) {
          ;(c.e.p as { done?: boolean }).done = true
          const { clientId, conversationId } = c.e.p.args[0] as { clientId: string; conversationId: string }
          if (storedAnyway) storeMessage(clientId, conversationId)
          if (rate) c.e.p.ack({ ok: false, error: rateLimited })
          else if (internal) c.e.p.ack({ ok: false, error: boom })
          else c.e.p.ack({ ok: true, data: storeMessage(clientId, conversationId) })
          log.push(`${what} ${clientId} (socket of ${c.e.s.tab})`)
        } else {
          if (storedAnyway) storeMessage(c.p.clientId, c.p.conversationId)
          if (rate) c.p.answer(json(429, { error: rateLimited }))
          else if (internal) c.p.answer(json(500, { error: boom }))
          else c.p.answer(json(201, storeMessage(c.p.clientId, c.p.conversationId)))
          log.push(`${what} ${c.p.clientId} (http)`)
        }
      }
    } else if (x < 0.66) {
      const choices = unanswered()
      if (choices.length > 0) {
        const c = pick(choices)
        ;(c.p as { done?: boolean }).done = true
        const { clientId, conversationId } = c.p.args[0] as { clientId: string; conversationId: string }
        const reached = next() < 0.5
        if (reached) storeMessage(clientId, conversationId)
        log.push(`answer lost ${clientId}${reached ? ' (stored)' : ''}`)
        await advance(ACK_TIMEOUT_MS)
      }
    } else if (x < 0.74) {
      const ms = Math.floor(next() * 3_000)
      log.push(`${ms} ms pass`)
      await advance(ms)
    } else if (x < 0.84) {
      const s = sockets.filter((s) => s.socket.active).at(-1)
      if (s) {
        if (s.socket.connected) {
          s.socket.serverDrop()
          log.push(`${s.tab}'s socket drops`)
        } else {
          serve(s)
          log.push(`${s.tab}'s socket reconnects`)
        }
      }
    } else if (x < 0.94) {
      if (open().length > 1) {
        const t = pick(open())
        t.closed = true
        // A crash says nothing: its posts are lost, the browser releases its locks.
        const crash = next() < 0.5
        if (crash) edges.silence(t.id, true)
        edges.crash(t.id)
        t.store.dispose()
        // Its requests go with the page, unanswered.
        for (const p of posts.filter((p) => p.tab === t.id)) p.fail()
        log.push(`${t.id} ${crash ? 'crashes' : 'closes'}`)
      }
    } else if (x < 0.97) {
      // A tab hangs a while (its posts lost, its timers late), then wakes.
      const t = pick(open())
      const ms = Math.floor(next() * 1_000)
      edges.silence(t.id, true)
      log.push(`${t.id} hangs ${ms} ms`)
      await advance(ms)
      edges.silence(t.id, false)
    } else if (x < 0.975) {
      // A tab disconnects by choice (it stands aside, its sends go over HTTP), or connects again.
      const t = pick(open())
      const aside = selectConnection(t.store.getState()).status === 'disconnected'
      t.store.dispatch(aside ? connect() : disconnect())
      log.push(`${t.id} ${aside ? 'connects' : 'disconnects'}`)
    } else if (x < 0.985) {
      const t = pick(open())
      const visible = next() < 0.5
      t.visibility.set(visible)
      log.push(`${t.id} ${visible ? 'shows' : 'hides'}`)
      if (next() < 0.3) {
        log.push('200 s pass')
        await advance(200_000)
      }
    } else if (tabs.length < 6) {
      openTab()
    }
    await turns()
    await advance(HEARTBEAT_MS)
    // A socket a new holder made is served soon after (its handshake).
    if (next() < 0.7) connectHolderSockets()
    await turns()
  }

  log.push('--- the end: every send answered')
  for (const t of open()) {
    t.visibility.set(true)
    if (selectConnection(t.store.getState()).status === 'disconnected') t.store.dispatch(connect())
  }
  for (let round = 0; round < 60; round++) {
    connectHolderSockets()
    for (const e of unanswered()) {
      ;(e.p as { done?: boolean }).done = true
      const { clientId, conversationId } = e.p.args[0] as { clientId: string; conversationId: string }
      e.p.ack({ ok: true, data: storeMessage(clientId, conversationId) })
    }
    for (const p of [...posts]) p.answer(json(201, storeMessage(p.clientId, p.conversationId)))
    await turns()
    const quiet =
      unanswered().length === 0 &&
      posts.length === 0 &&
      sockets.every((s) => !s.socket.active || s.socket.connected) &&
      open().every((t) => selectConnection(t.store.getState()).status === 'connected') &&
      storage.getItem(outboxStorageKey(alice.id)) === null &&
      open().every((t) => selectPendingMessages(t.store.getState()).length === 0)
    if (quiet) break
    await advance(5_000)
  }
  await advance(1_000)

  expectStoredAsWritten(written, storedOrder, CONVERSATIONS, context)
  expect(storage.getItem(outboxStorageKey(alice.id)), context()).toBeNull()
  for (const t of open())
    expect(
      selectPendingMessages(t.store.getState()).map((m) => m.clientId),
      `${t.id}\n${context()}`,
    ).toEqual([])
  expect(
    open().map((t) => selectConnection(t.store.getState()).status),
    context(),
  ).toEqual(open().map(() => 'connected'))
  expect(
    open().filter((t) => selectConnection(t.store.getState()).role === 'leader'),
    context(),
  ).toHaveLength(1)
  for (const t of open()) t.store.dispose()
}

const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1)

describe('tabs of one user sharing one socket and the outbox, over random orderings', () => {
  test.each(seeds)('seed %i: each message stored, nothing left, every tab connected', async (seed) => {
    await run(seed)
  })
})
