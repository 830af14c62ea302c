import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { http } from '../server/support/server'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// One of a node's Redis connections goes silent (a NAT forgot it) while the others answer: a dead publisher means the
// other nodes hear nothing of this one (its messages' notices, presence changes, revocations), a dead subscriber that
// it hears none of theirs. Either way the load balancer must be told to send its clients elsewhere.
const ready = requireParts('tests/cluster/healthConnections.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)('the health probe of a node with one silent Redis connection', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let node: Awaited<ReturnType<typeof startServer>>

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    node = await startServer({
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_health_connections'),
      redisUrl: redis.url,
      redisPrefix: `hc${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      // Not probed during the test: the connection stays the silent one until the test drops it.
      redisPingMs: 600_000,
    })
  })
  afterAll(async () => {
    await node?.close()
    await redis?.stop()
    postgres?.stop()
  })

  const adapter = () => node.io.of('/').adapter as unknown as { pubClient: Redis; subClient: Redis }

  it.each([
    ['publisher', () => adapter().pubClient],
    ['subscriber', () => adapter().subClient],
  ] as const)(
    'answers 503 naming Redis while its %s is silent, and 200 once it is connected again',
    async (_, of) => {
      await expect(http(node.url, 'GET', '/api/health')).resolves.toMatchObject({ status: 200 })
      const connection = of()
      // What it writes reaches nobody, and no answer comes; the connection stays open.
      ;(connection as unknown as { stream: Socket }).stream.write = (() => true) as never
      // The probe's own bound (2 s) answers.
      const during = await http(node.url, 'GET', '/api/health')
      expect(during).toMatchObject({ status: 503, body: { status: 'unavailable', failing: ['redis'] } })
      // Dropped (as its PINGs drop a silent one) and connected again.
      const back = new Promise((resolve) => connection.once('ready', resolve))
      connection.disconnect(true)
      await back
      await expect
        .poll(async () => (await http(node.url, 'GET', '/api/health')).status, { timeout: hangBound() })
        .toBe(200)
    },
    120_000,
  )
})
