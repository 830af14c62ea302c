import { rmSync } from 'node:fs'
import { io } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import {
  api,
  REFRESH_STORAGE_KEY,
  refreshDueAt,
  refreshSession,
  type ThreadMessage,
  tokenLifetime,
} from '../../src/api'
import { loggedOut } from '../../src/app/authSlice'
import { createMemoryStorage, makeStore, type StorageLike } from '../../src/app/store'
import { connected, disconnected, selectConnection, sendMessage, syncCaughtUp } from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir, http } from '../server/support/server'
import { browserStore, type BrowserStore } from './support'
import { hangBound } from '../support/hangBound'

// The browser's side of sessions against the reference server: refresh before expiry with the socket renewed in place,
// a kick for an expired token healed by itself, two tabs refreshing at once, logout, and the refresh token kept out
// of Redux entirely.

const open: BrowserStore[] = []
const servers: { server: RunningServer; dir: string }[] = []

async function serverWith(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const dir = freshDataDir()
  const server = await startServer({ port: 0, dataDir: dir, rateLimit: { perSecond: 1000, burst: 1000 }, ...options })
  servers.push({ server, dir })
  return server
}

let shared: RunningServer
beforeAll(async () => {
  shared = await serverWith()
})
afterEach(() => {
  for (const s of open.splice(0)) s.close()
})
afterAll(async () => {
  for (const { server, dir } of servers.splice(0)) {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

function tab(url: string, options: Parameters<typeof browserStore>[1] = {}): BrowserStore {
  const s = browserStore(url, options)
  open.push(s)
  return s
}

/** A storage that remembers every refresh token ever written to it. */
function recordingStorage(): StorageLike & { refreshTokens: string[] } {
  const inner = createMemoryStorage()
  const refreshTokens: string[] = []
  return {
    refreshTokens,
    getItem: (key) => inner.getItem(key),
    removeItem: (key) => inner.removeItem(key),
    setItem(key, value) {
      if (key === REFRESH_STORAGE_KEY) refreshTokens.push((JSON.parse(value) as { refreshToken: string }).refreshToken)
      inner.setItem(key, value)
    },
  }
}

/** A `fetch` that counts the refresh calls and can be made to fail them (as if offline). */
function countingFetch() {
  const state = { refreshes: 0, logouts: 0, failRefresh: false }
  const fetchFn: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.endsWith('/api/auth/refresh')) {
      state.refreshes++
      if (state.failRefresh) throw new TypeError('Failed to fetch')
    }
    if (url.endsWith('/api/auth/logout')) state.logouts++
    return fetch(input, init)
  }
  return Object.assign(state, { fetchFn })
}

const threadOf = (s: BrowserStore, id: string): ThreadMessage[] => s.thread(id)

/** A timer the session middleware scheduled, held by the test (`refreshRig`). */
type RefreshTimer = { run: () => void; ms: number }

/**
 * A server and a browser's store on one clock (`clock`, moved by the test), the session's timers in the test's hands
 * (`timers`), and a network for refreshes (`network`): `answerLost` lets the next refresh reach the server, which
 * rotates the refresh token, and loses its answer; `down` refuses refreshes.
 */
async function refreshRig(serverOptions: Parameters<typeof startServer>[0]) {
  const rig = { clock: Date.now(), network: 'up' as 'up' | 'answerLost' | 'down', timers: new Set<RefreshTimer>() }
  const server = await serverWith({ now: () => rig.clock, ...serverOptions })
  const fetchFn: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.endsWith('/api/auth/refresh') && rig.network !== 'up') {
      if (rig.network === 'answerLost') await fetch(input, init)
      rig.network = 'down'
      throw new TypeError('Failed to fetch')
    }
    return fetch(input, init)
  }
  const store = makeStore({
    apiUrl: server.url,
    storage: createMemoryStorage(),
    fetchFn,
    session: {
      now: () => rig.clock,
      timers: {
        setTimeout(run, ms) {
          const timer = { run, ms }
          rig.timers.add(timer)
          return timer
        },
        clearTimeout: (timer) => void rig.timers.delete(timer as RefreshTimer),
      },
    },
    createSocket: (url, options) => io(url, { ...options, transports: ['websocket'] }),
  })
  return Object.assign(rig, { server, store })
}

