import { randomUUID } from 'node:crypto'
import { QueryStatus } from '@reduxjs/toolkit/query'
import { MAX_MESSAGE_PAGE } from '../../src/contract'
import type { Figure } from '../lib/figure'
import { api, connect, disconnect, firstSyncSettled, layerClient, selectConnection } from '../lib/layer'
import { row } from '../lib/results'
import { requestsUntilQuiet, sharedHost, type Host } from '../lib/server'
import { untilState } from '../lib/probe'
import { median } from '../lib/stats'

/**
 * P10: a client back after missing N logged events (N messages sent to it while its socket was closed). Timed from
 * `connect()` until the store has applied all N (the server replays them after its offset, then `sync:caughtUp`)
 * and the last one is in the cached thread, seen on a store notification (not polled). HTTP requests the layer makes
 * meanwhile are counted at the server.
 *
 * Baseline, reconnecting and refetching the same data: the same `connect()` with nothing missed (the handshake and
 * an empty replay: what any reconnect costs; timed the same way, until the store is caught up and the thread's last
 * message is the one it had), plus the N missed messages read over HTTP in pages of the largest size the API allows
 * (`MAX_MESSAGE_PAGE`), one after the other, parsed — the least a client without offsets must do to see them. Summed
 * per round; the median over rounds.
 */

type Pair = Host['seeded'][number]

async function post(url: string, token: string, conversationId: string, content: string): Promise<void> {
  const response = await fetch(`${url}/api/conversations/${encodeURIComponent(conversationId)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content, clientId: randomUUID() }),
  })
  if (response.status !== 201) throw new Error(`P10: POST message answered ${response.status}`)
}

/** `count` messages from b to a, a few in flight at once (the order does not matter here). */
async function sendMissed(url: string, pair: Pair, count: number, tag: string): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      await post(url, pair.b.token, pair.conversationId, `${tag} ${i}`)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

/** Reads the newest `count` messages over HTTP, page after page. */
async function refetch(url: string, pair: Pair, count: number): Promise<number> {
  let before: number | null = null
  let read = 0
  while (read < count) {
    const limit = Math.min(MAX_MESSAGE_PAGE, count - read)
    const query: string = before === null ? `?limit=${limit}` : `?limit=${limit}&before=${before}`
    const response = await fetch(
      `${url}/api/conversations/${encodeURIComponent(pair.conversationId)}/messages${query}`,
      {
        headers: { authorization: `Bearer ${pair.a.token}` },
      },
    )
    const page = (await response.json()) as Array<{ seq: number }>
    if (page.length === 0) break
    read += page.length
    before = page[0]!.seq
  }
  return read
}

export const p10: Figure = {
  id: 'P10',
  title: 'resume after missing 1,000 events: time to caught up, against refetching them',
  async run({ smoke, log }) {
    const n = smoke ? 20 : 1_000
    const rounds = smoke ? 1 : 5
    const host = await sharedHost()
    const pair = host.seeded[host.seeded.length - 1]!
    const key = `GET /api/conversations/${pair.conversationId}/messages`
    const client = await layerClient({
      url: host.url,
      session: { token: pair.a.token, user: { id: pair.a.id, name: pair.a.id, role: 'student' } },
      realtime: { random: () => 0 },
    })
    const resumeMs: number[] = []
    const refetchMs: number[] = []
    const baselineMs: number[] = []
    const requests: number[] = []
    try {
      await client.subscribeThread(pair.conversationId)
      const state = () => client.store.getState()
      // Requests are counted once the client is quiet: a catch-up refetch waits behind the layer's invalidation window
      // (250 ms). The session's first sync, which came after the thread was read, has one of its own: it is let pass.
      const quietMs = smoke ? 500 : 1_000
      const isFetching = () =>
        api.endpoints.getMessages.select(pair.conversationId)(state()).status === QueryStatus.pending
      await firstSyncSettled(client.store, host, key, isFetching, quietMs)
      const lastInThread = (s: ReturnType<typeof state>) =>
        api.endpoints.getMessages.select(pair.conversationId)(s).data?.at(-1)?.content
      /**
       * Closes the socket, runs `missed` meanwhile, then times `connect()` until the store stands at the new head and
       * the thread's last message is the one `isLast` expects. The end is seen on a store notification (as P1 and P15
       * see theirs), not polled: a timer in the measured event loop would cost it time and add up to its period.
       */
      const away = async (missed: () => Promise<number>, isLast: (content: string | undefined) => boolean) => {
        client.store.dispatch(disconnect())
        await untilState(client.store, (s) => selectConnection(s).status === 'disconnected', 'the socket to close')
        const target = selectConnection(state()).offset! + (await missed())
        const t0 = performance.now()
        client.store.dispatch(connect())
        await untilState(
          client.store,
          (s) => {
            const c = selectConnection(s)
            return c.status === 'connected' && c.offset === target && !c.syncing && isLast(lastInThread(s))
          },
          'the layer to catch up with the last message in the cached thread',
          60_000,
        )
        return performance.now() - t0
      }
      for (let round = 0; round < rounds; round++) {
        // Nothing missed: the thread's last message is the one it had before the socket closed.
        const lastBefore = lastInThread(state())
        const emptyMs = await away(
          async () => 0,
          (content) => content === lastBefore,
        )
        const tag = `p10-${round}`
        let before = 0
        const ms = await away(
          async () => {
            await sendMissed(host.url, pair, n, tag)
            before = await host.call('requests', { key })
            return n
          },
          (content) => content?.startsWith(`${tag} `) === true,
        )
        resumeMs.push(ms)
        requests.push(await requestsUntilQuiet(host, key, isFetching, before, quietMs))

        const r0 = performance.now()
        const read = await refetch(host.url, pair, n)
        refetchMs.push(performance.now() - r0)
        baselineMs.push(emptyMs + refetchMs.at(-1)!)
        if (read !== n) throw new Error(`P10: the baseline read ${read} of ${n}`)
        log(
          `P10 round ${round + 1}: resume ${ms.toFixed(1)} ms; a reconnect with nothing missed ${emptyMs.toFixed(1)} ms + refetch ${refetchMs.at(-1)!.toFixed(1)} ms; thread requests during the resume ${requests.at(-1)}`,
        )
      }
    } finally {
      await client.close()
    }
    return [
      row({
        id: 'P10',
        name: `time from connect() to caught up after missing ${n} messages, median of ${rounds}`,
        value: median(resumeMs),
        unit: 'ms',
        baseline: median(baselineMs),
      }),
      row({
        id: 'P10-refetch',
        name: `of the baseline: reading the ${n} messages over HTTP alone, median`,
        value: median(refetchMs),
        unit: 'ms',
      }),
      row({
        id: 'P10-requests',
        name: 'HTTP requests for the thread during those resumes (all rounds)',
        value: requests.reduce((a, b) => a + b, 0),
        unit: '',
        target: { on: 'value', op: '==', limit: 0 },
      }),
    ]
  },
}
