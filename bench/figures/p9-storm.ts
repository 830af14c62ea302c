import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { Socket } from 'socket.io-client'
import { startBalancer } from '../../server/cluster/balancer'
import type { Ack, Message } from '../../src/contract'
import { closeSocket, rawSocket } from '../lib/clients'
import { clusterMissing, sharedCluster, type Cluster, type ClusterNode } from '../lib/cluster'
import type { Figure } from '../lib/figure'
import { BENCH_DIR } from '../lib/paths'
import { row } from '../lib/results'
import { median, nowNs, percentile, sleep, withTimeout } from '../lib/stats'
import type { P9WorkerMessage, P9WorkerOptions } from './p9-worker'

/**
 * P9: a reconnect storm. N bare socket.io-clients (in several processes, `p9-worker.ts`) connected through the
 * repo's TCP balancer (`server/cluster/balancer.ts`) to node A, each resuming by offset; node A (a child process) is
 * killed with SIGKILL and every client comes back through the balancer to node B (A refuses, the balancer moves on),
 * resuming from its offset. Meanwhile one message is sent to each client's user (HTTP at node B), and a probe client
 * connected straight to B sends a message every 20 ms and times its ack.
 *
 * Measured from the kill: the time until 99% of the clients have resumed on B (`sync:caughtUp` after the drop), the
 * most handshakes B accepted in any one second, the probe's ack p99 until every client resumed, and the storm messages
 * lost (not received once all resumed, after a grace of 20 s). Three rounds per policy in a full run, alternating, the
 * median (nearest rank) reported. Two reconnection policies in the same run: ours (what the realtime layer does:
 * full-jitter backoff, 500 ms · 2^(attempt-1) capped at 30 s, so the first retry after a drop is uniform in
 * [0, 500 ms)), against Socket.IO's default reconnection (the baseline: its built-in backoff, delay 1000 ms, max
 * 5000 ms, randomization 0.5, so the first retry is in [500, 1500 ms)).
 */

type Policy = P9WorkerOptions['policy']

interface Storm {
  to99Ms: number
  peakPerSecond: number
  probeP99Ms: number
  lost: number
  trouble: string[]
}

function worker(options: P9WorkerOptions) {
  const child: ChildProcess = fork(join(BENCH_DIR, 'figures', 'p9-worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_P9_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const resumed: number[] = []
  let ready = false
  let report: Extract<P9WorkerMessage, { type: 'report' }> | null = null
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.on('message', (raw) => {
    const message = raw as P9WorkerMessage
    if (message.type === 'ready') ready = true
    else if (message.type === 'resumed') resumed.push(message.at)
    else report = message
  })
  return {
    resumed,
    ready: () => ready,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async report() {
      report = null
      child.send({ type: 'report' })
      await withTimeout(
        (async () => {
          while (!report) await sleep(20)
        })(),
        10_000,
        'a P9 worker to report',
      )
      return report!
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.send({ type: 'exit' })
      await withTimeout(exited, 10_000, 'a P9 worker to exit').catch(() => child.kill('SIGKILL'))
    },
  }
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

async function postAs(url: string, token: string, conversationId: string, content: string): Promise<void> {
  const response = await fetch(`${url}/api/conversations/${encodeURIComponent(conversationId)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content, clientId: randomUUID() }),
  })
  if (response.status !== 201) throw new Error(`P9: POST message answered ${response.status}`)
}

/** The most timestamps (ms) within any window of `windowMs`. */
function peakWithin(times: number[], windowMs: number): number {
  const sorted = [...times].sort((x, y) => x - y)
  let best = 0
  let from = 0
  for (let to = 0; to < sorted.length; to++) {
    while (sorted[to]! - sorted[from]! >= windowMs) from++
    best = Math.max(best, to - from + 1)
  }
  return best
}

async function storm(
  cluster: Cluster,
  nodeB: ClusterNode,
  policy: Policy,
  n: number,
  processes: number,
  tag: string,
  log: (line: string) => void,
): Promise<Storm> {
  const nodeA = await cluster.startNode()
  // Only A at first: every client starts on A. B joins the balancer before the kill.
  const balancer = await startBalancer([nodeA.address])
  const clients = cluster.pairs.slice(0, n).map((pair, i) => ({ pair, expect: `${tag} ${i}` }))
  const workers = Array.from({ length: processes }, (_, w) =>
    worker({
      url: balancer.url,
      policy,
      clients: clients
        .filter((_, i) => i % processes === w)
        .map(({ pair, expect }) => ({ token: pair.a.token, expect })),
    }),
  )
  const probePair = cluster.pairs[n]!
  let probe: Socket | null = null
  try {
    if (!(await until(() => workers.every((w) => w.ready() || w.exited()), 180_000)) || workers.some((w) => w.exited()))
      throw new Error('P9: the clients did not all connect to node A')
    if (balancer.handed.get(nodeA.address) !== n) throw new Error('P9: not every client went to node A')
    probe = await rawSocket(nodeB.url, probePair.a.token, { transports: ['websocket'] })
    balancer.backends.push(nodeB.address)

    const killedAt = nowNs() / 1e6
    await nodeA.kill()
    // One message to each client's user, sent at B while they come back.
    let next = 0
    const sending = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          const i = next++
          await postAs(nodeB.url, clients[i]!.pair.b.token, clients[i]!.pair.conversationId, clients[i]!.expect)
        }
      }),
    )
    // The probe: a send every 20 ms (on a timer, not after the previous ack, so a slow ack does not thin the samples),
    // each ack timed, until every client has resumed; then the acks still due are awaited.
    const acks: number[] = []
    const inFlight: Promise<void>[] = []
    const allResumed = () => workers.reduce((sum, w) => sum + w.resumed.length, 0) >= n
    const probing = (async () => {
      while (!allResumed() && nowNs() / 1e6 - killedAt < 60_000) {
        const t0 = nowNs()
        inFlight.push(
          withTimeout(
            new Promise<Ack<Message>>((resolve) =>
              probe!.emit(
                'message:send',
                { conversationId: probePair.conversationId, content: `${tag} probe`, clientId: randomUUID() },
                resolve,
              ),
            ),
            30_000,
            "the probe's ack",
          ).then((ack) => {
            if (!ack.ok) throw new Error(`P9: the probe's send was refused: ${ack.error.code}`)
            acks.push((nowNs() - t0) / 1e6)
          }),
        )
        await sleep(20)
      }
      await Promise.all(inFlight)
    })()
    await until(allResumed, 60_000)
    await Promise.all([sending, probing])
    const resumed = workers.flatMap((w) => w.resumed).map((at) => at - killedAt)
    resumed.sort((x, y) => x - y)
    const need = Math.ceil(0.99 * n)
    if (resumed.length < need) throw new Error(`P9: only ${resumed.length} of ${n} resumed within 60 s`)
    const to99Ms = resumed[need - 1]!
    // Messages lost: not received by their client once everyone resumed, after a grace of 20 s.
    let received = 0
    let trouble: string[] = []
    const deadline = Date.now() + 20_000
    do {
      const reports = await Promise.all(workers.map((w) => w.report()))
      received = reports.reduce((sum, r) => sum + r.received, 0)
      trouble = reports.flatMap((r) => r.trouble)
      if (received === n) break
      await sleep(200)
    } while (Date.now() < deadline)
    const accepted = (await nodeB.accepted()).filter((at) => at >= killedAt)
    const result = {
      to99Ms,
      peakPerSecond: peakWithin(accepted, 1000),
      probeP99Ms: percentile(acks, 99),
      lost: n - received,
      trouble,
    }
    log(
      `P9 ${policy}: 99% resumed in ${to99Ms.toFixed(0)} ms (all in ${resumed.at(-1)!.toFixed(0)} ms), peak ${result.peakPerSecond} handshakes/s at B, probe ack p99 ${result.probeP99Ms.toFixed(1)} ms over ${acks.length}, lost ${result.lost}${trouble.length ? `; trouble: ${trouble.join(', ')}` : ''}`,
    )
    return result
  } finally {
    if (probe) await closeSocket(probe)
    await Promise.all(workers.map((w) => w.close()))
    await balancer.close()
    await nodeA.kill()
  }
}

