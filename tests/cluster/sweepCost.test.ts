import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NodeEntries } from '../../server/cluster/entries'
import { connectRedis } from '../../server/cluster/redis'
import { RedisPresenceStore, SharedSocketSlots } from '../../server/cluster/shared'
import { PresenceTracker } from '../../server/realtime/presence'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

const ready = requireParts('tests/cluster/sweepCost.test.ts', [redisRunnable()])

// Every node sweeps every 500 ms over every online user of the cluster: what it sends Redis for the users who still
// have a socket must not grow with how many they are.
describe.runIf(ready)('the cost in Redis of a presence sweep', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  /** The commands (not those its scripts run) the tracker's connection sends during one sweep over `n` users. */
  async function commandsOfSweep(n: number): Promise<string[]> {
    const link = await connectRedis(redis.url, `cost${n}:`)
    const entries = new NodeEntries(link.client)
    const slots = new SharedSocketSlots(link, entries, 20)
    const store = new RedisPresenceStore(link)
    const warnings: unknown[] = []
    const tracker = new PresenceTracker({
      notices: { toUsers: () => undefined, toSocket: () => undefined },
      db: { query: async () => [] } as never,
      members: { contactsOf: async () => [], contactsOnConnect: async () => [] },
      store,
      socketCount: (userId) => slots.count(userId),
      socketCounts: (userIds) => slots.counts(userIds),
      graceSeconds: 5,
      now: Date.now,
      logger: { warn: (...args: unknown[]) => void warnings.push(args), info: () => undefined } as never,
    })
    let monitor: Redis | undefined
    try {
      const users = Array.from({ length: n }, (_, i) => `user-${i}`)
      for (const userId of users) {
        expect(await slots.tryAcquire(userId, 's1')).toBeTypeOf('function')
        expect(await store.markOnline(userId)).toBe(true)
      }
      // Two of them reloaded: their last socket went, and another came within the grace.
      await store.noteGone('user-0')
      await store.noteGone('user-1')
      // The first sweep finds a Redis with no marker yet and marks it; the one measured is the next.
      await tracker.sweep()
      await store.noteGone('user-1')

      const address = /addr=(\S+)/.exec(String(await link.client.client('INFO')))?.[1]
      monitor = await link.client.monitor()
      const sent: string[] = []
      let done = false
      const swept = new Promise<void>((resolve) =>
        monitor!.on('monitor', (_time: string, args: string[], source: string) => {
          if (source !== address || done) return
          done = args[0]?.toLowerCase() === 'echo' && args[1] === 'swept'
          if (done) resolve()
          else sent.push(args[0]!.toLowerCase())
        }),
      )
      await tracker.sweep()
      // Seen by the monitor after every command the sweep sent on this connection.
      await link.client.echo('swept')
      await swept

      expect(warnings).toEqual([])
      expect(await store.isOnline(users)).toEqual(users.map(() => true))
      expect(await link.client.hlen(`${link.prefix}presence:gone`)).toBe(0)
      return sent
    } finally {
      monitor?.disconnect()
      await entries.stop()
      await link.close()
    }
  }

  it('sends as many commands for 200 users with a socket as for 10, and clears the goings of those who came back', async () => {
    const ten = await commandsOfSweep(10)
    const twoHundred = await commandsOfSweep(200)
    expect(twoHundred.length, `10 users: ${ten.join(' ')}`).toBe(ten.length)
    expect(twoHundred.length).toBeLessThanOrEqual(5)
  })
})
