import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { RedisRateLimiter } from '../../server/cluster/tokenBucket'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// A token's give-back as Redis stalls, on a connection that is dropped meanwhile (as `probeConnections` drops a silent
// one). A take given up on goes again on the next connection, so its give-up must reach Redis too. A refund (a
// replayed send's, an outsider's) sent before the drop goes again on the next connection while the stalled Redis runs
// the copy it holds; one sent after it waits offline and is rejected with the next ready check.
const ready = requireParts('tests/cluster/stalledGiveBack.test.ts', [redisRunnable()])

/** The next connection's ready check (INFO) unanswered: ioredis rejects what waited offline, then says why. */
const readyCheckFailed = (client: Redis) =>
  new Promise<void>((resolve) => {
    const failed = () => {
      if (client.status !== 'connect') return
      client.off('error', failed)
      resolve()
    }
    client.on('error', failed)
  })

describe.runIf(ready)('a token given back while Redis stalls and its connection is dropped', () => {
  let redis: RedisServer
  let link: RedisLink
  beforeAll(async () => {
    redis = await startRedis()
    link = await connectRedis(redis.url, 'gb:')
  })
  afterAll(async () => {
    await link?.close()
    await redis?.stop()
  })

  it('charges nothing for it once Redis answers, though its give-up was queued when the new connection failed its ready check', async () => {
    const { client } = link
    // Two takes, refilled one every 100 s: a take that was given up on and still spent shows as the next one refused.
    const sends = new RedisRateLimiter(client, 'gb:send:', { perSecond: 0.01, burst: 2 })
    // The node's bound (5 s) is the same story, slower: the take gives up while its connection is being dropped.
    const commandTimeout = client.options.commandTimeout
    client.options.commandTimeout = 200
    try {
      redis.stall()
      const take = sends.tryTake('ada')
      // What the probe does to a silent connection: ioredis sends the take again on the next one.
      client.disconnect(true)
      await expect(take).rejects.toThrow(/timed out/)
      // The give-up, sent as the take failed, waits for a connection; the next one's ready check (INFO) is not
      // answered either, and ioredis rejects what waited with it, then says why (still connecting).
      await readyCheckFailed(client)
      client.options.commandTimeout = commandTimeout
      const back = new Promise((resolve) => client.once('ready', resolve))
      redis.resume()
      await back
      // Answered after whatever was sent before it on this connection.
      await client.ping()
      expect(await sends.tryTake('ada')).toEqual({ ok: true })
      expect(await sends.tryTake('ada')).toEqual({ ok: true })
    } finally {
      client.options.commandTimeout = commandTimeout
      redis.resume()
    }
  })

  it('gives back one token each, once Redis answers', async () => {
    const { client } = link
    // Three takes, refilled one every 100 s: a refund counted twice shows as a take too many, one lost as one refused.
    const sends = new RedisRateLimiter(client, 'gb:refund:', { perSecond: 0.01, burst: 3 })
    // Settled as they come: a refund rejected before it is awaited is no unhandled rejection.
    const settled = (refund: Promise<void>) =>
      refund.then(
        () => 'answered',
        (error: Error) => error.message,
      )
    const takes = async (key: string) => {
      let ok = 0
      while ((await sends.tryTake(key)).ok) ok += 1
      return ok
    }
    for (const key of ['ada', 'ada', 'bob']) expect(await sends.tryTake(key)).toEqual({ ok: true })
    const commandTimeout = client.options.commandTimeout
    client.options.commandTimeout = 200
    try {
      redis.stall()
      // Ada's refund is sent before the drop (what the probe does to a silent connection), Bob's as it is made.
      const ada = settled(sends.refund('ada'))
      client.disconnect(true)
      const bob = settled(sends.refund('bob'))
      expect(await ada).toMatch(/timed out/)
      // The next connection's ready check (INFO) is not answered either: ioredis rejects what waited offline.
      await readyCheckFailed(client)
      expect(await bob).not.toBe('answered')
      client.options.commandTimeout = commandTimeout
      const back = new Promise((resolve) => client.once('ready', resolve))
      redis.resume()
      await back
      // Answered after whatever was sent before it on this connection.
      await client.ping()
      expect({ ada: await takes('ada'), bob: await takes('bob') }).toEqual({ ada: 2, bob: 3 })
    } finally {
      client.options.commandTimeout = commandTimeout
      redis.resume()
    }
  })
})
