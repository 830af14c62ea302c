import { describe, expect, it } from 'vitest'
import { KeyedMutex } from '../../server/mutex'
import { OriginPolicy, parseOriginList } from '../../server/origins'
import { AppError } from '../../server/errors'
import { loadBudget, RateLimiter, type Limiter } from '../../server/rateLimit'
import { othersFirst } from '../../server/services/messaging'
import type { LoggedEvent } from '../../server/services/eventLog'
import { CONTACT_REQUEST_TRANSITIONS, LESSON_TRANSITIONS, checkTransition } from '../../server/services/rules'
import { settersOf } from '../../src/contract'

describe('RateLimiter', () => {
  const clock = () => {
    let now = 0
    return { now: () => now, advance: (ms: number) => void (now += ms) }
  }

  it('lets a burst through, then refuses with the wait until the next token', () => {
    const time = clock()
    const limiter = new RateLimiter({ perSecond: 10, burst: 3 }, time.now)
    expect([limiter.tryTake('a'), limiter.tryTake('a'), limiter.tryTake('a')]).toEqual([
      { ok: true },
      { ok: true },
      { ok: true },
    ])
    expect(limiter.tryTake('a')).toEqual({ ok: false, retryAfterMs: 100 })
    time.advance(100)
    expect(limiter.tryTake('a')).toEqual({ ok: true })
  })

  it('keeps one bucket per key', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, clock().now)
    expect(limiter.tryTake('a').ok).toBe(true)
    expect(limiter.tryTake('a').ok).toBe(false)
    expect(limiter.tryTake('b').ok).toBe(true)
  })

  it('refund() gives a token back, never above the burst', () => {
    const time = clock()
    const limiter = new RateLimiter({ perSecond: 1, burst: 2 }, time.now)
    limiter.refund('fresh')
    expect([limiter.tryTake('fresh').ok, limiter.tryTake('fresh').ok, limiter.tryTake('fresh').ok]).toEqual([
      true,
      true,
      false,
    ])
    limiter.refund('fresh')
    expect(limiter.tryTake('fresh').ok).toBe(true)
    expect(limiter.tryTake('fresh').ok).toBe(false)
  })

  it('a clock that steps back takes no tokens away (and gives none)', () => {
    const time = clock()
    const limiter = new RateLimiter({ perSecond: 10, burst: 3 }, time.now)
    expect(limiter.tryTake('a').ok).toBe(true)
    time.advance(-2_000)
    expect([limiter.tryTake('a').ok, limiter.tryTake('a').ok, limiter.tryTake('a').ok]).toEqual([true, true, false])
  })

  it('take() throws RATE_LIMITED with retryAfterMs', () => {
    const limiter = new RateLimiter({ perSecond: 2, burst: 1 }, clock().now)
    limiter.take('a')
    expect(() => limiter.take('a')).toThrow(expect.objectContaining({ code: 'RATE_LIMITED', retryAfterMs: 500 }))
  })
})

describe('loadBudget', () => {
  /** A limiter whose store is down (a failure that is no refusal) or up again, as the test says. */
  function switchable() {
    let down = false
    const limiter: Limiter = {
      tryTake: () => ({ ok: true }) as never,
      take: () => {
        if (down) throw new Error('redis: connection refused')
      },
      refund: () => undefined,
      sweep: () => undefined,
    }
    return { limiter, setDown: (value: boolean) => void (down = value) }
  }

  it('says once per outage that spends go through unbudgeted, and again at the next outage', async () => {
    const { limiter, setDown } = switchable()
    const warnings: string[] = []
    const spend = loadBudget(limiter, 60_000, () => warnings.push('unbudgeted'))
    await spend('u1')
    expect(warnings).toEqual([])
    setDown(true)
    await spend('u1')
    await spend('u2')
    expect(warnings).toEqual(['unbudgeted'])
    setDown(false)
    await spend('u1')
    setDown(true)
    await spend('u1')
    expect(warnings).toEqual(['unbudgeted', 'unbudgeted'])
  })

  it('still refuses past the budget (RATE_LIMITED), and says nothing', async () => {
    const warnings: string[] = []
    const spend = loadBudget(new RateLimiter({ perSecond: 1, burst: 1 }), 60_000, () => warnings.push('unbudgeted'))
    await spend('u1')
    await expect(spend('u1')).rejects.toBeInstanceOf(AppError)
    expect(warnings).toEqual([])
  })
})

describe('transition tables', () => {
  it.each([
    ['pending', 'confirmed', 'tutor', 'ok'],
    ['pending', 'confirmed', 'student', 'forbidden'],
    ['pending', 'cancelled', 'student', 'ok'],
    ['confirmed', 'completed', 'tutor', 'ok'],
    ['confirmed', 'completed', 'student', 'forbidden'],
    ['pending', 'completed', 'tutor', 'invalid'],
    ['cancelled', 'pending', 'tutor', 'invalid'],
    ['completed', 'cancelled', 'student', 'invalid'],
    ['cancelled', 'confirmed', 'student', 'forbidden'],
    ['pending', 'completed', 'student', 'forbidden'],
  ] as const)('lesson %s → %s by the %s: %s', (from, to, role, expected) => {
    expect(checkTransition(LESSON_TRANSITIONS, from, to, role)).toBe(expected)
  })

  it.each([
    ['pending', 'accepted', 'tutor', 'ok'],
    ['pending', 'declined', 'tutor', 'ok'],
    ['pending', 'accepted', 'student', 'forbidden'],
    ['accepted', 'declined', 'tutor', 'invalid'],
    ['accepted', 'declined', 'student', 'forbidden'],
    ['declined', 'accepted', 'student', 'forbidden'],
    ['pending', 'pending', 'student', 'invalid'],
  ] as const)('contact request %s → %s by the %s: %s', (from, to, role, expected) => {
    expect(checkTransition(CONTACT_REQUEST_TRANSITIONS, from, to, role)).toBe(expected)
  })
})

