import { describe, expect, test, vi } from 'vitest'
import {
  api,
  clearRefreshToken,
  loadRefreshToken,
  REFRESH_STORAGE_KEY,
  refreshDueAt,
  refreshSession,
  sameSession,
  saveAuth,
  saveRefreshToken,
  tokenLifetime,
  tokenSessionId,
} from '../../src/api'
import { loggedIn, loggedOut, tokenRefreshed } from '../../src/app/authSlice'
import { createMemoryLock, manualRetryTriggers, retryNow, selectPendingMessages, sendMessage } from '../../src/realtime'
import { createMemoryStorage, type RealtimeOptions } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob, jwt, message } from './support/fixtures'
import { httpStubPerTest, type StubReply, type StubRequest } from './support/httpStub'
import { json } from './support/responses'
import { refusingStorage } from './support/refusingStorage'

// The browser's session code: the token's lifetime read from the JWT, the refresh scheduled at 80% of it through the
// injected timers, a live socket renewed in place with `session:renew`, and the logout.

test.each([
  ['a JWT with a sid', jwt({ sid: 's1', exp: 2 }), 's1'],
  ['a JWT without one', jwt({ exp: 2 }), null],
  ['an empty sid', jwt({ sid: '' }), null],
  ['a sid that is not a string', jwt({ sid: 7 }), null],
  ['not a JWT', 'alice-1', null],
  ['a payload that is not JSON', 'a.b.c', null],
  ['no token', null, null],
])('tokenSessionId of %s', (_, token, sid) => {
  expect(tokenSessionId(token)).toBe(sid)
})

describe('tokenLifetime and refreshDueAt', () => {
  test.each([
    ['iat and exp', jwt({ iat: 1000, exp: 1900 }), { issuedAt: 1_000_000, expiresAt: 1_900_000 }, 1_720_000],
    [
      'exp only (due at once: nothing says when it began)',
      jwt({ exp: 1900 }),
      { issuedAt: 1_900_000, expiresAt: 1_900_000 },
      1_900_000,
    ],
    ['no exp', jwt({ iat: 1000 }), null, null],
    ['not a JWT', 'opaque', null, null],
    ['a payload that is not JSON', 'a.b.c', null, null],
    ['nothing', null, null, null],
  ])('%s', (_name, token, lifetime, due) => {
    expect(tokenLifetime(token)).toEqual(lifetime)
    expect(refreshDueAt(token)).toBe(due)
  })
})

describe('refresh token storage', () => {
  test('kept per user: another user gets nothing, and clearing is left to the session code', () => {
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'r1')
    expect(loadRefreshToken(storage, alice.id)).toBe('r1')
    expect(loadRefreshToken(storage, bob.id)).toBeNull()
    expect(loadRefreshToken(storage, null)).toBeNull()
    storage.setItem(REFRESH_STORAGE_KEY, '{not json')
    expect(loadRefreshToken(storage, alice.id)).toBeNull()
  })

  test("kept per session too: another session of the same user's is neither handed out nor cleared by this one", () => {
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'r-new', 'session-new')
    expect(loadRefreshToken(storage, alice.id, 'session-new')).toBe('r-new')
    expect(loadRefreshToken(storage, alice.id, 'session-old')).toBeNull()
    // Asked without a session (a token that names none): the user's, as before.
    expect(loadRefreshToken(storage, alice.id)).toBe('r-new')
    clearRefreshToken(storage, alice.id, 'session-old')
    expect(loadRefreshToken(storage, alice.id, 'session-new')).toBe('r-new')
    clearRefreshToken(storage, alice.id, 'session-new')
    expect(loadRefreshToken(storage, alice.id)).toBeNull()
  })

  test('an entry stored before sessions were noted (no session id) is still read and cleared', () => {
    const storage = createMemoryStorage()
    storage.setItem(REFRESH_STORAGE_KEY, JSON.stringify({ userId: alice.id, refreshToken: 'r-old-format' }))
    expect(loadRefreshToken(storage, alice.id, 'session-1')).toBe('r-old-format')
    expect(loadRefreshToken(storage, bob.id, 'session-1')).toBeNull()
    clearRefreshToken(storage, alice.id, 'session-1')
    expect(storage.getItem(REFRESH_STORAGE_KEY)).toBeNull()
  })

  test("sameSession: by the tokens' sid; a token that names none is taken for the same", () => {
    expect(sameSession(jwt({ sid: 's1' }), jwt({ sid: 's1' }))).toBe(true)
    expect(sameSession(jwt({ sid: 's1' }), jwt({ sid: 's2' }))).toBe(false)
    expect(sameSession(jwt({ sub: 'u' }), jwt({ sid: 's2' }))).toBe(true)
    expect(sameSession(null, jwt({ sid: 's2' }))).toBe(true)
  })
})

/** Timers driven by the test: what was scheduled, and a way to fire it. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>()
  let next = 1
  return {
    pending,
    setTimeout(callback: () => void, ms: number) {
      pending.set(next, { callback, ms })
      return next++
    },
    clearTimeout(handle: unknown) {
      pending.delete(handle as number)
    },
    /** The delays of the timers waiting now. */
    delays: () => [...pending.values()].map((t) => t.ms),
    fireAll() {
      const due = [...pending.entries()]
      pending.clear()
      for (const [, t] of due) t.callback()
    },
  }
}