describe('a reload with an expired access token', () => {
  test('the refused handshake refreshes with the stored refresh token, and the socket connects', async () => {
    let clock = Date.now()
    const server = await serverWith({ now: () => clock, tokenTtlSeconds: 60 })
    const storage = createMemoryStorage()
    const before = tab(server.url, { storage })
    await before.login('alice@talemy.test')
    await before.until(() => before.status() === 'connected')
    before.close()
    clock += 61_000 // the server's clock: to the browser the token still looks fresh, so only the server refuses it
    const reloaded = tab(server.url, { storage })
    const expired = reloaded.store.getState().auth.token
    expect(expired).toBeTruthy()
    await reloaded.until(() => reloaded.status() === 'connected')
    const types = reloaded.actions.map((a) => a.type)
    expect(types).toContain('socket/connectFailed')
    expect(types).toContain('auth/tokenRefreshed')
    expect(reloaded.store.getState().auth.token).not.toBe(expired)
  })
})

describe('refresh before expiry', () => {
  test('messages streamed across several token lifetimes all arrive, on one socket renewed in place', async () => {
    // One clock for the server and both browsers, moved by the test, and the browsers' refresh timers in its hands: the
    // lifetimes pass when the test has seen each refresh land. On real 10 s tokens the refresh, at 80% of a lifetime, had
    // 2 s to land, and a machine that busy had the server drop the socket though the layer was right.
    let clock = Date.now()
    type Timer = { run: () => void; at: number }
    const timers = new Set<Timer>()
    const session = {
      now: () => clock,
      timers: {
        setTimeout(run: () => void, ms: number) {
          const timer = { run, at: clock + ms }
          timers.add(timer)
          return timer
        },
        clearTimeout: (timer: unknown) => void timers.delete(timer as Timer),
      },
    }
    const server = await serverWith({ now: () => clock, tokenTtlSeconds: 10 })
    const alice = tab(server.url, { session })
    const bob = tab(server.url, { session })
    await alice.login('alice@talemy.test')
    const bobUser = await bob.login('bob@talemy.test')
    await alice.until(() => alice.status() === 'connected')
    await bob.until(() => bob.status() === 'connected')
    const created = await alice.store.dispatch(api.endpoints.createConversation.initiate({ participantId: bobUser.id }))
    const id = (created as { data: { id: string } }).data.id
    await alice.openThread(id)
    const socketId = alice.store.getState().socket.connection.socketId
    const firstToken = alice.store.getState().auth.token
    /** When Alice's socket's token ends, as the server has it. */
    const socketExpiresAt = () => server.io.of('/').sockets.get(socketId ?? '')?.data.expiresAt ?? 0
    const tokens = () => [alice.store.getState().auth.token, bob.store.getState().auth.token]

    // Over HTTP, so the sender's own socket plays no part; one every 250 ms of the clock, over three lifetimes.
    const sent: string[] = []
    const streamed = () => threadOf(alice, id).filter((m) => m.content.startsWith('stream '))
    const bobSends = async (count: number) => {
      for (let i = 0; i < count; i++) {
        clock += 250
        const content = `stream ${sent.length}`
        const result = await bob.store.dispatch(
          api.endpoints.postMessage.initiate({ conversationId: id, content, clientId: `stream-${sent.length}-${id}` }),
        )
        expect('data' in result).toBe(true)
        sent.push(content)
      }
      await alice.until(() => streamed().length === sent.length)
    }
    for (let lifetime = 0; lifetime < 3; lifetime++) {
      await bobSends(8)
      // The tabs' refreshes (at 80% of their tokens' life) fall due, and run.
      const [aliceToken, bobToken] = tokens()
      const oldEnd = socketExpiresAt()
      expect(timers.size).toBeGreaterThan(0)
      clock = Math.max(clock, ...[...timers].map((timer) => timer.at))
      for (const timer of [...timers]) if (timers.delete(timer)) timer.run()
      await alice.until(() => tokens()[0] !== aliceToken && tokens()[1] !== bobToken)
      // Alice's socket renewed with the new token (its session:renew answered), then the old token's end passes: the
      // next message sent to a socket that was not renewed would drop it.
      await alice.until(() => socketExpiresAt() > oldEnd)
      clock = Math.max(clock, oldEnd)
    }
    await bobSends(8)
    expect(streamed().map((m) => m.content)).toEqual(sent)
    // Renewed, not reconnected: one connect, one socket id, no drop; and the token did change (twice at least).
    expect(alice.actions.filter((a) => connected.match(a))).toHaveLength(1)
    expect(alice.actions.filter((a) => disconnected.match(a))).toEqual([])
    expect(alice.store.getState().socket.connection.socketId).toBe(socketId)
    expect(alice.actions.filter((a) => a.type === 'auth/tokenRefreshed').length).toBeGreaterThanOrEqual(2)
    expect(alice.store.getState().auth.token).not.toBe(firstToken)
    expect(alice.actions.filter((a) => a.type === 'socket/renewFailed')).toEqual([])
  })

  test('a socket the server disconnects for an expired token comes back by itself, and nothing is lost', async () => {
    // Ten seconds of life, not fewer: on a loaded machine a login, a refresh or a handshake takes seconds, and a token
    // that runs out before it is used again (refreshed at 80 % of its life) would refuse the next request or handshake.
    const server = await serverWith({ tokenTtlSeconds: 10 })
    const net = countingFetch()
    const alice = tab(server.url, { fetchFn: net.fetchFn })
    const bob = tab(server.url)
    await alice.login('alice@talemy.test')
    const bobUser = await bob.login('bob@talemy.test')
    await alice.until(() => alice.status() === 'connected')
    const created = await alice.store.dispatch(api.endpoints.createConversation.initiate({ participantId: bobUser.id }))
    const id = (created as { data: { id: string } }).data.id
    await alice.openThread(id)
    // Refreshes fail (as if /auth/refresh were unreachable): the token runs out and the server disconnects the socket.
    net.failRefresh = true
    await alice.until(() =>
      alice.actions.some((a) => disconnected.match(a) && a.payload.reason === 'io server disconnect'),
    )
    // A message while Alice is away.
    const missed = await bob.store.dispatch(
      api.endpoints.postMessage.initiate({
        conversationId: id,
        content: 'while you were out',
        clientId: `away-${Date.now()}`,
      }),
    )
    expect('data' in missed).toBe(true)
    net.failRefresh = false
    await alice.until(() => alice.actions.filter((a) => connected.match(a)).length === 2)
    await alice.until(() => threadOf(alice, id).some((m) => m.content === 'while you were out'))
    expect(alice.status()).toBe('connected')
    // And what she sends now goes through.
    const { payload } = alice.store.dispatch(sendMessage({ conversationId: id, content: 'back again' }))
    await alice.until(() => threadOf(alice, id).find((m) => m.clientId === payload.clientId)?.status === 'sent')
  })
})

