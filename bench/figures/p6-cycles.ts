import { io, type Socket } from 'socket.io-client'
import type { Middleware } from '@reduxjs/toolkit'
import { listenerCounts, nextConnect, onWebsocket, total } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { heapAfterGc } from '../lib/gc'
import {
  connect,
  disconnect,
  joinConversation,
  layerClient,
  leaveConversation,
  selectConnection,
  type LayerClient,
} from '../lib/layer'
import { untilState } from '../lib/probe'
import { row } from '../lib/results'
import { sharedHost } from '../lib/server'
import { deferred, median, nowNs, nsToMs, withTimeout } from '../lib/stats'
import { lineChart } from '../lib/svg'

/**
 * P6: what a long-lived connection leaves behind. One socket lives through N cycles of: the connection drops (its
 * engine is closed under it, as a network loss does) → the layer reconnects that same socket → a conversation is
 * joined and left again. Measured on that socket, its manager and the manager's current engine: every listener
 * (socket.io-client's emitters keep them in `_callbacks`) at every checkpoint, and the heap in use after full GCs.
 * The slope of the heap over the cycles (least squares over the checkpoints after the first tenth, which fills
 * caches and compiles code) is compared with a bare socket.io-client doing the same on one socket of its own: the
 * layer's state, maps and listeners show as a steeper slope. Also: after explicit `disconnect()`/`connect()` cycles,
 * which make a new socket each time, how many of the dropped sockets are still reachable after GC.
 */

interface Checkpoint {
  cycle: number
  heap: number
  listeners: { socket: number; manager: number; engine: number }
}

function listenersOf(socket: Socket) {
  const manager = socket.io
  const engine = (manager as unknown as { engine?: unknown }).engine
  return {
    socket: total(listenerCounts(socket)) + socket.listenersAny().length + socket.listenersAnyOutgoing().length,
    manager: total(listenerCounts(manager)),
    engine: engine ? total(listenerCounts(engine)) : 0,
  }
}

/** Least-squares slope of heap against cycle. */
function slope(points: readonly Checkpoint[]): number {
  const n = points.length
  if (n < 2) return Number.NaN
  const mx = points.reduce((a, p) => a + p.cycle, 0) / n
  const my = points.reduce((a, p) => a + p.heap, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.cycle - mx) * (p.heap - my)
    den += (p.cycle - mx) ** 2
  }
  return num / den
}

/** Runs `cycles` cycles, reading a checkpoint every tenth (after the first tenth, which is warm-up). */
async function measure(
  cycles: number,
  socket: () => Socket,
  cycle: (i: number) => Promise<void>,
): Promise<Checkpoint[]> {
  const every = Math.max(1, Math.floor(cycles / 10))
  const points: Checkpoint[] = []
  for (let i = 0; i <= cycles; i++) {
    if (i >= every && i % every === 0)
      points.push({ cycle: i, heap: await heapAfterGc(), listeners: listenersOf(socket()) })
    if (i < cycles) await cycle(i)
  }
  return points
}

/** Emits with an ack and waits for it (the rooms join/leave of the bare client). */
const emitAck = (socket: Socket, event: string, payload: unknown) =>
  withTimeout(
    new Promise<void>((resolve) => socket.emit(event, payload, () => resolve())),
    10_000,
    `the ack of ${event}`,
  )

async function bareCycles(url: string, token: string, conversationId: string, cycles: number): Promise<Checkpoint[]> {
  const socket = io(url, { auth: { token }, forceNew: true, reconnection: false })
  // nextConnect removes its connect_error listener once connected: a listener left per cycle would be the bench's
  // own leak, counted against socket.io-client.
  const connected = () => nextConnect(socket)
  try {
    await connected()
    await onWebsocket(socket)
    return await measure(
      cycles,
      () => socket,
      async () => {
        const gone = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()))
        socket.io.engine.close()
        await gone
        const back = connected()
        socket.connect()
        await withTimeout(back, 10_000, 'the bare socket to reconnect')
        await emitAck(socket, 'conversation:join', { conversationId })
        await emitAck(socket, 'conversation:leave', { conversationId })
      },
    )
  } finally {
    socket.close()
  }
}

/** Resolves on the layer's next `socket/connected` and `socket/joined…`: a middleware, no polling. */
function connectedWatcher() {
  let waiting: ReturnType<typeof deferred<void>> | null = null
  const middleware: Middleware = () => (next) => (action) => {
    const result = next(action)
    if (waiting && (action as { type?: string }).type === 'socket/connected') {
      waiting.resolve()
      waiting = null
    }
    return result
  }
  return {
    middleware,
    next: () => {
      waiting = deferred<void>()
      return waiting.promise
    },
  }
}

async function layerCycles(
  client: LayerClient,
  watcher: ReturnType<typeof connectedWatcher>,
  conversationId: string,
  cycles: number,
): Promise<Checkpoint[]> {
  const socket = client.socket()
  return measure(
    cycles,
    () => socket,
    async (i) => {
      const back = watcher.next()
      socket.io.engine.close()
      await withTimeout(back, 10_000, `cycle ${i}: the layer to reconnect`)
      if (client.socket() !== socket) throw new Error('P6: the layer replaced its socket on a drop')
      client.store.dispatch(joinConversation({ conversationId }))
      client.store.dispatch(leaveConversation({ conversationId }))
    },
  )
}