describe('the scheduled refresh and the socket renewal', () => {
  let reply: (req: StubRequest) => StubReply
  const stub = httpStubPerTest((req) => reply(req))

  const NOW = 1_800_000_000_000
  const first = jwt({ sub: alice.id, iat: NOW / 1000, exp: NOW / 1000 + 900 })
  const second = jwt({ sub: alice.id, iat: NOW / 1000 + 720, exp: NOW / 1000 + 1620 })
  /** The server: a refresh answered with `second`, anything else 404. */
  const refreshedToSecond = (req: StubRequest): StubReply =>
    req.url === '/api/auth/refresh'
      ? { status: 200, body: { token: second, refreshToken: 'refresh-2', user: alice } }
      : { status: 404 }

  /** `clock`: this browser's clock, when it is not the server's. */
  function setup(clock: () => number = () => NOW, realtime: RealtimeOptions = {}) {
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'refresh-1')
    const timers = manualTimers()
    const sockets = fakeSockets()
    const actions: { type: string; payload?: unknown }[] = []
    const store = trackedStore({
      apiUrl: stub.url,
      storage,
      createSocket: sockets.createSocket,
      preloadedState: { auth: { token: first, user: alice } },
      session: { now: clock, timers },
      realtime,
      extraMiddleware: [
        () => (next) => (action) => (
          typeof action === 'object' && actions.push(action as { type: string }), next(action)
        ),
      ],
    })
    return { store, storage, timers, sockets, actions }
  }

  test('at 80% of the token’s life: one refresh, the next token is scheduled in turn, the live socket is renewed in place', async () => {
    reply = refreshedToSecond
    const { store, storage, timers, sockets, actions } = setup()
    expect(timers.delays()).toEqual([720_000]) // 0.8 × 900 s, from the restored session
    sockets.last.serverConnect('sock-1')

    timers.fireAll()
    await eventually(() => expect(store.getState().auth.token).toBe(second))
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh').map((r) => r.body)).toEqual([
      { refreshToken: 'refresh-1' },
    ])
    expect(loadRefreshToken(storage, alice.id)).toBe('refresh-2')
    // The next one: 80% into the new token's life from its arrival (the server issued it 720 s after the first one,
    // and the injected clock did not move: this browser's clock is taken to be 720 s behind the server's), less the
    // second `iat` cannot tell.
    expect(timers.delays()).toEqual([719_000])
    // Renewed, not reconnected: `session:renew` with the new token on the same socket.
    expect(sockets.last.sent('session:renew').map((p) => p.args)).toEqual([[{ token: second }]])
    expect(sockets.sockets).toHaveLength(1)
    expect(sockets.last.connectCalls).toBe(1)
    sockets.last.sent('session:renew')[0]!.ack({ ok: true, data: null })
    // A refusal of a renewal is visible, and changes nothing else.
    store.dispatch(tokenRefreshed({ token: second }))
    sockets.last.sent('session:renew')[1]!.ack({ ok: false, error: { code: 'UNAUTHORIZED', message: 'session ended' } })
    await eventually(() => expect(actions.filter((a) => a.type === 'socket/renewFailed')).toHaveLength(1))
    expect(store.getState().socket.connection.status).toBe('connected')
  })

  test('a renewal that got no answer, or that the server could not check, goes again on the same socket', async () => {
    // The fake socket's ack timeouts on the test's clock, and the layer's own timers driven here (the token refresh's
    // are not involved); no jitter: each retry goes once its timer is fired.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const layerTimers = manualTimers()
      const { store, sockets, actions } = setup(() => NOW, {
        ackTimeoutMs: 5_000,
        timers: layerTimers,
        random: () => 0,
      })
      sockets.last.serverConnect('sock-1')
      store.dispatch(tokenRefreshed({ token: second }))
      // No answer within the ack timeout: the socket would otherwise keep its old token until the server ends it at
      // its expiry (a kick, a refresh that rotates once more, "reconnecting…").
      await vi.advanceTimersByTimeAsync(5_000)
      layerTimers.fireAll()
      expect(sockets.last.sent('session:renew').map((p) => p.args)).toEqual([[{ token: second }], [{ token: second }]])
      // The server could not check the session (its database): not a refusal of the token, tried again too.
      sockets.last.sent('session:renew')[1]!.ack({ ok: false, error: { code: 'INTERNAL', message: 'try again' } })
      await vi.advanceTimersByTimeAsync(0)
      layerTimers.fireAll()
      expect(sockets.last.sent('session:renew')).toHaveLength(3)
      sockets.last.sent('session:renew')[2]!.ack({ ok: true, data: null })
      await vi.advanceTimersByTimeAsync(5_000)
      layerTimers.fireAll()
      expect(sockets.last.sent('session:renew')).toHaveLength(3)
      expect(actions.filter((a) => a.type === 'socket/renewFailed')).toEqual([])
      expect(sockets.sockets).toHaveLength(1)
      expect(store.getState().socket.connection.status).toBe('connected')
    } finally {
      vi.useRealTimers()
    }
  })

  test('a renewal that got no answer is not tried again once its token is not the latest, nor after the drop', async () => {
    // The fake socket's ack timeouts on the test's clock: each one fires when the test moves it on.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const layerTimers = manualTimers()
      const { store, sockets } = setup(() => NOW, { ackTimeoutMs: 5, timers: layerTimers, random: () => 0 })
      sockets.last.serverConnect('sock-1')
      const third = jwt({ sub: alice.id, iat: NOW / 1000 + 1440, exp: NOW / 1000 + 2340 })
      store.dispatch(tokenRefreshed({ token: second }))
      store.dispatch(tokenRefreshed({ token: third }))
      sockets.last.sent('session:renew')[1]!.ack({ ok: true, data: null })
      // The first one times out: its token is no longer the store's, and the newer one was renewed.
      await vi.advanceTimersByTimeAsync(10)
      layerTimers.fireAll()
      await vi.advanceTimersByTimeAsync(10)
      expect(sockets.last.sent('session:renew').map((p) => p.args)).toEqual([[{ token: second }], [{ token: third }]])
      // One left unanswered when the connection drops: the next handshake carries the latest token anyway.
      const fourth = jwt({ sub: alice.id, iat: NOW / 1000 + 2160, exp: NOW / 1000 + 3060 })
      store.dispatch(tokenRefreshed({ token: fourth }))
      sockets.last.serverDrop()
      await vi.advanceTimersByTimeAsync(10)
      layerTimers.fireAll()
      await vi.advanceTimersByTimeAsync(10)
      expect(sockets.last.sent('session:renew')).toHaveLength(3)
    } finally {
      vi.useRealTimers()
    }
  })

  test('a refresh whose timer stood still while the machine slept goes at the first action after the wake, once (the late timer does not go too)', async () => {
    reply = refreshedToSecond
    let clock = NOW
    const { store, timers } = setup(() => clock)
    expect(timers.delays()).toEqual([720_000])
    // Awake, before it is due: nothing goes early.
    clock = NOW + 600_000
    store.dispatch(retryNow({ reason: 'visible' }))
    expect(timers.delays()).toEqual([720_000])
    // Asleep past the token's expiry: the timer, on a clock that stood still, has not fired. The wake's first action
    // (here the network back) refreshes at once, instead of waiting for the first handshake or request refused with the
    // expired token (a handshake the same action started may still go with it, and its refusal joins this refresh).
    clock = NOW + 1_000_000
    store.dispatch(retryNow({ reason: 'online' }))
    await eventually(() => expect(store.getState().auth.token).toBe(second))
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(1)
    // The late timer does not go as well; the next token is scheduled in its turn.
    expect(timers.delays()).toHaveLength(1)
  })

  test('woken past the expiry, the refresh answered before the handshake it raced is refused: that refusal is not refreshed again', async () => {
    reply = refreshedToSecond
    let clock = NOW
    const triggers = manualRetryTriggers()
    const { store, sockets, actions } = setup(() => clock, { retryTriggers: triggers.setup, now: () => clock })
    sockets.last.serverConnect('sock-1')
    // The socket dropped while the machine slept (its token, 900 s, expired meanwhile); the drop is seen at the wake.
    clock = NOW + 1_000_000
    sockets.last.serverDrop()
    // The network back: the wake's handshake goes (with the token the store has, the expired one), and the session's
    // overdue refresh too.
    triggers.fire('online')
    expect(sockets.last.handshakeToken()).toBe(first)
    // The refresh is answered first; then the server refuses the handshake that carried the expired token.
    await eventually(() => expect(store.getState().auth.token).toBe(second))
    const handshakes = sockets.last.connectCalls
    sockets.last.serverRefuse('UNAUTHORIZED')
    // The handshake goes again, with the new token.
    await eventually(() => expect(sockets.last.connectCalls).toBe(handshakes + 1))
    expect(sockets.last.handshakeToken()).toBe(second)
    sockets.last.serverConnect('sock-2')
    expect(store.getState().socket.connection.status).toBe('connected')
    // One refresh: the token the refusal was for has been renewed already.
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(1)
    expect(actions.filter((a) => a.type === 'socket/sessionExpired')).toEqual([])
  })

  test('a browser clock an hour fast: the token looks overdue and is refreshed once, then the next is due on time (no loop)', async () => {
    const server = NOW + 60_000
    const issued = jwt({ sub: alice.id, iat: server / 1000, exp: server / 1000 + 900 })
    reply = (req) =>
      req.url === '/api/auth/refresh'
        ? { status: 200, body: { token: issued, refreshToken: 'refresh-2', user: alice } }
        : { status: 404 }
    const { store, timers } = setup(() => server + 3_600_000)
    // The restored token: nothing says yet that this clock is off, so it looks past due.
    expect(timers.delays()).toEqual([0])
    timers.fireAll()
    await eventually(() => expect(store.getState().auth.token).toBe(issued))
    // The server's fresh token tells this clock's offset: 80% of its life from now (less the second `iat` cannot
    // tell), not at once again.
    expect(timers.delays()).toEqual([719_000])
    expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(1)
  })

  test('a browser clock an hour fast: a token another tab has just saved is adopted by the server’s time, not rotated again', async () => {
    const server = NOW + 60_000
    const issued = jwt({ sub: alice.id, iat: server / 1000, exp: server / 1000 + 900 })
    const othersTab = jwt({ sub: alice.id, iat: server / 1000 + 720, exp: server / 1000 + 1620 })
    reply = (req) =>
      req.url === '/api/auth/refresh'
        ? { status: 200, body: { token: issued, refreshToken: 'refresh-2', user: alice } }
        : { status: 404 }
    // The whole browser's clock (Date.now too) an hour ahead of the server's.
    vi.useFakeTimers({ toFake: ['Date'], now: server + 3_600_000 })
    try {
      const { store, storage, timers } = setup(() => Date.now())
      timers.fireAll()
      await eventually(() => expect(store.getState().auth.token).toBe(issued))
      // 720 s on, by the server's clock: another tab refreshed and saved its token; this one's refresh comes after.
      vi.setSystemTime(server + 3_600_000 + 720_000)
      saveAuth(storage, { token: othersTab, user: alice })
      expect(await store.dispatch(refreshSession())).toBe('refreshed')
      expect(store.getState().auth.token).toBe(othersTab)
      // Only the first refresh went to the server: the other tab's token, 900 s from expiry by the server's clock, was
      // not taken for expired by this one's.
      expect(stub.requests.filter((r) => r.url === '/api/auth/refresh')).toHaveLength(1)
    } finally {
      vi.useRealTimers()
    }
  })

  test('a browser clock 5 minutes slow: a login’s token is still refreshed at 80% of its life, before it expires', async () => {
    const server = NOW
    const issued = jwt({ sub: alice.id, iat: server / 1000, exp: server / 1000 + 900 })
    reply = (req) =>
      req.url === '/api/auth/login'
        ? { status: 200, body: { token: issued, refreshToken: 'refresh-9', user: alice } }
        : { status: 404 }
    const { store, timers } = setup(() => server - 300_000)
    store.dispatch(loggedOut({ keepOutbox: true }))
    await store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
    expect(store.getState().auth.token).toBe(issued)
    expect(timers.delays()).toEqual([719_000])
  })

  test('a refused refresh stops the schedule (no loop); logout cancels it, forgets the refresh token and tells the server', async () => {
    reply = (req) =>
      req.url === '/api/auth/logout'
        ? { status: 204 }
        : { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'session ended' } } }
    const { store, storage, timers, actions } = setup()
    timers.fireAll()
    await eventually(() => expect(actions.filter((a) => a.type === 'auth/refreshFailed')).toHaveLength(1))
    store.dispatch({ type: 'socket/noop' })
    expect(timers.delays()).toEqual([])

    store.dispatch(loggedOut())
    expect(loadRefreshToken(storage, alice.id)).toBeNull()
    await eventually(() => expect(stub.requests.filter((r) => r.url === '/api/auth/logout')).toHaveLength(1))
    const logout = stub.requests.find((r) => r.url === '/api/auth/logout')!
    expect(logout.headers.authorization).toBe(`Bearer ${first}`)
    expect(logout.body).toEqual({ refreshToken: 'refresh-1' })
    expect(timers.delays()).toEqual([])
  })

  test('a logout that follows another user’s login elsewhere leaves that user’s refresh token in storage', () => {
    reply = () => ({ status: 204 })
    const { store, storage } = setup()
    saveRefreshToken(storage, bob.id, 'refresh-bob') // another tab logged in as Bob
    store.dispatch(loggedOut({ keepOutbox: true }))
    expect(loadRefreshToken(storage, bob.id)).toBe('refresh-bob')
  })
})

