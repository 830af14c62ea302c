import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sharedLoginCounters } from '../../server/cluster/index'
import { connectRedis, type RedisLink } from '../../server/cluster/redis'
import { LoginThrottle } from '../../server/loginThrottle'
import { loginAttempts } from '../server/support/loginAttempts'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// The rules of a success's forgiveness (tests/server/loginThrottle.test.ts, in memory) as Redis runs them: one script
// that reads and forgives. Redis's windows cannot be moved in time: each case writes its counters as they would be.
const ready = requireParts('tests/cluster/loginForgiveness.test.ts', [redisRunnable()])
const minutes = (n: number) => n * 60_000
const owner = '192.0.2.1'
const attacker = '203.0.113.66'

describe.runIf(ready)(
  "a success forgives, in Redis, only that address's failures in the email's current window",
  () => {
    let redis: RedisServer
    let link: RedisLink
    beforeAll(async () => {
      redis = await startRedis()
      link = await connectRedis(redis.url, 'lf:')
    })
    afterAll(async () => {
      await link?.close()
      await redis?.stop()
    })

    const setup = () => {
      const email = `${randomUUID()}@talemy.test`
      const throttle = new LoginThrottle(
        { perEmail: 5, perAddressUnknown: 100, windowSeconds: 900 },
        sharedLoginCounters(link),
      )
      const { fail, succeed, allowedBeforeRefusal } = loginAttempts(throttle, email)
      /** Sets a counter as a window that ends in `leftMs` would hold it. */
      const counter = (key: string, points: number, leftMs: number) =>
        link.client.set(key, points, 'PX', leftMs).then(() => undefined)
      const emailKey = `lf:login:email:${email}`
      return {
        fail,
        succeed,
        allowedBeforeRefusal,
        emailCounter: (points: number, leftMs: number) => counter(emailKey, points, leftMs),
        pairCounter: (points: number, leftMs: number) =>
          counter(`lf:login:email+address:${email} ${owner}`, points, leftMs),
        /** The email's window ends (Redis expires its counter). */
        endEmailWindow: () => link.client.del(emailKey).then(() => undefined),
      }
    }

    it("the owner's typos from an earlier email window are not forgiven against the attacker's failures in this one", async () => {
      const { succeed, allowedBeforeRefusal, emailCounter, pairCounter } = setup()
      // At minute 17: the owner's 3 typos from minute 14 (the pair's window), the attacker's 4 from minute 16, after
      // the email's window rolled over.
      await pairCounter(3, minutes(12))
      await emailCounter(4, minutes(14))
      expect(await succeed(owner)).toBe('alice')
      expect(await allowedBeforeRefusal()).toEqual({ allowed: 1, refusal: 'RATE_LIMITED' })
    })

    it("the owner's typos in the email's current window are forgiven, whoever opened that window", async () => {
      const { succeed, allowedBeforeRefusal, emailCounter, pairCounter } = setup()
      // At minute 2: the attacker's failure at minute 0 opened the email's window, the owner's 3 typos at minute 1.
      await emailCounter(4, minutes(13))
      await pairCounter(3, minutes(14))
      expect(await succeed(owner)).toBe('alice')
      expect(await allowedBeforeRefusal()).toEqual({ allowed: 4, refusal: 'RATE_LIMITED' })
    })

    it("a success whose email window ended while its password was checked forgives nothing of the next window's", async () => {
      const { fail, succeed, allowedBeforeRefusal, emailCounter, pairCounter, endEmailWindow } = setup()
      // A minute before the email's window ends: the attacker's failure that opened it, and the owner's typo at
      // minute 14 (the pair's window, 14 minutes left).
      await emailCounter(2, minutes(1))
      await pairCounter(1, minutes(14))
      expect(
        await succeed(owner, async () => {
          // While the owner's password is checked, the email's window ends and the attacker fails 4 times.
          await endEmailWindow()
          for (let i = 0; i < 4; i++) await fail(attacker)
        }),
      ).toBe('alice')
      expect(await allowedBeforeRefusal()).toEqual({ allowed: 1, refusal: 'RATE_LIMITED' })
    })
  },
)
