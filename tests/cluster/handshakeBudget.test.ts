import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, connect, login } from '../server/support/server'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// The handshake budget bounds the database's load, nothing more: with its Redis not answering, a handshake goes on
// unbudgeted (`takeUnlessUnavailable`) rather than wait on it or fail.
const ready = requireParts('tests/cluster/handshakeBudget.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)('the handshake budget with Redis stalled', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let node: Awaited<ReturnType<typeof startServer>>

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    node = await startServer({
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_handshake_budget'),
      redisUrl: redis.url,
      redisPrefix: `hb${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      // One handshake, refilled in 100 s: the budget is empty for the rest of the test.
      handshakeRateLimit: { perSecond: 0.01, burst: 1 },
    })
  })
  afterAll(async () => {
    await node?.close()
    await redis?.stop()
    postgres?.stop()
  })

  it('lets a handshake through past an empty budget while Redis does not answer it, and budgets again once it does', async () => {
    const { token } = await login(node.url, ALICE)
    ;(await connect(node.url, token)).close()
    await expect(connect(node.url, token)).rejects.toThrow('RATE_LIMITED')
    const admin = new Redis(redis.url)
    try {
      // Writes (the bucket's script among them) wait for 3 s, well past the handshake's 0.5 s wait for its budget;
      // the socket cap, a write too, answers once they resume.
      await admin.client('PAUSE', 3000, 'WRITE')
      const socket = await connect(node.url, token)
      expect(socket.connected).toBe(true)
      socket.close()
      await admin.client('UNPAUSE')
    } finally {
      admin.disconnect()
    }
    await expect(connect(node.url, token)).rejects.toThrow('RATE_LIMITED')
  })
})