describe('a refresh whose answer was lost', () => {
  test('the server rotated the token and died before answering, back 15 s later: the retry in the reuse window keeps the session', async () => {
    const rig = await refreshRig({})
    const { server, store, timers } = rig
    try {
      await store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
      const first = store.getState().auth.token!
      const refused = () => selectConnection(store.getState()).status === 'unauthorized'
      /**
       * Runs the one timer the session has scheduled, its wait passed on the clock (`then`: what the network is at that
       * moment), until the refresh it starts has settled.
       */
      const runScheduled = async (then: () => void = () => undefined) => {
        expect(timers.size).toBe(1)
        const [timer] = [...timers] as [RefreshTimer]
        timers.delete(timer)
        rig.clock += timer.ms + 50 // the wait, and the request's own time
        then()
        timer.run()
        await vi.waitFor(
          () => {
            if (timers.size === 0 && !refused()) throw new Error('the refresh has not settled yet')
          },
          { timeout: hangBound(), interval: 10 },
        )
      }
      // The scheduled refresh (at 80% of the token's life) is rotated by the server, and its answer lost.
      rig.network = 'answerLost'
      await runScheduled()
      const lostAt = rig.clock
      // Tried again while the server is away; it is back 15 s after the lost answer.
      while (store.getState().auth.token === first && !refused() && rig.clock - lostAt < 60_000) {
        await runScheduled(() => {
          rig.network = rig.clock - lostAt >= 15_000 ? 'up' : 'down'
        })
      }
      const token = store.getState().auth.token!
      expect(selectConnection(store.getState()).status).not.toBe('unauthorized')
      expect(token).not.toBe(first)
      expect((await http(server.url, 'GET', '/api/me', { token })).status).toBe(200)
    } finally {
      store.dispatch({ type: 'socket/shutdown' })
    }
  })
})