describe('a request the server never answers', () => {
  /** A `fetch` whose requests hang until aborted, as behind a stalled proxy; `answer` makes the next ones answer. */
  function hangingFetch() {
    let reply: ((url: string) => Response) | null = null
    const started: string[] = []
    const bodies: string[] = []
    const fetchFn = ((input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      started.push(new URL(request.url).pathname)
      void request
        .clone()
        .text()
        .then((body) => bodies.push(body))
      if (reply) return Promise.resolve(reply(new URL(request.url).pathname))
      return new Promise<Response>((_resolve, reject) =>
        request.signal.addEventListener('abort', () => reject(request.signal.reason)),
      )
    }) as typeof fetch
    return { fetchFn, started, bodies, answer: (r: (url: string) => Response) => (reply = r) }
  }

  // Valid for an hour from now: nothing else refreshes them meanwhile.
  const issuedAt = Math.floor(Date.now() / 1000)
  const token = jwt({ sub: alice.id, iat: issuedAt, exp: issuedAt + 3600 })
  const next = jwt({ sub: alice.id, iat: issuedAt + 1, exp: issuedAt + 3601 })

  test('a refresh gives up after the request timeout (unavailable, not refused), and lets the next refresh go', async () => {
    const http = hangingFetch()
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'refresh-1')
    const store = trackedStore({
      apiUrl: 'http://stalled.test',
      storage,
      fetchFn: http.fetchFn,
      createSocket: fakeSockets().createSocket,
      preloadedState: { auth: { token, user: alice } },
      requestTimeoutMs: 20,
    })
    try {
      expect(await store.dispatch(refreshSession())).toBe('unavailable')
      expect(http.started).toEqual(['/api/auth/refresh'])
      // Still signed in: no answer is not a refusal.
      expect(store.getState().auth.token).toBe(token)
      // The refresh is no longer in flight and its lock is free: the next one goes out and succeeds.
      http.answer(() => json(200, { token: next, refreshToken: 'refresh-2', user: alice }))
      expect(await store.dispatch(refreshSession())).toBe('refreshed')
      expect(store.getState().auth.token).toBe(next)
    } finally {
      store.dispose()
    }
  })

  test('a message sent over HTTP that is never answered is sent again after the timeout, and shows once', async () => {
    const http = hangingFetch()
    const sockets = fakeSockets()
    const store = trackedStore({
      apiUrl: 'http://stalled.test',
      storage: createMemoryStorage(),
      fetchFn: http.fetchFn,
      createSocket: sockets.createSocket,
      preloadedState: { auth: { token, user: alice } },
      requestTimeoutMs: 20,
      realtime: { backoff: { baseMs: 1, capMs: 5 }, retryTriggers: () => () => {} },
    })
    try {
      await store.dispatch(api.util.upsertQueryData('getMessages', 'c1', []))
      sockets.last.serverConnect()
      sockets.last.serverDrop() // the socket known to be down: the send goes over HTTP
      store.dispatch(sendMessage({ conversationId: 'c1', content: 'hello', clientId: 'k1' }))
      // The first attempt hangs until its timeout, and the send goes again (how many times by now depends on how busy
      // the machine is, so only "again" is asserted).
      await eventually(() => expect(http.started.length).toBeGreaterThanOrEqual(2))
      // The server answers the attempts from now on (it keeps one message per clientId, so an attempt that did land
      // would be answered with the same message).
      http.answer(() => json(201, message(1, { senderId: alice.id, clientId: 'k1', content: 'hello' })))
      const thread = () => api.endpoints.getMessages.select('c1')(store.getState()).data ?? []
      await eventually(() => expect(thread().map((m) => `${m.id}:${m.status ?? '-'}`)).toEqual(['m1:sent']))
      // Every attempt was the same send (the same clientId), and it is no longer pending.
      expect(new Set(http.started)).toEqual(new Set(['/api/conversations/c1/messages']))
      await eventually(() => expect(http.bodies).toHaveLength(http.started.length))
      expect(new Set(http.bodies.map((body) => (JSON.parse(body) as { clientId?: string }).clientId))).toEqual(
        new Set(['k1']),
      )
      expect(selectPendingMessages(store.getState())).toEqual([])
    } finally {
      store.dispose()
    }
  })

  test('a read gives up after the request timeout with TIMEOUT_ERROR (the page shows a network error)', async () => {
    const http = hangingFetch()
    const store = trackedStore({
      apiUrl: 'http://stalled.test',
      storage: createMemoryStorage(),
      fetchFn: http.fetchFn,
      createSocket: fakeSockets().createSocket,
      preloadedState: { auth: { token, user: alice } },
      requestTimeoutMs: 20,
    })
    try {
      const result = await store.dispatch(api.endpoints.getLessons.initiate())
      expect(result.error).toMatchObject({ status: 'TIMEOUT_ERROR' })
    } finally {
      store.dispose()
    }
  })
})

