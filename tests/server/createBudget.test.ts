import { afterEach, describe, expect, it, vi } from 'vitest'
import { TokenService } from '../../server/auth'
import { AppError } from '../../server/errors'
import { createLogger } from '../../server/logger'
import { LoginThrottle } from '../../server/loginThrottle'
import { KeyedMutex } from '../../server/mutex'
import { PasswordHasher } from '../../server/passwords'
import { RateLimiter } from '../../server/rateLimit'
import { SessionStore } from '../../server/sessions'
import { createBookings } from '../../server/services/bookings'
import { ConversationMembers } from '../../server/services/members'
import { freshDatabase } from './support/server'

// A create asked who the caller was (a query: only students create) before it took their write budget: a caller
// whose budget was spent could still make the server run that query, as often as they liked.

const LESSON = { tutorId: 'user-bob', subject: 'Geometry', startsAt: '2030-05-01T09:00:00.000Z', durationMinutes: 60 }
const REQUEST = { tutorId: 'user-bob', message: 'Hello there' }

describe('a create past the write budget', () => {
  const fresh = freshDatabase()
  afterEach(() => vi.restoreAllMocks())

  /** The bookings service on the seeded database, with one write and one replay look-up per user, never refilled. */
  function bookings() {
    const db = fresh.db
    const tokens = new TokenService(new Uint8Array(32))
    const once = () => new RateLimiter({ perSecond: 1e-9, burst: 1 }, () => 0)
    return {
      db,
      service: createBookings({
        db,
        tokens,
        sessions: new SessionStore(db, tokens, new Uint8Array(32), { idleSeconds: 60, maxSeconds: 60 }),
        limiter: once(),
        replayLookups: once(),
        notifier: { deliver: () => undefined },
        presence: { viewers: () => new Set() },
        conversationLocks: new KeyedMutex(),
        members: new ConversationMembers(db),
        now: () => new Date('2030-01-01T00:00:00Z'),
        passwords: new PasswordHasher(),
        loginThrottle: new LoginThrottle(),
        logger: createLogger('silent'),
      }),
    }
  }

  /** The database's entry points, each counting its calls. */
  function spyQueries(db: ReturnType<typeof bookings>['db']) {
    return [vi.spyOn(db, 'query'), vi.spyOn(db, 'execute'), vi.spyOn(db, 'transaction')]
  }

  const rateLimited = { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) }

  it.each([
    ['a student', 'user-alice'],
    ['a tutor', 'user-carol'],
  ])('is RATE_LIMITED for %s without a query, whatever the request', async (_who, userId) => {
    const { db, service } = bookings()
    // The one write of the budget (a tutor's is refused, as a student's lesson in the past is: both pay for their query).
    await expect(service.createLesson(userId, { ...LESSON, startsAt: '2020-01-01T00:00:00Z' })).rejects.toBeInstanceOf(
      AppError,
    )
    const queries = spyQueries(db)
    const attempts = [
      () => service.createLesson(userId, LESSON),
      () => service.createContactRequest(userId, REQUEST),
      () => service.createLesson(userId, { subject: '' }),
      // As the HTTP layer's reading of a malformed Idempotency-Key does.
      () =>
        service.createContactRequest(userId, REQUEST, () => {
          throw new AppError('INVALID', 'Idempotency-Key: must be 1 to 100 printable ASCII characters')
        }),
    ]
    const codes = []
    for (const attempt of attempts) codes.push(await attempt().catch((error: AppError) => error.code))
    const calls = queries.map((query) => query.mock.calls.length)
    expect({ codes, calls }).toEqual({ codes: attempts.map(() => 'RATE_LIMITED'), calls: [0, 0, 0] })
    await expect(attempts[0]!()).rejects.toMatchObject(rateLimited)
  })

  it('still answers a student’s keyed repeat with the stored answer, within the look-ups’ budget', async () => {
    const { db, service } = bookings()
    const first = await service.createContactRequest('user-alice', REQUEST, () => 'same-key')
    expect(first.status).toBe(201)
    const repeat = await service.createContactRequest('user-alice', REQUEST, () => 'same-key')
    expect(repeat).toEqual({ ...first, replayed: true })
    // The look-ups' budget is spent too: no query any more.
    const queries = spyQueries(db)
    await expect(service.createContactRequest('user-alice', REQUEST, () => 'same-key')).rejects.toMatchObject(
      rateLimited,
    )
    expect(queries.map((query) => query.mock.calls.length)).toEqual([0, 0, 0])
  })
})
