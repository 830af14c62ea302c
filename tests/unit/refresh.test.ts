import { describe, expect, test } from 'vitest'
import { api, loggedIn, loggedOut, REFRESH_STORAGE_KEY, saveRefreshToken, tokenRefreshed } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { sendMessage, selectConnection, selectPendingMessages, connect } from '../../src/realtime'
import { outboxStorageKey } from '../../src/realtime'
import { errorCode } from '../../src/features/shared/errors'
import { failedForWantOfServer } from '../../src/realtime/failedReads'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob, message } from './support/fixtures'
import { httpStubPerTest, type StubReply, type StubRequest } from './support/httpStub'

// Token refresh: a 401 (HTTP) or a refused handshake → one POST /api/auth/refresh for every caller of the moment
// (single flight), then the request is retried / the socket reconnects; a refused refresh → unauthorized, outbox kept.

let reply: (req: StubRequest) => StubReply | Promise<StubReply>
const stub = httpStubPerTest((req) => reply(req))

const auth = (req: StubRequest) => req.headers.authorization
const unauthorized: StubReply = { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'expired' } } }

function setup(storage = createMemoryStorage(), fetchFn?: typeof fetch) {
  // A session as a login leaves it: the access token in the state, the refresh token in storage only.
  saveRefreshToken(storage, alice.id, 'refresh-old')
  const sockets = fakeSockets()
  const actions: { type: string }[] = []
  const store = trackedStore({
    apiUrl: stub.url,
    createSocket: sockets.createSocket,
    storage,
    ...(fetchFn ? { fetchFn } : {}),
    preloadedState: { auth: { token: 'old', user: alice } },
    extraMiddleware: [
      () => (next) => (action) => (
        typeof action === 'object' && actions.push(action as { type: string }), next(action)
      ),
    ],
  })
  return { store, sockets, actions, storage }
}

describe('single-flight refresh', () => {
  test('five concurrent 401s and a refused handshake share one refresh; each request is retried with the new token', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    reply = async (req) => {
      if (req.url === '/api/auth/refresh') {
        await gate
        return { status: 200, body: { token: 'new', refreshToken: 'refresh-new', user: alice } }
      }
      if (auth(req) !== 'Bearer new') return unauthorized
      return { status: 200, body: [] }
    }
    const { store, sockets, actions, storage } = setup()
    const queries = [
      store.dispatch(api.endpoints.getLessons.initiate()),
      store.dispatch(api.endpoints.getConversations.initiate()),
      store.dispatch(api.endpoints.getContactRequests.initiate()),
      store.dispatch(api.endpoints.getUsers.initiate()),
      store.dispatch(api.endpoints.getMessages.initiate('c1')),
    ]
    await eventually(() => expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(1))
    sockets.last.serverRefuse('UNAUTHORIZED')
    // Every request got its 401 while the refresh is held (the socket's refresh joined it synchronously).
    await eventually(() => expect(stub.requests.filter((r) => r.method === 'GET')).toHaveLength(5))
    release()
    const results = await Promise.all(queries)
    expect(results.map((r) => r.isSuccess)).toEqual([true, true, true, true, true])
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(1)
    // The refresh token goes in the body (the access token is no refresh credential), and the next one is stored.
    expect(stub.requests.find((r) => r.url === '/api/auth/refresh')?.body).toEqual({ refreshToken: 'refresh-old' })
    expect(JSON.parse(storage.getItem(REFRESH_STORAGE_KEY) ?? 'null')).toEqual({
      userId: alice.id,
      refreshToken: 'refresh-new',
    })
    expect(actions.filter((a) => a.type === 'auth/tokenRefreshed')).toHaveLength(1)
    expect(store.getState().auth.token).toBe('new')
    // The refused socket reconnects with the new token.
    expect(sockets.last.connectCalls).toBe(2)
    expect(sockets.last.handshakeToken()).toBe('new')
    for (const q of queries) q.unsubscribe()
  })

  test('a request whose token was refreshed meanwhile is only retried, not refreshed again', async () => {
    reply = (req) =>
      req.url === '/api/auth/refresh'
        ? { status: 500 }
        : auth(req) === 'Bearer new'
          ? { status: 200, body: [] }
          : unauthorized
    const { store } = setup()
    const pending = store.dispatch(api.endpoints.getLessons.initiate())
    store.dispatch({ type: 'auth/tokenRefreshed', payload: { token: 'new' } })
    const result = await pending
    // Either it left with the new token already, or its 401 found a newer token and retried without a refresh.
    expect(result.isSuccess).toBe(true)
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(0)
    pending.unsubscribe()
  })

  test('the login itself is never "refreshed" (a wrong password stays a 401)', async () => {
    reply = () => unauthorized
    const { store } = setup()
    const result = await store.dispatch(api.endpoints.login.initiate({ email: 'x', password: 'y' }))
    expect('error' in result && (result.error as { status: number }).status).toBe(401)
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(0)
  })

  test('a refused refresh → unauthorized; the unsent messages stay (memory and storage) until that user logs in again', async () => {
    reply = (req) =>
      req.url === '/api/auth/login'
        ? { status: 200, body: { token: 'fresh', user: alice } }
        : req.method === 'POST' && req.url.endsWith('/messages') && auth(req) === 'Bearer fresh'
          ? {
              status: 201,
              body: {
                id: 'm9',
                conversationId: 'c1',
                seq: 9,
                senderId: alice.id,
                content: (req.body as { content: string }).content,
                createdAt: '2026-11-24T08:00:00.000Z',
                clientId: (req.body as { clientId: string }).clientId,
              },
            }
          : unauthorized
    const { store, actions, storage, sockets } = setup()
    store.dispatch(sendMessage({ conversationId: 'c1', content: 'kept for later', clientId: 'k1' }))
    await eventually(() => expect(selectConnection(store.getState()).status).toBe('unauthorized'))
    expect(actions.filter((a) => a.type === 'auth/refreshFailed')).toHaveLength(1)
    expect(selectPendingMessages(store.getState()).map((m) => m.clientId)).toEqual(['k1'])
    expect(JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]')).toHaveLength(1)
    // No busy loop while unauthorized.
    const posts = stub.requests.length
    await new Promise((r) => setTimeout(r, 300))
    expect(stub.requests.length).toBe(posts)
    store.dispatch(connect())
    expect(sockets.sockets).toHaveLength(1)

    await store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
    await eventually(() => expect(selectPendingMessages(store.getState())).toEqual([]))
    expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull()
  })
})

