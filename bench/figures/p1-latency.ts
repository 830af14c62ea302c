import type { Socket } from 'socket.io-client'
import type { Message } from '../../src/contract'
import { closeSocket, firstRead, joinConversation, rawSocket } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { api, layerClient, type LayerClient } from '../lib/layer'
import { peerClient, type PeerClient } from '../lib/peerClient'
import { ArrivalProbe } from '../lib/probe'
import { row, type Row } from '../lib/results'
import { startSender, type SenderProcess } from '../lib/senderProcess'
import { sharedHost } from '../lib/server'
import { deferred, median, nowNs, nsToMs, nsToUs, percentile, rotated, sleep, withTimeout } from '../lib/stats'
import { cdf, lineChart } from '../lib/svg'

/**
 * P1: one message, sender's action → in the receiver's cached thread, one at a time (the next send starts once the
 * previous one is received and acknowledged). Five variants through the same server process, each with its own pair
 * of users (so no variant's sockets receive another's traffic; the two peers take turns on one), interleaved round by
 * round in an order that rotates:
 *
 * - floor: a bare Socket.IO relay (no auth, no storage) between two bare clients;
 * - raw: two bare socket.io-clients, `message:send` → `message:new` through the reference server, both having joined
 *   the conversation as the layer's stores do by showing its thread (so the server marks B's read and sends A the
 *   receipt with each send, for raw as for the layer);
 * - layer: `sendMessage` dispatched in A's store → the message in B's cached `getMessages` thread;
 * - peer: the RTK docs' streaming pattern on B's side (A sends with a bare client, the cheapest sender); its sockets
 *   join no conversation, as the docs have no rooms, so the server marks nothing read and sends no receipt for it;
 * - peer-joined: the same with both clients joined as raw's and the layer's are (the same server path as theirs):
 *   information beside the peer, whose row keeps the target.
 *
 * Each round builds fresh clients (B's thread starts from the server's latest page, so it does not grow over the
 * run), runs `perRound` samples per variant, and the figure is the median over rounds of each round's p50 / p99.
 *
 * Measured the same way for all, senders and receivers:
 *
 * - Every variant's sender runs in a process of its own (`bench/lib/sender.ts`), the receiver in the bench's: a
 *   sender in the receiver's event loop did its own work for the same send there (a layer store handles its echo and
 *   its ack, ~0.1 ms, before the receiver's read callback runs; the bare senders of raw and peer did nothing), which
 *   no real receiver pays. The send's start is read in the sender's process and the arrival in the bench's, both on
 *   `process.hrtime` (one monotonic clock per machine, as `host.ts` already compares with the server's); the sender
 *   is asked for its times only after the receiver has the message, so nothing reaches the receiver's process while
 *   it is timed.
 * - Every variant idles as long before each send: its next send goes `IDLE_MS` after its previous message arrived
 *   (on the receiver). The time from the send to the receiver's first read (the server's and the network's part, the
 *   same code for every variant) grows with the idle time before the send: back to back, raw's was ~0.7 ms and the
 *   peer's, with the same bare sender, ~2 ms only because its sample waits 10 ms for its store's notification; raw
 *   with a 10 ms pause added measured ~2 ms too. Counted from the send (a fixed period) or from the end of the sample,
 *   the peer's 10 ms wait would shorten or lengthen its idle time against the others'.
 *
 * Observed the same way for all: raw and floor on the receiving socket's event listener; layer and peer by the same
 * probe, a middleware first in B's chain that checks the state after every action (the moment the message is in the
 * cache). "Visible" is a `store.subscribe` listener on B (what a component sees): the layer's store notifies after
 * the task (`afterTask`), the peer's plain `configureStore` after RTK's default auto-batch timer (10 ms in Node). No
 * variant is observed by polling: the untimed wait for the sender's confirmation (a bare sender's ack; the layer's
 * copy `sent`, a store subscription in the sender's process) ends each sample. For where the time goes, the layer's
 * two sides are also timed: sender's (the action until its socket's `emit('message:send')`, instrumented on the
 * socket instance in the sender's process) and receiver's (the first read on B's TCP connection after the send until
 * the message is in the cache), and for every variant but the floor the send until that first read. Every in-cache
 * sample is kept for the chart (p1-latency.svg).
 */

/**
 * How long after a message arrived the next send goes, for every variant (see the header): longer than anything a
 * sample waits for after the arrival (the peer's 10 ms notification, the sender's confirmation).
 */
const IDLE_MS = 30

