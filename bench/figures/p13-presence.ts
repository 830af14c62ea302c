import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisRunnable, startRedis, type RedisServer } from '../../tests/cluster/support/redis'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../../tests/server/support/postgres'
import { closeSocket, rawSocket } from '../lib/clients'
import type { Figure } from '../lib/figure'
import { layerClient, type LayerClient } from '../lib/layer'
import { BENCH_DIR } from '../lib/paths'
import { row, type Row } from '../lib/results'
import { DEMO, login } from '../lib/server'
import { percentile, waitFor, withTimeout } from '../lib/stats'

/**
 * P13: presence convergence across two nodes. Alice's only socket is on node A; the watchers (layer stores of Bob and
 * Carol, who share a conversation with her) are on node B. Each round Alice connects, every watcher's store shows her
 * online, her socket closes; then each watcher's store is watched (`store.subscribe`) until it shows her offline.
 * Sample: that moment (`Date.now()`) − the end of the grace period, timed from the close itself: `Date.now()` just
 * before the bench closes her socket, + the grace (so a server slow to notice the close counts against the figure).
 * Same machine, same wall clock. The `lastSeenAt` the server announces is reported against the close (P13-noted).
 *
 * The nodes run in processes of their own (`p13-node.ts`), on one PostgreSQL and one Redis (throwaway servers, as
 * `tests/cluster/presence.test.ts` starts them). Where either is missing: one node (PGlite), and the row says so: it is
 * `P13-one-node`, with no target, since one node says nothing of the cross-node claim P13 checks.
 */

const GRACE_SECONDS = 1

interface Node {
  url: string
  close(): Promise<void>
}

async function startNode(options: Record<string, unknown>): Promise<Node> {
  const child: ChildProcess = fork(join(BENCH_DIR, 'figures', 'p13-node.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, P13_NODE_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      child.once('message', (message) => resolve((message as { url: string }).url))
      child.once('exit', (code) => reject(new Error(`P13 node exited with ${code}`)))
    }),
    120_000,
    'a P13 node to start',
  )
  return {
    url,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.send('close')
      await withTimeout(gone, 10_000, 'a P13 node to exit').catch(() => child.kill('SIGKILL'))
    },
  }
}

/** P13's samples: each watcher's offline against the grace's end (ms), the server's lastSeenAt against the close. */
export interface P13Samples {
  lags: number[]
  noted: number[]
  rounds: number
  where: string
  /** Two nodes: only they check the cross-node claim, so only their figure has a target. */
  cluster: boolean
}

export function p13Rows({ lags, noted, rounds, where, cluster }: P13Samples): Row[] {
  return [
    row({
      id: cluster ? 'P13' : 'P13-one-node',
      name: `presence: last socket closed (timed from the close) → offline in every watcher's store, after the ${GRACE_SECONDS} s grace, p99 of ${lags.length} (${rounds} rounds × ${where})`,
      value: percentile(lags, 99),
      unit: 'ms',
      // Only two nodes check the cross-node claim: one node's figure has no target to meet.
      target: cluster ? { on: 'value', op: '<=', limit: 1500 } : null,
    }),
    row({ id: 'P13-p50', name: 'the same, p50', value: percentile(lags, 50), unit: 'ms' }),
    row({
      id: 'P13-early',
      name: `the earliest any watcher's store showed the user offline, against the end of the ${GRACE_SECONDS} s grace (below 0: told during the grace, which a p99 of such samples would hide)`,
      value: Math.min(...lags),
      unit: 'ms',
      target: cluster ? { on: 'value', op: '>=', limit: 0 } : null,
    }),
    row({
      id: 'P13-noted',
      name: `the server's lastSeenAt after the bench closed the socket (its close noticed), the most of ${noted.length} rounds`,
      value: Math.max(...noted),
      unit: 'ms',
    }),
  ]
}

