import { configureStore, createSlice, type PayloadAction } from '@reduxjs/toolkit'
import type { Socket } from 'socket.io-client'
import type { Message } from '../../src/contract'
import type { Figure } from '../lib/figure'
import { api, layerClient, selectConnection, type LayerClient } from '../lib/layer'
import { peerClient, type PeerClient } from '../lib/peerClient'
import { ArrivalProbe, untilState } from '../lib/probe'
import { row, type Row } from '../lib/results'
import { lineChart } from '../lib/svg'
import { sharedHost } from '../lib/server'
import { median, nowNs, nsToUs, percentile, rotated } from '../lib/stats'

/**
 * P4: one incoming `message:new` appended to a cached thread of N messages. The event enters where Socket.IO hands
 * a decoded packet to the socket (`socket.onevent`, what socket.io-client calls for every EVENT packet it receives),
 * so the timed span is everything on the client after decoding: the socket's listeners, validation, dispatch,
 * reducers, middleware and the cache patch, up to the moment the message is in the cache (the probe, first in the
 * chain, records the time after the action that put it there). The thread is reset to N messages at the start of
 * every round (untimed), so it holds N to N + perRound messages. Before the sizes, all three run the same warm-up at
 * the smallest size; then every round times every size and, at each size, the three targets, both orders rotating.
 *
 * Baseline: a bare slice dispatch — a `createSlice` whose reducer pushes the message onto an array of N, in a bare
 * `configureStore` with the same probe. Peer: the RTK docs' streaming pattern, the event entering the same way.
 */

function thread(conversationId: string, n: number): Message[] {
  const createdAt = new Date(Date.UTC(2026, 0, 1)).toISOString()
  return Array.from({ length: n }, (_, i) => ({
    id: `p4-${conversationId}-${i + 1}`,
    conversationId,
    seq: i + 1,
    senderId: i % 2 === 0 ? 'someone' : 'someone-else',
    content: `message ${i + 1}`,
    createdAt,
    clientId: null,
  }))
}

function incoming(conversationId: string, seq: number, tag: string): Message {
  return {
    id: tag,
    conversationId,
    seq,
    senderId: 'someone',
    content: tag,
    createdAt: new Date().toISOString(),
    clientId: null,
  }
}

/**
 * What socket.io-client does with a decoded EVENT packet (private in its types). `offset`: the event's trailing
 * `{ offset }`, which the server's notifier sends with every logged event.
 */
function deliver(socket: Socket, event: string, payload: unknown, offset: number): void {
  ;(socket as unknown as { onevent(packet: { type: number; nsp: string; data: unknown[] }): void }).onevent({
    type: 2,
    nsp: '/',
    data: [event, payload, { offset }],
  })
}

interface Target {
  reset(n: number): void
  /** One timed sample, in ns. */
  sample(seq: number, tag: string): Promise<number>
  close(): Promise<void>
}

const lastIdIs = (list: readonly { id: string }[] | undefined, id: string) =>
  list !== undefined && list.length > 0 && list[list.length - 1]!.id === id

function bareTarget(conversationId: string): Target {
  const slice = createSlice({
    name: 'thread',
    initialState: [] as Message[],
    reducers: {
      replaced: (_state, action: PayloadAction<Message[]>) => action.payload,
      added: (state, action: PayloadAction<Message>) => {
        state.push(action.payload)
      },
    },
  })
  const probe = new ArrivalProbe<{ thread: Message[] }>()
  const store = configureStore({
    reducer: { thread: slice.reducer },
    middleware: (gDM) => gDM().prepend(probe.middleware),
  })
  return {
    reset: (n) => void store.dispatch(slice.actions.replaced(thread(conversationId, n))),
    async sample(seq, tag) {
      const arrival = probe.expect((state) => lastIdIs(state.thread, tag))
      const message = incoming(conversationId, seq, tag)
      const t0 = nowNs()
      store.dispatch(slice.actions.added(message))
      return (await arrival.inCache) - t0
    },
    close: async () => undefined,
  }
}

