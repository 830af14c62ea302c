import { configureStore } from '@reduxjs/toolkit'
import type { Socket } from 'socket.io-client'
import { LIST } from '../../src/api'
import { authSlice } from '../../src/app/authSlice'
import { closeSocket, rawSocket } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { api, firstSyncSettled, layerClient, selectConnection } from '../lib/layer'
import { row, type Row } from '../lib/results'
import { requestsUntilQuiet, sharedHost, type Host } from '../lib/server'
import { median, rotated, withTimeout } from '../lib/stats'

/**
 * P3: the server sends the student N `lesson:statusUpdated` over one second (in 10 ms steps) for lessons no client
 * has cached — nothing to patch, so the `Lesson` list must be refetched. The student's lesson list is subscribed.
 * Counted at the server: `GET /api/lessons` requests (its first HTTP 'request' listener), from just before the storm
 * until the client is quiet (no request for 1.5 s after the storm and no lessons query in flight).
 *
 * Baseline, the naive answer: a bare socket.io-client whose listener dispatches `invalidateTags([Lesson LIST])` for
 * every event into a store with the same api (RTK Query itself skips a refetch while one is in flight).
 */

type Pair = Host['seeded'][number]
interface Sizes {
  durationMs: number
  quietMs: number
}
const KEY = 'GET /api/lessons'

async function layerStorm(
  host: Host,
  pair: Pair,
  n: number,
  tag: string,
  sizes: Sizes,
): Promise<{ refetches: number; received: number; stale: boolean; applied: number }> {
  let received = 0
  // Whether the list has been read since the last storm event reached the store: the events patch nothing, so a list
  // last read before the last of them is stale, however few requests that took.
  let readSinceLastEvent = true
  const client = await layerClient({
    url: host.url,
    session: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' } },
    probes: [
      () => (next) => (action) => {
        if ((action as { type?: string }).type === 'socket/lesson:statusUpdated') {
          received++
          readSinceLastEvent = false
        } else if (api.endpoints.getLessons.matchPending(action)) readSinceLastEvent = true
        return next(action)
      },
    ],
  })
  try {
    await client.subscribeLessons()
    const isFetching = () => api.endpoints.getLessons.select()(client.store.getState()).status === 'pending'
    // The session's first sync, when it comes after the list was read, reads it again once: not the storm's doing, so
    // it is let pass before counting (as P10 does).
    await firstSyncSettled(client.store, host, KEY, isFetching, sizes.quietMs)
    // Every logged event comes with its `{ offset }`, the next after the one the store applied, as from the notifier.
    const offset = () => selectConnection(client.store.getState()).offset ?? 0
    const appliedBefore = offset()
    const before = await host.call('requests', { key: KEY })
    const storm = host.call('lessonStorm', {
      studentId: pair.a.id,
      tutorId: pair.b.id,
      firstOffset: appliedBefore + 1,
      count: n,
      durationMs: sizes.durationMs,
      idPrefix: tag,
    })
    const refetches = await storm.then(() => requestsUntilQuiet(host, KEY, isFetching, before, sizes.quietMs))
    return { refetches, received, stale: !readSinceLastEvent, applied: offset() - appliedBefore }
  } finally {
    await client.close()
  }
}

async function naiveStorm(
  host: Host,
  pair: Pair,
  n: number,
  tag: string,
  sizes: Sizes,
): Promise<{ refetches: number; received: number }> {
  const store = configureStore({
    reducer: { auth: authSlice.reducer, [api.reducerPath]: api.reducer },
    preloadedState: {
      auth: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' as const } },
    },
    middleware: (gDM) => gDM({ thunk: { extraArgument: { apiUrl: host.url } } }).concat(api.middleware),
  })
  const subscription = store.dispatch(api.endpoints.getLessons.initiate())
  await subscription.unwrap()
  const socket: Socket = await rawSocket(host.url, pair.a.token)
  let received = 0
  socket.on('lesson:statusUpdated', () => {
    received++
    store.dispatch(api.util.invalidateTags([{ type: 'Lesson', id: LIST }]))
  })
  try {
    const isFetching = () => api.endpoints.getLessons.select()(store.getState() as never).status === 'pending'
    const before = await host.call('requests', { key: KEY })
    const storm = host.call('lessonStorm', {
      studentId: pair.a.id,
      tutorId: pair.b.id,
      // A bare socket reads no offsets; the same small numbers as the layer's, so the same frames.
      firstOffset: 1,
      count: n,
      durationMs: sizes.durationMs,
      idPrefix: tag,
    })
    const refetches = await storm.then(() => requestsUntilQuiet(host, KEY, isFetching, before, sizes.quietMs))
    return { refetches, received }
  } finally {
    subscription.unsubscribe()
    await closeSocket(socket)
  }
}

