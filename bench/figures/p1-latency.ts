import { randomUUID } from 'node:crypto'
import type { Socket as NetSocket } from 'node:net'
import type { Socket } from 'socket.io-client'
import type { Ack, Message } from '../../src/contract'
import type { ThreadMessage } from '../../src/api'
import { closeSocket, rawSocket } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { api, layerClient, sendMessage, type LayerClient } from '../lib/layer'
import { peerClient, type PeerClient } from '../lib/peerClient'
import { ArrivalProbe, untilState } from '../lib/probe'
import { row, type Row } from '../lib/results'
import { sharedHost } from '../lib/server'
import { deferred, median, nowNs, nsToUs, percentile, withTimeout } from '../lib/stats'
import { cdf, lineChart } from '../lib/svg'

/**
 * P1: one message, sender's action → in the receiver's cached thread, one at a time (the next send starts once the
 * previous one is received and acknowledged). Four variants through the same server process, each with its own pair
 * of users (so no variant's sockets receive another's traffic), interleaved round by round:
 *
 * - floor: a bare Socket.IO relay (no auth, no storage) between two bare clients;
 * - raw: two bare socket.io-clients, `message:send` → `message:new` through the reference server;
 * - layer: `sendMessage` dispatched in A's store → the message in B's cached `getMessages` thread;
 * - peer: the RTK docs' streaming pattern on B's side (A sends with a bare client, the cheapest sender).
 *
 * Each round builds fresh clients (B's thread starts from the server's latest page, so it does not grow over the
 * run), runs `perRound` samples per variant, and the figure is the median over rounds of each round's p50 / p99.
 *
 * Observed the same way for all: raw and floor on the receiving socket's event listener; layer and peer by the same
 * probe, a middleware first in B's chain that checks the state after every action (the moment the message is in the
 * cache). "Visible" is a `store.subscribe` listener on B (what a component sees): the layer's store notifies after
 * the task (`afterTask`), the peer's plain `configureStore` after RTK's default auto-batch timer (10 ms in Node). No
 * variant is observed by polling: the untimed wait for the sender's confirmation is a store subscription too. For
 * where the time goes, the layer's two sides are also timed: sender's (the action until its socket's
 * `emit('message:send')`, instrumented on the socket instance) and receiver's (the first read on B's TCP connection
 * after the send until the message is in the cache). Every in-cache sample is kept for the chart (p1-latency.svg).
 */

interface Sample {
  inCache: number
  visible: number | null
  /** Sender's side: the action (or emit) until its socket emits `message:send`. */
  sendSide: number | null
  /** Receiver's side: the first data on its TCP connection after the send until the message is in the cache (or the listener). */
  receiveSide: number | null
}

/** The time of the first read on a socket's TCP connection after `arm()`: where the receiver's own work begins. */
function firstRead(socket: Socket) {
  const transport = socket.io.engine?.transport as unknown as { ws?: { _socket?: NetSocket } }
  const tcp = transport?.ws?._socket
  if (!tcp) throw new Error('P1: the socket is not on WebSocket')
  let at = 0
  const onData = () => {
    if (at === 0) at = nowNs()
  }
  tcp.prependListener('data', onData)
  return {
    arm: () => void (at = 0),
    at: () => at,
    off: () => void tcp.off('data', onData),
  }
}

