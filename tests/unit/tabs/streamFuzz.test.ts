import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test, vi } from 'vitest'
import { api } from '../../../src/api'
import { createMemoryStorage } from '../../../src/app/store'
import { trackedStore } from '../../support/trackedStores'
import type { Message } from '../../../src/contract'
import {
  connect,
  disconnect,
  joinConversation,
  leaveConversation,
  outboxStorageKey,
  selectConnection,
  selectPendingMessages,
  sendMessage,
  type AppSocket,
  type CreateSocket,
} from '../../../src/realtime'
import { drainLockOver } from '../../../src/realtime/drainLock'
import type { TabChannel, TabMessage } from '../../../src/realtime/tabs/protocol'
import { createMemoryTabLock } from '../../../src/realtime/tabs/tabLock'
import { manualVisibility } from '../../../src/realtime/tabs/visibility'
import { FakeSocket } from '../support/fakeSocket'
import { alice, message } from '../support/fixtures'
import { messageStore, turns, withFuzzClock } from '../support/fuzzMessageServer'
import { json } from '../support/responses'
import { browser } from './support/browser'
import { pageTimers } from './support/pageTimers'
import { seededRandom } from './support/virtualTime'

// Tabs of one user in one browser sharing ONE socket (real stores, the in-memory lock, a channel whose messages take
// 0-40 ms each, in order between two tabs only, as separate processes deliver them; a hidden tab's timers run once a
// minute, as Chrome's), over seeded random orderings: Bob writes (logged message:new), a tab writes (sent through the
// holder, or over HTTP), the holder's socket drops and comes back (the server replays from its offset), tabs open,
// close, crash, hang, hide and show, open and close threads; adverse runs also lose answers, have the server say
// sync:gap, and have tabs stand aside (socket/disconnect) and come back. Checked against what the server has: no two
// tabs holding a live socket, no tab saying online while no socket is connected, and (the server answering at once) each
// message written reached it by the step's end; at the end, every logged event dispatched once per tab in offset order
// (none twice, none missed since its sync or last gap), each thread showing what the server has, each message once,
// nothing pending or stored, every tab connected at the server's offset, one holder, in the rooms of the visible tabs'
// open threads and no other. FUZZ_SEEDS, FUZZ_STEPS run more (300 seeds of 60 steps, both kinds: about 80 s);
// FUZZ_SLOW_CHANNEL=0 and FUZZ_THROTTLE=0 turn those off.

const SEEDS = Number(process.env.FUZZ_SEEDS ?? 30)
const STEPS = Number(process.env.FUZZ_STEPS ?? 40)
const HEARTBEAT_MS = 100
/** Hidden tabs' timers run once a minute, as Chrome's (FUZZ_THROTTLE=0: never throttled). */
const THROTTLED = process.env.FUZZ_THROTTLE !== '0'
const CONVERSATIONS = ['c1', 'c2'] as const

withFuzzClock()

/** Messages between tabs take 0–40 ms each (a task in another process), in order between two tabs only. */
const SLOW_CHANNEL = process.env.FUZZ_SLOW_CHANNEL !== '0'

/**
 * `browser()` whose channel delivers each copy after a random delay, FIFO per sender and receiver, as tabs do; what a
 * hung tab posts goes when it wakes.
 */