describe('a refresh answered from the reuse window', () => {
  test('the replayed token is 20 s old: the next refresh still comes at 80% of its life, before it expires', async () => {
    // Short tokens: a refresh misplaced by the reuse window's 30 s comes after the token's end.
    const rig = await refreshRig({ tokenTtlSeconds: 60 })
    const { server, store, timers } = rig
    const scheduled = (): RefreshTimer => {
      expect(timers.size).toBe(1)
      return [...timers][0] as RefreshTimer
    }
    try {
      await store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: 'talemy' }))
      const first = store.getState().auth.token!
      // The scheduled refresh is rotated by the server and its answer lost; the network is back 20 s later (the timer
      // stood still meanwhile: a lid closed), and the retry is answered from the reuse window with the same pair.
      let timer = scheduled()
      timers.delete(timer)
      rig.clock += timer.ms
      rig.network = 'answerLost'
      timer.run()
      await vi.waitFor(() => expect(timers.size).toBe(1), { timeout: hangBound(), interval: 10 })
      timer = scheduled()
      timers.delete(timer)
      rig.clock += 20_000
      rig.network = 'up'
      timer.run()
      await vi.waitFor(() => expect(store.getState().auth.token).not.toBe(first), {
        timeout: hangBound(),
        interval: 10,
      })
      const token = store.getState().auth.token!
      await vi.waitFor(() => expect(timers.size).toBe(1), { timeout: hangBound(), interval: 10 })
      // The next refresh, when it falls due: the token must still be good then (at 80% of its life, a second early at
      // most), or the socket is dropped and every request answered 401 until a refresh after the fact.
      const { issuedAt, expiresAt } = tokenLifetime(token)!
      expect(rig.clock - issuedAt).toBeGreaterThanOrEqual(20_000)
      rig.clock += scheduled().ms
      expect(rig.clock).toBeLessThanOrEqual(refreshDueAt(token)!)
      expect(rig.clock).toBeLessThan(expiresAt)
      expect((await http(server.url, 'GET', '/api/me', { token })).status).toBe(200)
    } finally {
      store.dispatch({ type: 'socket/shutdown' })
    }
  })
})

describe('two tabs of one browser', () => {
  test('refreshing at the same moment: one rotation, the other tab adopts its token, both stay logged in', async () => {
    const storage = createMemoryStorage()
    const net = countingFetch()
    const tab1 = tab(shared.url, { storage, fetchFn: net.fetchFn })
    await tab1.login('alice@talemy.test')
    const tab2 = tab(shared.url, { storage, fetchFn: net.fetchFn }) // opened later: restores the session from storage
    await tab1.until(() => tab1.status() === 'connected')
    await tab2.until(() => tab2.status() === 'connected')
    const refreshesBefore = net.refreshes

    const outcomes = await Promise.all([tab1.store.dispatch(refreshSession()), tab2.store.dispatch(refreshSession())])
    expect(outcomes).toEqual(['refreshed', 'refreshed'])
    expect(net.refreshes - refreshesBefore).toBe(1)
    const token = tab1.store.getState().auth.token!
    expect(tab2.store.getState().auth.token).toBe(token)
    expect((await http(shared.url, 'GET', '/api/me', { token })).status).toBe(200)
    // Still one session for both: the next refresh works from either tab.
    expect(await tab2.store.dispatch(refreshSession())).toBe('refreshed')
    expect(await tab1.store.dispatch(refreshSession())).toBe('refreshed')
    for (const t of [tab1, tab2]) expect(t.status()).toBe('connected')
  })

  test('two tabs that do not share a lock still stay logged in (the server answers the reused token with the same pair)', async () => {
    const storage = createMemoryStorage()
    const tab1 = tab(shared.url, { storage })
    await tab1.login('alice@talemy.test')
    const tab2 = tab(shared.url, { storage })
    // Both read the same refresh token before either writes: what two tabs racing without any lock would send.
    const [a, b] = await Promise.all([
      tab1.store.dispatch(api.endpoints.refreshToken.initiate(undefined, { track: false })),
      tab2.store.dispatch(api.endpoints.refreshToken.initiate(undefined, { track: false })),
    ])
    expect('data' in a && 'data' in b).toBe(true)
    expect(tab1.store.getState().auth.token).toBe(tab2.store.getState().auth.token)
    expect(await tab1.store.dispatch(refreshSession())).toBe('refreshed')
  })
})

