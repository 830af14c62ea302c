import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { RedisPresenceStore } from '../../server/cluster/shared'
import { openDatabase } from '../../server/db'
import type { Db } from '../../server/db'
import { PresenceTracker } from '../../server/realtime/presence'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { seededDatabase } from './support/database'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// lastSeenAt across nodes whose own clocks (Date.now) differ from Redis's, where goings are timed: a note a node takes
// of its users online must not look older than it is, and be kept as when a user went (`SEEN_GAP_MS`).
const ready = requireParts('tests/cluster/lastSeenSkew.test.ts', [postgresRunnable(), redisRunnable()])
const BOB = 'user-bob'

describe.runIf(ready)('lastSeenAt with a node whose clock is behind', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let db: Db
  let one: RedisLink
  let two: RedisLink
  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    db = await openDatabase({ databaseUrl: await seededDatabase(postgres, 'talemy_last_seen_skew'), dataDir: tmpdir() })
    ;[one, two] = await Promise.all([connectRedis(redis.url, 'k:'), connectRedis(redis.url, 'k:')])
  })
  afterAll(async () => {
    await one?.close()
    await two?.close()
    await db?.close()
    await redis?.stop()
    postgres?.stop()
  })

  it('keeps as his lastSeenAt when he went, not the note a node 30 s behind took (on its clock) as he came', async () => {
    const told: { userId: string; online: boolean; lastSeenAt: string | null }[] = []
    let sockets = 0
    // Redis's clock, moved by the test (the stores read it where their scripts read TIME otherwise); each node's own is
    // Redis's plus its skew.
    let redisNow = Date.now()
    const tracker = (link: RedisLink, skew: number) =>
      new PresenceTracker({
        notices: { toUsers: (_users, _event, state) => void told.push(state as never), toSocket: () => undefined },
        db,
        members: { contactsOf: async () => ['user-alice'], contactsOnConnect: async () => ['user-alice'] },
        store: new RedisPresenceStore(link, () => redisNow),
        socketCount: async () => sockets,
        localUsers: () => (sockets > 0 ? [BOB] : []),
        graceSeconds: 1,
        now: () => redisNow + skew,
        logger: { warn: () => undefined, info: () => undefined } as never,
        notesSeen: true,
        sharedStore: true,
      })
    const onTime = tracker(one, 0)
    const behind = tracker(two, -30_000)
    await new RedisPresenceStore(one, () => redisNow).markIntact()
    const socket = { data: { userId: BOB }, connected: true, emit() {} } as never
    /** Bob's one socket, on `node`, connects and goes; resolves to the lastSeenAt told once the sweeps take him offline. */
    const visit = async (node: PresenceTracker) => {
      sockets = 1
      await node.connected(socket)
      const cameAt = redisNow
      sockets = 0
      await node.disconnected(BOB)
      await vi.waitFor(
        async () => {
          redisNow += 500
          await onTime.sweep()
          expect(told.at(-1)).toMatchObject({ userId: BOB, online: false })
        },
        { timeout: hangBound(), interval: 100 },
      )
      return { cameAt, lastSeenAt: Date.parse(told.at(-1)!.lastSeenAt!) }
    }
    const first = await visit(onTime)
    // He comes back a minute later, on the node behind.
    redisNow += 60_000
    const second = await visit(behind)
    expect(second.lastSeenAt).toBeGreaterThanOrEqual(first.lastSeenAt)
    expect(second.lastSeenAt).toBeGreaterThanOrEqual(second.cameAt - 1_000)
  })
})