/** The time the socket last emitted `message:send` (instrumented on the instance; the layer's emits go through it). */
function emitClock(socket: Socket) {
  let at = 0
  const original = socket.emit
  socket.emit = function (this: Socket, ...args: Parameters<Socket['emit']>) {
    if (args[0] === 'message:send') at = nowNs()
    return original.apply(this, args)
  } as Socket['emit']
  return { at: () => at, off: () => void (socket.emit = original) }
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

function sendAck(socket: Socket, conversationId: string, content: string): Promise<Ack<Message>> {
  return new Promise((resolve) => {
    socket.emit('message:send', { conversationId, content, clientId: randomUUID() }, (ack: Ack<Message>) =>
      resolve(ack),
    )
  })
}

async function floorVariant(relayUrl: string): Promise<Variant> {
  const a = await rawSocket(relayUrl, null)
  const b = await rawSocket(relayUrl, null)
  const rx = receiver(b, 'relayed', (p) => (p as { content?: string }).content)
  return {
    name: 'floor',
    async sample(tag) {
      const arrived = rx.expect(tag)
      const t0 = nowNs()
      a.emit('relay', { content: tag })
      return { inCache: (await arrived) - t0, visible: null, sendSide: null, receiveSide: null }
    },
    async close() {
      rx.off()
      await Promise.all([closeSocket(a), closeSocket(b)])
    },
  }
}

async function rawVariant(url: string, pair: Pair): Promise<Variant> {
  const a = await rawSocket(url, pair.a.token)
  const b = await rawSocket(url, pair.b.token)
  const rx = receiver(b, 'message:new', (p) => (p as Message).content)
  const read = firstRead(b)
  return {
    name: 'raw',
    async sample(tag) {
      const arrived = rx.expect(tag)
      read.arm()
      const t0 = nowNs()
      const acked = sendAck(a, pair.conversationId, tag)
      const t1 = await arrived
      const ack = await acked
      if (!ack.ok) throw new Error(`raw send refused: ${ack.error.code}`)
      return { inCache: t1 - t0, visible: null, sendSide: null, receiveSide: t1 - read.at() }
    },
    async close() {
      rx.off()
      read.off()
      await Promise.all([closeSocket(a), closeSocket(b)])
    },
  }
}

async function layerVariant(url: string, pair: Pair): Promise<Variant> {
  const probe = new ArrivalProbe<ThreadState>()
  const selectThread = api.endpoints.getMessages.select(pair.conversationId)
  const a: LayerClient = await layerClient({ url, session: sessionOf(pair.a) })
  const b: LayerClient = await layerClient({ url, session: sessionOf(pair.b), probes: [probe.middleware] })
  await a.subscribeThread(pair.conversationId)
  await b.subscribeThread(pair.conversationId)
  const detach = probe.attach(b.store)
  const selectA = api.endpoints.getMessages.select(pair.conversationId)
  const read = firstRead(b.socket())
  const emitted = emitClock(a.socket())
  return {
    name: 'layer',
    async sample(tag) {
      const arrival = probe.expect((state) => lastContentIs(selectThread(state).data, tag))
      read.arm()
      const t0 = nowNs()
      a.store.dispatch(sendMessage({ conversationId: pair.conversationId, content: tag }))
      const t1 = await arrival.inCache
      const t2 = await withTimeout(arrival.visible, 5_000, 'a store notification showing the message')
      // Untimed: the sender's copy is confirmed before the next send, as in the raw variant (its ack).
      await untilState(
        a.store,
        (state) => {
          const thread = selectA(state).data as ThreadMessage[] | undefined
          return thread?.some((m) => m.content === tag && m.status === 'sent') ?? false
        },
        'the sender to see its message confirmed',
        5_000,
      )
      return { inCache: t1 - t0, visible: t2 - t0, sendSide: emitted.at() - t0, receiveSide: t1 - read.at() }
    },
    async close() {
      detach()
      read.off()
      emitted.off()
      await Promise.all([a.close(), b.close()])
    },
  }
}

async function peerVariant(url: string, pair: Pair): Promise<Variant> {
  const probe = new ArrivalProbe<{ api: unknown }>()
  const a = await rawSocket(url, pair.a.token)
  const b: PeerClient = await peerClient({
    url,
    token: pair.b.token,
    conversationId: pair.conversationId,
    probes: [probe.middleware],
  })
  const selectThread = b.api.endpoints.getMessages.select(pair.conversationId)
  const detach = probe.attach(b.store)
  const read = firstRead(b.socket())
  return {
    name: 'peer',
    async sample(tag) {
      const arrival = probe.expect((state) => lastContentIs(selectThread(state as never).data, tag))
      read.arm()
      const t0 = nowNs()
      const acked = sendAck(a, pair.conversationId, tag)
      const t1 = await arrival.inCache
      const t2 = await withTimeout(arrival.visible, 5_000, 'a store notification showing the message')
      const ack = await acked
      if (!ack.ok) throw new Error(`peer's sender refused: ${ack.error.code}`)
      return { inCache: t1 - t0, visible: t2 - t0, sendSide: null, receiveSide: t1 - read.at() }
    },
    async close() {
      detach()
      read.off()
      await Promise.all([closeSocket(a), b.close()])
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
    const sizes = smoke ? { warmup: 5, rounds: 2, perRound: 10 } : { warmup: 100, rounds: 5, perRound: 300 }
    const host = await sharedHost()
    const [rawPair, layerPair, peerPair] = host.seeded
    if (!peerPair) throw new Error('the shared host seeded too few pairs')
    // Fresh clients every round: each starts from the server's latest page of the thread, so the cached thread does
    // not grow over the run (thread size is P4's subject, not P1's).
    const factories: Array<[string, () => Promise<Variant>]> = [
      ['floor', () => floorVariant(host.relayUrl)],
      ['raw', () => rawVariant(host.url, rawPair!)],
      ['layer', () => layerVariant(host.url, layerPair!)],
      ['peer', () => peerVariant(host.url, peerPair)],
    ]
    type Series = 'p50' | 'p99' | 'vp50' | 'vp99' | 'send50' | 'recv50'
    const results = new Map<string, Record<Series, number[]>>()
    for (const [name] of factories) results.set(name, { p50: [], p99: [], vp50: [], vp99: [], send50: [], recv50: [] })
    /** Every recorded in-cache sample (µs) per variant, for the chart of the distributions. */
    const all = new Map<string, number[]>(factories.map(([name]) => [name, []]))
    let n = 0
    const run = async (v: Variant, count: number): Promise<Sample[]> => {
      const out: Sample[] = []
      for (let i = 0; i < count; i++)
        out.push(await withTimeout(v.sample(`p1 ${v.name} ${n++}`), 10_000, `P1 ${v.name} sample`))
      return out
    }
    for (let round = -1; round < sizes.rounds; round++) {
      // Interleaved: every round measures all four, so a noisy moment on the machine hits them alike.
      for (const [name, make] of factories) {
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
        } finally {
          await v.close()
        }
      }
      if (round >= 0)
        log(
          `P1 round ${round + 1}/${sizes.rounds}: ${[...results].map(([k, r]) => `${k} p50 ${nsToUs(r.p50.at(-1)!).toFixed(0)} µs`).join(', ')}`,
        )
    }
    const label: Record<string, string> = {
      floor: 'floor: bare relay',
      raw: 'raw socket.io-client',
      layer: 'layer',
      peer: 'peer (RTK docs)',
    }
    draw(
      'p1-latency',
      lineChart({
        title: `P1: send → in the receiver's cache, ${sizes.rounds} × ${sizes.perRound} samples each`,
        xLabel: 'latency (µs, log scale)',
        yLabel: 'share of samples at or below',
        zeroY: true,
        logX: true,
        series: ['raw', 'layer', 'peer', 'floor'].map((name) => ({ name: label[name]!, points: cdf(all.get(name)!) })),
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
    ]
    return rows
  },
}