// A request's 401 answered after its token changed is retried (another caller refreshed): only while the store's user
// is the one it was made for. Another tab's login as Bob (this tab follows: loggedOut({ keepOutbox }), loggedIn(bob))
// must not turn Alice's request into Bob's. The logout's reset aborts her requests in flight, and a fetch that honours
// the abort stops there; the base query does not count on it: here the fetch answers anyway.
describe('a 401 that comes back after the token changed', () => {
  const deafToAbort: typeof fetch = (input, init) => fetch(new Request(input, { ...init, signal: null }))
  /** The first request to `path` is held until `answer()`, then gets a 401; the others get `later`. */
  function holdFirst(path: string, later: (req: StubRequest) => StubReply) {
    let answer: () => void = () => {}
    const gate = new Promise<void>((r) => (answer = r))
    let first = true
    reply = async (req) => {
      if (!first || !req.url.startsWith(path)) return later(req)
      first = false
      await gate
      return unauthorized
    }
    const held = () => eventually(() => expect(first).toBe(false))
    return { answer, held }
  }
  const sent = (path: string) => stub.requests.filter((r) => r.url === path).map(auth)
  /**
   * A fetch deaf to aborts (as `deafToAbort`) that notes each request with its token as the page makes it (`made`), and
   * counts the answers to `path` it has handed over: it reads each one itself, so that what the page does with one (a
   * retry or a refresh: at once, no timer between) is done by the time it is counted.
   */
  function watching(path: string) {
    const made: { path: string; auth: string | null }[] = []
    let handed = 0
    const fetchFn: typeof fetch = async (input, init) => {
      const request = new Request(input, { ...init, signal: null })
      const { pathname } = new URL(request.url)
      made.push({ path: pathname, auth: request.headers.get('authorization') })
      if (pathname !== path) return fetch(request)
      const response = await fetch(request)
      const body = await response.text()
      handed++
      return new Response(body, { status: response.status, headers: response.headers })
    }
    return {
      fetchFn,
      made: (to = path) => made.filter((request) => request.path === to).map((request) => request.auth),
      handed: () => handed,
    }
  }
  const switchTo = (store: ReturnType<typeof setup>['store'], token: string, user: typeof alice) => {
    store.dispatch(loggedOut({ keepOutbox: true }))
    store.dispatch(loggedIn({ token, user }))
  }

  test('a token refreshed for the same user meanwhile: retried with it, without a refresh', async () => {
    const { answer, held } = holdFirst('/api/lessons', () => ({ status: 200, body: [] }))
    const { store } = setup(undefined, deafToAbort)
    const pending = store.dispatch(api.endpoints.getLessons.initiate())
    await held()
    store.dispatch(tokenRefreshed({ token: 'new' }))
    answer()
    expect((await pending).isSuccess).toBe(true)
    expect(stub.requests.map((r) => [r.url, auth(r)])).toEqual([
      ['/api/lessons', 'Bearer old'],
      ['/api/lessons', 'Bearer new'],
    ])
    pending.unsubscribe()
  })

  test("another user's token: Alice's request is neither retried with it nor refreshed", async () => {
    const { answer, held } = holdFirst('/api/lessons', () => ({ status: 200, body: [] }))
    const lessons = watching('/api/lessons')
    const { store } = setup(undefined, lessons.fetchFn)
    const pending = store.dispatch(api.endpoints.getLessons.initiate())
    await held()
    switchTo(store, 'bob-token', bob)
    answer()
    // Not `pending`: the reset of Bob's login ends it at once, before the held answer has come back.
    await eventually(() => expect(lessons.handed()).toBeGreaterThanOrEqual(1))
    expect(lessons.made()).toEqual(['Bearer old'])
    expect(lessons.made('/api/auth/refresh')).toEqual([])
    expect(sent('/api/lessons')).toEqual(['Bearer old'])
    expect(sent('/api/auth/refresh')).toEqual([])
    pending.unsubscribe()
  })

  test("Alice's HTTP send is never posted with Bob's token: it waits in her stored outbox for her next login", async () => {
    const path = '/api/conversations/c1/messages'
    const { answer, held } = holdFirst(path, (req) =>
      auth(req) === 'Bearer alice-2' && req.url === path
        ? { status: 201, body: message(9, { senderId: alice.id, clientId: 'k1', content: "Alice's words" }) }
        : unauthorized,
    )
    const posts = watching(path)
    const { store, storage } = setup(undefined, posts.fetchFn)
    // The socket never connects: the send goes over HTTP at once.
    store.dispatch(sendMessage({ conversationId: 'c1', content: "Alice's words", clientId: 'k1' }))
    await held()
    switchTo(store, 'bob-token', bob)
    answer()
    await eventually(() => expect(posts.handed()).toBeGreaterThanOrEqual(1))
    expect(posts.made()).toEqual(['Bearer old'])
    expect(posts.made('/api/auth/refresh')).toEqual([])
    expect(sent(path)).toEqual(['Bearer old'])
    expect(selectPendingMessages(store.getState())).toEqual([])
    expect(JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]')).toMatchObject([{ clientId: 'k1' }])
    // Back to Alice: sent once, with her token.
    switchTo(store, 'alice-2', alice)
    await eventually(() => expect(storage.getItem(outboxStorageKey(alice.id))).toBeNull())
    expect(posts.made()).toEqual(['Bearer old', 'Bearer alice-2'])
    expect(sent(path)).toEqual(['Bearer old', 'Bearer alice-2'])
  })
})

