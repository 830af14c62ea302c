/**
 * Several reference server nodes on one PostgreSQL and one Redis, for P8 and P9: a throwaway PostgreSQL cluster and
 * Redis server (the cluster tests' helpers), users seeded with the server's own database module, and nodes as child
 * processes (`clusterNode.ts`) so one can be killed with SIGKILL. Started once per run, closed at its end.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { postgresRunnable, startPostgres } from '../../tests/server/support/postgres'
import { redisRunnable, startRedis } from '../../tests/cluster/support/redis'
import type { SeededPair } from './hostProtocol'
import { BENCH_DIR, REPO_ROOT } from './paths'
import { seedPairs } from './seed'
import { onShutdown } from './shared'
import { withTimeout } from './stats'

/** Why the cluster cannot run here (no PostgreSQL or no Redis), or null when it can. */
export function clusterMissing(): string | null {
  const missing = [postgresRunnable(), redisRunnable()].filter((part) => !part.ok).map((part) => part.reason)
  return missing.length > 0 ? missing.join('; ') : null
}

export interface ClusterNode {
  url: string
  /** `host:port`, for the balancer. */
  address: string
  pid: number
  /** Handshakes the node accepted, in ms on the monotonic clock (`process.hrtime`), oldest first. */
  accepted(): Promise<number[]>
  kill(): Promise<void>
}

export interface Cluster {
  /** Pairs of users, each pair with a conversation (a: student, b: tutor), with tokens valid on every node. */
  pairs: SeededPair[]
  startNode(): Promise<ClusterNode>
}

function startNode(options: Record<string, string>): Promise<ClusterNode> {
  const child: ChildProcess = fork(join(BENCH_DIR, 'lib', 'clusterNode.ts'), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_NODE_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const pending = new Map<number, (result: unknown) => void>()
  let nextId = 1
  child.on('message', (raw) => {
    const { id, result } = raw as { id: number; result: unknown }
    pending.get(id)?.(result)
    pending.delete(id)
  })
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await gone
  }
  onShutdown(kill)
  const up = new Promise<string>((resolve, reject) => {
    pending.set(0, (url) => resolve(url as string))
    void gone.then(() => reject(new Error('a cluster node exited before it listened')))
  })
  return withTimeout(up, 60_000, 'a cluster node to start').then((url) => ({
    url,
    address: url.replace('http://', ''),
    pid: child.pid!,
    accepted: () =>
      new Promise<number[]>((resolve) => {
        const id = nextId++
        pending.set(id, (result) => resolve(result as number[]))
        child.send({ id, cmd: 'accepted' })
      }),
    kill,
  }))
}

let shared: Promise<Cluster> | undefined

/** One PostgreSQL, one Redis and `pairs` seeded pairs for the run (the first call's count; later calls share it). */
export function sharedCluster(pairs: number): Promise<Cluster> {
  shared ??= (async () => {
    const [postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    onShutdown(async () => {
      await redis.stop()
      postgres.stop()
    })
    const databaseUrl = postgres.createDatabase('talemy_bench')
    const jwtSecret = randomBytes(32).toString('base64url')
    const seeded = await seedPairs({ databaseUrl }, pairs, jwtSecret, 'cluster')
    const options = {
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: `b${randomUUID().slice(0, 8)}:`,
      jwtSecret,
    }
    return { pairs: seeded, startNode: () => startNode(options) }
  })()
  return shared
}