// The server rotates a refresh token at its first use; presented again within 30 s it answers with the same new pair,
// later it takes it for a stolen one and ends the session (the contract's Sessions). A refresh whose answer is lost
// (a connection that went silent, as at a network switch) is only known when the request gives up: it must give up
// early enough that the refresh made again after it still lands inside that window, or one lost answer logs the user
// out ("session expired") although a refresh would have succeeded.
describe('a refresh whose answer is lost', () => {
  const NOW = 1_800_000_000_000
  const first = jwt({ sub: alice.id, iat: NOW / 1000, exp: NOW / 1000 + 900 })
  const second = jwt({ sub: alice.id, iat: NOW / 1000 + 720, exp: NOW / 1000 + 1620 })

  /** The server's refresh, on the (fake) clock: it rotates `refresh-1` and that first answer never arrives. */
  function serverLosingTheFirstAnswer() {
    let rotatedAt: number | null = null
    const outcomes: string[] = []
    const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      if (new URL(request.url).pathname !== '/api/auth/refresh') return json(404, { error: { code: 'NOT_FOUND' } })
      const { refreshToken } = (await request.clone().json()) as { refreshToken: string }
      if (refreshToken === 'refresh-1' && rotatedAt === null) {
        rotatedAt = Date.now()
        outcomes.push('rotated, answer lost')
        return new Promise<Response>((_resolve, reject) =>
          request.signal.addEventListener('abort', () => reject(request.signal.reason)),
        )
      }
      if (refreshToken === 'refresh-1' && rotatedAt !== null && Date.now() - rotatedAt <= 30_000) {
        outcomes.push('same pair again')
        return json(200, { token: second, refreshToken: 'refresh-2', user: alice })
      }
      outcomes.push('reused: session ended')
      return json(401, { error: { code: 'UNAUTHORIZED', message: 'refresh token reused' } })
    }) as typeof fetch
    return { fetchFn, outcomes }
  }

  test('is made again inside the server’s 30 s reuse window: the session goes on and the socket is renewed', async () => {
    vi.useFakeTimers({ now: NOW })
    const server = serverLosingTheFirstAnswer()
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'refresh-1')
    const sockets = fakeSockets()
    const store = trackedStore({
      apiUrl: 'http://lossy.test',
      storage,
      fetchFn: server.fetchFn,
      createSocket: sockets.createSocket,
      preloadedState: { auth: { token: first, user: alice } },
      realtime: { retryTriggers: () => () => {} },
    })
    try {
      sockets.last.serverConnect('sock-1')
      // To the scheduled refresh (80% of 900 s), then on until the session is renewed or over.
      await vi.advanceTimersByTimeAsync(720_000)
      for (let i = 0; i < 120 && server.outcomes.length < 2; i++) await vi.advanceTimersByTimeAsync(1_000)
      expect(server.outcomes).toEqual(['rotated, answer lost', 'same pair again'])
      expect(store.getState().auth.token).toBe(second)
      expect(store.getState().socket.connection.status).toBe('connected')
      expect(sockets.last.sent('session:renew').map((p) => p.args)).toEqual([[{ token: second }]])
    } finally {
      store.dispose()
      vi.useRealTimers()
    }
  })
})

