import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { RedisRateLimiter } from '../../server/cluster/tokenBucket'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// A token given back (a replayed send's, an outsider's) as Redis stalls, its connection dropped meanwhile (as
// `probeConnections` drops a silent one): a refund sent before the drop goes again on the next connection while the
// stalled Redis runs the copy it holds; one sent after it waits offline and is rejected with the next ready check.
const ready = requireParts('tests/cluster/stalledRefund.test.ts', [redisRunnable()])

describe.runIf(ready)('a refund while Redis stalls and its connection is dropped', () => {
  let redis: RedisServer
  let link: RedisLink
  let stopped = false
  const resume = () => {
    if (stopped) process.kill(redis.pid, 'SIGCONT')
    stopped = false
  }
  beforeAll(async () => {
    redis = await startRedis()
    link = await connectRedis(redis.url, 'rf:')
  })
  afterAll(async () => {
    resume()
    await link?.close()
    await redis?.stop()
  })

  it('gives back one token each, once Redis answers', async () => {
    const { client } = link
    // Three takes, refilled one every 100 s: a refund counted twice shows as a take too many, one lost as one refused.
    const sends = new RedisRateLimiter(client, 'rf:send:', { perSecond: 0.01, burst: 3 })
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
      process.kill(redis.pid, 'SIGSTOP')
      stopped = true
      // Ada's refund is sent before the drop (what the probe does to a silent connection), Bob's as it is made.
      const ada = settled(sends.refund('ada'))
      client.disconnect(true)
      const bob = settled(sends.refund('bob'))
      expect(await ada).toMatch(/timed out/)
      // The next connection's ready check (INFO) is not answered either: ioredis rejects what waited offline.
      await new Promise<void>((resolve) => {
        const failed = () => {
          if (client.status !== 'connect') return
          client.off('error', failed)
          resolve()
        }
        client.on('error', failed)
      })
      expect(await bob).not.toBe('answered')
      client.options.commandTimeout = commandTimeout
      const back = new Promise((resolve) => client.once('ready', resolve))
      resume()
      await back
      // Answered after whatever was sent before it on this connection.
      await client.ping()
      expect({ ada: await takes('ada'), bob: await takes('bob') }).toEqual({ ada: 2, bob: 3 })
    } finally {
      client.options.commandTimeout = commandTimeout
      resume()
    }
  }, 60_000)
})
