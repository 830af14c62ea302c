import type { Figure } from '../lib/figure'
import { api, layerClient, selectConnection, sendMessage, untilSent, type LayerClient } from '../lib/layer'
import { ArrivalProbe } from '../lib/probe'
import { row } from '../lib/results'
import { sharedHost, type Host } from '../lib/server'
import { median, nowNs, nsToUs, percentile, withTimeout } from '../lib/stats'
import { settled, tabGroup, untilAll, type Tab, type TabGroup } from '../lib/tabGroup'

/**
 * P11: a send from a tab that does not hold the socket (a follower: `sendMessage` → its proxy → the channel → the
 * holder's hub emits on the real socket → the ack back over the channel) against a send from the holder tab itself,
 * both → the message in the other user's cached thread. User A has three tabs (one browser: one channel, one lock
 * manager, one storage), B a solo store with the thread subscribed. Both senders are sampled in the same rounds,
 * alternately (which goes first swaps every pair), and observed the same way: P1's probe, a middleware first in B's
 * chain that checks the state after every action. One at a time: the next send starts once B has the message and
 * the sender's own copy is confirmed (`sent`), untimed. Fresh tabs every round; the median over rounds of each
 * round's p50 / p99. For context, a solo store of A (its own socket, as without the mechanism) sends in the same
 * rounds too, between the two: what the holder's hub costs the holder's own sends.
 */

type Pair = Host['seeded'][number]
type Who = 'holder' | 'follower' | 'solo'
type ThreadState = Parameters<ReturnType<typeof api.endpoints.getMessages.select>>[0]

const sessionOf = (u: { id: string; token: string }) => ({
  token: u.token,
  user: { id: u.id, name: u.id, role: 'student' as const },
})

const lastContentIs = (messages: readonly { content: string }[] | undefined, content: string): boolean =>
  messages !== undefined && messages.length > 0 && messages[messages.length - 1]!.content === content

interface Round {
  group: TabGroup
  holder: Tab
  follower: Tab
  /** Context: a store of A on its own (no tabs mechanism, its own socket), as every store is without it. */
  solo: LayerClient
  b: LayerClient
  probe: ArrivalProbe<ThreadState>
  detach: () => void
}

async function openRound(url: string, pair: Pair, tabs: number): Promise<Round> {
  const group = await tabGroup({ url, label: 'p11', session: sessionOf(pair.a) })
  for (let i = 0; i < tabs; i++) await group.open()
  const stores = group.tabs.map((t) => t.client.store)
  await untilAll(stores, settled, 'P11: A’s tabs to settle (one leader, all connected)', 20_000)
  for (const tab of group.tabs) await tab.client.subscribeThread(pair.conversationId)
  const holder = group.leader()
  const follower = group.tabs.find((t) => t !== holder)!
  const solo = await layerClient({ url, session: sessionOf(pair.a) })
  await solo.subscribeThread(pair.conversationId)
  const probe = new ArrivalProbe<ThreadState>()
  const b = await layerClient({ url, session: sessionOf(pair.b), probes: [probe.middleware] })
  await b.subscribeThread(pair.conversationId)
  return { group, holder, follower, solo, b, probe, detach: probe.attach(b.store) }
}

async function sample(round: Round, pair: Pair, from: LayerClient, tag: string): Promise<number> {
  const selectThread = api.endpoints.getMessages.select(pair.conversationId)
  const arrival = round.probe.expect((state) => lastContentIs(selectThread(state).data, tag))
  const t0 = nowNs()
  from.store.dispatch(sendMessage({ conversationId: pair.conversationId, content: tag }))
  const t1 = await arrival.inCache
  // Untimed: the sender's copy is confirmed (the ack came back to that tab) before the next send.
  await untilSent(from.store, pair.conversationId, tag)
  return t1 - t0
}