// A refresh made with the old session's token, answered only after the same user logged in again: the answer is the
// old session's. A refusal must not mark the new session as refused (`unauthorized` after a fresh login), and a new
// pair must not replace the new session's token in the store nor its refresh token in storage.
describe('a refresh answered after a new login of the same user', () => {
  function oldRefreshHeldOverANewLogin() {
    const issuedAt = Math.floor(Date.now() / 1000)
    const old = jwt({ sub: alice.id, iat: issuedAt, exp: issuedAt + 3600 })
    const fresh = jwt({ sub: alice.id, iat: issuedAt + 1, exp: issuedAt + 3601 })
    let answer: ((response: Response) => void) | null = null
    const fetchFn = (() => new Promise<Response>((resolve) => (answer = resolve))) as typeof fetch
    const storage = createMemoryStorage()
    saveRefreshToken(storage, alice.id, 'refresh-old')
    const actions: string[] = []
    const store = trackedStore({
      apiUrl: 'http://held.test',
      storage,
      fetchFn,
      createSocket: fakeSockets().createSocket,
      preloadedState: { auth: { token: old, user: alice } },
      extraMiddleware: [
        () => (next) => (action) => (
          typeof action === 'object' && actions.push((action as { type: string }).type), next(action)
        ),
      ],
    })
    return {
      store,
      storage,
      fresh,
      issuedAt,
      actions,
      /** Starts the refresh on the old token, then logs the same user in again before it is answered with `reply`. */
      refreshAnsweredAfterLogin(reply: Response) {
        return refreshAnsweredAfter(() => {
          // What the login mutation does: the new session's refresh token saved, then the session in the store.
          saveRefreshToken(storage, alice.id, 'refresh-new')
          store.dispatch(loggedIn({ token: fresh, user: alice }))
        }, reply)
      },
      /**
       * Starts the refresh on the old token; another tab's login saves `refreshToken` for `user` before it is answered
       * with `reply`, and this tab has not heard of it yet (its storage event comes later).
       */
      refreshAnsweredAfterAnotherTabsLogin(user: string, refreshToken: string, reply: Response) {
        return refreshAnsweredAfter(() => saveRefreshToken(storage, user, refreshToken), reply)
      },
      refreshAnsweredAfter,
    }

    async function refreshAnsweredAfter(meanwhile: () => void, reply: Response) {
      const outcome = store.dispatch(refreshSession())
      await eventually(() => expect(answer).not.toBeNull())
      meanwhile()
      actions.length = 0
      answer!(reply)
      return outcome
    }
  }

  test('a refusal says nothing of the new session: no auth/refreshFailed, the new token stays, the outcome is refreshed', async () => {
    const { store, fresh, actions, refreshAnsweredAfterLogin } = oldRefreshHeldOverANewLogin()
    try {
      const outcome = await refreshAnsweredAfterLogin(
        json(401, { error: { code: 'UNAUTHORIZED', message: 'session ended' } }),
      )
      expect(outcome).toBe('refreshed')
      expect(store.getState().auth.token).toBe(fresh)
      expect(actions).not.toContain('auth/refreshFailed')
    } finally {
      store.dispose()
    }
  })

  test("a new pair for the old session is dropped: the new session's token and refresh token stay", async () => {
    const { store, storage, fresh, issuedAt, actions, refreshAnsweredAfterLogin } = oldRefreshHeldOverANewLogin()
    try {
      const rotated = jwt({ sub: alice.id, iat: issuedAt + 2, exp: issuedAt + 3602 })
      const outcome = await refreshAnsweredAfterLogin(
        json(200, { token: rotated, refreshToken: 'refresh-old-2', user: alice }),
      )
      expect(outcome).toBe('refreshed')
      expect(store.getState().auth.token).toBe(fresh)
      expect(loadRefreshToken(storage, alice.id)).toBe('refresh-new')
      expect(actions).not.toContain('auth/tokenRefreshed')
      expect(actions).not.toContain('auth/refreshFailed')
    } finally {
      store.dispose()
    }
  })

  // The refresh token is one key for the browser: a login in another tab writes its own there at once, and this tab
  // hears of it (the storage event) only later. The old session's answer landing in between must not write over it.
  test.each([
    { who: 'the same user', user: alice.id },
    { who: 'another user', user: bob.id },
  ])(
    "a new pair for the old session, answered after $who logged in in another tab: that login's refresh token stays",
    async ({ user }) => {
      const { store, storage, issuedAt, refreshAnsweredAfterAnotherTabsLogin } = oldRefreshHeldOverANewLogin()
      try {
        const rotated = jwt({ sub: alice.id, iat: issuedAt + 2, exp: issuedAt + 3602 })
        await refreshAnsweredAfterAnotherTabsLogin(
          user,
          'refresh-other-tab',
          json(200, { token: rotated, refreshToken: 'refresh-old-2', user: alice }),
        )
        expect(loadRefreshToken(storage, user)).toBe('refresh-other-tab')
      } finally {
        store.dispose()
      }
    },
  )
  test('a new pair for the old session, answered after a logout in another tab: nothing of it is stored again', async () => {
    const { store, storage, issuedAt, actions, refreshAnsweredAfter } = oldRefreshHeldOverANewLogin()
    try {
      const rotated = jwt({ sub: alice.id, iat: issuedAt + 2, exp: issuedAt + 3602 })
      // What the logout there does to storage; this tab hears of it (the storage event) only later.
      await refreshAnsweredAfter(
        () => storage.removeItem(REFRESH_STORAGE_KEY),
        json(200, { token: rotated, refreshToken: 'refresh-old-2', user: alice }),
      )
      expect(storage.getItem(REFRESH_STORAGE_KEY)).toBeNull()
      expect(actions).not.toContain('auth/tokenRefreshed')
    } finally {
      store.dispose()
    }
  })

  // Not a login: a tab that gave up waiting for the refresh lock asked with the same refresh token and saved the same
  // pair the server answers this one with (its reuse window). That answer is this session's, and is taken.
  test('the same pair saved meanwhile by a tab that refreshed beside it is still taken', async () => {
    const { store, storage, issuedAt, refreshAnsweredAfterAnotherTabsLogin } = oldRefreshHeldOverANewLogin()
    try {
      const rotated = jwt({ sub: alice.id, iat: issuedAt + 2, exp: issuedAt + 3602 })
      const outcome = await refreshAnsweredAfterAnotherTabsLogin(
        alice.id,
        'refresh-old-2',
        json(200, { token: rotated, refreshToken: 'refresh-old-2', user: alice }),
      )
      expect(outcome).toBe('refreshed')
      expect(store.getState().auth.token).toBe(rotated)
      expect(loadRefreshToken(storage, alice.id)).toBe('refresh-old-2')
    } finally {
      store.dispose()
    }
  })
})