describe('logout', () => {
  test('auth/loggedOut calls POST /api/auth/logout, forgets the refresh token, and the session is over on the server', async () => {
    const storage = recordingStorage()
    const net = countingFetch()
    const alice = tab(shared.url, { storage, fetchFn: net.fetchFn })
    await alice.login('alice@talemy.test')
    await alice.until(() => alice.status() === 'connected')
    const { token } = alice.store.getState().auth
    const [refreshToken] = storage.refreshTokens
    alice.store.dispatch(loggedOut())
    expect(storage.getItem(REFRESH_STORAGE_KEY)).toBeNull()
    await alice.until(() => net.logouts === 1)
    await expect
      .poll(async () => (await http(shared.url, 'POST', '/api/auth/refresh', { body: { refreshToken } })).status, {
        timeout: hangBound(),
      })
      .toBe(401)
    expect((await http(shared.url, 'GET', '/api/me', { token: token! })).status).toBe(401)
  })

  test('offline, logout still clears the browser', async () => {
    const storage = createMemoryStorage()
    const offline: typeof fetch = async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
      if (url.endsWith('/api/auth/logout')) throw new TypeError('Failed to fetch')
      return fetch(input, init)
    }
    const alice = tab(shared.url, { storage, fetchFn: offline })
    await alice.login('alice@talemy.test')
    alice.store.dispatch(loggedOut())
    expect(alice.store.getState().auth).toEqual({ token: null, user: null })
    expect(storage.getItem(REFRESH_STORAGE_KEY)).toBeNull()
    expect(storage.getItem('talemy.auth')).toBeNull()
    expect(alice.status()).toBe('idle')
  })
})

describe('the refresh token stays out of Redux', () => {
  test('no action and no state ever contains it: login, refreshes, a refused handshake, logout', async () => {
    let clock = Date.now()
    const server = await serverWith({ now: () => clock, tokenTtlSeconds: 60 })
    const storage = recordingStorage()
    const s = tab(server.url, { storage })
    const states: string[] = []
    const unsubscribe = s.store.subscribe(() => states.push(JSON.stringify(s.store.getState())))
    await s.login('alice@talemy.test')
    await s.until(() => s.status() === 'connected')
    expect(await s.store.dispatch(refreshSession())).toBe('refreshed')
    // An expired token at the next handshake: the layer's own refresh path.
    clock += 61_000
    s.store.dispatch({ type: 'socket/disconnect' })
    s.store.dispatch({ type: 'socket/connect' })
    await s.until(
      () => s.status() === 'connected' && s.actions.filter((a) => a.type === 'auth/tokenRefreshed').length >= 2,
    )
    s.store.dispatch(loggedOut())
    unsubscribe()
    states.push(JSON.stringify(s.store.getState()))

    expect(storage.refreshTokens.length).toBeGreaterThanOrEqual(3)
    const actions = s.actions.map((a) => JSON.stringify(a))
    for (const refreshToken of storage.refreshTokens) {
      expect(actions.filter((a) => a.includes(refreshToken))).toEqual([])
      expect(states.filter((state) => state.includes(refreshToken))).toEqual([])
    }
    // The mutations' own entries were there (so the check above looked at them), without the token.
    expect(actions.some((a) => a.includes('"endpointName":"refreshToken"'))).toBe(true)
  })
})

