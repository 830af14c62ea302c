import type { Middleware } from '@reduxjs/toolkit'
import type { Socket } from 'socket.io-client'
import type { Message } from '../../src/contract'
import { closeSocket, countReadTasks, rawSocket } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { floorClient } from '../lib/floorClient'
import { api, layerClient, selectConnection } from '../lib/layer'
import { peerClient } from '../lib/peerClient'
import { ArrivalProbe, untilState } from '../lib/probe'
import { row, type Row } from '../lib/results'
import { sharedHost, type Host as HostHandle } from '../lib/server'
import { deferred, median, nowNs, sleep, withTimeout } from '../lib/stats'
import { barChart } from '../lib/svg'

/**
 * P2: the server pushes N `message:new` to one user in one synchronous loop (through the same `io.to(user room)`
 * its notifier uses; the messages are not stored, they only have to be valid and in `seq` order after the thread's
 * last). Timed from the server's first emit (its `process.hrtime.bigint`, the same monotonic clock as ours) to the
 * last message in the cache (layer, peer) or counted by the listener (raw). A fresh client per round, so every
 * round starts from the same thread. Also counted: store notifications (a `store.subscribe` listener, including the
 * deferred ones, read 100 ms after the last message) and the event-loop tasks in which data arrived (the read
 * callbacks of the client's TCP connection).
 */

interface BurstResult {
  eventsPerSecond: number
  /** CPU time of the bench process (the client; the server is another process) per event, from the burst's call to its end, µs. */
  cpuPerEvent: number
  notifications: number | null
  tasks: number
  /** Tasks followed by more than one notification before the next read (each notification is counted against the latest read). */
  tasksWithSeveral: number | null
  /** The most notifications that followed any one task (before the next read). */
  worstTask: number | null
  missing: number
  /** How far the burst moved the store's applied offset (the layer's; null for a client without one). */
  applied: number | null
}

/**
 * Resolves once RTK Query has mirrored the store's query subscriptions into its state (`api.subscriptions`, on a
 * 500 ms timer after a subscription changes), seen by a store subscriber: a component subscribes when it mounts,
 * long before a burst, so the burst is not timed together with that mirror's own (deserved) notification.
 */
function subscriptionsMirrored(store: { subscribe(l: () => void): () => void; getState(): unknown }): Promise<void> {
  const mirrored = () =>
    Object.keys((store.getState() as { api: { subscriptions: object } }).api.subscriptions).length > 0
  if (mirrored()) return Promise.resolve()
  const done = deferred()
  const off = store.subscribe(() => {
    if (mirrored()) done.resolve()
  })
  return withTimeout(done.promise, 10_000, 'RTK Query to mirror the subscription').finally(off)
}

type Pair = HostHandle['seeded'][number]

/** The burst goes to every socket of the user: make sure the previous variant's socket is gone at the server. */
async function assertOnlySocket(host: HostHandle, userId: string): Promise<void> {
  let count = -1
  for (let i = 0; i < 100; i++) {
    count = await host.call('socketsOf', { userId })
    if (count === 1) return
    await sleep(50)
  }
  throw new Error(`P2: user ${userId} has ${count} sockets connected, expected exactly 1`)
}

async function rawBurst(host: HostHandle, pair: Pair, n: number, tag: string): Promise<BurstResult> {
  const socket: Socket = await rawSocket(host.url, pair.b.token)
  try {
    await assertOnlySocket(host, pair.b.id)
    let received = 0
    const done = deferred<number>()
    socket.on('message:new', (_m: Message) => {
      if (++received === n) done.resolve(nowNs())
    })
    const tasks = countReadTasks(socket)
    const cpu = process.cpuUsage()
    const { startedAt } = await host.call('burst', {
      userId: pair.b.id,
      conversationId: pair.conversationId,
      senderId: pair.a.id,
      firstSeq: 1_000_000,
      // Raw reads no offsets; the same small numbers as the layer's (the user's log is short), so the same frames.
      firstOffset: 1,
      count: n,
      idPrefix: tag,
    })
    const end = await withTimeout(done.promise, 120_000, `raw burst of ${n}`)
    const cpuPerEvent = cpuMicros(process.cpuUsage(cpu)) / n
    tasks.detach()
    return {
      eventsPerSecond: n / ((end - Number(startedAt)) / 1e9),
      cpuPerEvent,
      notifications: null,
      tasks: tasks.count(),
      tasksWithSeveral: null,
      worstTask: null,
      missing: n - received,
      applied: null,
    }
  } finally {
    await closeSocket(socket)
  }
}

