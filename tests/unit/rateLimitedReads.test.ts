import { afterEach, describe, expect, test, vi } from 'vitest'
import { api, loggedIn, READ_RETRIES_WHEN_RATE_LIMITED } from '../../src/api'
import { trackedStore } from '../support/trackedStores'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob } from './support/fixtures'
import { httpStubPerTest, type StubReply, type StubRequest } from './support/httpStub'

// A read the server refused for its rate (429 RATE_LIMITED, past the per-user read budget) is made again after the
// wait the server asked for, a few times; a write never is, nor a read once another user has logged in.

let reply: (req: StubRequest) => StubReply | Promise<StubReply>
const stub = httpStubPerTest((req) => reply(req))

const rateLimited = (retryAfterMs?: number, headers?: Record<string, string>): StubReply => ({
  status: 429,
  body: { error: { code: 'RATE_LIMITED', message: 'too many requests, slow down', retryAfterMs } },
  headers,
})

function setup() {
  return trackedStore({
    apiUrl: stub.url,
    createSocket: fakeSockets().createSocket,
    preloadedState: { auth: { token: 't', user: alice } },
  })
}

const gets = () => stub.requests.filter((r) => r.method === 'GET')

/** `Math.random` answering `values` in turn (then again): the retries' spread, made the same at every run. */
const randomAnswers = (...values: number[]) => {
  let next = 0
  vi.spyOn(Math, 'random').mockImplementation(() => values[next++ % values.length]!)
}
afterEach(() => {
  vi.restoreAllMocks()
})

/**
 * A store whose read of the lessons the server has refused once for its rate (each answer asks for 100 ms), and the
 * read's end as RTK Query dispatches it: at once when the read is given up (a retry would then not go out).
 */
async function lessonsReadRefused() {
  reply = () => rateLimited(100)
  const ended: string[] = []
  const store = trackedStore({
    apiUrl: stub.url,
    createSocket: fakeSockets().createSocket,
    preloadedState: { auth: { token: 't', user: alice } },
    extraMiddleware: [
      () => (next) => (action) => {
        if (api.endpoints.getLessons.matchFulfilled(action) || api.endpoints.getLessons.matchRejected(action))
          ended.push(action.type)
        return next(action)
      },
    ],
  })
  void store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
  await eventually(() => expect(gets()).toHaveLength(1))
  return { store, ended }
}