function layerTarget(client: LayerClient, probe: ArrivalProbe<unknown>, conversationId: string): Target {
  const select = api.endpoints.getMessages.select(conversationId)
  return {
    reset: (n) =>
      void client.store.dispatch(
        api.util.updateQueryData('getMessages', conversationId, () => thread(conversationId, n)),
      ),
    async sample(seq, tag) {
      const arrival = probe.expect((state) => lastIdIs(select(state as never).data, tag))
      const message = incoming(conversationId, seq, tag)
      const socket = client.socket()
      // The next offset after the one the store applied, so the event goes through the offset gate as a live one does.
      const offset = (selectConnection(client.store.getState()).offset ?? 0) + 1
      const t0 = nowNs()
      deliver(socket, 'message:new', message, offset)
      return (await arrival.inCache) - t0
    },
    close: () => client.close(),
  }
}

function peerTarget(client: PeerClient, probe: ArrivalProbe<unknown>, conversationId: string): Target {
  let peerOffset = 0
  const select = client.api.endpoints.getMessages.select(conversationId)
  return {
    reset: (n) =>
      void client.store.dispatch(
        client.api.util.updateQueryData('getMessages', conversationId, () => thread(conversationId, n)),
      ),
    async sample(seq, tag) {
      const arrival = probe.expect((state) => lastIdIs(select(state as never).data, tag))
      const message = incoming(conversationId, seq, tag)
      const socket = client.socket()
      const t0 = nowNs()
      // The same packet as the layer's (the docs' listener reads the message alone).
      deliver(socket, 'message:new', message, ++peerOffset)
      return (await arrival.inCache) - t0
    },
    close: () => client.close(),
  }
}

