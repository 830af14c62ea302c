import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisRunnable, requireParts, startRedis, type RedisServer } from '../cluster/support/redis'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { exited, repoRoot } from '../server/support/server'

// `npm run cluster` in a terminal, stopped with Ctrl-C: the terminal sends SIGINT to its whole foreground process group,
// the script and its two nodes alike. The script then sent each node a SIGTERM of its own, which the node (closing
// since the SIGINT) took for a second signal and exited at once ("second signal: exiting now"), its close cut off; and
// the script exited without waiting for them, so whatever they said while closing went nowhere.
const ready = requireParts('tests/scripts/cluster.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)('npm run cluster (scripts/cluster.ts) stopped by Ctrl-C', { timeout: 180_000 }, () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  })
  afterAll(async () => {
    await redis?.stop()
    postgres?.stop()
  })

  it('closes both nodes cleanly, says so, and exits once they have', async () => {
    // In a process group of its own, as a terminal's foreground job is.
    const script = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/cluster.ts')], {
      cwd: repoRoot,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: postgres.createDatabase('talemy_cluster_script'),
        REDIS_URL: redis.url,
        REDIS_PREFIX: `script${randomUUID().slice(0, 8)}:`,
        PORT: '0',
        SKIP_SPA_BUILD: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    script.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    script.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exit = exited(script)
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => /Talemy cluster: open/.test(output) && resolve()
        script.stdout.on('data', check)
        void exit.then(() => reject(new Error(`exited before serving:\n${output}`)))
      })
      // Serving through the balancer: the script is past its start, as a person pressing Ctrl-C finds it.
      const url = /Talemy cluster: open (http:\/\/\S+)/.exec(output)![1]!
      expect((await fetch(`${url}/api/health`)).status).toBe(200)
      process.kill(-script.pid!, 'SIGINT')
      expect(await exit, output).toBe(0)
      for (const node of ['a', 'b']) expect(output, output).toMatch(new RegExp(`\\[${node}\\] .*"msg":"server closed"`))
      expect(output).not.toContain('second signal')
    } finally {
      try {
        process.kill(-script.pid!, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  })
})
