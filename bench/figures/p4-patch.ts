import { configureStore, createSlice, type PayloadAction } from '@reduxjs/toolkit'
import type { Socket } from 'socket.io-client'
import type { Message } from '../../src/contract'
import type { Figure } from '../lib/figure'
import { api, layerClient, type LayerClient } from '../lib/layer'
import { peerClient, type PeerClient } from '../lib/peerClient'
import { ArrivalProbe } from '../lib/probe'
import { row, type Row } from '../lib/results'
import { lineChart } from '../lib/svg'
import { sharedHost } from '../lib/server'
import { median, nowNs, nsToUs, percentile } from '../lib/stats'

/**
 * P4: one incoming `message:new` appended to a cached thread of N messages. The event enters where Socket.IO hands
 * a decoded packet to the socket (`socket.onevent`, what socket.io-client calls for every EVENT packet it receives),
 * so the timed span is everything on the client after decoding: the socket's listeners, validation, dispatch,
 * reducers, middleware and the cache patch, up to the moment the message is in the cache (the probe, first in the
 * chain, records the time after the action that put it there). The thread is reset to N messages at the start of
 * every round (untimed), so it holds N to N + perRound messages.
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

/** What socket.io-client does with a decoded EVENT packet (private in its types). */
function deliver(socket: Socket, event: string, payload: unknown): void {
  ;(socket as unknown as { onevent(packet: { type: number; nsp: string; data: unknown[] }): void }).onevent({
    type: 2,
    nsp: '/',
    data: [event, payload],
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
      const t0 = nowNs()
      deliver(socket, 'message:new', message)
      return (await arrival.inCache) - t0
    },
    close: () => client.close(),
  }
}

function peerTarget(client: PeerClient, probe: ArrivalProbe<unknown>, conversationId: string): Target {
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
      deliver(socket, 'message:new', message)
      return (await arrival.inCache) - t0
    },
    close: () => client.close(),
  }
}

export const p4: Figure = {
  id: 'P4',
  title: 'one message patched into a cached thread of N',
  async run({ smoke, log, draw }) {
    // `jitRounds`: rounds at the smallest size before any size is timed, the same for all three (see "P4's warm-up" in
    // bench/README.md: the layer's p50 keeps falling for about 2,500 samples as V8 compiles its path).
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
    const result = new Map<string, { p50: number; p99: number }>()
    let k = 0
    /** The layer's p50 per round of the JIT warm-up, for the rows that show how far it fell. */
    const jitP50s: Record<Name, number[]> = { bare: [], layer: [], peer: [] }
    const jit = new Map<Name, { first: number; last: number }>()
    try {
      for (let round = 0; round < sizes.jitRounds; round++) {
        for (const name of Object.keys(targets) as Name[]) {
          const target = targets[name]
          target.reset(sizes.ns[0]!)
          const samples: number[] = []
          for (let i = 0; i < sizes.perRound; i++)
            samples.push(await target.sample(sizes.ns[0]! + i + 1, `p4-${name}-${k++}`))
          jitP50s[name].push(percentile(samples, 50))
        }
      }
      const settled = (name: Name, from: 'first' | 'last') => {
        const span = Math.max(1, Math.floor(sizes.jitRounds / 10))
        const rounds = from === 'first' ? jitP50s[name].slice(0, span) : jitP50s[name].slice(-span)
        return nsToUs(median(rounds))
      }
      for (const name of Object.keys(targets) as Name[])
        jit.set(name, { first: settled(name, 'first'), last: settled(name, 'last') })
      log(
        `P4 JIT warm-up at N=${sizes.ns[0]} (${sizes.jitRounds} rounds of ${sizes.perRound}), p50 of the first tenth → of the last: ${(Object.keys(targets) as Name[]).map((name) => `${name} ${settled(name, 'first').toFixed(1)} → ${settled(name, 'last').toFixed(1)} µs`).join(', ')}`,
      )
      for (const n of sizes.ns) {
        const p50s: Record<Name, number[]> = { bare: [], layer: [], peer: [] }
        const p99s: Record<Name, number[]> = { bare: [], layer: [], peer: [] }
        for (let round = -sizes.warmup; round < sizes.rounds; round++) {
          // Interleaved round by round, so a noisy moment hits all three alike.
          for (const name of Object.keys(targets) as Name[]) {
            const target = targets[name]
            target.reset(n)
            const samples: number[] = []
            for (let i = 0; i < sizes.perRound; i++) samples.push(await target.sample(n + i + 1, `p4-${name}-${k++}`))
            if (round < 0) continue
            p50s[name].push(percentile(samples, 50))
            p99s[name].push(percentile(samples, 99))
          }
        }
        for (const name of Object.keys(targets) as Name[])
          result.set(`${name}-${n}`, { p50: nsToUs(median(p50s[name])), p99: nsToUs(median(p99s[name])) })
        log(
          `P4 N=${n}: bare ${result.get(`bare-${n}`)!.p50.toFixed(1)} µs, layer ${result.get(`layer-${n}`)!.p50.toFixed(1)} µs, peer ${result.get(`peer-${n}`)!.p50.toFixed(1)} µs (p50)`,
        )
      }
    } finally {
      await layer.close()
      await peer.close()
    }
    const at = (name: string, n: number) => result.get(`${name}-${n}`)!
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
          name: `layer: one message:new into a cached thread of ${label}, warm (samples back to back: the patch's own cost; a lone message's cold path is P1's receive side), p50 (baseline bare slice dispatch)`,
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
    for (const name of ['layer', 'peer', 'bare'] as const) {
      const { first, last } = jit.get(name)!
      const who = { layer: 'layer', peer: 'peer (RTK docs streaming)', bare: 'bare slice dispatch' }[name]
      rows.push(
        row({
          id: `P4-jit-${name}`,
          name: `${who}: p50 at ${sizes.ns[0]} over the last tenth of the JIT warm-up, before any size is timed (baseline: over its first tenth)`,
          value: last,
          unit: 'µs',
          baseline: first,
        }),
      )
    }
    const small = sizes.ns[0]!
    const big = sizes.ns[sizes.ns.length - 1]!
    const mid = sizes.ns.includes(1_000) ? 1_000 : big
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