export const p4: Figure = {
  id: 'P4',
  title: 'one message patched into a cached thread of N',
  async run({ smoke, log, draw }) {
    // `jitRounds`: rounds at the smallest size before any size is timed, the same for all three: the layer's p50 keeps
    // falling for about 2,500 samples (bench/README.md, "P4's warm-up").
    const sizes = smoke
      ? { ns: [10, 100], jitRounds: 4, warmup: 1, rounds: 2, perRound: 5 }
      : { ns: [10, 100, 1_000, 10_000], jitRounds: 200, warmup: 2, rounds: 15, perRound: 20 }
    const host = await sharedHost()
    const pair = host.seeded[5]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    const conversationId = pair.conversationId
    const layerProbe = new ArrivalProbe<unknown>()
    const layer = await layerClient({
      url: host.url,
      session: { token: pair.b.token, user: { id: pair.b.id, name: pair.b.id, role: 'tutor' } },
      probes: [layerProbe.middleware],
    })
    await layer.subscribeThread(conversationId)
    // Its events' offsets follow the one the first sync gave (before it, a logged event waits for it).
    await untilState(
      layer.store,
      (s) => selectConnection(s).offset !== null && !selectConnection(s).syncing,
      'the first sync',
    )
    const peerProbe = new ArrivalProbe<unknown>()
    const peer = await peerClient({
      url: host.url,
      token: pair.b.token,
      conversationId,
      probes: [peerProbe.middleware],
    })
    const targets = {
      bare: bareTarget(conversationId),
      layer: layerTarget(layer, layerProbe, conversationId),
      peer: peerTarget(peer, peerProbe, conversationId),
    }
    type Name = keyof typeof targets
    const names = Object.keys(targets) as Name[]
    let k = 0
    let turn = 0
    /**
     * `rounds` rounds over the thread sizes `ns`: in each round every size, their order rotating, and at each size the
     * three targets one after the other, their order rotating too (so a noisy moment, or a drift of the machine or of
     * V8 over the run, hits every size and target alike); each round's p50 and p99 per target and size, in ns.
     */
    async function timeRounds(ns: readonly number[], rounds: number) {
      const p50s = new Map<string, number[]>()
      const p99s = new Map<string, number[]>()
      for (let round = 0; round < rounds; round++) {
        for (const n of rotated(ns, round)) {
          for (const name of rotated(names, turn++)) {
            const target = targets[name]
            target.reset(n)
            const samples: number[] = []
            for (let i = 0; i < sizes.perRound; i++) samples.push(await target.sample(n + i + 1, `p4-${name}-${k++}`))
            const key = `${name}-${n}`
            p50s.set(key, [...(p50s.get(key) ?? []), percentile(samples, 50)])
            p99s.set(key, [...(p99s.get(key) ?? []), percentile(samples, 99)])
          }
        }
      }
      return {
        p50s: (name: Name, n: number) => p50s.get(`${name}-${n}`)!,
        p99s: (name: Name, n: number) => p99s.get(`${name}-${n}`)!,
      }
    }
    const result = new Map<string, { p50: number; p99: number }>()
    const small = sizes.ns[0]!
    const warmSamples = sizes.jitRounds * sizes.perRound
    const big = sizes.ns[sizes.ns.length - 1]!
    const mid = sizes.ns.includes(1_000) ? 1_000 : big
    const byTenth = new Map<Name, { first: number; ninth: number; last: number }>()
    /** Each target's p50 in the one round before the warm-up, µs. */
    const cold = new Map<Name, number>()
    try {
      // One round at the target's size before anything else of P4 has run: what the old method's first rounds saw.
      const first = await timeRounds([mid], 1)
      for (const name of names) cold.set(name, nsToUs(first.p50s(name, mid)[0]!))
      const warming = await timeRounds([small], sizes.jitRounds)
      const tenth = Math.max(1, Math.floor(sizes.jitRounds / 10))
      const medianUs = (list: number[]) => nsToUs(median(list))
      for (const name of names) {
        const p50s = warming.p50s(name, small)
        byTenth.set(name, {
          first: medianUs(p50s.slice(0, tenth)),
          ninth: medianUs(p50s.slice(-2 * tenth, -tenth)),
          last: medianUs(p50s.slice(-tenth)),
        })
      }
      log(
        `P4 warm-up at N=${small} (${sizes.jitRounds} rounds of ${sizes.perRound}), median of the rounds' p50s over the first, ninth and last tenth: ${names.map((name) => `${name} ${[byTenth.get(name)!.first, byTenth.get(name)!.ninth, byTenth.get(name)!.last].map((us) => us.toFixed(1)).join(' → ')} µs`).join(', ')}`,
      )
      await timeRounds(sizes.ns, sizes.warmup)
      const timed = await timeRounds(sizes.ns, sizes.rounds)
      const half = Math.floor(sizes.rounds / 2)
      for (const name of names) {
        for (const n of sizes.ns)
          result.set(`${name}-${n}`, { p50: medianUs(timed.p50s(name, n)), p99: medianUs(timed.p99s(name, n)) })
        // The smallest size over the first and the last half of the rounds: about 1 apart unless the run drifted.
        result.set(`${name}-early`, { p50: medianUs(timed.p50s(name, small).slice(0, half)), p99: Number.NaN })
        result.set(`${name}-late`, { p50: medianUs(timed.p50s(name, small).slice(-half)), p99: Number.NaN })
      }
      for (const n of sizes.ns)
        log(
          `P4 N=${n}: ${names.map((name) => `${name} ${result.get(`${name}-${n}`)!.p50.toFixed(1)} µs`).join(', ')} (p50)`,
        )
    } finally {
      await layer.close()
      await peer.close()
    }
    const at = (name: string, n: number | 'early' | 'late') => result.get(`${name}-${n}`)!
    draw(
      'p4-thread-size',
      lineChart({
        title: 'P4: one message:new into a cached thread, p50 by thread size',
        xLabel: 'messages already in the thread (log scale)',
        yLabel: 'µs until in the cache (log scale)',
        logX: true,
        logY: true,
        markers: true,
        series: [
          { name: 'layer', points: sizes.ns.map((n) => [n, at('layer', n).p50] as const) },
          { name: 'peer (RTK docs)', points: sizes.ns.map((n) => [n, at('peer', n).p50] as const) },
          { name: 'bare slice dispatch', points: sizes.ns.map((n) => [n, at('bare', n).p50] as const) },
        ],
      }),
    )
    const rows: Row[] = []
    for (const n of sizes.ns) {
      const label = n.toLocaleString('en-US')
      rows.push(
        row({
          id: `P4-${n}`,
          name: `layer: one message:new into a cached thread of ${label}, warm (after ${warmSamples.toLocaleString('en-US')} warm-up samples at ${small}; samples back to back: the patch's own cost; a lone message's cold path is P1's receive side), p50 (baseline bare slice dispatch)`,
          value: at('layer', n).p50,
          unit: 'µs',
          baseline: at('bare', n).p50,
          target: n === 1_000 ? { on: 'value', op: '<=', limit: 100 } : null,
        }),
        row({
          id: `P4-${n}-p99`,
          name: `layer: thread of ${label}, p99 (baseline bare slice dispatch)`,
          value: at('layer', n).p99,
          unit: 'µs',
          baseline: at('bare', n).p99,
        }),
        row({
          id: `P4-peer-${n}`,
          name: `peer (RTK docs streaming): thread of ${label}, p50 (baseline bare slice dispatch)`,
          value: at('peer', n).p50,
          unit: 'µs',
          baseline: at('bare', n).p50,
        }),
      )
    }
    const who = { layer: 'layer', peer: 'peer (RTK docs streaming)', bare: 'bare slice dispatch' }
    for (const name of ['layer', 'peer', 'bare'] as const) {
      const { first, ninth, last } = byTenth.get(name)!
      rows.push(
        row({
          id: `P4-warmup-${name}`,
          name: `${who[name]}: p50 at ${small} over the last tenth of the warm-up (baseline: over its first tenth; medians of the rounds' p50s)`,
          value: last,
          unit: 'µs',
          baseline: first,
        }),
        row({
          id: `P4-warmup-${name}-settled`,
          name: `${who[name]}: p50 at ${small} over the last tenth of the warm-up against its ninth (about 1 once it has settled)`,
          value: last,
          unit: 'µs',
          baseline: ninth,
        }),
        row({
          id: `P4-cold-${name}`,
          name: `${who[name]}: p50 at ${mid.toLocaleString('en-US')} in one round before the warm-up, the first thing P4 times (information; baseline: after the warm-up)`,
          value: cold.get(name)!,
          unit: 'µs',
          baseline: at(name, mid).p50,
        }),
      )
    }
    rows.push(
      row({
        id: 'P4-drift',
        name: `layer p50 at ${small} over the last half of the rounds, against over their first half (about 1 unless the run drifted; the sizes are interleaved round by round, so a drift hits them alike)`,
        value: at('layer', 'late').p50,
        unit: 'µs',
        baseline: at('layer', 'early').p50,
      }),
    )
    rows.push(
      row({
        id: 'P4-vs-peer',
        name: `layer p50 at ${mid.toLocaleString('en-US')} against the peer’s (aim: ahead)`,
        value: at('layer', mid).p50,
        unit: 'µs',
        baseline: at('peer', mid).p50,
        target: { on: 'ratio', op: '<', limit: 1 },
      }),
      row({
        id: 'P4-flat',
        name: `layer p50 at ${big.toLocaleString('en-US')} against at ${small} ("near flat": read here as ≤ 2×)`,
        value: at('layer', big).p50,
        unit: 'µs',
        baseline: at('layer', small).p50,
        target: { on: 'ratio', op: '<=', limit: 2 },
      }),
      row({
        id: 'P4-bare-flat',
        name: `bare slice dispatch p50 at ${big.toLocaleString('en-US')} against at ${small}`,
        value: at('bare', big).p50,
        unit: 'µs',
        baseline: at('bare', small).p50,
      }),
    )
    return rows
  },
}
