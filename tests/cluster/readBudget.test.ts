import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, CAROL, http, login } from '../server/support/server'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// A user's reads, and a client address's refresh tokens, have one budget for the service, whichever node answers
// them (as sends do).
const ready = requireParts('tests/cluster/readBudget.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)('the read budget across nodes', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let a: Awaited<ReturnType<typeof startServer>>
  let b: Awaited<ReturnType<typeof startServer>>

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    const options = {
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_read_budget'),
      redisUrl: redis.url,
      redisPrefix: `rb${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      // Four reads, refilled one every 100 s: an empty bucket stays empty for the whole test.
      readRateLimit: { perSecond: 0.01, burst: 4 },
      refreshRateLimit: { perSecond: 0.01, burst: 4 },
    }
    a = await startServer(options)
    b = await startServer(options)
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
    await redis?.stop()
    postgres?.stop()
  })

  it("spends one user's reads on both nodes from one budget, and leaves another user's alone", async () => {
    const alice = (await login(a.url, ALICE)).token
    const statuses: number[] = []
    for (const url of [a.url, b.url, a.url, b.url, a.url, b.url])
      statuses.push((await http(url, 'GET', '/api/conversations', { token: alice })).status)
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
    const bob = (await login(b.url, BOB)).token
    expect((await http(a.url, 'GET', '/api/conversations', { token: bob })).status).toBe(200)
  })

  it("spends one client address's refresh budget on both nodes from one budget", async () => {
    const statuses: number[] = []
    for (const url of [a.url, b.url, a.url, b.url, a.url, b.url])
      statuses.push((await http(url, 'POST', '/api/auth/refresh', { body: { refreshToken: 'made-up' } })).status)
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429])
  })

  it("counts one email's failed logins on both nodes together", async () => {
    const statuses: number[] = []
    for (const url of [a.url, b.url, a.url, b.url, a.url, b.url])
      statuses.push(
        (await http(url, 'POST', '/api/auth/login', { body: { email: 'nobody@talemy.test', password: 'x' } })).status,
      )
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429])
  })

  // Last: it stops the Redis the nodes share.
  it('lets reads and refreshes through, unbudgeted, while Redis is away, rather than fail them', async () => {
    const carol = (await login(a.url, CAROL)).token
    await redis.stop()
    for (const url of [a.url, b.url]) {
      const read = await http(url, 'GET', '/api/conversations', { token: carol })
      expect(read.status).toBe(200)
      // The people list too: presence (in Redis) cannot be told, so nobody's is (null), rather than no list at all.
      const users = await http(url, 'GET', '/api/users', { token: carol })
      expect(users.status).toBe(200)
      expect((users.body as { online: unknown }[]).map((user) => user.online)).toEqual([null, null])
      // This address's refresh budget was spent above: answered for the token itself, the refresh went through.
      const refresh = await http(url, 'POST', '/api/auth/refresh', { body: { refreshToken: 'made-up' } })
      expect(refresh.status).toBe(401)
    }
  })

  // After the one before: Redis is away. Failed logins are counted on each node alone meanwhile, not refused for all.
  it('lets a right password log in while Redis is away, and still throttles wrong ones', async () => {
    await redis.stop()
    for (const url of [a.url, b.url]) {
      const session = await http<{ token?: string }>(url, 'POST', '/api/auth/login', {
        body: { email: BOB, password: 'talemy' },
      })
      expect(session.body).toMatchObject({ token: expect.any(String) })
      expect(session.status).toBe(200)
    }
    const statuses: number[] = []
    for (let attempt = 0; attempt < 6; attempt++)
      statuses.push(
        (await http(a.url, 'POST', '/api/auth/login', { body: { email: CAROL, password: 'wrong' } })).status,
      )
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429])
  })
})
