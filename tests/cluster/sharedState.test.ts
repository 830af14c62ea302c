import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { NodeEntries } from '../../server/cluster/entries'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { RedisPresenceStore, SharedSocketSlots, SharedViewers } from '../../server/cluster/shared'
import { PresenceTracker, type PresenceTrackerOptions } from '../../server/realtime/presence'
import { RedisRateLimiter } from '../../server/cluster/tokenBucket'
import { AppError } from '../../server/errors'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

/** Who shares a conversation with whom, as presence asks it (at a connect and otherwise alike). */
const fakeMembers = (contactsOf: (userId: string) => Promise<string[]>) => ({
  contactsOf,
  contactsOnConnect: contactsOf,
})

// The shared pieces on a real Redis, one at a time (two nodes are two links with their own node ids).
/** How soon a command sent to a stalled Redis gives up in these tests (a node's is `REDIS_COMMAND_TIMEOUT_MS`). */
const STALL_BOUND_MS = 100

/**
 * Bounds the commands `client` sends from now on (ioredis reads `commandTimeout` as it sends each), or unbounds them:
 * only while Redis is stalled on purpose, so that on a busy machine no other command gives up for being slow.
 */
const bound = (client: Redis, ms: number | undefined) => {
  client.options.commandTimeout = ms
}

/** What a tracker told users, each change as it was told. */
type Told = { userId: string; online: boolean; lastSeenAt?: string | null }[]

/**
 * A tracker on `options.store` whose changes told to users go to `told`; the others' presence is `contacts`', the
 * grace 1 s, no database and no log, unless `options` says otherwise.
 */
const trackerTelling = (
  told: Told,
  contacts: string[],
  options: Partial<PresenceTrackerOptions> & Pick<PresenceTrackerOptions, 'store' | 'socketCount'>,
) =>
  new PresenceTracker({
    notices: { toUsers: (_users, _event, state) => void told.push(state as never), toSocket: () => undefined },
    db: { query: async () => [] } as never,
    members: fakeMembers(async () => contacts),
    graceSeconds: 1,
    now: Date.now,
    logger: { warn: () => undefined, info: () => undefined } as never,
    ...options,
  })

const ready = requireParts('tests/cluster/sharedState.test.ts', [redisRunnable()])

