import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { User } from '../../src/contract'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, http, login, manualClock, type ClientSocket } from '../server/support/server'
import { lastWordAbout, openLive, openWatching } from './support/presence'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// Redis lost its data (a restart without persistence, a flush, a failover to an empty replica) while Bob's going was
// noted there and not yet told: no sweep looks at him again (he is in no online set), so his going is kept from the
// notes the nodes took of him in the database.
const ready = requireParts('tests/cluster/lastSeenAfterRedisLoss.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)('lastSeenAt after Redis lost its data', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  const nodes: Awaited<ReturnType<typeof startServer>>[] = []
  const sockets: ClientSocket[] = []

  /**
   * A node on a database and Redis prefix of its own, on a clock the test moves (the grace passes only when it says so;
   * the store's goings follow it too); Alice watching, told Bob is online, whose one socket is open.
   */
  async function aliceSeesBob(database: string) {
    const clock = manualClock()
    const databaseUrl = postgres.createDatabase(database)
    const prefix = `l${randomUUID().slice(0, 8)}:`
    const node = await startServer({
      port: 0,
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: prefix,
      dataDir: tmpdir(),
      seedDemo: true,
      presenceGraceSeconds: 5,
      tokenTtlSeconds: 86_400,
      now: clock.now,
      logLevel: 'silent',
    })
    nodes.push(node)
    const [alice, bob] = await Promise.all([login(node.url, ALICE), login(node.url, BOB)])
    const aliceWatching = await openLive(node.url, alice.token, sockets)
    const seenAt = clock.now()
    const bobSocket = (await openWatching(node.url, bob.token, sockets)).socket
    await vi.waitFor(() => expect(lastWordAbout(aliceWatching.items, bob.user.id)).toMatchObject({ online: true }), {
      timeout: hangBound(),
    })
    return { clock, databaseUrl, prefix, url: node.url, alice, bob, aliceWatching, seenAt, bobSocket }
  }

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    for (const node of nodes) await node.close()
    await redis?.stop()
    postgres?.stop()
  })

  it('tells Alice that Bob went, who left within the grace before the loss, seen when he was last noted', async () => {
    const { clock, prefix, url, alice, bob, aliceWatching, seenAt, bobSocket } =
      await aliceSeesBob('talemy_last_seen_loss')
    bobSocket.close()
    const admin = new Redis(redis.url)
    const gone = () => admin.hexists(`${prefix}presence:gone`, bob.user.id)
    try {
      await vi.waitFor(async () => expect(await gone()).toBe(1), { timeout: hangBound() })
      // Within the grace, Redis loses its data, and comes back an hour later. Time passes on: a second each look.
      await admin.flushall()
      clock.advance(3_600_000)
      const lastSeenAt = new Date(seenAt).toISOString()
      await vi.waitFor(
        () => {
          clock.advance(1_000)
          expect(lastWordAbout(aliceWatching.items, bob.user.id)).toEqual({
            userId: bob.user.id,
            online: false,
            lastSeenAt,
          })
        },
        { timeout: hangBound(), interval: 100 },
      )
      const users = (
        await http<(User & { online: boolean | null; lastSeenAt: string | null })[]>(url, 'GET', '/api/users', {
          token: alice.token,
        })
      ).body
      expect(users.find((user) => user.id === bob.user.id)).toMatchObject({ online: false, lastSeenAt })
    } finally {
      admin.disconnect()
    }
  })

  it('brings back no one whose going was kept, noted seen a little after it by a node ahead of Redis', async () => {
    const { clock, databaseUrl, prefix, aliceWatching, bob, bobSocket } = await aliceSeesBob('talemy_last_seen_skew')
    bobSocket.close()
    // Bob's going is kept and told, past the grace.
    await vi.waitFor(
      () => {
        clock.advance(1_000)
        expect(lastWordAbout(aliceWatching.items, bob.user.id)).toMatchObject({ online: false })
      },
      { timeout: hangBound(), interval: 100 },
    )
    const db = new pg.Client({ connectionString: databaseUrl })
    const admin = new Redis(redis.url)
    try {
      await db.connect()
      // His last note, as a node whose clock runs 5 s ahead of Redis's (where goings are timed) takes it: after his
      // going. The notes say he was seen after it, but only by the clocks' difference, within what a cluster allows.
      await db.query(
        `update presence_seen set seen_at = u.last_seen_at + interval '5 seconds'
         from users u where u.id = presence_seen.user_id and u.id = $1`,
        [bob.user.id],
      )
      await admin.flushall()
      // The sweep that finds the loss puts back whom it brings back before it marks Redis intact again.
      await vi.waitFor(async () => expect(await admin.exists(`${prefix}presence:intact`)).toBe(1), {
        timeout: hangBound(),
      })
      expect(await admin.sismember(`${prefix}presence:online`, bob.user.id)).toBe(0)
    } finally {
      admin.disconnect()
      await db.end()
    }
  })
})
