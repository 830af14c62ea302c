import { io, type Socket } from 'socket.io-client'
import type { Middleware } from '@reduxjs/toolkit'
import { listenerCounts, nextConnect, onWebsocket, total } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { heapAfterGc } from '../lib/gc'
import { heapWithoutJit } from '../lib/heapSnapshot'
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
import { deferred, median, nowNs, nsToMs, sleep, waitFor, withTimeout } from '../lib/stats'
import { lineChart } from '../lib/svg'

/**
 * P6: what a long-lived connection leaves behind. One socket lives through cycles of: the connection drops (its
 * engine is closed under it, as a network loss does) → the layer reconnects that same socket → a conversation is
 * joined and left again. A bare socket.io-client does the same on one socket of its own, in the same process.
 *
 * Both first run a warm-up, interleaved; then rounds, each a block of cycles for the layer and one for the bare client
 * (which goes first alternates), the same for both. In every block: a heap snapshot at its start and its end, summed
 * without the JIT's objects (`heapWithoutJit`): their difference over the block's cycles is what each cycle leaves on
 * the heap, and the median over rounds is the figure. The JIT's part is left out because it is not kept by the
 * connection: V8 goes on compiling, optimising and deoptimising the same code for thousands of cycles, more of it for
 * the layer (Redux, RTK Query and the layer on top of socket.io-client), and that growth, which ends, swamped the heap
 * slope this figure used to be. The heap in use after full GCs is still read every tenth of a block (its slope, JIT
 * included, is a row of its own, and the chart), with every listener on the socket, its manager and every engine the
 * socket has had in the block that is still reachable (see `block`). Also: after explicit `disconnect()`/`connect()`
 * cycles, which make a new socket each time, how many of the dropped sockets are still reachable after GC.
 */

interface Checkpoint {
  cycle: number
  heap: number
  /** `engine`: on every engine of the block still reachable (see `block`), not only the current one. */
  listeners: { socket: number; manager: number; engine: number }
  /** How many of the block's engines were still reachable (the current one counts). */
  engines: number
}

/** One client's block of cycles: checkpoints, and the heap without the JIT's objects at its start and its end. */
interface Block {
  points: Checkpoint[]
  /** Bytes left on the heap per cycle, the JIT's objects left out. */
  retained: number
  /** Bytes the JIT's objects grew per cycle. */
  jit: number
}

/** What one client under test does: its socket, and one cycle. */
interface Subject {
  socket: () => Socket
  cycle: (i: number) => Promise<void>
}

/** The Engine.IO socket the manager holds now: a new one after every drop. */
const engineOf = (socket: Socket): object | undefined => (socket.io as unknown as { engine?: object }).engine