interface Sample {
  /** When the message arrived (in the cache, or at the listener), on `nowNs`'s clock: the next send's idle starts here. */
  arrivedAt: number
  inCache: number
  visible: number | null
  /** Sender's side: the action (or emit) until its socket emits `message:send`. */
  sendSide: number | null
  /** Receiver's side: the first data on its TCP connection after the send until the message is in the cache (or the listener). */
  receiveSide: number | null
  /** The send until the first data on the receiver's TCP connection after it: the server's and the network's part. */
  toRead: number | null
}

interface Variant {
  name: string
  sample(tag: string): Promise<Sample>
  close(): Promise<void>
}

type ThreadState = Parameters<ReturnType<typeof api.endpoints.getMessages.select>>[0]

const lastContentIs = (messages: readonly { content: string }[] | undefined, content: string): boolean =>
  messages !== undefined && messages.length > 0 && messages[messages.length - 1]!.content === content

/** Waits until `socket` sees a `message:new` whose content is `content`, with one listener for the variant's life. */
function receiver(socket: Socket, event: string, contentOf: (payload: unknown) => string | undefined) {
  let waiting: { content: string; resolve: (t: number) => void } | null = null
  const listener = (payload: unknown) => {
    const t = nowNs()
    if (waiting && contentOf(payload) === waiting.content) {
      const { resolve } = waiting
      waiting = null
      resolve(t)
    }
  }
  socket.on(event, listener)
  return {
    expect(content: string): Promise<number> {
      const d = deferred<number>()
      waiting = { content, resolve: d.resolve }
      return d.promise
    },
    off: () => socket.off(event, listener),
  }
}

/** The sender's times for the send just received: asked for only once the receiver has the message. */
async function sentAt(sender: SenderProcess): Promise<{ startedAt: number; sendSide: number | null }> {
  const { startedAt, emittedAt } = await sender.call('result')
  return {
    startedAt: Number(startedAt),
    sendSide: emittedAt === null ? null : Number(emittedAt) - Number(startedAt),
  }
}

async function floorVariant(sender: SenderProcess, relayUrl: string): Promise<Variant> {
  await sender.call('open', { kind: 'relay', url: relayUrl })
  const b = await rawSocket(relayUrl, null)
  const rx = receiver(b, 'relayed', (p) => (p as { content?: string }).content)
  return {
    name: 'floor',
    async sample(tag) {
      const arrived = rx.expect(tag)
      sender.send(tag)
      const t1 = await arrived
      const { startedAt } = await sentAt(sender)
      return { arrivedAt: t1, inCache: t1 - startedAt, visible: null, sendSide: null, receiveSide: null, toRead: null }
    },
    async close() {
      rx.off()
      await Promise.all([sender.call('close'), closeSocket(b)])
    },
  }
}

async function rawVariant(sender: SenderProcess, url: string, pair: Pair): Promise<Variant> {
  // Both open the thread, as the layer's stores do (a bare client showing it must join it to be marked read): the
  // server then does the same work for raw's pair as for the layer's (B's read mark and A's receipt with each send).
  await sender.call('open', { kind: 'bare', url, token: pair.a.token, conversationId: pair.conversationId, join: true })
  const b = await rawSocket(url, pair.b.token)
  await joinConversation(b, pair.conversationId)
  const rx = receiver(b, 'message:new', (p) => (p as Message).content)
  const read = firstRead(b)
  return {
    name: 'raw',
    async sample(tag) {
      const arrived = rx.expect(tag)
      read.arm()
      sender.send(tag)
      const t1 = await arrived
      const { startedAt } = await sentAt(sender)
      return {
        arrivedAt: t1,
        inCache: t1 - startedAt,
        visible: null,
        sendSide: null,
        receiveSide: t1 - read.at(),
        toRead: read.at() - startedAt,
      }
    },
    async close() {
      rx.off()
      read.off()
      await Promise.all([sender.call('close'), closeSocket(b)])
    },
  }
}