export const p6: Figure = {
  id: 'P6',
  title: 'a long-lived socket through drops: listeners and heap slope',
  async run({ smoke, log, draw }) {
    const cycles = smoke ? 10 : 500
    const explicitCycles = smoke ? 5 : 100
    const host = await sharedHost()
    const pair = host.seeded[6]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    const watcher = connectedWatcher()
    const client = await layerClient({
      url: host.url,
      session: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' } },
      probes: [watcher.middleware],
      keepSockets: false,
      realtime: { random: () => 0 }, // reconnect at once after a drop: the cycle, not the backoff, is measured
    })
    const status = () => selectConnection(client.store.getState()).status
    try {
      const stateBefore = JSON.stringify(client.store.getState()).length
      const layer = await layerCycles(client, watcher, pair.conversationId, cycles)
      const stateAfter = JSON.stringify(client.store.getState()).length
      const bare = await bareCycles(host.url, pair.b.token, pair.conversationId, cycles)
      // Explicit cycles: each connect() makes a new socket; the dropped ones must become garbage.
      const createdBefore = client.created()
      const durations: number[] = []
      for (let i = 0; i < explicitCycles; i++) {
        const t0 = nowNs()
        client.store.dispatch(disconnect())
        await untilState(client.store, () => status() === 'disconnected', `explicit cycle ${i}: disconnected`)
        client.store.dispatch(connect())
        await untilState(client.store, () => status() === 'connected', `explicit cycle ${i}: connected`)
        durations.push(nowNs() - t0)
      }
      await heapAfterGc()
      const alive = client.alive()
      const made = client.created() - createdBefore

      const first = layer[0]!
      const last = layer.at(-1)!
      const layerSlope = slope(layer)
      const bareSlope = slope(bare)
      log(
        `P6 layer listeners ${JSON.stringify(first.listeners)} → ${JSON.stringify(last.listeners)}; heap ${(first.heap / 1e6).toFixed(2)} → ${(last.heap / 1e6).toFixed(2)} MB; state ${stateBefore} → ${stateAfter} characters`,
      )
      log(`P6 slopes: layer ${layerSlope.toFixed(0)} B/cycle, bare ${bareSlope.toFixed(0)} B/cycle`)
      draw(
        'p6-heap',
        lineChart({
          title: `P6: heap after GC through ${cycles} drops and reconnects of one socket`,
          xLabel: 'cycle',
          yLabel: 'heap in use (MB)',
          markers: true,
          series: [
            { name: 'layer', points: layer.map((p) => [p.cycle, p.heap / 1e6] as const) },
            { name: 'bare socket.io-client', points: bare.map((p) => [p.cycle, p.heap / 1e6] as const) },
          ],
        }),
      )
      const n = cycles.toLocaleString('en-US')
      const span = `cycles ${first.cycle} to ${last.cycle}`
      const most = (key: keyof Checkpoint['listeners']) => Math.max(...layer.map((p) => p.listeners[key]))
      return [
        row({
          id: 'P6',
          name: `heap growth per cycle (least squares over ${span}) of the layer's long-lived socket through ${n} drops, reconnects, joins and leaves (baseline: a bare socket.io-client doing the same)`,
          value: layerSlope,
          unit: 'B/cycle',
          baseline: bareSlope > 0 ? bareSlope : null,
          target: { on: 'ratio', op: '<=', limit: 1.2 },
        }),
        row({
          id: 'P6-bare',
          name: `bare socket.io-client, one socket, the same ${n} cycles: heap growth per cycle (${span})`,
          value: bareSlope,
          unit: 'B/cycle',
        }),
        row({
          id: 'P6-socket',
          name: `listeners on the layer's socket, the most at any checkpoint (baseline: at cycle ${first.cycle})`,
          value: most('socket'),
          unit: 'listeners',
          baseline: first.listeners.socket,
          target: { on: 'value', op: '==', limit: first.listeners.socket },
        }),
        row({
          id: 'P6-manager',
          name: `listeners on its manager, the most at any checkpoint (baseline: at cycle ${first.cycle})`,
          value: most('manager'),
          unit: 'listeners',
          baseline: first.listeners.manager,
          target: { on: 'value', op: '==', limit: first.listeners.manager },
        }),
        row({
          id: 'P6-engine',
          name: `listeners on the manager's current engine, the most at any checkpoint (baseline: at cycle ${first.cycle})`,
          value: most('engine'),
          unit: 'listeners',
          baseline: first.listeners.engine,
        }),
        row({
          id: 'P6-state',
          name: `the store's state as JSON after the ${n} cycles (baseline: before)`,
          value: stateAfter,
          unit: 'characters',
          baseline: stateBefore,
        }),
        row({
          id: 'P6-alive',
          name: `sockets made by ${explicitCycles} explicit disconnect()/connect() cycles still reachable after GC (of ${made} made; the current one counts)`,
          value: alive,
          unit: 'sockets',
          target: { on: 'value', op: '<=', limit: 1 },
        }),
        row({
          id: 'P6-cycle',
          name: 'one explicit disconnect → connect cycle, median',
          value: nsToMs(median(durations)),
          unit: 'ms',
        }),
      ]
    } finally {
      await client.close()
    }
  },
}