// A storage that refuses writes (full: `QuotaExceededError`; or disabled: `SecurityError`) at login: the session must
// still last the tab's life, its refresh token kept in memory.
describe('a storage that refuses to keep the refresh token', () => {
  const stub = httpStubPerTest((req) =>
    req.url === '/api/auth/login'
      ? { status: 200, body: { token: first, refreshToken: 'refresh-1', user: alice } }
      : req.url === '/api/auth/refresh' && (req.body as { refreshToken?: string }).refreshToken === 'refresh-1'
        ? { status: 200, body: { token: second, refreshToken: 'refresh-2', user: alice } }
        : req.url === '/api/auth/refresh' && (req.body as { refreshToken?: string }).refreshToken === 'refresh-2'
          ? { status: 200, body: { token: third, refreshToken: 'refresh-3', user: alice } }
          : req.url === '/api/auth/logout'
            ? { status: 204 }
            : { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'invalid refresh token' } } },
  )
  const NOW = 1_800_000_000_000
  const first = jwt({ sub: alice.id, sid: 's1', iat: NOW / 1000, exp: NOW / 1000 + 900 })
  const second = jwt({ sub: alice.id, sid: 's1', iat: NOW / 1000 + 720, exp: NOW / 1000 + 1620 })
  const third = jwt({ sub: alice.id, sid: 's1', iat: NOW / 1000 + 1440, exp: NOW / 1000 + 2340 })

  test('a login whose refresh token storage refused keeps the session in memory: the refreshes go on, the logout revokes it', async () => {
    const full = refusingStorage(true)
    const timers = manualTimers()
    const actions: string[] = []
    const store = trackedStore({
      apiUrl: stub.url,
      storage: full.storage,
      createSocket: fakeSockets().createSocket,
      session: { now: () => NOW, timers },
      extraMiddleware: [() => (next) => (action) => (actions.push((action as { type: string }).type), next(action))],
    })
    try {
      await store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
      expect(store.getState().auth.token).toBe(first)
      expect(await store.dispatch(refreshSession())).toBe('refreshed')
      expect(store.getState().auth.token).toBe(second)
      // The storage takes writes again (space freed): the rotated token goes there, and is the one used next.
      full.refusing = false
      expect(await store.dispatch(refreshSession())).toBe('refreshed')
      expect(store.getState().auth.token).toBe(third)
      expect(loadRefreshToken(full.storage, alice.id, 's1')).toBe('refresh-3')
      expect(actions).not.toContain('auth/refreshFailed')
      full.refusing = true
      store.dispatch(loggedOut())
      await eventually(() => expect(stub.requests.filter((r) => r.url === '/api/auth/logout')).toHaveLength(1))
      expect(stub.requests.find((r) => r.url === '/api/auth/logout')!.body).toEqual({ refreshToken: 'refresh-3' })
      expect(loadRefreshToken(full.storage, alice.id)).toBeNull()
    } finally {
      store.dispose()
    }
  })

  test('kept in memory while storage refuses, and never behind a stale one storage still holds', () => {
    const full = refusingStorage(false)
    saveRefreshToken(full.storage, alice.id, 'r1', 's1')
    full.refusing = true
    // The rotation cannot be written: the stale r1 would be taken for a stolen token past the reuse window.
    saveRefreshToken(full.storage, alice.id, 'r2', 's1')
    expect(loadRefreshToken(full.storage, alice.id, 's1')).toBe('r2')
    // Another tab of the session rotates it later and can write it: that one is newer.
    full.refusing = false
    saveRefreshToken(full.storage, alice.id, 'r3', 's1')
    expect(loadRefreshToken(full.storage, alice.id, 's1')).toBe('r3')
  })

  test("another user's or session's token in storage is neither removed by a refused write nor taken for this one", () => {
    const full = refusingStorage(false)
    saveRefreshToken(full.storage, bob.id, 'rb', 'sb') // Bob, logged in in another tab
    full.refusing = true
    saveRefreshToken(full.storage, alice.id, 'ra', 'sa') // Alice logs in here: refused
    expect(loadRefreshToken(full.storage, bob.id, 'sb')).toBe('rb')
    expect(loadRefreshToken(full.storage, alice.id, 'sa')).toBe('ra')
    // Another login there (Carol's), written: this tab's session is still Alice's.
    full.refusing = false
    full.backing.setItem(
      REFRESH_STORAGE_KEY,
      JSON.stringify({ userId: 'user-carol', refreshToken: 'rc', sessionId: 'sc' }),
    )
    expect(loadRefreshToken(full.storage, alice.id, 'sa')).toBe('ra')
    // Alice's logout here forgets hers and leaves Carol's.
    clearRefreshToken(full.storage, alice.id, 'sa')
    expect(loadRefreshToken(full.storage, alice.id, 'sa')).toBeNull()
    expect(loadRefreshToken(full.storage, 'user-carol', 'sc')).toBe('rc')
  })

  test('a storage that throws on every access (SecurityError) keeps it in memory too, and clears it', () => {
    const denied = {
      getItem: () => {
        throw new Error('SecurityError')
      },
      setItem: () => {
        throw new Error('SecurityError')
      },
      removeItem: () => {
        throw new Error('SecurityError')
      },
    }
    saveRefreshToken(denied, alice.id, 'r1', 's1')
    expect(loadRefreshToken(denied, alice.id, 's1')).toBe('r1')
    expect(loadRefreshToken(denied, bob.id)).toBeNull()
    clearRefreshToken(denied, alice.id, 's1')
    expect(loadRefreshToken(denied, alice.id, 's1')).toBeNull()
  })
})

