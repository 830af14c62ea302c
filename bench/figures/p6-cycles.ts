import { io, type Socket } from 'socket.io-client'
import { listenerCounts, onWebsocket, total } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { heapAfterGc } from '../lib/gc'
import { connect, disconnect, layerClient, selectConnection } from '../lib/layer'
import { row } from '../lib/results'
import { sharedHost } from '../lib/server'
import { median, nowNs, nsToMs, waitFor } from '../lib/stats'

/**
 * P6: `disconnect()` then `connect()`, each awaited to its status (`disconnected`, `connected`), N times on one
 * store. Counted before the first cycle (after the login's first connect and an upgrade to WebSocket) and after the
 * last: every listener on the layer's current socket, on its manager and on the manager's engine (socket.io-client's
 * emitters keep them in `_callbacks`; summed over all events), how many sockets the layer created, and the heap in
 * use after full GCs. The bench keeps no reference to sockets the layer dropped.
 */

function counts(socket: Socket) {
  const manager = socket.io
  const engine = (manager as unknown as { engine?: unknown }).engine
  return {
    socket: total(listenerCounts(socket)) + socket.listenersAny().length + socket.listenersAnyOutgoing().length,
    manager: total(listenerCounts(manager)),
    engine: engine ? total(listenerCounts(engine)) : 0,
    socketDetail: listenerCounts(socket),
    managerDetail: listenerCounts(manager),
  }
}

/**
 * The same cycles with bare socket.io-clients — a new socket per cycle, as the layer makes one per `connect()` —
 * for the heap growth socket.io-client itself shows here: its per-cycle slope is P6-heap-slope's baseline.
 */
async function rawCycles(url: string, token: string, cycles: number): Promise<{ slope: number }> {
  const cycle = async () => {
    const socket = io(url, { auth: { token }, forceNew: true })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve())
      socket.once('connect_error', reject)
    })
    const gone = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()))
    socket.disconnect()
    await gone
  }
  const checkpoint = Math.max(1, Math.floor(cycles / 10))
  for (let i = 0; i < checkpoint; i++) await cycle()
  const before = await heapAfterGc()
  for (let i = checkpoint; i < cycles; i++) await cycle()
  const after = await heapAfterGc()
  return { slope: (after - before) / (cycles - checkpoint) }
}

export const p6: Figure = {
  id: 'P6',
  title: 'connect/disconnect cycles: listeners and heap',
  async run({ smoke, log }) {
    const cycles = smoke ? 10 : 1_000
    const host = await sharedHost()
    const pair = host.seeded[6]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    const client = await layerClient({ url: host.url, session: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' } }, keepSockets: false })
    const status = () => selectConnection(client.store.getState()).status
    const durations: number[] = []
    try {
      const before = counts(client.socket())
      const createdBefore = client.created()
      const stateBefore = JSON.stringify(client.store.getState()).length
      const heapBefore = await heapAfterGc()
      // A second reading after the first tenth of the cycles separates a one-time cost (code compiled and caches
      // filled by the first cycles) from growth per cycle (a leak): the slope over the remaining nine tenths.
      const checkpoint = Math.max(1, Math.floor(cycles / 10))
      let heapAtCheckpoint = Number.NaN
      for (let i = 0; i < cycles; i++) {
        if (i === checkpoint) heapAtCheckpoint = await heapAfterGc()
        const t0 = nowNs()
        client.store.dispatch(disconnect())
        await waitFor(() => status() === 'disconnected', `cycle ${i}: disconnected`, 10_000, 0)
        client.store.dispatch(connect())
        await waitFor(() => status() === 'connected', `cycle ${i}: connected`, 10_000, 0)
        durations.push(nowNs() - t0)
      }
      await onWebsocket(client.socket())
      const after = counts(client.socket())
      const heapAfter = await heapAfterGc()
      const alive = client.alive()
      const createdDuring = client.created() - createdBefore
      const stateAfter = JSON.stringify(client.store.getState()).length
      log(`P6 store state as JSON: ${stateBefore} → ${stateAfter} characters`)
      const raw = await rawCycles(host.url, pair.b.token, cycles)
      log(`P6 before: socket ${JSON.stringify(before.socketDetail)} manager ${JSON.stringify(before.managerDetail)} engine ${before.engine}`)
      log(`P6 after:  socket ${JSON.stringify(after.socketDetail)} manager ${JSON.stringify(after.managerDetail)} engine ${after.engine}`)
      log(`P6 heap ${(heapBefore / 1e6).toFixed(2)} MB → ${(heapAfter / 1e6).toFixed(2)} MB; sockets created during the cycles: ${createdDuring}`)
      const n = cycles.toLocaleString('en-US')
      return [
        row({ id: 'P6-socket', name: `listeners on the layer's socket after ${n} cycles (baseline: before)`, value: after.socket, unit: 'listeners', baseline: before.socket, target: { on: 'value', op: '==', limit: before.socket } }),
        row({ id: 'P6-manager', name: `listeners on its manager after ${n} cycles (baseline: before)`, value: after.manager, unit: 'listeners', baseline: before.manager, target: { on: 'value', op: '==', limit: before.manager } }),
        row({ id: 'P6-engine', name: `listeners on the manager's engine after ${n} cycles (baseline: before)`, value: after.engine, unit: 'listeners', baseline: before.engine }),
        row({ id: 'P6-heap', name: `heap in use after GC, growth over ${n} cycles (baseline: heap before)`, value: heapAfter - heapBefore, unit: 'B', baseline: heapBefore, target: { on: 'value', op: '<', limit: 1_000_000 } }),
        row({
          id: 'P6-heap-slope',
          name: `heap growth per cycle from cycle ${checkpoint} to ${n} (a leak shows here; the rest of P6-heap is one-time; baseline: bare socket.io-client)`,
          value: (heapAfter - heapAtCheckpoint) / (cycles - checkpoint),
          unit: 'B/cycle',
          baseline: raw.slope,
        }),
        row({ id: 'P6-heap-slope-raw', name: `bare socket.io-client, a new socket per cycle: heap growth per cycle over the same span`, value: raw.slope, unit: 'B/cycle' }),
        row({ id: 'P6-alive', name: `sockets made by the layer still reachable after GC (of ${client.created()} made; counted with a FinalizationRegistry)`, value: alive, unit: 'sockets' }),
        row({ id: 'P6-sockets', name: `sockets the layer created during the ${n} cycles`, value: createdDuring, unit: 'sockets' }),
        row({ id: 'P6-cycle', name: 'one disconnect → connect cycle, median', value: nsToMs(median(durations)), unit: 'ms' }),
      ]
    } finally {
      await client.close()
    }
  },
}