describe('a read refused for its rate', () => {
  test('is made again after the wait the server asked for, and fills the page', async () => {
    let refusals = 2
    randomAnswers(0) // no spread: the wait asked for, exactly
    const askedAt: number[] = []
    reply = () => {
      askedAt.push(performance.now())
      return refusals-- > 0 ? rateLimited(40) : { status: 200, body: [] }
    }
    const store = setup()
    const query = store.dispatch(api.endpoints.getLessons.initiate())
    const result = await query
    expect(result.isSuccess).toBe(true)
    expect(result.data).toEqual([])
    expect(gets()).toHaveLength(3)
    // Each again only once the wait asked for had passed (a lower bound: a busy machine waits longer, never shorter).
    expect(askedAt[1]! - askedAt[0]!).toBeGreaterThanOrEqual(39)
    expect(askedAt[2]! - askedAt[1]!).toBeGreaterThanOrEqual(39)
    query.unsubscribe()
  })

  test("a page's reads refused together all come back, not all for the one read the budget has again", async () => {
    // The server's budget (20 reads a second), spent: each refusal asks for the wait until it has one read again.
    const perSecond = 20
    let start: number | undefined
    let taken = 0
    reply = (req) => {
      start ??= performance.now()
      const tokens = ((performance.now() - start) / 1000) * perSecond - taken
      if (tokens < 1) return rateLimited(Math.max(1, Math.ceil(((1 - tokens) / perSecond) * 1000)))
      taken++
      return { status: 200, body: req.url === '/api/me' ? alice : [] }
    }
    randomAnswers(1 / 12, 3 / 12, 5 / 12, 7 / 12, 9 / 12, 11 / 12)
    const store = setup()
    const { getMe, getUsers, getConversations, getLessons, getContactRequests, getMessages } = api.endpoints
    const results = await Promise.all([
      store.dispatch(getMe.initiate(undefined, { subscribe: false })),
      store.dispatch(getUsers.initiate(undefined, { subscribe: false })),
      store.dispatch(getConversations.initiate(undefined, { subscribe: false })),
      store.dispatch(getLessons.initiate(undefined, { subscribe: false })),
      store.dispatch(getContactRequests.initiate(undefined, { subscribe: false })),
      store.dispatch(getMessages.initiate('c1', { subscribe: false })),
    ])
    expect(results.map((r) => r.status)).toEqual(Array(6).fill('fulfilled'))
  })

  test('takes the wait from Retry-After when the body has none', async () => {
    let refusals = 1
    reply = () => (refusals-- > 0 ? rateLimited(undefined, { 'retry-after': '0' }) : { status: 200, body: [] })
    const store = setup()
    const result = await store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
    expect(result.isSuccess).toBe(true)
    expect(gets()).toHaveLength(2)
  })

  test("takes the wait from Retry-After when the body is no JSON at all (a proxy's page)", async () => {
    let refusals = 1
    reply = () =>
      refusals-- > 0
        ? { status: 429, text: '<html>Too Many Requests</html>', headers: { 'retry-after': '0' } }
        : { status: 200, body: [] }
    const store = setup()
    const result = await store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
    expect(result.isSuccess).toBe(true)
    expect(gets()).toHaveLength(2)
  })

  test('reads Retry-After given as an HTTP date: a minute ahead is longer than a page should hang', async () => {
    reply = () => rateLimited(undefined, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() })
    const store = setup()
    const result = await store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
    expect(result.isError).toBe(true)
    expect(gets()).toHaveLength(1)
  })

  test("reads a Retry-After date by the clock that wrote it (the answer's Date), not this browser's", async () => {
    // This browser's clock is a minute behind the server's: the date, a second after the answer's, is a second away.
    let refusals = 1
    reply = () => {
      const serverNow = Date.now() + 60_000
      const headers = {
        date: new Date(serverNow).toUTCString(),
        'retry-after': new Date(serverNow + 1_000).toUTCString(),
      }
      return refusals-- > 0 ? rateLimited(undefined, headers) : { status: 200, body: [] }
    }
    randomAnswers(0)
    const store = setup()
    const result = await store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
    expect(result.isSuccess).toBe(true)
    expect(gets()).toHaveLength(2)
  })

  test.each(['5, 6', '1 2', '1.5.0', '-1'])(
    'takes Retry-After %j, neither seconds nor an HTTP date, as 1 s (not as a date the lenient parser makes of it)',
    async (header) => {
      let refusals = 1
      const askedAt: number[] = []
      reply = () => {
        askedAt.push(performance.now())
        return refusals-- > 0 ? rateLimited(undefined, { 'retry-after': header }) : { status: 200, body: [] }
      }
      randomAnswers(0)
      const store = setup()
      const result = await store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
      expect(result.isSuccess).toBe(true)
      // A lower bound: a busy machine waits longer, never shorter.
      expect(askedAt[1]! - askedAt[0]!).toBeGreaterThanOrEqual(999)
    },
  )

  test('fails with RATE_LIMITED once the tries are spent, having asked no more than that', async () => {
    reply = () => rateLimited(5)
    randomAnswers(0)
    const store = setup()
    const result = await store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
    expect(result.isError).toBe(true)
    expect(result.error).toMatchObject({ status: 429, data: { error: { code: 'RATE_LIMITED' } } })
    expect(gets()).toHaveLength(1 + READ_RETRIES_WHEN_RATE_LIMITED)
  })

  test('is not waited for when the wait is longer than a page should hang: it fails at once', async () => {
    reply = () => rateLimited(60_000)
    const store = setup()
    const result = await store.dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false }))
    expect(result.isError).toBe(true)
    expect(gets()).toHaveLength(1)
  })

  test('is given up, not made again, when another user logs in meanwhile', async () => {
    const { store, ended } = await lessonsReadRefused()
    store.dispatch(loggedIn({ token: 'bobs', user: bob }))
    await eventually(() => expect(ended).toHaveLength(1))
    expect(gets()).toHaveLength(1)
    expect(gets()[0]!.headers.authorization).toBe('Bearer t')
  })

  test('is given up, not made again, once the store is disposed (a page going away, a test ending)', async () => {
    const { store, ended } = await lessonsReadRefused()
    store.dispose()
    await eventually(() => expect(ended).toHaveLength(1))
    expect(gets()).toHaveLength(1)
  })

  test('a write refused for its rate is not made again: the caller decides (a login, a send)', async () => {
    reply = () => rateLimited(5)
    const store = setup()
    const result = await store.dispatch(
      api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'wrong' }, { track: false }),
    )
    expect('error' in result && result.error).toMatchObject({ status: 429 })
    expect(stub.requests.filter((r) => r.method === 'POST')).toHaveLength(1)
  })
})