const cpuMicros = (usage: NodeJS.CpuUsage) => usage.user + usage.system

type ThreadLike = readonly { id: string; seq: number }[] | undefined

/** A client with a store whose cached thread a burst goes into (layer, floor, peer alike). */
interface StoreClient {
  socket(): Socket
  store: { subscribe(l: () => void): () => void; getState(): unknown }
  selectThread(state: unknown): ThreadLike
  /** The offset the store has applied (the layer's; a client that keeps none reads the events' offsets not at all). */
  appliedOffset?: () => number | null
  close(): Promise<void>
}

/**
 * Opens a client (with the probe first in its chain), bursts into its cached thread, and closes it.
 *
 * @example storeBurst(host, pair, n, tag, (probes) => floorClient({ …, probes }))
 */
async function storeBurst(
  host: HostHandle,
  pair: Pair,
  n: number,
  tag: string,
  open: (probes: Middleware[]) => Promise<StoreClient>,
): Promise<BurstResult> {
  const probe = new ArrivalProbe<unknown>()
  const client = await open([probe.middleware])
  try {
    return await burstInto(host, pair, n, tag, probe, client)
  } finally {
    await client.close()
  }
}

async function burstInto(
  host: HostHandle,
  pair: Pair,
  n: number,
  tag: string,
  probe: ArrivalProbe<unknown>,
  client: StoreClient,
): Promise<BurstResult> {
  await assertOnlySocket(host, pair.b.id)
  await subscriptionsMirrored(client.store)
  const thread = () => client.selectThread(client.store.getState())
  const before = thread() ?? []
  const firstSeq = (before.length > 0 ? Math.max(...before.map((m) => m.seq)) : 0) + 1
  // Every logged event comes with its `{ offset }`, the next after the one the store applied, as from the notifier.
  const appliedBefore = client.appliedOffset?.() ?? null
  const lastId = `${tag}-${n - 1}`
  // Checked when the api slice (where every client keeps the thread) changed: the layer's state also changes at every
  // event (its applied offset), the floor's and the peer's do not, and the observer's cost is no client's.
  const arrival = probe.expect(
    (state) => {
      const list = client.selectThread(state)
      return list !== undefined && list.length > 0 && list[list.length - 1]!.id === lastId
    },
    (state) => (state as { api: unknown }).api,
  )
  const detach = probe.attach(client.store)
  probe.resetCounts()
  const tasks = countReadTasks(client.socket())
  const perRead = new Map<number, number>()
  const offPerRead = client.store.subscribe(() => perRead.set(tasks.count(), (perRead.get(tasks.count()) ?? 0) + 1))
  const cpu = process.cpuUsage()
  const { startedAt } = await host.call('burst', {
    userId: pair.b.id,
    conversationId: pair.conversationId,
    senderId: pair.a.id,
    firstSeq,
    firstOffset: (appliedBefore ?? 0) + 1,
    count: n,
    idPrefix: tag,
  })
  const end = await withTimeout(arrival.inCache, 120_000, `burst of ${n} into the cache`)
  const cpuPerEvent = cpuMicros(process.cpuUsage(cpu)) / n
  await sleep(100) // deferred (auto-batched) notifications land within this
  detach()
  offPerRead()
  tasks.detach()
  const tasksWithSeveral = [...perRead.values()].filter((count) => count > 1).length
  const worstTask = Math.max(0, ...perRead.values())
  const ids = new Set((thread() ?? []).map((m) => m.id))
  let missing = 0
  for (let i = 0; i < n; i++) if (!ids.has(`${tag}-${i}`)) missing++
  return {
    eventsPerSecond: n / ((end - Number(startedAt)) / 1e9),
    cpuPerEvent,
    notifications: probe.notifications,
    tasks: tasks.count(),
    tasksWithSeveral,
    worstTask,
    missing,
    applied: appliedBefore === null ? null : (client.appliedOffset?.() ?? appliedBefore) - appliedBefore,
  }
}