function slowBrowser(random: () => number) {
  /** A hung tab's posts wait for it to wake (a crashed one's never go). */
  const silenced = new Map<string, (() => void)[]>()
  const locks = createMemoryTabLock()
  const ends = new Set<{ tabId: string; listeners: Set<(m: TabMessage) => void>; lastAt: Map<object, number> }>()
  return {
    tab(tabId: string) {
      const end = { tabId, listeners: new Set<(m: TabMessage) => void>(), lastAt: new Map<object, number>() }
      ends.add(end)
      const channel: TabChannel = {
        post(message) {
          if (!ends.has(end)) throw new Error('The channel is closed')
          const hung = silenced.get(tabId)
          if (hung) return void hung.push(() => channel.post(message))
          for (const other of ends) {
            if (other === end) continue
            const copy = structuredClone(message)
            const at = Math.max(Date.now() + Math.floor(random() * 40), end.lastAt.get(other) ?? 0)
            end.lastAt.set(other, at)
            setTimeout(() => {
              if (ends.has(other)) for (const listener of [...other.listeners]) listener(copy)
            }, at - Date.now())
          }
        },
        subscribe(listener) {
          end.listeners.add(listener)
          return () => end.listeners.delete(listener)
        },
        close() {
          ends.delete(end)
          end.listeners.clear()
        },
      }
      return { channel, lock: locks.tab(tabId) }
    },
    crash: (tabId: string) => locks.closeTab(tabId),
    silence(tabId: string, silent: boolean) {
      if (silent) return void silenced.set(tabId, silenced.get(tabId) ?? [])
      const hung = silenced.get(tabId) ?? []
      silenced.delete(tabId)
      for (const post of hung) post()
    },
    locks,
  }
}