export const p9: Figure = {
  id: 'P9',
  title:
    'reconnect storm: a node killed under N clients, time until 99% resumed on the other, against Socket.IO’s default',
  async run({ smoke, log }) {
    const missing = clusterMissing()
    if (missing)
      return [
        row({ id: 'P9-skipped', name: `P9 skipped: needs PostgreSQL and Redis (${missing})`, value: 0, unit: '' }),
      ]
    const n = smoke ? 20 : 500
    const processes = smoke ? 2 : 4
    const rounds = smoke ? 1 : 3
    const cluster = await sharedCluster(smoke ? 40 : 520)
    const nodeB = await cluster.startNode()
    const results: Record<Policy, Storm[]> = { ours: [], default: [] }
    try {
      for (let round = 0; round < rounds; round++) {
        const order: Policy[] = round % 2 === 0 ? ['ours', 'default'] : ['default', 'ours']
        for (const policy of order)
          results[policy].push(await storm(cluster, nodeB, policy, n, processes, `p9-${round}-${policy}`, log))
      }
    } finally {
      await nodeB.kill()
    }
    const of = (policy: Policy, pick: (s: Storm) => number) => median(results[policy].map(pick))
    const lost = (policy: Policy) => results[policy].reduce((sum, s) => sum + s.lost, 0)
    const where = `${n} clients in ${processes} processes, median of ${rounds} rounds`
    return [
      row({
        id: 'P9',
        name: `reconnect storm, ${where}: node A killed → 99% resumed on node B (sync:caughtUp); ours: full-jitter 500 ms…30 s (baseline Socket.IO's default reconnection, 1000…5000 ms, randomization 0.5)`,
        value: of('ours', (s) => s.to99Ms),
        unit: 'ms',
        baseline: of('default', (s) => s.to99Ms),
      }),
      row({
        id: 'P9-peak',
        name: 'the most handshakes node B accepted in any one second of the storm (baseline: Socket.IO default)',
        value: of('ours', (s) => s.peakPerSecond),
        unit: '/s',
        baseline: of('default', (s) => s.peakPerSecond),
      }),
      row({
        id: 'P9-probe',
        name: 'a probe client on node B during the storm: ack p99 of a send every 20 ms (baseline: Socket.IO default)',
        value: of('ours', (s) => s.probeP99Ms),
        unit: 'ms',
        baseline: of('default', (s) => s.probeP99Ms),
      }),
      row({
        id: 'P9-lost',
        name: `messages sent to the clients during the storm and never received (ours, all rounds; of ${n * rounds})`,
        value: lost('ours'),
        unit: 'messages',
        target: { on: 'value', op: '==', limit: 0 },
      }),
      row({
        id: 'P9-lost-default',
        name: `the same with Socket.IO's default reconnection (of ${n * rounds})`,
        value: lost('default'),
        unit: 'messages',
        target: { on: 'value', op: '==', limit: 0 },
      }),
    ]
  },
}
