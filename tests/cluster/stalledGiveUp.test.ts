import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { RedisRateLimiter } from '../../server/cluster/tokenBucket'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// A take given up on as Redis stalls, on a connection that is dropped meanwhile (as `probeConnections` drops a silent
// one): the take goes again on the next connection, so its give-up must reach Redis too.
const ready = requireParts('tests/cluster/stalledGiveUp.test.ts', [redisRunnable()])

describe.runIf(ready)('a take given up on while Redis stalls and its connection is dropped', () => {
  let redis: RedisServer
  let link: RedisLink
  let stopped = false
  const resume = () => {
    if (stopped) process.kill(redis.pid, 'SIGCONT')
    stopped = false
  }
  beforeAll(async () => {
    redis = await startRedis()
    link = await connectRedis(redis.url, 'gu:')
  })
  afterAll(async () => {
    resume()
    await link?.close()
    await redis?.stop()
  })

  it('charges nothing for it once Redis answers, though its give-up was queued when the new connection failed its ready check', async () => {
    const { client } = link
    // Two takes, refilled one every 100 s: a take that was given up on and still spent shows as the next one refused.
    const sends = new RedisRateLimiter(client, 'gu:send:', { perSecond: 0.01, burst: 2 })
    // The node's bound (5 s) is the same story, slower: the take gives up while its connection is being dropped.
    const commandTimeout = client.options.commandTimeout
    client.options.commandTimeout = 200
    try {
      process.kill(redis.pid, 'SIGSTOP')
      stopped = true
      const take = sends.tryTake('ada')
      // What the probe does to a silent connection: ioredis sends the take again on the next one.
      client.disconnect(true)
      await expect(take).rejects.toThrow(/timed out/)
      // The give-up, sent as the take failed, waits for a connection; the next one's ready check (INFO) is not
      // answered either, and ioredis rejects what waited with it, then says why (still connecting).
      await new Promise<void>((resolve) => {
        const failed = () => {
          if (client.status !== 'connect') return
          client.off('error', failed)
          resolve()
        }
        client.on('error', failed)
      })
      client.options.commandTimeout = commandTimeout
      const back = new Promise((resolve) => client.once('ready', resolve))
      resume()
      await back
      // Answered after whatever was sent before it on this connection.
      await client.ping()
      expect(await sends.tryTake('ada')).toEqual({ ok: true })
      expect(await sends.tryTake('ada')).toEqual({ ok: true })
    } finally {
      client.options.commandTimeout = commandTimeout
      resume()
    }
  }, 60_000)
})