export const p11: Figure = {
  id: 'P11',
  title: 'send from a follower tab (through the holder) against a send from the holder tab',
  async run({ smoke, log }) {
    const sizes = smoke
      ? { warmup: 4, rounds: 1, perRound: 6, tabs: 2 }
      : { warmup: 40, rounds: 5, perRound: 150, tabs: 3 }
    const host = await sharedHost()
    const pair = host.seeded[1]
    if (!pair) throw new Error('the shared host seeded too few pairs')
    const series = {
      holder: { p50: [] as number[], p99: [] as number[] },
      follower: { p50: [] as number[], p99: [] as number[] },
      solo: { p50: [] as number[], p99: [] as number[] },
    }
    let n = 0
    // Samples left out, per part, of the counted rounds (the warm-up's are only logged); and per round, the fewest a
    // part kept.
    const dropped = { holder: 0, follower: 0, solo: 0 }
    let warmupDropped = 0
    let fewestKept = Number.POSITIVE_INFINITY
    for (let r = -1; r < sizes.rounds; r++) {
      const round = await openRound(host.url, pair, sizes.tabs)
      try {
        const samples = { holder: [] as number[], follower: [] as number[], solo: [] as number[] }
        const count = r < 0 ? sizes.warmup : sizes.perRound
        for (let i = 0; i < count; i++) {
          // The holder and the follower alternate (which goes first swaps each time); the solo store comes between.
          const order: Who[] = i % 2 === 0 ? ['holder', 'solo', 'follower'] : ['follower', 'solo', 'holder']
          for (const who of order) {
            const client = who === 'solo' ? round.solo : round[who].client
            const ns = await withTimeout(sample(round, pair, client, `p11 ${who} ${n++}`), 15_000, `P11 ${who} sample`)
            // A sample counts for the part its tab had when it was taken: a handoff mid-run is noted, not mixed in.
            const role = selectConnection(client.store.getState()).role
            if (role === { holder: 'leader', follower: 'follower', solo: 'solo' }[who]) samples[who].push(ns)
            else if (r < 0) warmupDropped++
            else dropped[who]++
          }
        }
        if (r >= 0) {
          fewestKept = Math.min(fewestKept, samples.holder.length, samples.follower.length)
          for (const who of ['holder', 'follower', 'solo'] as const) {
            // A round whose every sample of a part was left out has no percentile of its own (not a NaN in the median).
            if (samples[who].length === 0) continue
            series[who].p50.push(percentile(samples[who], 50))
            series[who].p99.push(percentile(samples[who], 99))
          }
          const p50 = (who: Who) =>
            `${nsToUs(percentile(samples[who], 50)).toFixed(0)} µs (${samples[who].length} kept)`
          log(
            `P11 round ${r + 1}/${sizes.rounds}: holder p50 ${p50('holder')}, follower p50 ${p50('follower')}, solo p50 ${p50('solo')}`,
          )
        }
      } finally {
        round.detach()
        await round.b.close()
        await round.solo.close()
        await round.group.close()
      }
    }
    const left = dropped.holder + dropped.follower + dropped.solo + warmupDropped
    if (left > 0)
      log(
        `P11: samples dropped as their tab's part had changed: holder ${dropped.holder}, follower ${dropped.follower}, solo ${dropped.solo}, in the warm-up ${warmupDropped}`,
      )
    const us = (who: Who, p: 'p50' | 'p99') => nsToUs(median(series[who][p]))
    const per = `median of ${sizes.rounds} rounds × ${sizes.perRound}, ${sizes.tabs} tabs of A`
    return [
      row({
        id: 'P11',
        name: `follower tab: sendMessage → in B’s cached thread, p50 (baseline: the same from the holder tab, interleaved; ${per})`,
        value: us('follower', 'p50'),
        unit: 'µs',
        baseline: us('holder', 'p50'),
        target: { on: 'ratio', op: '<=', limit: 1.2 },
      }),
      row({
        id: 'P11-p99',
        name: 'follower tab: the same, p99 (baseline: the holder tab’s p99)',
        value: us('follower', 'p99'),
        unit: 'µs',
        baseline: us('holder', 'p99'),
      }),
      row({
        id: 'P11-holder-p50',
        name: 'holder tab: the same, p50 (baseline: a solo store of A, no tabs mechanism, in the same rounds)',
        value: us('holder', 'p50'),
        unit: 'µs',
        baseline: us('solo', 'p50'),
      }),
      row({
        id: 'P11-holder-p99',
        name: 'holder tab: the same, p99 (baseline: the solo store’s p99)',
        value: us('holder', 'p99'),
        unit: 'µs',
        baseline: us('solo', 'p99'),
      }),
      row({
        id: 'P11-dropped',
        name: `samples left out because their tab’s part (leader / follower) had changed, the more of the holder’s (${dropped.holder}) and the follower’s (${dropped.follower}) (baseline: the counted samples taken of each, ${sizes.rounds} × ${sizes.perRound})`,
        value: Math.max(dropped.holder, dropped.follower),
        unit: 'samples',
        baseline: sizes.rounds * sizes.perRound,
        // Handoffs are not what P11 measures: more than a tenth of a part's samples left out would mean its medians
        // stand on too little.
        target: { on: 'ratio', op: '<=', limit: 0.1 },
      }),
      row({
        id: 'P11-kept',
        name: 'the fewest samples the holder or the follower kept in any round (each round must have a percentile of both)',
        value: fewestKept,
        unit: 'samples',
        target: { on: 'value', op: '>=', limit: 1 },
      }),
    ]
  },
}
