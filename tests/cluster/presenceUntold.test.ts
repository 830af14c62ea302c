import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { RedisPresenceStore } from '../../server/cluster/shared'
import { PresenceTracker, type PresenceTrackerOptions } from '../../server/realtime/presence'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// A node killed (SIGKILL) between marking a change of presence in Redis and telling it: the mark answers "changed" to
// that node only (one node tells each change), so no other node would ever tell it. Here the dying node's database
// stops answering at that point: it never gets to tell, as after a SIGKILL.
const ready = requireParts('tests/cluster/presenceUntold.test.ts', [redisRunnable()])

/**
 * A wait for the dying node's mark to be in Redis, as another node reads it: a few commands on a quiet machine, but
 * vi.waitFor's default second is not always enough on one busy with three test files and their servers.
 */
const redisWait = () => ({ timeout: hangBound(), interval: 10 })

type Told = { userId: string; online: boolean; lastSeenAt?: string | null }[]

/** A database that never answers: a node frozen or killed before its query's answer. */
const deadDb = { query: () => new Promise(() => undefined) } as never

const trackerOn = (
  told: Told,
  options: Partial<PresenceTrackerOptions> & Pick<PresenceTrackerOptions, 'store' | 'socketCount' | 'now'>,
) =>
  new PresenceTracker({
    notices: { toUsers: (_users, _event, state) => void told.push(state as never), toSocket: () => undefined },
    db: { query: async () => [] } as never,
    members: { contactsOf: async () => ['watcher'], contactsOnConnect: async () => ['watcher'] },
    graceSeconds: 1,
    logger: { warn: () => undefined, info: () => undefined } as never,
    ...options,
  })

describe.runIf(ready)('a change of presence marked by a node that died before telling it', () => {
  let redis: RedisServer
  let one: RedisLink
  let two: RedisLink
  beforeAll(async () => {
    redis = await startRedis()
    ;[one, two] = await Promise.all([connectRedis(redis.url, 'u:'), connectRedis(redis.url, 'u:')])
  })
  afterAll(async () => {
    await one?.close()
    await two?.close()
    await redis?.stop()
  })

  it("is told offline by another node's sweep: a going the dying node marked is not left unsaid", async () => {
    let now = 10_000_000
    const told: Told = []
    const storeOne = new RedisPresenceStore(one, () => now)
    const storeTwo = new RedisPresenceStore(two, () => now)
    await storeOne.markIntact()
    const dying = trackerOn([], { store: storeOne, socketCount: async () => 0, now: () => now, db: deadDb })
    const live = trackerOn(told, { store: storeTwo, socketCount: async () => 0, now: () => now })
    expect(await storeOne.markOnline('pablo')).toBe(true)
    await dying.disconnected('pablo')
    now += 1_000
    // Its sweep marks Pablo offline, then waits on the database for good.
    void dying.sweep()
    await vi.waitFor(async () => expect(await storeTwo.isOnline(['pablo'])).toEqual([false]), redisWait())
    // The other node's sweeps, however long after: the watcher is told that Pablo went.
    for (let i = 0; i < 3; i++) {
      now += 30_000
      await live.sweep()
    }
    expect(told).toEqual([{ userId: 'pablo', online: false, lastSeenAt: new Date(10_000_000).toISOString() }])
  })

  it('is told online by the node of his other socket: an arrival the dying node marked is not left unsaid', async () => {
    let now = 20_000_000
    const told: Told = []
    const storeOne = new RedisPresenceStore(one, () => now)
    const storeTwo = new RedisPresenceStore(two, () => now)
    await storeOne.markIntact()
    // Rita's first socket is on the dying node, which marks her online and then waits on the database for good; her
    // second, on the other node, connects after that mark (so finds her online already, and says nothing).
    const dying = trackerOn([], {
      store: storeOne,
      socketCount: async () => 1,
      now: () => now,
      db: deadDb,
      notesSeen: true,
    })
    const live = trackerOn(told, {
      store: storeTwo,
      socketCount: async () => 1,
      localUsers: () => ['rita'],
      now: () => now,
      sharedStore: true,
    })
    const socket = (userId: string) => ({ data: { userId }, connected: true, emit() {} }) as never
    void dying.connected(socket('rita'))
    await vi.waitFor(async () => expect(await storeTwo.isOnline(['rita'])).toEqual([true]), redisWait())
    await live.connected(socket('rita'))
    for (let i = 0; i < 3; i++) {
      now += 30_000
      await live.sweep()
    }
    expect(told).toEqual([expect.objectContaining({ userId: 'rita', online: true })])
  })
})