async function layerVariant(sender: SenderProcess, url: string, pair: Pair): Promise<Variant> {
  const probe = new ArrivalProbe<ThreadState>()
  const selectThread = api.endpoints.getMessages.select(pair.conversationId)
  await sender.call('open', { kind: 'layer', url, session: sessionOf(pair.a), conversationId: pair.conversationId })
  const b: LayerClient = await layerClient({ url, session: sessionOf(pair.b), probes: [probe.middleware] })
  await b.subscribeThread(pair.conversationId)
  const detach = probe.attach(b.store)
  const read = firstRead(b.socket())
  return {
    name: 'layer',
    async sample(tag) {
      const arrival = probe.expect((state) => lastContentIs(selectThread(state).data, tag))
      read.arm()
      sender.send(tag)
      const t1 = await arrival.inCache
      const t2 = await withTimeout(arrival.visible, 5_000, 'a store notification showing the message')
      // Untimed: the sender's copy is confirmed (in its process) before the next send, as raw's sender has its ack.
      const { startedAt, sendSide } = await sentAt(sender)
      return {
        arrivedAt: t1,
        inCache: t1 - startedAt,
        visible: t2 - startedAt,
        sendSide,
        receiveSide: t1 - read.at(),
        toRead: read.at() - startedAt,
      }
    },
    async close() {
      detach()
      read.off()
      await Promise.all([sender.call('close'), b.close()])
    },
  }
}

/**
 * The peer as the docs write it (`join` false: its socket joins no conversation, so the server marks nothing read and
 * sends no receipt for it), or with both of its clients joined to the conversation as raw's and the layer's are
 * (`join` true: the same server path as theirs; not in the docs, which have no rooms).
 */
async function peerVariant(sender: SenderProcess, url: string, pair: Pair, join = false): Promise<Variant> {
  const probe = new ArrivalProbe<{ api: unknown }>()
  await sender.call('open', { kind: 'bare', url, token: pair.a.token, conversationId: pair.conversationId, join })
  const b: PeerClient = await peerClient({
    url,
    token: pair.b.token,
    conversationId: pair.conversationId,
    probes: [probe.middleware],
  })
  if (join) await joinConversation(b.socket(), pair.conversationId)
  const selectThread = b.api.endpoints.getMessages.select(pair.conversationId)
  const detach = probe.attach(b.store)
  const read = firstRead(b.socket())
  return {
    name: join ? 'peer-joined' : 'peer',
    async sample(tag) {
      const arrival = probe.expect((state) => lastContentIs(selectThread(state as never).data, tag))
      read.arm()
      sender.send(tag)
      const t1 = await arrival.inCache
      const t2 = await withTimeout(arrival.visible, 5_000, 'a store notification showing the message')
      const { startedAt } = await sentAt(sender)
      return {
        arrivedAt: t1,
        inCache: t1 - startedAt,
        visible: t2 - startedAt,
        sendSide: null,
        receiveSide: t1 - read.at(),
        toRead: read.at() - startedAt,
      }
    },
    async close() {
      detach()
      read.off()
      await Promise.all([sender.call('close'), b.close()])
    },
  }
}

interface Pair {
  conversationId: string
  a: { id: string; token: string }
  b: { id: string; token: string }
}

const sessionOf = (u: { id: string; token: string }) => ({
  token: u.token,
  user: { id: u.id, name: u.id, role: 'student' as const },
})

