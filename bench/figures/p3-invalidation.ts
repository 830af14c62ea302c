import { configureStore } from '@reduxjs/toolkit'
import type { Socket } from 'socket.io-client'
import { LIST } from '../../src/api'
import { authSlice } from '../../src/app/authSlice'
import { closeSocket, rawSocket } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { api, layerClient } from '../lib/layer'
import { row } from '../lib/results'
import { sharedHost, type Host } from '../lib/server'
import { sleep, withTimeout } from '../lib/stats'

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

async function countUntilQuiet(host: Host, isFetching: () => boolean, storm: Promise<unknown>, before: number, quietMs: number): Promise<number> {
  await storm
  let last = await host.call('requests', { key: KEY })
  let quietSince = Date.now()
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    await sleep(100)
    const now = await host.call('requests', { key: KEY })
    if (now !== last || isFetching()) {
      last = now
      quietSince = Date.now()
    } else if (Date.now() - quietSince >= quietMs) break
  }
  return last - before
}

async function layerStorm(host: Host, pair: Pair, n: number, tag: string, sizes: Sizes): Promise<{ refetches: number; received: number }> {
  let received = 0
  const client = await layerClient({
    url: host.url,
    session: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' } },
    probes: [
      () => (next) => (action) => {
        if ((action as { type?: string }).type === 'socket/lesson:statusUpdated') received++
        return next(action)
      },
    ],
  })
  try {
    await client.subscribeLessons()
    const isFetching = () => api.endpoints.getLessons.select()(client.store.getState()).status === 'pending'
    const before = await host.call('requests', { key: KEY })
    const storm = host.call('lessonStorm', { studentId: pair.a.id, tutorId: pair.b.id, count: n, durationMs: sizes.durationMs, idPrefix: tag })
    const refetches = await countUntilQuiet(host, isFetching, storm, before, sizes.quietMs)
    return { refetches, received }
  } finally {
    await client.close()
  }
}

async function naiveStorm(host: Host, pair: Pair, n: number, tag: string, sizes: Sizes): Promise<{ refetches: number; received: number }> {
  const store = configureStore({
    reducer: { auth: authSlice.reducer, [api.reducerPath]: api.reducer },
    preloadedState: { auth: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' as const } } },
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
    const storm = host.call('lessonStorm', { studentId: pair.a.id, tutorId: pair.b.id, count: n, durationMs: sizes.durationMs, idPrefix: tag })
    const refetches = await countUntilQuiet(host, isFetching, storm, before, sizes.quietMs)
    return { refetches, received }
  } finally {
    subscription.unsubscribe()
    await closeSocket(socket)
  }
}

export const p3: Figure = {
  id: 'P3',
  title: 'invalidation storm, lesson list refetches',
  async run({ smoke, log }) {
    const n = smoke ? 50 : 1000
    const sizes: Sizes = smoke ? { durationMs: 200, quietMs: 500 } : { durationMs: 1000, quietMs: 1500 }
    const host = await sharedHost()
    const pair = host.seeded[4]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    let t = Date.now()
    const naive = await withTimeout(naiveStorm(host, pair, n, 'p3-naive', sizes), 60_000, 'P3 naive')
    log(`P3 naive took ${Date.now() - t} ms`)
    t = Date.now()
    log(`P3 naive: ${naive.refetches} refetches for ${naive.received} events`)
    const layer = await withTimeout(layerStorm(host, pair, n, 'p3-layer', sizes), 60_000, 'P3 layer')
    log(`P3 layer: ${layer.refetches} refetches for ${layer.received} events (${Date.now() - t} ms)`)
    return [
      row({
        id: 'P3',
        name: `layer: GET /api/lessons at the server for ${n} uncached lesson:statusUpdated in ${sizes.durationMs / 1000} s (${layer.received} received; baseline naive)`,
        value: layer.refetches,
        unit: 'requests',
        baseline: naive.refetches,
        target: { on: 'value', op: '<=', limit: 4 },
      }),
      row({
        id: 'P3-naive',
        name: `naive: invalidateTags per event (${naive.received} received)`,
        value: naive.refetches,
        unit: 'requests',
      }),
    ]
  },
}