// Review F: an expired token's 401 whose refresh got no answer (the server could not check the session, its database
// away: INTERNAL; or the network gone between the two requests) is no refusal, the session stays: the request failed
// for want of the server. It came back as the 401 itself, so the page said "Your session has ended. Log in again."
// (with no "Log in again" to press: the session had not ended), and the read was never made again once the server was
// back (only reads that failed for want of it are).
describe('a 401 whose refresh got no answer', () => {
  test.each([
    [
      'the refresh answered 500',
      (): StubReply => ({ status: 500, body: { error: { code: 'INTERNAL', message: 'db' } } }),
    ],
    ['a gateway answered the refresh 503', (): StubReply => ({ status: 503 })],
  ])('%s: the request failed for want of the server, not for the session', async (_name, refreshReply) => {
    reply = (req) => (req.url === '/api/auth/refresh' ? refreshReply() : unauthorized)
    const { store, actions } = setup()
    const query = store.dispatch(api.endpoints.getLessons.initiate())
    const result = await query
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(1)
    expect(actions.filter((a) => a.type === 'auth/refreshFailed')).toHaveLength(0)
    expect(failedForWantOfServer(result.error)).toBe(true)
    expect(errorCode(result.error)).not.toBe('UNAUTHORIZED')
    query.unsubscribe()
  })

  test('a refused refresh keeps the 401: the session has ended', async () => {
    reply = () => unauthorized
    const { store } = setup()
    const query = store.dispatch(api.endpoints.getLessons.initiate())
    const result = await query
    expect(errorCode(result.error)).toBe('UNAUTHORIZED')
    expect(failedForWantOfServer(result.error)).toBe(false)
    query.unsubscribe()
  })
})