/** What P3's rounds gave: refetches per round (layer, naive) and the fewest events each received in any round. */
export interface P3Rounds {
  n: number
  durationMs: number
  layer: number[]
  naive: number[]
  received: { layer: number; naive: number }
  /** Rounds in which the layer's list was last read before the storm's last event reached its store. */
  stale: number
  /** The fewest of a storm's offsets the layer's store applied in any round. */
  applied: number
}

export function p3Rows({ n, durationMs, layer, naive, received, stale, applied }: P3Rounds): Row[] {
  const rounds = layer.length
  const storm = `${n} uncached lesson:statusUpdated in ${durationMs / 1000} s`
  return [
    row({
      id: 'P3',
      name: `layer: GET /api/lessons at the server for ${storm}, median of ${rounds} rounds (each ${layer.join(', ')}; at least ${received.layer} events received in each; baseline naive)`,
      value: median(layer),
      unit: 'requests',
      baseline: median(naive),
    }),
    row({
      id: 'P3-worst',
      name: `layer: the most refetches in any of the ${rounds} rounds (the target holds in every round)`,
      value: Math.max(...layer),
      unit: 'requests',
      target: { on: 'value', op: '<=', limit: 4 },
    }),
    row({
      id: 'P3-fewest',
      name: `layer: the fewest refetches in any of the ${rounds} rounds (none would leave the list stale: the events patch nothing)`,
      value: Math.min(...layer),
      unit: 'requests',
      target: { on: 'value', op: '>=', limit: 1 },
    }),
    row({
      id: 'P3-stale',
      name: `layer: rounds (of ${rounds}) whose last read of the list started before the storm's last event reached the store (the list left stale, however few the requests)`,
      value: stale,
      unit: 'rounds',
      target: { on: 'value', op: '==', limit: 0 },
    }),
    row({
      id: 'P3-received',
      name: `layer: the fewest storm events its socket received in any round (the storm reached it whole)`,
      value: received.layer,
      unit: 'events',
      target: { on: 'value', op: '>=', limit: n },
    }),
    row({
      id: 'P3-applied',
      name: `layer: the fewest of a storm's offsets its store applied in any round (every event came with its { offset }, as from the server's notifier, and went through the layer's offset gate)`,
      value: applied,
      unit: 'events',
      target: { on: 'value', op: '==', limit: n },
    }),
    row({
      id: 'P3-naive',
      name: `naive: invalidateTags per event, median of ${rounds} rounds (each ${naive.join(', ')}; at least ${received.naive} received)`,
      value: median(naive),
      unit: 'requests',
    }),
  ]
}

export const p3: Figure = {
  id: 'P3',
  title: 'invalidation storm, lesson list refetches',
  async run({ smoke, log }) {
    const n = smoke ? 50 : 1000
    const sizes: Sizes = smoke ? { durationMs: 200, quietMs: 500 } : { durationMs: 1000, quietMs: 1500 }
    const rounds = smoke ? 2 : 7
    const host = await sharedHost()
    const pair = host.seeded[4]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    const layer: number[] = []
    const naive: number[] = []
    let stale = 0
    let applied = Number.POSITIVE_INFINITY
    let received = { layer: Number.POSITIVE_INFINITY, naive: Number.POSITIVE_INFINITY }
    // Interleaved, a storm each: a noisy moment on the machine hits both alike. Which goes first alternates by round
    // (the layer in rounds 1, 3, 5 and 7, naive in 2, 4 and 6), so neither always runs on the machine the other left.
    for (let round = 0; round < rounds; round++) {
      const storms = { layer: layerStorm, naive: naiveStorm }
      const out = {} as Record<
        keyof typeof storms,
        { refetches: number; received: number; stale?: boolean; applied?: number }
      >
      for (const name of rotated(['layer', 'naive'] as const, round))
        out[name] = await withTimeout(storms[name](host, pair, n, `p3-${name}-${round}`, sizes), 60_000, `P3 ${name}`)
      const { layer: l, naive: v } = out
      layer.push(l.refetches)
      if (l.stale) stale++
      applied = Math.min(applied, l.applied ?? 0)
      naive.push(v.refetches)
      received = { layer: Math.min(received.layer, l.received), naive: Math.min(received.naive, v.received) }
      log(
        `P3 round ${round + 1}/${rounds}: layer ${l.refetches} refetches (${l.received} events${l.stale ? ', the list last read before the last event' : ''}), naive ${v.refetches} (${v.received} events)`,
      )
    }
    return p3Rows({ n, durationMs: sizes.durationMs, layer, naive, received, stale, applied })
  },
}