describe('KeyedMutex', () => {
  it('runs tasks of one key one at a time, in the order they were queued', async () => {
    const mutex = new KeyedMutex()
    const log: string[] = []
    const task = (name: string, ms: number) => () =>
      new Promise<void>((resolve) => {
        log.push(`start ${name}`)
        setTimeout(() => {
          log.push(`end ${name}`)
          resolve()
        }, ms)
      })
    await Promise.all([mutex.run('k', task('a', 20)), mutex.run('k', task('b', 1)), mutex.run('k', task('c', 5))])
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
  })

  it('keeps going after a task fails', async () => {
    const mutex = new KeyedMutex()
    const failed = mutex.run('k', () => Promise.reject(new Error('boom')))
    const next = mutex.run('k', async () => 'next')
    await expect(failed).rejects.toThrow('boom')
    await expect(next).resolves.toBe('next')
  })
})

describe('OriginPolicy', () => {
  it('defaults to the server port on localhost and 127.0.0.1 plus the Vite dev server', () => {
    const policy = new OriginPolicy()
    policy.useDefaultsFor(4321)
    expect(policy.list()).toEqual([
      'http://localhost:4321',
      'http://127.0.0.1:4321',
      'http://localhost:5173',
      'http://127.0.0.1:5173',
    ])
    expect(policy.isAllowed('http://localhost:4321')).toBe(true)
    expect(policy.isAllowed('http://localhost:4322')).toBe(false)
    expect(policy.isAllowed(undefined)).toBe(true)
  })

  it('uses ALLOWED_ORIGINS when given, instead of the defaults', () => {
    const policy = new OriginPolicy(parseOriginList(' https://app.talemy.test/ , http://x.test '))
    policy.useDefaultsFor(3000)
    expect(policy.isAllowed('https://app.talemy.test')).toBe(true)
    expect(policy.isAllowed('http://localhost:3000')).toBe(false)
    expect(parseOriginList('')).toBeUndefined()
  })

  it.each([
    ['app.talemy.test', 'no scheme'],
    ['https://app.talemy.test/app', 'a path'],
    ['*', 'a wildcard'],
    ['ftp://app.talemy.test', 'not http(s)'],
  ])('refuses ALLOWED_ORIGINS=%s (%s), which no browser would ever match, naming it', (given) => {
    expect(() => parseOriginList(`https://ok.talemy.test,${given}`)).toThrow(
      `ALLOWED_ORIGINS: ${JSON.stringify(given)} is not an origin`,
    )
  })

  it('reads an origin with its default port as browsers send it', () => {
    const policy = new OriginPolicy(parseOriginList('https://app.talemy.test:443,http://x.test:80'))
    expect(policy.isAllowed('https://app.talemy.test')).toBe(true)
    expect(policy.isAllowed('http://x.test')).toBe(true)
  })
})

describe('othersFirst', () => {
  const event = (userId: string, offset: number, name: LoggedEvent['event']): LoggedEvent => ({
    userId,
    offset,
    event: name,
    payload: {},
  })

  it("puts the sender's events last and keeps each user's order", () => {
    const aSent = event('a', 7, 'message:sent')
    const aSeen = event('a', 8, 'conversation:seen')
    const bNew = event('b', 3, 'message:new')
    const bRead = event('b', 4, 'conversation:read')
    const cNew = event('c', 9, 'message:new')
    expect(othersFirst([aSent, aSeen, bNew, bRead, cNew], 'a')).toEqual([bNew, bRead, cNew, aSent, aSeen])
    expect(othersFirst([bNew, aSent, bRead, aSeen], 'a')).toEqual([bNew, bRead, aSent, aSeen])
  })

  it('leaves events without the sender as they are, in a new array', () => {
    const events = [event('b', 1, 'message:new'), event('c', 1, 'message:new')]
    const result = othersFirst(events, 'a')
    expect(result).toEqual(events)
    expect(result).not.toBe(events)
    expect(othersFirst([], 'a')).toEqual([])
  })
})

describe('settersOf: the roles that may set a status, from whichever status', () => {
  it.each([
    [LESSON_TRANSITIONS, 'confirmed', ['tutor']],
    [LESSON_TRANSITIONS, 'completed', ['tutor']],
    [LESSON_TRANSITIONS, 'cancelled', ['tutor', 'student']],
    [LESSON_TRANSITIONS, 'pending', []],
    [CONTACT_REQUEST_TRANSITIONS, 'accepted', ['tutor']],
    [CONTACT_REQUEST_TRANSITIONS, 'pending', []],
  ] as const)('%#: %s', (table, status, roles) => {
    expect(settersOf(table as never, status)).toEqual(roles)
  })
})