export const p13: Figure = {
  id: 'P13',
  title: 'presence convergence: last socket closed → every watcher offline, after the grace',
  async run({ smoke, log }) {
    const rounds = smoke ? 1 : 10
    const watcherCount = smoke ? 2 : 6
    const cluster = postgresRunnable().ok && redisRunnable().ok
    const cleanup: Array<() => Promise<void> | void> = []
    const watchers: LayerClient[] = []
    try {
      const dataDir = await mkdtemp(join(tmpdir(), 'talemy-p13-'))
      cleanup.push(() => rm(dataDir, { recursive: true, force: true }))
      const base: Record<string, unknown> = {
        dataDir,
        seedDemo: true,
        presenceGraceSeconds: GRACE_SECONDS,
        jwtSecret: randomBytes(32).toString('base64url'),
        tokenTtlSeconds: 24 * 3600,
      }
      let nodeA: Node
      let nodeB: Node
      if (cluster) {
        const [postgres, redis]: [PostgresCluster, RedisServer] = await Promise.all([startPostgres(), startRedis()])
        cleanup.push(
          () => postgres.stop(),
          () => redis.stop(),
        )
        const shared = {
          ...base,
          databaseUrl: postgres.createDatabase('talemy_p13'),
          redisUrl: redis.url,
          redisPrefix: `p13${randomUUID().slice(0, 8)}:`,
        }
        nodeA = await startNode(shared)
        cleanup.push(() => nodeA.close())
        nodeB = await startNode(shared)
        cleanup.push(() => nodeB.close())
      } else {
        nodeA = await startNode(base)
        cleanup.push(() => nodeA.close())
        nodeB = nodeA
      }
      log(`P13: ${cluster ? 'two nodes on PostgreSQL + Redis' : 'one node (PostgreSQL or Redis missing)'}`)

      const [alice, bob, carol] = await Promise.all([
        login(nodeA.url, DEMO.alice),
        login(nodeB.url, DEMO.bob),
        login(nodeB.url, DEMO.carol),
      ])
      const aliceId = alice.user.id
      for (let i = 0; i < watcherCount; i++)
        watchers.push(await layerClient({ url: nodeB.url, session: i % 2 === 0 ? bob : carol }))
      const shows = (client: LayerClient) => client.store.getState().presence.users[aliceId]

      const lags: number[] = []
      /** Per round: the server's `lastSeenAt` against the moment the bench closed the socket. */
      const noted: number[] = []
      for (let round = 0; round < rounds; round++) {
        const socket = await rawSocket(nodeA.url, alice.token)
        await waitFor(
          () => watchers.every((w) => shows(w)?.online === true),
          'every watcher to see Alice online',
          30_000,
        )
        // Each watcher's store, from now: the first time it shows Alice offline.
        const seenOffline: Array<number | null> = watchers.map(() => null)
        const unsubscribe = watchers.map((w, i) =>
          w.store.subscribe(() => {
            if (seenOffline[i] === null && shows(w)?.online === false) seenOffline[i] = Date.now()
          }),
        )
        // Timed from the close itself, not from the server's `lastSeenAt`: a server slow to notice the close (or a sweep
        // noting it late) must count against the figure.
        const closedAt = Date.now()
        await closeSocket(socket)
        await waitFor(() => seenOffline.every((t) => t !== null), 'every watcher to see Alice offline', 60_000, 20)
        for (const off of unsubscribe) off()
        const lastSeenAt = shows(watchers[0]!)?.lastSeenAt
        if (!lastSeenAt) throw new Error('P13: the offline presence carries no lastSeenAt')
        noted.push(Date.parse(lastSeenAt) - closedAt)
        const graceEnd = closedAt + GRACE_SECONDS * 1000
        const roundLags = seenOffline.map((t) => t! - graceEnd)
        lags.push(...roundLags)
        log(`P13 round ${round + 1}: after the grace, offline in every store within ${Math.max(...roundLags)} ms`)
      }
      const where = cluster
        ? `${watcherCount} watcher stores on node B, the user on node A (PostgreSQL + Redis)`
        : `ONE node only (PostgreSQL or Redis missing): ${watcherCount} watcher stores and the user on it`
      return p13Rows({ lags, noted, rounds, where, cluster })
    } finally {
      for (const w of watchers) await w.close().catch(() => undefined)
      for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined)
    }
  },
}