function listenersOf(socket: Socket) {
  return {
    socket: total(listenerCounts(socket)) + socket.listenersAny().length + socket.listenersAnyOutgoing().length,
    manager: total(listenerCounts(socket.io)),
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

/**
 * Resolves once every emit of the socket that asked for an ack has been answered (or timed out): the layer does not
 * wait for the acks of its join and leave, so without this a block's last ones, with their timers, would still be on
 * the heap at its end and not at its start.
 */
const answered = (socket: Socket) =>
  waitFor(
    () => Object.keys((socket as unknown as { acks: Record<number, unknown> }).acks).length === 0,
    'the acks of the last cycle',
    10_000,
  )

/**
 * Runs `cycles` cycles of `subject`: `checkpoints` checkpoints after the first (each after full GCs), the heap without
 * the JIT's at the start and the end.
 * The checkpoints are written into a typed array made before the first snapshot (writing a number into it allocates
 * nothing), so the block's own records are not counted as left by the cycles.
 *
 * Engines: every drop gives the manager a new engine, so the listeners on its current one are those of a fresh object
 * at every checkpoint and stay the same whatever a cycle leaves behind. A listener left on a dropped engine matters
 * when something still holds that engine (and with it its transport, buffers and the listener's closure): so every
 * engine the socket has had in the block is held weakly, and each checkpoint counts the listeners on every one still
 * reachable after its GCs. The weak references go into slots made before the first snapshot and are dropped before
 * the last, so they are not counted as left by the cycles either.
 */
async function block(subject: Subject, cycles: number, from: number, checkpoints: number): Promise<Block> {
  const every = Math.max(1, Math.floor(cycles / checkpoints))
  const count = Math.floor(cycles / every) + 1
  const FIELDS = 6
  const samples = new Float64Array(count * FIELDS)
  // One engine a cycle, and room for a reconnect that took several tries; beyond that an engine is not followed.
  const engines = new Array<WeakRef<object> | undefined>(2 * (cycles + 1)).fill(undefined)
  let seen = 0
  let current: object | undefined
  const follow = () => {
    const engine = engineOf(subject.socket())
    if (engine === undefined || engine === current) return
    current = engine
    if (seen < engines.length) engines[seen++] = new WeakRef(engine)
  }
  await answered(subject.socket())
  await heapAfterGc()
  const start = heapWithoutJit()
  follow()
  for (let i = 0, k = 0; i <= cycles; i++) {
    if (i % every === 0) {
      const heap = await heapAfterGc()
      const listeners = listenersOf(subject.socket())
      let onEngines = 0
      let reachable = 0
      for (let j = 0; j < seen; j++) {
        const engine = engines[j]!.deref()
        if (engine === undefined) continue
        reachable++
        onEngines += total(listenerCounts(engine))
      }
      samples.set([from + i, heap, listeners.socket, listeners.manager, onEngines, reachable], k++ * FIELDS)
    }
    if (i < cycles) {
      await subject.cycle(from + i)
      follow()
    }
  }
  engines.fill(undefined)
  current = undefined
  await answered(subject.socket())
  await heapAfterGc()
  const end = heapWithoutJit()
  const points = Array.from({ length: count }, (_, k): Checkpoint => {
    const [cycle, heap, socket, manager, engine, reachable] = samples.subarray(k * FIELDS, (k + 1) * FIELDS)
    return {
      cycle: cycle!,
      heap: heap!,
      listeners: { socket: socket!, manager: manager!, engine: engine! },
      engines: reachable!,
    }
  })
  return { points, retained: (end.bytes - start.bytes) / cycles, jit: (end.jitBytes - start.jitBytes) / cycles }
}

/** Runs `cycles` cycles of `subject` with nothing read (the warm-up). */
async function run(subject: Subject, cycles: number, from: number): Promise<void> {
  for (let i = 0; i < cycles; i++) await subject.cycle(from + i)
}

/** Emits with an ack and waits for it (the rooms join/leave of the bare client). */
const emitAck = (socket: Socket, event: string, payload: unknown) =>
  withTimeout(
    new Promise<void>((resolve) => socket.emit(event, payload, () => resolve())),
    10_000,
    `the ack of ${event}`,
  )

/** A bare socket.io-client, connected and on WebSocket, and its cycle. */
async function bareSubject(url: string, token: string, conversationId: string): Promise<Subject & { close(): void }> {
  const socket = io(url, { auth: { token }, forceNew: true, reconnection: false })
  // nextConnect removes its connect_error listener once connected: a listener left per cycle would be the bench's
  // own leak, counted against socket.io-client.
  const connected = () => nextConnect(socket)
  await connected()
  await onWebsocket(socket)
  return {
    socket: () => socket,
    async cycle(i) {
      const gone = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()))
      socket.io.engine.close()
      await gone
      const back = connected()
      socket.connect()
      await withTimeout(back, 10_000, `cycle ${i}: the bare socket to reconnect`)
      await emitAck(socket, 'conversation:join', { conversationId })
      await emitAck(socket, 'conversation:leave', { conversationId })
    },
    close: () => socket.close(),
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

function layerSubject(
  client: LayerClient,
  watcher: ReturnType<typeof connectedWatcher>,
  conversationId: string,
): Subject {
  const socket = client.socket()
  return {
    socket: () => socket,
    async cycle(i) {
      const back = watcher.next()
      socket.io.engine.close()
      await withTimeout(back, 10_000, `cycle ${i}: the layer to reconnect`)
      if (client.socket() !== socket) throw new Error('P6: the layer replaced its socket on a drop')
      client.store.dispatch(joinConversation({ conversationId }))
      client.store.dispatch(leaveConversation({ conversationId }))
    },
  }
}

/**
 * The warm-up (both clients in turn, `step` cycles at a time), then `rounds` rounds of one block each, which client
 * goes first alternating. A function of its own so that nothing of the subjects outlives it: the layer's subject holds
 * the socket the explicit cycles later replace, and `P6-alive` counts that socket.
 */
async function interleaved(
  layer: Subject,
  bare: Subject,
  sizes: { warmUp: number; step: number; cycles: number; rounds: number; checkpoints: number; settle: boolean },
  log: (line: string) => void,
): Promise<{ layerBlocks: Block[]; bareBlocks: Block[] }> {
  const { warmUp, step, cycles, rounds, checkpoints, settle } = sizes
  for (let i = 0; i < warmUp; i += step) {
    await run(layer, step, i)
    await run(bare, step, i)
  }
  // A settling block each, measured like the others and left out: early on, V8 flushes the bytecode of start-up
  // functions that no longer run once the GCs have aged it, and the strings its constant pools held go with it, once;
  // that would otherwise count as the cycles of whichever client went next giving memory back.
  // (Not in a smoke run, whose numbers mean nothing: each block costs two heap snapshots, seconds each.)
  if (settle) {
    await block(layer, step, warmUp, checkpoints)
    await block(bare, step, warmUp, checkpoints)
  }
  const layerBlocks: Block[] = []
  const bareBlocks: Block[] = []
  for (let r = 0; r < rounds; r++) {
    const from = warmUp + (settle ? step : 0) + r * cycles
    // Which client goes first alternates, so neither always runs on the heap the other has just left.
    const order = r % 2 === 0 ? [layer, bare] : [bare, layer]
    for (const subject of order)
      (subject === layer ? layerBlocks : bareBlocks).push(await block(subject, cycles, from, checkpoints))
    const [l, b] = [layerBlocks[r]!, bareBlocks[r]!]
    log(
      `P6 round ${r + 1}: left per cycle without the JIT's: layer ${l.retained.toFixed(1)} B, bare ${b.retained.toFixed(1)} B; the JIT's: layer ${l.jit.toFixed(0)} B, bare ${b.jit.toFixed(0)} B; heap slope: layer ${slope(l.points).toFixed(0)} B, bare ${slope(b.points).toFixed(0)} B`,
    )
  }
  return { layerBlocks, bareBlocks }
}

export const p6: Figure = {
  id: 'P6',
  title: 'a long-lived socket through drops: what each cycle leaves on the heap, listeners',
  // In the bench's process the heap also holds what the figures before it left, which V8 gives back while P6 runs.
  ownProcess: true,
  async run({ smoke, log, draw }) {
    const warmUp = smoke ? 4 : 200 // cycles of each client, interleaved in steps, before anything is read
    const step = smoke ? 2 : 50
    const cycles = smoke ? 10 : 500 // in each block
    const rounds = smoke ? 1 : 3
    const explicitCycles = smoke ? 5 : 100
    // In each block, after its first: the heap's slope and the listeners are read there. Two are enough to run the code.
    const checkpoints = smoke ? 2 : 10
    // The warm-up's cycles, and the settling blocks' (none in a smoke run).
    const warmedUp = warmUp + (smoke ? 0 : step)
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
    const bare = await bareSubject(host.url, pair.b.token, pair.conversationId)
    try {
      const stateBefore = JSON.stringify(client.store.getState()).length
      const { layerBlocks, bareBlocks } = await interleaved(
        layerSubject(client, watcher, pair.conversationId),
        bare,
        { warmUp, step, cycles, rounds, checkpoints, settle: !smoke },
        log,
      )
      const stateAfter = JSON.stringify(client.store.getState()).length
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
      // A socket dropped while its engine was still upgrading to WebSocket stays reachable until that engine has
      // closed: engine.io-client's close() waits for the upgrade, whose long-poll the server may hold for its ping
      // interval, and meanwhile the engine's ping-timeout timer (ping interval + timeout, 45 s) holds it. That ends on
      // its own; a socket the layer keeps does not. So: GCs until at most one is left, or 50 s have passed.
      const closing = nowNs()
      await heapAfterGc()
      while (client.alive() > 1 && nowNs() - closing < 50e9) {
        await sleep(250)
        await heapAfterGc()
      }
      const alive = client.alive()
      const made = client.created() - createdBefore
      log(`P6 explicit cycles: ${alive} of ${made} sockets reachable after ${nsToMs(nowNs() - closing).toFixed(0)} ms`)

      const of = (blocks: Block[], value: (b: Block) => number) => median(blocks.map(value))
      const layerRetained = of(layerBlocks, (b) => b.retained)
      const bareRetained = of(bareBlocks, (b) => b.retained)
      const layerPoints = layerBlocks.flatMap((b) => b.points)
      const barePoints = bareBlocks.flatMap((b) => b.points)
      const first = layerPoints[0]!
      const bareFirst = barePoints[0]!
      draw(
        'p6-heap',
        lineChart({
          title: `P6: heap in use after GC, ${rounds} blocks of ${cycles} drops and reconnects of one socket each`,
          xLabel: 'cycle',
          yLabel: 'heap in use (MB)',
          markers: true,
          series: [
            { name: 'layer', points: layerPoints.map((p) => [p.cycle, p.heap / 1e6] as const) },
            { name: 'bare socket.io-client', points: barePoints.map((p) => [p.cycle, p.heap / 1e6] as const) },
          ],
        }),
      )
      const n = cycles.toLocaleString('en-US')
      const blocks = `median of ${rounds} blocks of ${n} cycles after ${warmedUp} of warm-up, interleaved with the baseline's`
      const most = (points: Checkpoint[], key: keyof Checkpoint['listeners']) =>
        Math.max(...points.map((p) => p.listeners[key]))
      const mostEngines = (points: Checkpoint[]) => Math.max(...points.map((p) => p.engines))
      return [
        row({
          id: 'P6',
          name: `heap left per cycle by the layer's long-lived socket through drops, reconnects, joins and leaves, the JIT's code and data left out (heap snapshots at each block's start and end; ${blocks}; baseline: a bare socket.io-client doing the same)`,
          value: layerRetained,
          unit: 'B/cycle',
          baseline: bareRetained > 0 ? bareRetained : null,
          target: { on: 'ratio', op: '<=', limit: 1.2 },
        }),
        row({
          id: 'P6-bare',
          name: `bare socket.io-client, one socket, the same cycles: heap left per cycle, the JIT's left out (${blocks})`,
          value: bareRetained,
          unit: 'B/cycle',
        }),
        row({
          id: 'P6-difference',
          name: `what the layer leaves per cycle beyond the bare client, the JIT's left out: the median of the rounds' differences (one object a cycle would be 16 B or more, one more slot in a kept array 8 B)`,
          value: median(layerBlocks.map((b, r) => b.retained - bareBlocks[r]!.retained)),
          unit: 'B/cycle',
          // Both clients leave well under a byte a cycle, so their ratio swings with noise; less than half a pointer
          // slot a cycle beyond the bare client is the check that means something at that size (a leak of one object
          // or one array slot a cycle fails it).
          target: { on: 'value', op: '<', limit: 4 },
        }),
        row({
          id: 'P6-heap',
          name: `the layer's heap in use after full GCs: least-squares slope over each block, the JIT's part included (baseline: the bare client's)`,
          value: of(layerBlocks, (b) => slope(b.points)),
          unit: 'B/cycle',
          baseline: of(bareBlocks, (b) => slope(b.points)),
        }),
        row({
          id: 'P6-jit',
          name: `of which the JIT's code and data (snapshots; baseline: the bare client's)`,
          value: of(layerBlocks, (b) => b.jit),
          unit: 'B/cycle',
          baseline: of(bareBlocks, (b) => b.jit),
        }),
        row({
          id: 'P6-socket',
          name: `listeners on the layer's socket, the most at any checkpoint (baseline: at cycle ${first.cycle})`,
          value: most(layerPoints, 'socket'),
          unit: 'listeners',
          baseline: first.listeners.socket,
          target: { on: 'value', op: '==', limit: first.listeners.socket },
        }),
        row({
          id: 'P6-manager',
          name: `listeners on its manager, the most at any checkpoint (baseline: at cycle ${first.cycle})`,
          value: most(layerPoints, 'manager'),
          unit: 'listeners',
          baseline: first.listeners.manager,
          target: { on: 'value', op: '==', limit: first.listeners.manager },
        }),
        row({
          id: 'P6-engine',
          name: `listeners on every engine the layer's socket had in the block still reachable after GC (a new one each drop; at most ${mostEngines(layerPoints)} reachable at once), the most at any checkpoint (baseline: at cycle ${first.cycle})`,
          value: most(layerPoints, 'engine'),
          unit: 'listeners',
          baseline: first.listeners.engine,
          target: { on: 'value', op: '==', limit: first.listeners.engine },
        }),
        row({
          id: 'P6-bare-socket',
          name: `listeners on the bare client's socket, the most at any checkpoint (baseline: at cycle ${bareFirst.cycle})`,
          value: most(barePoints, 'socket'),
          unit: 'listeners',
          baseline: bareFirst.listeners.socket,
          target: { on: 'value', op: '==', limit: bareFirst.listeners.socket },
        }),
        row({
          id: 'P6-bare-engine',
          name: `listeners on every engine the bare client's socket had in the block still reachable after GC (at most ${mostEngines(barePoints)} reachable at once), the most at any checkpoint (baseline: at cycle ${bareFirst.cycle})`,
          value: most(barePoints, 'engine'),
          unit: 'listeners',
          baseline: bareFirst.listeners.engine,
          target: { on: 'value', op: '==', limit: bareFirst.listeners.engine },
        }),
        row({
          id: 'P6-state',
          name: `the store's state as JSON after the ${(warmedUp + rounds * cycles).toLocaleString('en-US')} cycles (baseline: before)`,
          value: stateAfter,
          unit: 'characters',
          baseline: stateBefore,
        }),
        row({
          id: 'P6-alive',
          name: `sockets made by ${explicitCycles} explicit disconnect()/connect() cycles still reachable after GC once the dropped engines have closed, at most 50 s (of ${made} made; the current one counts)`,
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
      bare.close()
      await client.close()
    }
  },
}