const layerBurst = (host: HostHandle, pair: Pair, n: number, tag: string) =>
  storeBurst(host, pair, n, tag, async (probes) => {
    const client = await layerClient({
      url: host.url,
      session: { token: pair.b.token, user: { id: pair.b.id, name: pair.b.id, role: 'tutor' } },
      probes,
    })
    try {
      await client.subscribeThread(pair.conversationId)
      // The burst's offsets follow the one the first sync gave.
      await untilState(
        client.store,
        (s) => selectConnection(s).offset !== null && !selectConnection(s).syncing,
        'the first sync',
      )
    } catch (error) {
      await client.close()
      throw error
    }
    const select = api.endpoints.getMessages.select(pair.conversationId)
    return {
      ...client,
      selectThread: (state) => select(state as never).data as ThreadLike,
      appliedOffset: () => selectConnection(client.store.getState()).offset,
    }
  })

/** The floor's or the peer's client: each opens its thread itself, and the thread is selected with its own api. */
async function apiClient(
  open: typeof floorClient | typeof peerClient,
  host: HostHandle,
  pair: Pair,
  probes: Middleware[],
): Promise<StoreClient> {
  const client = await open({ url: host.url, token: pair.b.token, conversationId: pair.conversationId, probes })
  const select = client.api.endpoints.getMessages.select(pair.conversationId)
  return { ...client, selectThread: (state) => select(state as never).data as ThreadLike }
}

const floorBurst = (host: HostHandle, pair: Pair, n: number, tag: string) =>
  storeBurst(host, pair, n, tag, (probes) => apiClient(floorClient, host, pair, probes))

/** The floor in a store composed plainly, without the app's shortcut for `socket/…` actions. */
const plainFloorBurst = (host: HostHandle, pair: Pair, n: number, tag: string) =>
  storeBurst(host, pair, n, tag, (probes) =>
    apiClient(
      (options: Parameters<typeof floorClient>[0]) => floorClient({ ...options, shortcut: false }),
      host,
      pair,
      probes,
    ),
  )

const peerBurst = (host: HostHandle, pair: Pair, n: number, tag: string) =>
  storeBurst(host, pair, n, tag, (probes) => apiClient(peerClient, host, pair, probes))

/** The rounds' results of each client, in round order (the peer's are those of the first rounds only). */
export interface BurstRounds {
  raw: Pick<BurstResult, 'eventsPerSecond'>[]
  layer: Pick<BurstResult, 'eventsPerSecond'>[]
  peer: Pick<BurstResult, 'eventsPerSecond' | 'notifications' | 'tasks' | 'tasksWithSeveral' | 'worstTask'>[]
}

/**
 * P2's rows on the peer (RTK docs streaming): its rate against raw's, its notifications, the layer against it. The peer
 * runs in the first rounds only, so raw and the layer are taken over those same rounds: over all of theirs, a machine
 * that sped up or slowed down after the peer's last round would move the ratio. Its notifications are counted as the
 * layer's are (`P2-notify`): the most after any one task, worst of its rounds. No target: the peer is the docs'
 * pattern in a plain store, not the layer, and its row is there to read the layer's against.
 */
export function peerRows(out: BurstRounds, n: string): Row[] {
  const rounds = out.peer.length
  const raw = out.raw.slice(0, rounds)
  const layer = out.layer.slice(0, rounds)
  const rate = (list: Pick<BurstResult, 'eventsPerSecond'>[]) => median(list.map((x) => x.eventsPerSecond))
  const mid = (list: BurstRounds['peer'], f: (x: BurstRounds['peer'][number]) => number) => median(list.map(f))
  return [
    row({
      id: 'P2-peer',
      name: `peer (RTK docs streaming): ${n} message:new into its cached thread, median of its ${rounds} rounds (baseline: raw's in the same rounds)`,
      value: rate(out.peer),
      unit: 'events/s',
      baseline: rate(raw),
    }),
    row({
      id: 'P2-peer-notify',
      name: `peer: the most store notifications after any one event-loop task with data, worst of its ${rounds} rounds (median ${mid(out.peer, (x) => x.notifications ?? Number.NaN)} notifications over ${mid(out.peer, (x) => x.tasks)} tasks; the most tasks followed by more than one in any round: ${Math.max(...out.peer.map((x) => x.tasksWithSeveral ?? 0))})`,
      value: Math.max(...out.peer.map((x) => x.worstTask ?? Number.NaN)),
      unit: 'per task',
    }),
    row({
      id: 'P2-vs-peer',
      name: `layer events/s against the peer’s, medians of the ${rounds} rounds the peer ran in (aim: ahead)`,
      value: rate(layer),
      unit: 'events/s',
      baseline: rate(out.peer),
      target: { on: 'ratio', op: '>', limit: 1 },
    }),
  ]
}

