import { clusterMissing, sharedCluster, type ClusterNode } from '../lib/cluster'
import type { Figure } from '../lib/figure'
import type { SeededPair } from '../lib/hostProtocol'
import { api, layerClient, type LayerClient } from '../lib/layer'
import { ArrivalProbe } from '../lib/probe'
import { row } from '../lib/results'
import { startSender, type SenderProcess } from '../lib/senderProcess'
import { median, nsToMs, percentile, withTimeout } from '../lib/stats'

/**
 * P8: one message across nodes. Two reference server nodes (child processes) on one PostgreSQL and one Redis; the
 * realtime layer's stores as in P1 (`layerClient`): `sendMessage` dispatched in Alice's store → the message in Bob's
 * cached `getMessages` thread (P1's probe: a middleware first in Bob's chain, checking the state after every action).
 *
 * - cross-node: Alice's store connected to node A, Bob's to node B (the message goes A → PostgreSQL → Redis → B);
 * - baseline, single node: another pair, both stores on node A, through the same database and Redis.
 *
 * Alice's store runs in a process of its own, P1's layer sender (`bench/lib/sender.ts`), one such process per variant;
 * Bob's alone in the bench's. With both in one event loop, Alice's store handled its own echo, ack and receipt there,
 * and on one node they come from the same server at the same moment as Bob's `message:new`, so her work could run
 * before Bob's read callback: a cost in the one-node baseline that no real receiver pays, which lowered the ratio. The
 * send's start is read in the sender's process and the arrival in the bench's, both on `process.hrtime` (one monotonic
 * clock per machine); the sender is asked for its time only once Bob has the message, so nothing reaches the bench's
 * process while it is timed.
 *
 * One message at a time (the next once the sender sees its message confirmed); fresh stores every round, the two
 * variants interleaved sample by sample; the figure is the median over rounds of each round's p50 (and p99).
 */

type ThreadState = Parameters<ReturnType<typeof api.endpoints.getMessages.select>>[0]

const sessionOf = (u: { id: string; token: string }) => ({
  token: u.token,
  user: { id: u.id, name: u.id, role: 'student' as const },
})

interface Variant {
  sample(tag: string): Promise<number>
  close(): Promise<void>
}

async function variant(
  sender: SenderProcess,
  pair: SeededPair,
  senderNode: ClusterNode,
  receiverNode: ClusterNode,
): Promise<Variant> {
  const probe = new ArrivalProbe<ThreadState>()
  const select = api.endpoints.getMessages.select(pair.conversationId)
  await sender.call('open', {
    kind: 'layer',
    url: senderNode.url,
    session: sessionOf(pair.a),
    conversationId: pair.conversationId,
  })
  const b: LayerClient = await layerClient({
    url: receiverNode.url,
    session: sessionOf(pair.b),
    probes: [probe.middleware],
  })
  await b.subscribeThread(pair.conversationId)
  const detach = probe.attach(b.store)
  return {
    async sample(tag) {
      const arrival = probe.expect((state) => select(state).data?.at(-1)?.content === tag)
      sender.send(tag)
      // Bounded: a send that fails in the sender's process never reaches Bob, and `result` reports why.
      const t1 = await withTimeout(arrival.inCache, 10_000, 'Bob’s store to have the message').catch(async (error) => {
        await sender.call('result')
        throw error
      })
      // Untimed: the sender's copy confirmed (in its process) before the next send.
      const { startedAt } = await sender.call('result')
      return t1 - Number(startedAt)
    },
    async close() {
      detach()
      await Promise.all([sender.call('close'), b.close()])
    },
  }
}

export const p8: Figure = {
  id: 'P8',
  title: 'cross-node send → the other store’s cache p50, against both on one node',
  async run({ smoke, log }) {
    const missing = clusterMissing()
    if (missing)
      return [
        row({ id: 'P8-skipped', name: `P8 skipped: needs PostgreSQL and Redis (${missing})`, value: 0, unit: '' }),
      ]
    const rounds = smoke ? 1 : 5
    const perRound = smoke ? 5 : 100
    const warmup = smoke ? 2 : 30
    const cluster = await sharedCluster(smoke ? 40 : 520)
    const [nodeA, nodeB] = await Promise.all([cluster.startNode(), cluster.startNode()])
    // One sender process per variant: both variants' stores are open through a round. Started inside the `try`, so a
    // start that fails still ends the nodes and the sender already started.
    const senders: SenderProcess[] = []
    const cross = cluster.pairs.at(-1)!
    const single = cluster.pairs.at(-2)!
    const p50s = { cross: [] as number[], single: [] as number[] }
    const p99s = { cross: [] as number[], single: [] as number[] }
    try {
      senders.push(await startSender())
      senders.push(await startSender())
      for (let round = 0; round < rounds; round++) {
        // Each variant opened is closed in the `finally`, also when opening the other fails.
        const opened: Awaited<ReturnType<typeof variant>>[] = []
        const open = async (...args: Parameters<typeof variant>) => {
          const v = await variant(...args)
          opened.push(v)
          return v
        }
        try {
          const variants = {
            cross: await open(senders[0]!, cross, nodeA, nodeB),
            single: await open(senders[1]!, single, nodeA, nodeA),
          }
          const samples = { cross: [] as number[], single: [] as number[] }
          for (let i = 0; i < warmup + perRound; i++) {
            // Interleaved sample by sample, the order alternating, so load drifts hit both alike.
            const order = i % 2 === 0 ? (['cross', 'single'] as const) : (['single', 'cross'] as const)
            for (const name of order) {
              const ns = await variants[name].sample(`p8-${name}-${round}-${i}`)
              if (i >= warmup) samples[name].push(nsToMs(ns))
            }
          }
          for (const name of ['cross', 'single'] as const) {
            p50s[name].push(percentile(samples[name], 50))
            p99s[name].push(percentile(samples[name], 99))
          }
          log(
            `P8 round ${round + 1}: cross-node p50 ${p50s.cross.at(-1)!.toFixed(2)} ms, one node p50 ${p50s.single.at(-1)!.toFixed(2)} ms`,
          )
        } finally {
          await Promise.all(opened.map((v) => v.close()))
        }
      }
    } finally {
      await Promise.all([...senders.map((sender) => sender.close()), nodeA.kill(), nodeB.kill()])
    }
    return [
      row({
        id: 'P8',
        name: `cross-node: sendMessage in Alice's store (node A) → in Bob's cache (node B), p50, median of ${rounds} rounds × ${perRound} (baseline both stores on one node)`,
        value: median(p50s.cross),
        unit: 'ms',
        baseline: median(p50s.single),
        target: { on: 'ratio', op: '<=', limit: 1.5 },
      }),
      row({
        id: 'P8-p99',
        name: 'the same, p99 (baseline one node)',
        value: median(p99s.cross),
        unit: 'ms',
        baseline: median(p99s.single),
      }),
    ]
  },
}