export const p1: Figure = {
  id: 'P1',
  title: 'send latency, action → receiver cache',
  async run({ smoke, log, draw }) {
    const sizes = smoke ? { warmup: 5, rounds: 2, perRound: 10 } : { warmup: 50, rounds: 5, perRound: 200 }
    const host = await sharedHost()
    const sender = await startSender()
    const [rawPair, layerPair, peerPair] = host.seeded
    if (!peerPair) throw new Error('the shared host seeded too few pairs')
    // Fresh clients every round: each starts from the server's latest page of the thread, so the cached thread does
    // not grow over the run (thread size is P4's subject, not P1's).
    const factories: Array<[string, () => Promise<Variant>]> = [
      ['floor', () => floorVariant(sender, host.relayUrl)],
      ['raw', () => rawVariant(sender, host.url, rawPair!)],
      ['layer', () => layerVariant(sender, host.url, layerPair!)],
      ['peer', () => peerVariant(sender, host.url, peerPair)],
      // The same pair as the peer's (never at the same time: each variant closes before the next opens).
      ['peer-joined', () => peerVariant(sender, host.url, peerPair, true)],
    ]
    type Series = 'p50' | 'p99' | 'vp50' | 'vp99' | 'send50' | 'recv50' | 'read50'
    const results = new Map<string, Record<Series, number[]>>()
    for (const [name] of factories)
      results.set(name, { p50: [], p99: [], vp50: [], vp99: [], send50: [], recv50: [], read50: [] })
    /** Every recorded in-cache sample (µs) per variant, for the chart of the distributions. */
    const all = new Map<string, number[]>(factories.map(([name]) => [name, []]))
    let n = 0
    const run = async (v: Variant, count: number): Promise<Sample[]> => {
      const out: Sample[] = []
      for (let i = 0; i < count; i++) {
        const last = out[out.length - 1]
        const idle = last ? IDLE_MS - nsToMs(nowNs() - last.arrivedAt) : IDLE_MS
        if (idle > 0) await sleep(idle)
        out.push(await withTimeout(v.sample(`p1 ${v.name} ${n++}`), 10_000, `P1 ${v.name} sample`))
      }
      return out
    }
    try {
      for (let round = -1; round < sizes.rounds; round++) {
        // Interleaved: every round measures all five, so a noisy moment on the machine hits them alike; the order
        // rotates each round, so no variant always goes first (each still follows the same one, unless it goes first).
        for (const [name, make] of rotated(factories, Math.max(0, round))) {
          const v = await make()
          try {
            if (round < 0) {
              await run(v, sizes.warmup)
              continue
            }
            const samples = await run(v, sizes.perRound)
            const r = results.get(name)!
            const inCache = samples.map((s) => s.inCache)
            all.get(name)!.push(...inCache.map(nsToUs))
            r.p50.push(percentile(inCache, 50))
            r.p99.push(percentile(inCache, 99))
            const visible = samples.flatMap((s) => (s.visible === null ? [] : [s.visible]))
            if (visible.length > 0) {
              r.vp50.push(percentile(visible, 50))
              r.vp99.push(percentile(visible, 99))
            }
            const send = samples.flatMap((s) => (s.sendSide === null ? [] : [s.sendSide]))
            if (send.length > 0) r.send50.push(percentile(send, 50))
            const receive = samples.flatMap((s) => (s.receiveSide === null ? [] : [s.receiveSide]))
            if (receive.length > 0) r.recv50.push(percentile(receive, 50))
            const toRead = samples.flatMap((s) => (s.toRead === null ? [] : [s.toRead]))
            if (toRead.length > 0) r.read50.push(percentile(toRead, 50))
          } finally {
            await v.close()
          }
        }
        if (round >= 0)
          log(
            `P1 round ${round + 1}/${sizes.rounds}: ${[...results].map(([k, r]) => `${k} p50 ${nsToUs(r.p50.at(-1)!).toFixed(0)} µs${r.read50.length > 0 ? ` (to read ${nsToUs(r.read50.at(-1)!).toFixed(0)})` : ''}`).join(', ')}`,
          )
      }
    } finally {
      await sender.close()
    }
    const label: Record<string, string> = {
      floor: 'floor: bare relay',
      raw: 'raw socket.io-client',
      layer: 'layer',
      peer: 'peer (RTK docs)',
      'peer-joined': 'peer, joined as raw and layer',
    }
    draw(
      'p1-latency',
      lineChart({
        title: `P1: send → in the receiver's cache, ${sizes.rounds} × ${sizes.perRound} samples each`,
        xLabel: 'latency (µs, log scale)',
        yLabel: 'share of samples at or below',
        zeroY: true,
        logX: true,
        series: ['raw', 'layer', 'peer', 'peer-joined', 'floor'].map((name) => ({
          name: label[name]!,
          points: cdf(all.get(name)!),
        })),
      }),
    )
    const us = (name: string, key: Series) => nsToUs(median(results.get(name)![key]))
    const rows: Row[] = [
      row({ id: 'P1-floor-p50', name: 'floor: bare Socket.IO echo relay, p50', value: us('floor', 'p50'), unit: 'µs' }),
      row({ id: 'P1-floor-p99', name: 'floor: bare Socket.IO echo relay, p99', value: us('floor', 'p99'), unit: 'µs' }),
      row({
        id: 'P1-raw-p50',
        name: 'raw: two bare clients through the reference server, p50',
        value: us('raw', 'p50'),
        unit: 'µs',
        baseline: us('floor', 'p50'),
      }),
      row({
        id: 'P1-raw-p99',
        name: 'raw: two bare clients through the reference server, p99',
        value: us('raw', 'p99'),
        unit: 'µs',
        baseline: us('floor', 'p99'),
      }),
      row({
        id: 'P1-p50',
        name: 'layer: sendMessage → in B’s cached thread, p50 (baseline raw)',
        value: us('layer', 'p50'),
        unit: 'µs',
        baseline: us('raw', 'p50'),
        target: { on: 'ratio', op: '<=', limit: 1.3 },
      }),
      row({
        id: 'P1-p99',
        name: 'layer: sendMessage → in B’s cached thread, p99 (baseline raw)',
        value: us('layer', 'p99'),
        unit: 'µs',
        baseline: us('raw', 'p99'),
      }),
      row({
        id: 'P1-visible-p50',
        name: 'layer: … → a B store subscriber sees it, p50 (baseline raw)',
        value: us('layer', 'vp50'),
        unit: 'µs',
        baseline: us('raw', 'p50'),
      }),
      row({
        id: 'P1-visible-p99',
        name: 'layer: … → a B store subscriber sees it, p99 (baseline raw)',
        value: us('layer', 'vp99'),
        unit: 'µs',
        baseline: us('raw', 'p99'),
      }),
      row({
        id: 'P1-send-side-p50',
        name: 'layer, sender’s side: sendMessage dispatched → its socket emits message:send, p50',
        value: us('layer', 'send50'),
        unit: 'µs',
      }),
      row({
        id: 'P1-receive-side-p50',
        name: 'layer, receiver’s side: first TCP read of the message → in B’s cached thread, p50 (baseline raw: → its listener)',
        value: us('layer', 'recv50'),
        unit: 'µs',
        baseline: us('raw', 'recv50'),
      }),
      row({
        id: 'P1-raw-to-read-p50',
        name: 'raw: the send → the receiver’s first TCP read of it (server and network), p50',
        value: us('raw', 'read50'),
        unit: 'µs',
      }),
      row({
        id: 'P1-to-read-p50',
        name: 'layer: sendMessage → B’s first TCP read of it, p50 (baseline raw’s)',
        value: us('layer', 'read50'),
        unit: 'µs',
        baseline: us('raw', 'read50'),
      }),
      row({
        id: 'P1-peer-to-read-p50',
        name: 'peer: the send → B’s first TCP read of it, p50 (baseline raw’s)',
        value: us('peer', 'read50'),
        unit: 'µs',
        baseline: us('raw', 'read50'),
      }),
      row({
        id: 'P1-peer-p50',
        name: 'peer (RTK docs streaming): bare send → in B’s cached thread, p50 (baseline raw)',
        value: us('peer', 'p50'),
        unit: 'µs',
        baseline: us('raw', 'p50'),
      }),
      row({
        id: 'P1-peer-p99',
        name: 'peer: bare send → in B’s cached thread, p99 (baseline raw)',
        value: us('peer', 'p99'),
        unit: 'µs',
        baseline: us('raw', 'p99'),
      }),
      row({
        id: 'P1-peer-receive-side-p50',
        name: 'peer, receiver’s side: first TCP read → in B’s cached thread, p50 (baseline raw)',
        value: us('peer', 'recv50'),
        unit: 'µs',
        baseline: us('raw', 'recv50'),
      }),
      row({
        id: 'P1-peer-visible-p50',
        name: 'peer: … → a B store subscriber sees it, p50 (baseline raw)',
        value: us('peer', 'vp50'),
        unit: 'µs',
        baseline: us('raw', 'p50'),
      }),
      row({
        id: 'P1-vs-peer-p50',
        name: 'layer p50 in cache, against the peer’s (aim: ahead)',
        value: us('layer', 'p50'),
        unit: 'µs',
        baseline: us('peer', 'p50'),
        target: { on: 'ratio', op: '<', limit: 1 },
      }),
      row({
        id: 'P1-vs-peer-p99',
        name: 'layer p99 in cache, against the peer’s',
        value: us('layer', 'p99'),
        unit: 'µs',
        baseline: us('peer', 'p99'),
      }),
      row({
        id: 'P1-peer-joined-p50',
        name: 'peer with both clients joined to the conversation, as raw’s and the layer’s are (the server marks the message read for the receiver and tells the sender): bare send → in B’s cached thread, p50 (baseline raw)',
        value: us('peer-joined', 'p50'),
        unit: 'µs',
        baseline: us('raw', 'p50'),
      }),
      row({
        id: 'P1-peer-joined-to-read-p50',
        name: 'peer joined: the send → B’s first TCP read of it, p50 (baseline: the peer’s as the docs write it)',
        value: us('peer-joined', 'read50'),
        unit: 'µs',
        baseline: us('peer', 'read50'),
      }),
      row({
        id: 'P1-vs-peer-joined-p50',
        name: 'layer p50 in cache, against the joined peer’s (the same server path; information: the target stays on the peer as the docs write it)',
        value: us('layer', 'p50'),
        unit: 'µs',
        baseline: us('peer-joined', 'p50'),
      }),
    ]
    return rows
  },
}