export const p2: Figure = {
  id: 'P2',
  title: 'burst of message:new into one store',
  async run({ smoke, log, draw }) {
    // Raw's and the layer's bursts take a fraction of a second, so they get enough rounds for a steady median; the
    // peer's take seconds each (it patches through immer per event), so it runs in the first few rounds only.
    const sizes = smoke
      ? { n: 200, warmup: 0, rounds: 1, peerRounds: 1 }
      : { n: 10_000, warmup: 1, rounds: 9, peerRounds: 3 }
    const host = await sharedHost()
    const pair = host.seeded[3]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    const out = {
      raw: [] as BurstResult[],
      layer: [] as BurstResult[],
      floor: [] as BurstResult[],
      plainFloor: [] as BurstResult[],
      peer: [] as BurstResult[],
    }
    let k = 0
    for (let round = -sizes.warmup; round < sizes.rounds; round++) {
      // The warm-up round only warms the code: a tenth of the burst is enough.
      const n = round < 0 ? Math.ceil(sizes.n / 10) : sizes.n
      // Which of raw and layer goes first alternates by round, so neither always follows the peer's long burst: raw in
      // rounds 1, 3, 5, 7 and 9 (5 of the 9 counted), the layer in rounds 2, 4, 6 and 8 (4 of them) and in the warm-up.
      // The floor goes between them, so it never follows the peer either.
      let r: BurstResult
      let l: BurstResult
      let f: BurstResult
      let pf: BurstResult
      if (round % 2 === 0) {
        r = await rawBurst(host, pair, n, `p2-${k++}`)
        f = await floorBurst(host, pair, n, `p2-${k++}`)
        pf = await plainFloorBurst(host, pair, n, `p2-${k++}`)
        l = await layerBurst(host, pair, n, `p2-${k++}`)
      } else {
        l = await layerBurst(host, pair, n, `p2-${k++}`)
        pf = await plainFloorBurst(host, pair, n, `p2-${k++}`)
        f = await floorBurst(host, pair, n, `p2-${k++}`)
        r = await rawBurst(host, pair, n, `p2-${k++}`)
      }
      const p = round < sizes.peerRounds ? await peerBurst(host, pair, n, `p2-${k++}`) : null
      log(
        `P2 ${round < 0 ? 'warm-up' : `round ${round + 1}/${sizes.rounds}`}: raw ${r.eventsPerSecond.toFixed(0)}/s (CPU ${r.cpuPerEvent.toFixed(2)} µs/event), layer ${l.eventsPerSecond.toFixed(0)}/s (CPU ${l.cpuPerEvent.toFixed(2)} µs/event, ${l.notifications} notifications, ${l.tasks} tasks), floor ${f.eventsPerSecond.toFixed(0)}/s (CPU ${f.cpuPerEvent.toFixed(2)} µs/event), plain floor ${pf.eventsPerSecond.toFixed(0)}/s (CPU ${pf.cpuPerEvent.toFixed(2)} µs/event)${p ? `, peer ${p.eventsPerSecond.toFixed(0)}/s (${p.notifications} notifications, ${p.tasks} tasks)` : ''}`,
      )
      if (round < 0) continue
      out.raw.push(r)
      out.layer.push(l)
      // A floor that lost messages would be cheap for the wrong reason.
      if (f.missing > 0) throw new Error(`P2: the floor's thread misses ${f.missing} of the burst's messages`)
      out.floor.push(f)
      if (pf.missing > 0) throw new Error(`P2: the plain floor's thread misses ${pf.missing} of the burst's messages`)
      out.plainFloor.push(pf)
      if (p) out.peer.push(p)
    }
    draw(
      'p2-throughput',
      barChart({
        title: `P2: ${sizes.n.toLocaleString('en-US')} message:new into one client, per round`,
        xLabel: 'round',
        yLabel: 'events/s',
        groups: out.raw.map((_, i) => `${i + 1}`),
        series: [
          { name: 'raw socket.io-client', values: out.raw.map((x) => x.eventsPerSecond) },
          { name: 'layer (in cache)', values: out.layer.map((x) => x.eventsPerSecond) },
          { name: 'floor (in cache)', values: out.floor.map((x) => x.eventsPerSecond) },
          { name: 'floor, plain store', values: out.plainFloor.map((x) => x.eventsPerSecond) },
          { name: 'peer (RTK docs)', values: out.peer.map((x) => x.eventsPerSecond) },
        ],
      }),
    )
    const rate = (list: BurstResult[]) => median(list.map((x) => x.eventsPerSecond))
    const mid = (list: BurstResult[], f: (x: BurstResult) => number) => median(list.map(f))
    const n = sizes.n.toLocaleString('en-US')
    return [
      row({
        id: 'P2-raw',
        name: `raw: a bare client counting ${n} message:new`,
        value: rate(out.raw),
        unit: 'events/s',
      }),
      row({
        id: 'P2',
        name: `layer: ${n} message:new, all in one store's cached thread`,
        value: rate(out.layer),
        unit: 'events/s',
        baseline: rate(out.raw),
        target: { on: 'ratio', op: '>=', limit: 0.8 },
      }),
      row({
        id: 'P2-cpu',
        name: `layer: CPU time of the client's process per event during the burst (the server runs in another process), median of ${out.layer.length} rounds (baseline: raw's, the same way)`,
        value: mid(out.layer, (x) => x.cpuPerEvent),
        unit: 'µs',
        baseline: mid(out.raw, (x) => x.cpuPerEvent),
      }),
      row({
        id: 'P2-wall',
        name: `layer: wall time per event, first emit to the last in the cache, median of ${out.layer.length} rounds (baseline: raw's, to the last counted): where it exceeds P2-cpu, the client waited for the server`,
        value: 1e6 / rate(out.layer),
        unit: 'µs',
        baseline: 1e6 / rate(out.raw),
      }),
      row({
        id: 'P2-notify',
        name: `layer: the most store notifications after any one event-loop task with data, worst of ${out.layer.length} rounds (median ${mid(out.layer, (x) => x.notifications ?? Number.NaN)} notifications over ${mid(out.layer, (x) => x.tasks)} tasks; the most tasks followed by more than one in any round: ${Math.max(...out.layer.map((x) => x.tasksWithSeveral ?? 0))})`,
        value: Math.max(...out.layer.map((x) => x.worstTask ?? Number.NaN)),
        unit: 'per task',
        target: { on: 'value', op: '<=', limit: 1 },
      }),
      row({
        id: 'P2-applied',
        name: `layer: the fewest of a burst's offsets its store applied in any round (every event came with its { offset }, as from the server's notifier, and went through the layer's offset gate)`,
        value: Math.min(...out.layer.map((x) => x.applied ?? Number.NaN)),
        unit: 'events',
        target: { on: 'value', op: '==', limit: sizes.n },
      }),
      row({
        id: 'P2-lost',
        name: 'layer: burst messages missing from the cache afterwards',
        value: Math.max(...out.layer.map((x) => x.missing)),
        unit: 'messages',
        target: { on: 'value', op: '==', limit: 0 },
      }),
      row({
        id: 'P2-floor',
        name: `floor: ${n} message:new, each its own checked action, a task's messages patched into the cached thread at once, nothing else (bench/lib/floorClient.ts): what any client keeping the contract's one action per event costs at least`,
        value: rate(out.floor),
        unit: 'events/s',
        baseline: rate(out.raw),
      }),
      row({
        id: 'P2-floor-cpu',
        name: `floor: CPU time of the client's process per event, median of ${out.floor.length} rounds (baseline: raw's)`,
        value: mid(out.floor, (x) => x.cpuPerEvent),
        unit: 'µs',
        baseline: mid(out.raw, (x) => x.cpuPerEvent),
      }),
      row({
        id: 'P2-floor-plain',
        name: `the floor in a store composed plainly (combineReducers, RTK Query's own reducer and middleware for every action), median of ${out.plainFloor.length} rounds`,
        value: rate(out.plainFloor),
        unit: 'events/s',
        baseline: rate(out.raw),
      }),
      row({
        id: 'P2-shortcut',
        name: `what the store's shortcut past RTK Query buys (src/app/socketActionBypass.ts: socket/… actions past RTK Query's reducer and middleware and the root's per-action work): the floor's events/s against the plain floor's, median of the rounds' ratios`,
        value: median(out.floor.map((f, i) => f.eventsPerSecond / out.plainFloor[i]!.eventsPerSecond)),
        unit: '×',
      }),
      row({
        id: 'P2-vs-floor',
        name: 'layer events/s against the floor’s: what the layer’s own work (dedupe, order, gaps, lists, outbox, typing, offsets, its middleware) costs',
        value: rate(out.layer),
        unit: 'events/s',
        baseline: rate(out.floor),
      }),
      ...peerRows(out, n),
    ]
  },
}