describe('a server that refuses the socket while the refresh keeps working', () => {
  test('one refresh, one retry with the fresh token, then "unauthorized": no refresh-and-handshake loop', async () => {
    let refusing = true
    const server = await serverWith({
      // As the server refuses a token it does not take (its `connect_error` data), though this token is good.
      handshakeGuard: () =>
        refusing
          ? Object.assign(new Error('UNAUTHORIZED'), {
              data: { code: 'UNAUTHORIZED', message: 'refused for this test' },
            })
          : null,
    })
    const net = countingFetch()
    const alice = tab(server.url, { fetchFn: net.fetchFn })
    await alice.login('alice@talemy.test')
    await alice.until(() => alice.status() === 'unauthorized')
    const refusals = alice.actions.filter((a) => a.type === 'socket/connectFailed')
    expect(refusals).toHaveLength(2)
    expect(net.refreshes).toBe(1)
    expect(alice.actions.filter((a) => a.type === 'auth/tokenRefreshed')).toHaveLength(1)
    // The store goes on answering over HTTP, and nothing more is tried on the socket by itself.
    const listed = await alice.openConversations()
    expect(Array.isArray(listed)).toBe(true)
    expect(alice.actions.filter((a) => a.type === 'socket/connectFailed')).toHaveLength(2)
    expect(net.refreshes).toBe(1)
    expect(alice.sockets()).toBe(1)
    // A new login is what starts again: the server now admits it.
    refusing = false
    await alice.login('alice@talemy.test')
    await alice.until(() => alice.status() === 'connected')
  })
})

describe('a server that cannot check sessions at the handshake for a while (INTERNAL)', () => {
  test('no refresh is spent, the send goes over HTTP and is shown once, and the socket comes back', async () => {
    let refusing = true
    const server = await serverWith({
      // What the server answers when its database did not answer the session check: the server's fault, not the token's.
      handshakeGuard: (userId) =>
        refusing && userId === 'user-alice'
          ? Object.assign(new Error('INTERNAL'), { data: { code: 'INTERNAL', message: 'refused for this test' } })
          : null,
    })
    const net = countingFetch()
    const alice = tab(server.url, { fetchFn: net.fetchFn })
    const bob = tab(server.url)
    await bob.login('bob@talemy.test')
    await bob.until(() => bob.status() === 'connected')
    await alice.login('alice@talemy.test')
    await alice.until(() => alice.actions.some((a) => a.type === 'socket/connectFailed'))
    expect(['connecting', 'reconnecting']).toContain(alice.status())
    expect(selectConnection(alice.store.getState()).error?.code).toBe('INTERNAL')
    await bob.openThread('conv-alice-bob')
    await alice.openThread('conv-alice-bob')
    const { payload } = alice.store.dispatch(sendMessage({ conversationId: 'conv-alice-bob', content: 'over HTTP' }))
    await alice.until(
      () => threadOf(alice, 'conv-alice-bob').find((m) => m.clientId === payload.clientId)?.status === 'sent',
    )
    await bob.until(() => threadOf(bob, 'conv-alice-bob').some((m) => m.clientId === payload.clientId))
    // Sent and delivered with no socket ever connected: over HTTP.
    expect(alice.actions.filter((a) => connected.match(a))).toEqual([])
    expect(net.refreshes).toBe(0)
    expect(alice.status()).not.toBe('unauthorized')
    // The server admits her again; an explicit connect tries now rather than at the end of the backoff.
    refusing = false
    alice.store.dispatch({ type: 'socket/connect' })
    await alice.until(() => alice.status() === 'connected')
    await alice.until(() => alice.actions.some((a) => syncCaughtUp.match(a)))
    const mine = (s: BrowserStore) => threadOf(s, 'conv-alice-bob').filter((m) => m.clientId === payload.clientId)
    expect(mine(alice)).toHaveLength(1)
    expect(mine(bob)).toHaveLength(1)
    expect(net.refreshes).toBe(0)
  })
})