describe.runIf(ready)('state shared through Redis', () => {
  let redis: RedisServer
  let one: RedisLink
  let two: RedisLink
  beforeAll(async () => {
    redis = await startRedis()
    ;[one, two] = await Promise.all([connectRedis(redis.url, 'x:'), connectRedis(redis.url, 'x:')])
  })
  afterAll(async () => {
    await one?.close()
    await two?.close()
    await redis?.stop()
  })

  it('keeps one token bucket per key for every node: the burst, then RATE_LIMITED with retryAfterMs, refill and refund', async () => {
    let now = 1_000_000
    const options = { perSecond: 10, burst: 3 }
    const onOne = new RedisRateLimiter(one.client, 'x:send:', options, () => now)
    const onTwo = new RedisRateLimiter(two.client, 'x:send:', options, () => now)
    expect(await onOne.tryTake('alice')).toEqual({ ok: true })
    expect(await onTwo.tryTake('alice')).toEqual({ ok: true })
    expect(await onOne.tryTake('alice')).toEqual({ ok: true })
    expect(await onTwo.tryTake('alice')).toEqual({ ok: false, retryAfterMs: 100 })
    // Another key has its own bucket.
    expect(await onTwo.tryTake('bob')).toEqual({ ok: true })
    now += 50
    await expect(onOne.take('alice')).rejects.toEqual(new AppError('RATE_LIMITED', 'too many requests, slow down', 50))
    now += 50
    expect(await onOne.tryTake('alice')).toEqual({ ok: true })
    await onTwo.refund('alice')
    expect(await onOne.tryTake('alice')).toEqual({ ok: true })
    expect((await onOne.tryTake('alice')).ok).toBe(false)
  })

  it('does not lift the shared budget for a client alternating between two nodes whose injected clocks differ by 200 ms', async () => {
    const options = { perSecond: 10, burst: 20 } // the default send budget
    const at = 2_000_000
    // Every take at the same real instant; node two's clock is 200 ms ahead of node one's.
    const onOne = new RedisRateLimiter(one.client, 'x:skew:', options, () => at)
    const onTwo = new RedisRateLimiter(two.client, 'x:skew:', options, () => at + 200)
    let granted = 0
    for (let i = 0; i < 200; i++) if ((await (i % 2 ? onTwo : onOne).tryTake('alice')).ok) granted++
    // At most the burst plus the 200 ms the bucket's time moved forward once (2 tokens): no interval counts twice.
    expect(granted).toBeGreaterThanOrEqual(20)
    expect(granted).toBeLessThanOrEqual(22)
  })

  it("uses Redis's clock by default: nodes whose own clocks (Date.now) differ by 200 ms do not lift the budget", async () => {
    const options = { perSecond: 10, burst: 20 }
    const realNow = Date.now.bind(Date)
    let skew = 0
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skew)
    // Made after the spy, so a limiter that read Date.now would read the skewed one.
    const onOne = new RedisRateLimiter(one.client, 'x:redis-clock:', options)
    const onTwo = new RedisRateLimiter(two.client, 'x:redis-clock:', options)
    const started = performance.now()
    let granted = 0
    try {
      for (let i = 0; i < 200; i++) {
        skew = i % 2 ? 200 : 0
        if ((await (i % 2 ? onTwo : onOne).tryTake('alice')).ok) granted++
      }
    } finally {
      spy.mockRestore()
    }
    // Only real time refills: the burst, plus 10 a second of the loop's own duration.
    const elapsedMs = performance.now() - started
    expect(granted).toBeGreaterThanOrEqual(20)
    expect(granted).toBeLessThanOrEqual(20 + Math.ceil(elapsedMs / 100))
  })

  it("caps a user's sockets across nodes, frees a released slot, and counts only live entries", async () => {
    const entriesOne = new NodeEntries(one.client)
    const entriesTwo = new NodeEntries(two.client)
    const slotsOne = new SharedSocketSlots(one, entriesOne, 2)
    const slotsTwo = new SharedSocketSlots(two, entriesTwo, 2)
    const first = await slotsOne.tryAcquire('carol', 's1')
    expect(first).toBeTypeOf('function')
    expect(await slotsTwo.tryAcquire('carol', 's2')).toBeTypeOf('function')
    expect(await slotsTwo.tryAcquire('carol', 's3')).toBeUndefined()
    first!()
    first!() // idempotent
    await expect.poll(() => slotsTwo.count('carol')).toBe(1)
    expect(await slotsTwo.tryAcquire('carol', 's3')).toBeTypeOf('function')
    await entriesOne.stop()
    await entriesTwo.stop()
    expect(await slotsOne.count('carol')).toBe(0)
  })

  /** Two nodes with a cap of 2, which `user` holds with two sockets on node one; `stop` ends both nodes' entries. */
  async function capHeldOnNodeOne(user: string) {
    const entriesOne = new NodeEntries(one.client)
    const entriesTwo = new NodeEntries(two.client)
    const stop = () => Promise.all([entriesOne.stop(), entriesTwo.stop()])
    const slotsOne = new SharedSocketSlots(one, entriesOne, 2)
    const slotsTwo = new SharedSocketSlots(two, entriesTwo, 2)
    try {
      expect(await slotsOne.tryAcquire(user, `${user}-1`)).toBeTypeOf('function')
      expect(await slotsOne.tryAcquire(user, `${user}-2`)).toBeTypeOf('function')
    } catch (error) {
      await stop()
      throw error
    }
    return { entriesOne, slotsOne, slotsTwo, stop }
  }

  // Reviewer J's finding: after Redis lost its data, sockets opened before the nodes' next renewal were counted against
  // an empty cap, and each node's renewal then put back all it held without the cap: twice the cap until some closed.
  it("holds the socket cap after Redis lost its data (FLUSHALL): sockets opened before the nodes' renewal do not add to those put back", async () => {
    const { entriesOne, slotsTwo, stop } = await capHeldOnNodeOne('frank')
    try {
      // Node one's heartbeat runs (every 2 s); Redis loses everything (a restart without persistence).
      entriesOne.start()
      await one.client.flushall()
      // Frank opens two more sockets on node two before node one's next renewal.
      const later = await Promise.all([slotsTwo.tryAcquire('frank', 'f3'), slotsTwo.tryAcquire('frank', 'f4')])
      // Node one's renewal (the heartbeat's work) puts back what it holds, whenever it came.
      await entriesOne.renew()
      expect(await slotsTwo.count('frank')).toBe(2)
      expect(later).toEqual([undefined, undefined])
    } finally {
      await stop()
    }
  })

  // A new Redis has no marker either: the node starting on it marks it settled (no node holds entries to put back), so
  // its users' first sockets do not wait for a renewal that has nothing to bring.
  it('takes out at the next heartbeat a socket slot whose add gave up as Redis stalled (it landed later)', async () => {
    const client = new Redis(redis.url)
    const entries = new NodeEntries(client)
    const slots = new SharedSocketSlots({ ...one, client }, entries, 20)
    try {
      await entries.markIntact()
      await one.client.client('PAUSE', 10_000, 'WRITE')
      // A handshake as Redis stalls: refused (INTERNAL), so its socket never opens, nor goes.
      bound(client, STALL_BOUND_MS)
      await expect(slots.tryAcquire('mona', 'm1')).rejects.toThrow(/timed out/)
      bound(client, undefined)
      await one.client.client('UNPAUSE')
      await client.ping()
      await entries.renew()
      // Counted against her cap, and for presence, it would be a socket she does not have (until it expired).
      expect(await slots.count('mona')).toBe(0)
    } finally {
      await one.client.client('UNPAUSE')
      await entries.stop()
      client.disconnect()
    }
  })

  it('on a Redis with no marker, a starting node marks it settled: its first capped add is one script, not a wait', async () => {
    await one.client.flushall()
    const entries = new NodeEntries(one.client)
    const evals = vi.spyOn(one.client, 'eval')
    try {
      await entries.markIntact()
      const slots = new SharedSocketSlots(one, entries, 2)
      expect(await slots.tryAcquire('gina', 'g1')).toBeTypeOf('function')
      expect(evals).toHaveBeenCalledTimes(1)
      // Lost again later (no node starting): the wait is back.
      await one.client.flushall()
      expect(await slots.tryAcquire('gina', 'g2')).toBeTypeOf('function')
      expect(evals.mock.calls.length).toBeGreaterThan(2)
    } finally {
      evals.mockRestore()
      await entries.stop()
    }
  })

  it("holds the socket cap and counts a node's live sockets on a node whose clock (Date.now) is 10 s ahead", async () => {
    const realNow = Date.now.bind(Date)
    let skew = 0
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skew)
    const { slotsOne, slotsTwo, stop } = await capHeldOnNodeOne('dave')
    try {
      // Node two's clock is ahead: node one's sockets, just added and alive, are still Dave's two.
      skew = 10_000
      expect(await slotsTwo.count('dave')).toBe(2)
      expect(await slotsTwo.tryAcquire('dave', 's3')).toBeUndefined()
      skew = 0
      expect(await slotsOne.count('dave')).toBe(2)
    } finally {
      spy.mockRestore()
      await stop()
    }
  })

  it('tells who is viewing a conversation from every node, by user', async () => {
    const entriesOne = new NodeEntries(one.client)
    const entriesTwo = new NodeEntries(two.client)
    const viewersOne = new SharedViewers(one, entriesOne)
    const viewersTwo = new SharedViewers(two, entriesTwo)
    const later = Date.now() + 3_600_000
    await viewersOne.joined('conv-1', 'alice', 'a1', later)
    await viewersTwo.joined('conv-1', 'alice', 'a2', later)
    await viewersTwo.joined('conv-1', 'bob', 'b1', later)
    expect(await viewersOne.viewers('conv-1')).toEqual(new Set(['alice', 'bob']))
    await viewersTwo.left('conv-1', 'bob', 'b1')
    await viewersOne.left('conv-1', 'alice', 'a1')
    expect(await viewersOne.viewers('conv-1')).toEqual(new Set(['alice']))
    expect(await viewersOne.viewers('conv-2')).toEqual(new Set())
    await entriesOne.stop()
    await entriesTwo.stop()
  })

  it('counts a viewer only until its token’s end on the reading node’s clock, and until the new end once renewed', async () => {
    let now = 1_000_000
    const entriesOne = new NodeEntries(one.client)
    const entriesTwo = new NodeEntries(two.client)
    const viewersOne = new SharedViewers(one, entriesOne, () => now)
    const viewersTwo = new SharedViewers(two, entriesTwo, () => now)
    try {
      await viewersTwo.joined('conv-3', 'bob', 'b1', now + 1_000)
      await viewersTwo.joined('conv-4', 'bob', 'b1', now + 1_000)
      expect(await viewersOne.viewers('conv-3')).toEqual(new Set(['bob']))
      now += 1_000
      expect(await viewersOne.viewers('conv-3')).toEqual(new Set())
      // Renewed: each of its entries replaced, none left behind with the old end.
      await viewersTwo.renewed('bob', 'b1', now + 1_000)
      expect(await viewersOne.viewers('conv-3')).toEqual(new Set(['bob']))
      expect(await viewersOne.viewers('conv-4')).toEqual(new Set(['bob']))
      expect(await entriesOne.members(`${two.prefix}viewers:conv-3`)).toHaveLength(1)
      await viewersTwo.left('conv-3', 'bob', 'b1')
      expect(await viewersOne.viewers('conv-3')).toEqual(new Set())
      expect(await entriesOne.members(`${two.prefix}viewers:conv-3`)).toEqual([])
    } finally {
      await entriesOne.stop()
      await entriesTwo.stop()
    }
  })

  it("measures the presence grace on Redis's clock: a node 10 s ahead does not take a user offline as his last socket goes, and lastSeenAt is when he went", async () => {
    // Redis's clock, moved by the test: the stores' injected clock, read where their script reads TIME otherwise (the
    // next test shows that it does). Real time would give the grace (1 s) to whatever stalls the test between two calls.
    let redisNow = Date.now()
    // Each node's own clock (Date.now in production): node two's is 10 s ahead of node one's, node three's 10 s behind.
    const skews = { one: 0, two: 10_000, three: -10_000 }
    const told: { userId: string; online: boolean; lastSeenAt: string | null }[] = []
    const trackerOn = (link: RedisLink, skew: number) =>
      trackerTelling(told, ['grace'], {
        store: new RedisPresenceStore(link, () => redisNow),
        socketCount: async () => 0,
        now: () => Date.now() + skew,
      })
    const one$ = trackerOn(one, skews.one)
    const two$ = trackerOn(two, skews.two)
    const three$ = trackerOn(two, skews.three)
    expect(await new RedisPresenceStore(one).markOnline('frank')).toBe(true)
    // Frank's last socket goes on node one; node two sweeps at once, within the grace.
    const wentAt = redisNow
    await one$.disconnected('frank')
    await two$.sweep()
    expect(told).toEqual([])
    expect(await new RedisPresenceStore(two).isOnline(['frank'])).toEqual([true])
    // A millisecond short of the grace, node three (10 s behind) keeps him; at its end, it alone takes him offline, seen
    // when he went.
    redisNow += 999
    await three$.sweep()
    expect(told).toEqual([])
    redisNow += 1
    await three$.sweep()
    expect(told).toEqual([
      expect.objectContaining({ userId: 'frank', online: false, lastSeenAt: new Date(wentAt).toISOString() }),
    ])
  })

  it("notes when a user went on Redis's clock (TIME), not on the node's own", async () => {
    const store = new RedisPresenceStore(one)
    const realNow = Date.now.bind(Date)
    const before = realNow()
    // The node's own clock 10 s ahead while it notes him gone: not what is noted.
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 10_000)
    let gone: Awaited<ReturnType<RedisPresenceStore['noteGone']>>
    try {
      gone = await store.noteGone('gina')
    } finally {
      spy.mockRestore()
    }
    const after = Date.now()
    try {
      // Redis runs on this machine, on its clock: read between the call and its answer, however long they took.
      expect(gone.since).toBeGreaterThanOrEqual(before)
      expect(gone.since).toBeLessThanOrEqual(after)
      expect(gone.now).toBe(gone.since)
      // Noted once: a later note keeps when she went, and reads Redis's time again.
      const again = await store.noteGone('gina')
      expect(again.since).toBe(gone.since)
      expect(again.now).toBeGreaterThanOrEqual(after)
    } finally {
      await store.clearGone('gina')
    }
  })

  /**
   * A store on its own connection, and `pauseWrites(ms)`: Redis holds every write for `ms` (`CLIENT PAUSE … WRITE`, as a
   * stall or a failover does), then runs them, those given up on included (ioredis has sent them all the same); the
   * commands sent meanwhile give up after `STALL_BOUND_MS` (`REDIS_COMMAND_TIMEOUT_MS` in production). `settled()` ends
   * the stall and resolves once they have run.
   */
  async function stallingStore(now: () => number) {
    const client = new Redis(redis.url)
    const store = new RedisPresenceStore({ ...one, client }, now)
    return {
      store,
      pauseWrites: async (ms: number) => {
        await one.client.client('PAUSE', ms, 'WRITE')
        bound(client, STALL_BOUND_MS)
      },
      // UNPAUSE ends the pause; the PING, answered after the commands sent before it, says they have run.
      settled: async () => {
        bound(client, undefined)
        await one.client.client('UNPAUSE')
        await client.ping()
      },
      close: () => client.disconnect(),
    }
  }

  it('tells a user offline whose sweep gave up marking him so as Redis stalled (the write landed later)', async () => {
    let now = 6_000_000
    const { store, pauseWrites, settled, close } = await stallingStore(() => now)
    const told: { userId: string; online: boolean }[] = []
    const tracker = trackerTelling(told, ['judy'], {
      store,
      socketCount: async () => 0,
      now: () => now,
    })
    const markOffline = store.markOffline.bind(store)
    let stall = true
    // Redis stalls just as the sweep marks Ivan offline.
    store.markOffline = async (userId) => {
      if (stall) await pauseWrites(10_000)
      stall = false
      return markOffline(userId)
    }
    try {
      expect(await store.markOnline('ivan')).toBe(true)
      await tracker.disconnected('ivan')
      now += 1_000
      await tracker.sweep()
      expect(told).toEqual([])
      await settled()
      // The sweeps from then on, past the grace again: Judy is told that Ivan went.
      await tracker.sweep()
      now += 1_000
      await tracker.sweep()
      expect(told).toEqual([expect.objectContaining({ userId: 'ivan', online: false })])
    } finally {
      await one.client.client('UNPAUSE')
      await store.clearGone('ivan').catch(() => undefined)
      close()
    }
  })

  it('tells a user online whose connect gave up marking him so as Redis stalled (the write landed later)', async () => {
    const { store, pauseWrites, settled, close } = await stallingStore(() => 8_000_000)
    const told: { userId: string; online: boolean }[] = []
    const tracker = trackerTelling(told, ['judy'], {
      store,
      // Kate's socket, live on this node.
      socketCount: async () => 1,
      localUsers: () => ['kate'],
      now: () => 8_000_000,
    })
    try {
      // Redis stalls just as Kate's socket connects.
      await pauseWrites(10_000)
      await expect(
        tracker.connected({ data: { userId: 'kate' }, connected: true, emit() {} } as never),
      ).rejects.toThrow(/timed out/)
      await settled()
      // The sweep from then on: Judy is told that Kate is here.
      await tracker.sweep()
      expect(told).toEqual([expect.objectContaining({ userId: 'kate', online: true })])
      expect(await store.isOnline(['kate'])).toEqual([true])
    } finally {
      await one.client.client('UNPAUSE')
      await store.markOffline('kate').catch(() => undefined)
      close()
    }
  })

  it('tells a user online whose sweep gave up putting him back online as Redis stalled (it landed later)', async () => {
    const { store, pauseWrites, settled, close } = await stallingStore(() => 9_000_000)
    const told: { userId: string; online: boolean }[] = []
    const tracker = trackerTelling(told, ['judy'], {
      store,
      // Liam's socket, live on this node; Redis has lost his "online" (a restart without persistence).
      socketCount: async () => 1,
      localUsers: () => ['liam'],
      now: () => 9_000_000,
    })
    const markOnline = store.markOnline.bind(store)
    let stall = true
    // Redis stalls just as the sweep puts him back online.
    store.markOnline = async (userId) => {
      if (stall) await pauseWrites(10_000)
      stall = false
      return markOnline(userId)
    }
    try {
      await tracker.sweep()
      expect(told).toEqual([])
      await settled()
      await tracker.sweep()
      expect(told).toEqual([expect.objectContaining({ userId: 'liam', online: true })])
      expect(await store.isOnline(['liam'])).toEqual([true])
    } finally {
      await one.client.client('UNPAUSE')
      await store.markOffline('liam').catch(() => undefined)
      close()
    }
  })

  it('tells a user online who connects after another node said he went while this one gave up marking him so', async () => {
    let now = 7_000_000
    let sockets = 0
    const told: { userId: string; online: boolean }[] = []
    const tracker = (store: RedisPresenceStore) =>
      trackerTelling(told, ['pia'], {
        store,
        socketCount: async () => sockets,
        now: () => now,
      })
    const storeOne = new RedisPresenceStore(one, () => now)
    const onOne = tracker(storeOne)
    const onTwo = tracker(new RedisPresenceStore(two, () => now))
    const markOffline = storeOne.markOffline.bind(storeOne)
    // Redis stalls as both nodes sweep Olga: node two's write, sent first, takes her offline and it says so; node
    // one's lands after it (changing nothing), its answer past the command bound.
    storeOne.markOffline = async (userId) => {
      await onTwo.sweep()
      await markOffline(userId)
      throw new Error('Command timed out')
    }
    try {
      expect(await storeOne.markOnline('olga')).toBe(true)
      await storeOne.markIntact()
      await onOne.disconnected('olga')
      now += 1_000
      await onOne.sweep()
      expect(told).toEqual([expect.objectContaining({ userId: 'olga', online: false })])
      // She comes back, on node two: Pia, told she went, is told she is here.
      sockets = 1
      await onTwo.connected({ data: { userId: 'olga' }, connected: true, emit() {} } as never)
      expect(told.at(-1)).toMatchObject({ userId: 'olga', online: true })
    } finally {
      await storeOne.markOffline('olga').catch(() => undefined)
    }
  })

  it("tells a connected user online after Redis lost its data to a contact sent the emptied Redis's word meanwhile", async () => {
    const store = new RedisPresenceStore(one)
    const told: { userId: string; online: boolean }[] = []
    const snapshots: unknown[] = []
    const tracker = new PresenceTracker({
      notices: {
        toUsers: (_users, _event, state) => void told.push(state as never),
        toSocket: (_socket, _event, payload) => void snapshots.push(payload),
      },
      // Quinn was noted seen while online, his going never kept.
      db: {
        query: async (sql: string) => (sql.includes('from presence_seen s join users') ? [{ user_id: 'quinn' }] : []),
      } as never,
      members: fakeMembers(async (userId) => (userId === 'quinn' ? ['rosa'] : ['quinn'])),
      store,
      // Both connected on this node the whole time.
      socketCount: async () => 1,
      localUsers: () => ['quinn', 'rosa'],
      graceSeconds: 1,
      now: Date.now,
      logger: { warn: () => undefined, info: () => undefined } as never,
    })
    try {
      expect(await store.markOnline('quinn')).toBe(true)
      expect(await store.markOnline('rosa')).toBe(true)
      await store.markIntact()
      await one.client.flushall()
      // Before the next sweep, Rosa reloads: her new socket's snapshot, read from the emptied Redis, says Quinn is away.
      await tracker.connected({ data: { userId: 'rosa' }, connected: true, emit() {} } as never)
      expect(snapshots).toEqual([{ users: [expect.objectContaining({ userId: 'quinn', online: false })] }])
      await tracker.sweep()
      expect(told.filter((state) => state.userId === 'quinn').at(-1)).toMatchObject({ online: true })
    } finally {
      await store.markOffline('quinn').catch(() => undefined)
      await store.markOffline('rosa').catch(() => undefined)
    }
  })

  it('puts a user back online after Redis lost its data only with his socket back: another node does not sweep him offline while he is connected', async () => {
    // Node one holds Heidi's socket; node two sweeps. The grace (1 s) is shorter than the heartbeat (2 s), which is
    // not running here: the sweeps come before the next renewal, as they do every 500 ms.
    let now = 5_000_000
    const entries = new NodeEntries(one.client)
    const slots = new SharedSocketSlots(one, entries, 20)
    const told: { userId: string; online: boolean }[] = []
    const tracker = (link: RedisLink, localUsers: string[]) =>
      trackerTelling(told, ['ivan'], {
        store: new RedisPresenceStore(link, () => now),
        socketCount: (userId) => slots.count(userId),
        localUsers: () => localUsers,
        restoreLocal: () => entries.renew(),
        now: () => now,
      })
    const onOne = tracker(one, ['heidi'])
    const onTwo = tracker(two, [])
    try {
      expect(await slots.tryAcquire('heidi', 'h1')).toBeTypeOf('function')
      expect(await new RedisPresenceStore(one).markOnline('heidi')).toBe(true)
      await one.client.flushall()
      // Node one's sweep finds Heidi, connected here, no longer online, and says she is.
      await onOne.sweep()
      expect(told).toEqual([expect.objectContaining({ userId: 'heidi', online: true })])
      // Node two sweeps, and again past the grace: her socket is still here, so she stays online, nothing told.
      await onTwo.sweep()
      now += 2_000
      await onTwo.sweep()
      expect(await new RedisPresenceStore(two).isOnline(['heidi'])).toEqual([true])
      expect(told).toHaveLength(1)
    } finally {
      await entries.stop()
    }
  })

  it('puts back what a node holds after Redis lost its data (a restart without persistence): sockets, then online', async () => {
    const entries = new NodeEntries(one.client)
    entries.start()
    const slots = new SharedSocketSlots(one, entries, 20)
    const store = new RedisPresenceStore(one)
    const told: unknown[] = []
    const tracker = new PresenceTracker({
      notices: { toUsers: (_users, _event, state) => void told.push(state), toSocket: () => undefined },
      // Erin shares a conversation with Dave; nobody has been seen yet.
      db: { query: async () => [] } as never,
      members: fakeMembers(async () => ['erin']),
      store,
      socketCount: (userId) => slots.count(userId),
      localUsers: () => ['dave'],
      graceSeconds: 1,
      now: Date.now,
      logger: { warn: () => undefined } as never,
    })
    try {
      // Dave's socket on this node: its slot, and online.
      const release = await slots.tryAcquire('dave', 'd1')
      expect(release).toBeTypeOf('function')
      expect(await store.markOnline('dave')).toBe(true)
      await one.client.flushall()
      expect(await slots.count('dave')).toBe(0)
      // The next heartbeat (every 2 s) says again what this node holds; the sweep puts its connected users back online.
      await expect.poll(() => slots.count('dave'), { timeout: hangBound(), interval: 100 }).toBe(1)
      await tracker.sweep()
      expect(await store.isOnline(['dave'])).toEqual([true])
      // Told once: the contacts may have been told "offline" by a sweep that ran on the emptied Redis meanwhile.
      expect(told).toEqual([expect.objectContaining({ userId: 'dave', online: true })])
      await tracker.sweep()
      expect(told).toHaveLength(1)
      release!()
      await expect.poll(() => slots.count('dave')).toBe(0)
    } finally {
      await entries.stop()
    }
  })
})
