import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { RedisPresenceStore } from '../../server/cluster/shared'
import { PresenceTracker } from '../../server/realtime/presence'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// The README asks for Redis 5 or later (Debian 11 ships 6.0, Ubuntu 20.04 5.0). This machine's is 7.0: the commands
// that came later are taken out of it, as an older one lacks them.
/** Commands that came with Redis 6.2 (the first line) and 7.0. */
const LATER_COMMANDS = [
  ...['SMISMEMBER', 'GETDEL', 'GETEX', 'ZRANGESTORE', 'ZMSCORE', 'LMOVE', 'HRANDFIELD'],
  ...['LMPOP', 'ZMPOP', 'SINTERCARD', 'ZINTERCARD', 'EXPIRETIME', 'PEXPIRETIME', 'FCALL'],
]

const ready = requireParts('tests/cluster/olderRedis.test.ts', [redisRunnable()])

describe.runIf(ready)('shared presence on a Redis older than 6.2', () => {
  let redis: RedisServer
  let link: RedisLink
  beforeAll(async () => {
    redis = await startRedis(LATER_COMMANDS.flatMap((command) => ['--rename-command', command, '']))
    link = await connectRedis(redis.url, 'old:')
  })
  afterAll(async () => {
    await link?.close()
    await redis?.stop()
  })

  it('tells who is online (each snapshot and /api/users ask it)', async () => {
    const store = new RedisPresenceStore(link)
    expect(await store.markOnline('alice')).toBe(true)
    expect(await store.isOnline(['alice', 'bob', 'alice'])).toEqual([true, false, true])
    expect(await store.isOnline([])).toEqual([])
  })

  it("tells a newcomer's contacts that he is online, and sends him their presence", async () => {
    const told: unknown[] = []
    const snapshots: unknown[] = []
    const tracker = new PresenceTracker({
      notices: {
        toUsers: (_users, _event, state) => void told.push(state),
        toSocket: (_socket, _event, snapshot) => void snapshots.push(snapshot),
      },
      db: { query: async () => [] } as never,
      members: { contactsOf: async () => ['alice'], contactsOnConnect: async () => ['alice'] },
      store: new RedisPresenceStore(link),
      socketCount: async () => 1,
      graceSeconds: 1,
      now: Date.now,
      logger: { warn: () => undefined, info: () => undefined } as never,
    })
    await tracker.connected({ data: { userId: 'carol' }, connected: true, emit() {} } as never)
    expect(told).toEqual([{ userId: 'carol', online: true, lastSeenAt: null }])
    expect(snapshots).toEqual([{ users: [{ userId: 'alice', online: true, lastSeenAt: null }] }])
  })
})