// Two tabs of one browser: the one waiting for the refresh lock gives up waiting after a while and refreshes itself.
// Its wait was as long as the holder's request may last (10 s), counted from earlier (it queued before the holder's
// request went out: a tab busy after a wake), so it went ahead while the holder's answer was still on its way, with the
// refresh token that request had rotated. After a sleep longer than the server's 30 s reuse window, that is theft to
// the server: the session ended, in both tabs, although the holder's answer landed a moment later.
describe('a tab waiting for another tab’s refresh', () => {
  const NOW = 1_800_000_000_000
  const first = jwt({ sub: alice.id, iat: NOW / 1000, exp: NOW / 1000 + 900 })
  const second = jwt({ sub: alice.id, iat: NOW / 1000 + 1, exp: NOW / 1000 + 901 })

  test('does not go ahead while the holder’s request may still be answered: it adopts that answer', async () => {
    vi.useFakeTimers({ now: NOW })
    let rotatedAt: number | null = null
    const outcomes: string[] = []
    const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      if (new URL(request.url).pathname !== '/api/auth/refresh') return json(404, { error: { code: 'NOT_FOUND' } })
      const { refreshToken } = (await request.clone().json()) as { refreshToken: string }
      if (refreshToken === 'refresh-1' && rotatedAt !== null && Date.now() - rotatedAt > 30_000) {
        outcomes.push('reused: session ended')
        return json(401, { error: { code: 'UNAUTHORIZED', message: 'refresh token reused' } })
      }
      outcomes.push(`rotated ${refreshToken}`)
      return json(200, { token: second, refreshToken: 'refresh-x', user: alice })
    }) as typeof fetch
    const storage = createMemoryStorage()
    saveAuth(storage, { token: first, user: alice })
    saveRefreshToken(storage, alice.id, 'refresh-1')
    const drainLock = createMemoryLock()
    // The other tab takes the lock; this one queues 1 ms later, and the other's request goes out 50 ms after it took it.
    let releaseOther: () => void = () => {}
    drainLock.request(`talemy.refresh.${alice.id}`, (release) => (releaseOther = release))
    const store = trackedStore({
      apiUrl: 'http://tabs.test',
      storage,
      fetchFn,
      createSocket: fakeSockets().createSocket,
      preloadedState: { auth: { token: first, user: alice } },
      realtime: { drainLock, retryTriggers: () => () => {} },
    })
    try {
      await vi.advanceTimersByTimeAsync(1)
      const outcome = store.dispatch(refreshSession())
      await vi.advanceTimersByTimeAsync(49)
      rotatedAt = Date.now()
      // The machine sleeps a minute (the timers stand still), then the other tab's answer lands 9.99 s after its
      // request went out, within its 10 s timeout: it saves the new pair and lets the lock go.
      vi.setSystemTime(Date.now() + 60_000)
      await vi.advanceTimersByTimeAsync(9_990)
      saveRefreshToken(storage, alice.id, 'refresh-2')
      saveAuth(storage, { token: second, user: alice })
      releaseOther()
      await vi.advanceTimersByTimeAsync(10)
      expect(await outcome).toBe('refreshed')
      expect(outcomes).toEqual([])
      expect(store.getState().auth.token).toBe(second)
    } finally {
      store.dispose()
      vi.useRealTimers()
    }
  })
})