async function run(seed: number, adverse: boolean) {
  const next = seededRandom(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!
  const log: string[] = []
  const storage = createMemoryStorage()
  const edges = SLOW_CHANNEL ? slowBrowser(next) : browser()

  // --- The server: the user's log, and each real socket's rooms on its connection ---------------------------------
  /** The user's log: Bob's message:new and Alice's own message:sent. */
  const events: { event: string; message: Message }[] = []
  let logLength = 0
  const emitLogged = (event: string, m: Message) => {
    events.push({ event, message: m })
    logLength = events.length
    for (const s of sockets) if (s.socket.connected) s.socket.serverEmit(event, m, { offset: logLength })
  }
  /** Alice's messages by clientId, `seq` per conversation across senders (Bob's too). */
  const { storedOrder, nextSeq, storeMessage } = messageStore((m) => emitLogged('message:sent', m))
  interface Real {
    tab: string
    socket: FakeSocket
    rooms: Set<string>
    /** Emits the server has read. */
    read: number
  }
  const sockets: Real[] = []
  /** The server reads what each connected socket emitted (joins answered yes, leaves done). */
  const readEmits = () => {
    for (const s of sockets) {
      if (!s.socket.connected) continue
      for (; s.read < s.socket.emitted.length; s.read++) {
        const p = s.socket.emitted[s.read]!
        if (p.event === 'conversation:join') {
          s.rooms.add(p.args[0] as string)
          p.ack({ ok: true, data: null })
        } else if (p.event === 'conversation:leave') {
          s.rooms.delete(p.args[0] as string)
          p.ack({ ok: true, data: null })
        } else if (p.event === 'message:send') {
          const { clientId, conversationId } = p.args[0] as { clientId: string; conversationId: string }
          const lost = adverse ? next() : 1
          // Adverse: an answer lost on the way back (the message stored, or not).
          if (lost < 0.2) storeMessage(clientId, conversationId)
          if (lost < 0.3) log.push(`  answer lost ${clientId}${lost < 0.2 ? ' (stored)' : ''}`)
          else p.ack({ ok: true, data: storeMessage(clientId, conversationId) })
        }
      }
    }
  }
  const serve = (s: Real) => {
    let auth: { offset?: number } = {}
    ;(s.socket.options.auth as (cb: (d: object) => void) => void)((d) => (auth = d as { offset?: number }))
    s.rooms.clear()
    s.socket.serverConnect(`${s.tab}-s${sockets.indexOf(s)}`)
    const from = auth.offset ?? logLength
    for (let o = from + 1; o <= logLength; o++)
      s.socket.serverEmit(events[o - 1]!.event, events[o - 1]!.message, { offset: o })
    s.socket.serverEmit('sync:caughtUp', { offset: logLength, epoch: 'e1' })
  }
  let bobSeq = 0
  const bobMessage = (c: string) => {
    bobSeq++
    const seq = nextSeq(c)
    return message(seq, { id: `m-${c}-${seq}`, conversationId: c, seq, content: `bob ${bobSeq}` })
  }
  const connectHolderSockets = () => {
    for (const s of sockets) if (s.socket.active && !s.socket.connected) serve(s)
  }

  // --- The tabs --------------------------------------------------------------------------------------------------
  interface Tab {
    id: string
    closed: boolean
    store: ReturnType<typeof trackedStore>
    visibility: ReturnType<typeof manualVisibility>
    threads: Set<string>
    actions: UnknownAction[]
  }
  const tabs: Tab[] = []
  const openTab = () => {
    const id = `t${tabs.length}`
    const own = edges.tab(id)
    const createSocket: CreateSocket = (url, options) => {
      const socket = new FakeSocket(url, options)
      sockets.push({ tab: id, socket, rooms: new Set(), read: 0 })
      log.push(`  ${id} makes a socket`)
      return socket as unknown as AppSocket
    }
    const actions: UnknownAction[] = []
    const record: Middleware = () => (next) => (action) => {
      if (typeof (action as { type?: unknown }).type === 'string') actions.push(action as UnknownAction)
      return next(action)
    }
    const visibility = manualVisibility(true)
    const store = trackedStore({
      apiUrl: 'http://api.test',
      fetchFn: (async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = input instanceof Request ? input : new Request(input, init)
        const read = /^\/api\/conversations\/([^/]+)\/messages$/.exec(new URL(request.url).pathname)
        if (read && request.method === 'GET')
          return json(
            200,
            events.filter((e) => e.message.conversationId === read[1]).map((e) => e.message),
          )
        const send = /^\/api\/conversations\/([^/]+)\/messages$/.exec(new URL(request.url).pathname)
        if (send && request.method === 'POST') {
          const { clientId } = (await request.json()) as { clientId: string }
          log.push(`  http post ${clientId}`)
          return json(201, storeMessage(clientId, send[1]!))
        }
        return json(200, [])
      }) as typeof fetch,
      createSocket,
      storage,
      extraMiddleware: [record],
      preloadedState: { auth: { token: 'token-1', user: alice } },
      realtime: {
        drainLock: drainLockOver(own.lock),
        ...(THROTTLED ? { timers: pageTimers(visibility) } : {}),
        tabs: { channelName: 'x', ...own, visibility, tabId: id, heartbeatMs: HEARTBEAT_MS },
        backoff: { baseMs: 1_000, capMs: 8_000 },
        random: () => 0.5,
      },
    })
    const tab: Tab = { id, closed: false, store, visibility, threads: new Set(), actions }
    for (const c of CONVERSATIONS) store.dispatch(api.endpoints.getMessages.initiate(c))
    tabs.push(tab)
    log.push(`${id} opens`)
    return tab
  }
  const open = () => tabs.filter((t) => !t.closed)
  const conn = (t: Tab) => selectConnection(t.store.getState())
  const context = () => [`seed ${seed}`, ...log].join('\n')

  const advance = async (ms: number) => {
    await vi.advanceTimersByTimeAsync(ms)
    await turns()
  }
  const settleServer = async () => {
    for (let i = 0; i < 3; i++) {
      readEmits()
      await turns()
    }
  }
  const written: { clientId: string; conversationId: string; tab: Tab; step: number }[] = []

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
    if (x < 0.18) {
      // Bob writes: a logged event for Alice, to her connected sockets.
      emitLogged('message:new', bobMessage(pick(CONVERSATIONS)))
      log.push(`event ${logLength}`)
    } else if (x < 0.3) {
      const t = pick(open())
      const conversationId = pick(CONVERSATIONS)
      const clientId = `w${written.length}`
      written.push({ clientId, conversationId, tab: t, step })
      t.store.dispatch({
        ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
        meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12) + written.length * 1_000).toISOString() },
      })
      log.push(`${t.id} writes ${clientId} in ${conversationId}`)
    } else if (x < 0.42) {
      const t = pick(open())
      const c = pick(CONVERSATIONS)
      if (t.threads.has(c)) {
        t.threads.delete(c)
        t.store.dispatch(leaveConversation({ conversationId: c }))
        log.push(`${t.id} closes ${c}`)
      } else {
        t.threads.add(c)
        t.store.dispatch(joinConversation({ conversationId: c }))
        log.push(`${t.id} opens ${c}`)
      }
    } else if (x < 0.5) {
      const ms = Math.floor(next() * 3_000)
      log.push(`${ms} ms pass`)
      await advance(ms)
    } else if (x < 0.62) {
      const s = sockets.filter((s) => s.socket.active).at(-1)
      if (s) {
        if (s.socket.connected) {
          readEmits()
          s.socket.serverDrop()
          log.push(`${s.tab}'s socket drops`)
        } else {
          serve(s)
          log.push(`${s.tab}'s socket reconnects`)
        }
      }
    } else if (x < 0.74) {
      if (open().length > 1) {
        const t = pick(open())
        t.closed = true
        const crash = next() < 0.5
        if (crash) edges.silence(t.id, true)
        edges.crash(t.id)
        t.store.dispose()
        log.push(`${t.id} ${crash ? 'crashes' : 'closes'}`)
      }
    } else if (x < 0.9) {
      const t = pick(open())
      const visible = !t.visibility.visible()
      t.visibility.set(visible)
      log.push(`${t.id} ${visible ? 'shows' : 'hides'}`)
      if (next() < 0.2) {
        log.push('200 s pass')
        await advance(200_000)
      }
    } else if (x < 0.95) {
      // A tab hangs a while (its posts lost), then wakes.
      const t = pick(open())
      const ms = Math.floor(next() * 1_000)
      edges.silence(t.id, true)
      log.push(`${t.id} hangs ${ms} ms`)
      await advance(ms)
      edges.silence(t.id, false)
    } else if (x < 0.97 && adverse) {
      if (next() < 0.5) {
        // The server resyncs the live socket (notifications lost between nodes): a gap at its head.
        for (const s of sockets)
          if (s.socket.connected) s.socket.serverEmit('sync:gap', { offset: logLength, epoch: 'e1' })
        log.push('the server says sync:gap')
      } else {
        const t = pick(open())
        const aside = conn(t).status === 'disconnected'
        t.store.dispatch(aside ? connect() : disconnect())
        log.push(`${t.id} ${aside ? 'connects' : 'disconnects'}`)
      }
    } else if (tabs.length < 6) {
      openTab()
    }
    await settleServer()
    await advance(HEARTBEAT_MS)
    if (next() < 0.7) connectHolderSockets()
    await settleServer()
    // Never two tabs holding a live socket at once.
    expect(
      sockets.filter((s) => s.socket.connected).map((s) => s.tab),
      context(),
    ).toHaveLength(Math.min(1, sockets.filter((s) => s.socket.connected).length))
    // A message written in a tab still open reached the server by the next step's end: the server answers at once (what
    // is on its way as the socket moves to another tab mid-step goes again once that news has crossed the channel).
    const stored = new Set(storedOrder.map((m) => m.clientId))
    if (!adverse)
      expect(
        written
          .filter((w) => w.step < step && !w.tab.closed && !stored.has(w.clientId))
          .map((w) => `${w.clientId} of ${w.tab.id}`),
        context(),
      ).toEqual([])
    // No tab says online while no socket is connected (once the news had time to cross the channel).
    if (!sockets.some((s) => s.socket.connected)) await advance(50)
    if (!sockets.some((s) => s.socket.connected))
      expect(
        open()
          .filter((t) => conn(t).status === 'connected')
          .map((t) => t.id),
        context(),
      ).toEqual([])
  }

  log.push('--- the end')
  for (const t of open()) if (conn(t).status === 'disconnected') t.store.dispatch(connect())
  // Until quiet twice in a row, a minute apart (a hidden holder's socket may move to a visible tab meanwhile).
  let quietBefore = false
  for (let round = 0; round < 80; round++) {
    connectHolderSockets()
    await settleServer()
    const quiet =
      sockets.every((s) => !s.socket.active || s.socket.connected) &&
      open().every((t) => conn(t).status === 'connected' && conn(t).offset === logLength) &&
      open().every((t) => selectPendingMessages(t.store.getState()).length === 0) &&
      storage.getItem(outboxStorageKey(alice.id)) === null
    if (quiet && quietBefore) break
    quietBefore = quiet
    // Quiet: a minute more, so a hidden tab's throttled timers (its catch-up's reads) have run too.
    await advance(quiet ? 60_000 : round < 20 ? 1_000 : 10_000)
  }

  const tabStory = (t: Tab) =>
    t.actions
      .filter((a) => a.type.startsWith('socket/') && !isLogged(a))
      .map((a) => a.type.slice(7))
      .filter((type) => !/^(typing|presence)/.test(type))
      .join(' ')
  const isLogged = (a: UnknownAction) => a.type === 'socket/message:new' || a.type === 'socket/message:sent'
  // Every logged event dispatched once per tab, in offset order: none twice, none out of order.
  for (const t of tabs) {
    const offsets = t.actions.filter(isLogged).map((a) => (a.meta as { offset?: number }).offset)
    const increasing = offsets.every((o, i) => i === 0 || (o ?? 0) > (offsets[i - 1] ?? 0))
    expect(increasing, `${t.id} got ${offsets.join(',')}\n${tabStory(t)}\n${context()}`).toBe(true)
  }
  // Nothing missed: an open tab got every event after the first it could have (no gap refetch needed here).
  for (const t of open()) {
    const offsets = t.actions.filter(isLogged).map((a) => (a.meta as { offset?: number }).offset ?? 0)
    // After a gap the tab refetches what it has cached instead (checked below, with what its threads show).
    const lastGap = t.actions.findLastIndex((a) => a.type === 'socket/sync:gap')
    const after =
      lastGap === -1
        ? offsets
        : t.actions
            .slice(lastGap)
            .filter(isLogged)
            .map((a) => (a.meta as { offset?: number }).offset ?? 0)
    // From where the tab first stood (its first sync), or where its last gap put it.
    const syncAt = lastGap !== -1 ? lastGap : t.actions.findIndex((a) => a.type === 'socket/sync:caughtUp')
    const first = ((t.actions[syncAt]?.payload as { offset?: number } | undefined)?.offset ?? logLength) + 1
    const missing = []
    for (let o = first; o <= logLength; o++) if (!after.includes(o)) missing.push(o)
    expect(missing, `${t.id} got ${offsets.join(',')}\n${tabStory(t)}\n${context()}`).toEqual([])
  }
  expect(
    open().map((t) => [conn(t).status, conn(t).offset]),
    context(),
  ).toEqual(open().map(() => ['connected', logLength]))
  // Every message written stored once; each open tab's threads show what the server has, each once, none pending.
  expect(storedOrder.map((m) => m.clientId).sort(), context()).toEqual(written.map((w) => w.clientId).sort())
  expect(storage.getItem(outboxStorageKey(alice.id)), context()).toBeNull()
  for (const t of open()) {
    expect(selectPendingMessages(t.store.getState()), `${t.id}\n${context()}`).toEqual([])
    for (const c of CONVERSATIONS) {
      const shown = api.endpoints.getMessages.select(c)(t.store.getState() as never).data ?? []
      const server = events.filter((e) => e.message.conversationId === c).map((e) => e.message.id)
      expect(shown.map((m) => m.id).sort(), `${t.id} ${c}\n${tabStory(t)}\n${context()}`).toEqual([...server].sort())
    }
  }
  const leaders = open().filter((t) => conn(t).role === 'leader')
  expect(leaders, context()).toHaveLength(1)
  // The socket's rooms: the visible tabs' open threads.
  const live = sockets.filter((s) => s.socket.connected)
  expect(
    live.map((s) => s.tab),
    context(),
  ).toEqual([leaders[0]!.id])
  const union = new Set(open().flatMap((t) => (t.visibility.visible() ? [...t.threads] : [])))
  expect([...live[0]!.rooms].sort(), context()).toEqual([...union].sort())
  for (const t of open()) t.store.dispose()
}

const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1)

describe('tabs of one user sharing one socket: the stream and the rooms, over random orderings', () => {
  test.each(seeds)('seed %i: each event once in every tab, rooms those of the visible tabs', async (seed) => {
    await run(seed, false)
  })
  test.each(seeds)('seed %i, answers lost, gaps, tabs standing aside: the same', async (seed) => {
    await run(seed, true)
  })
})
