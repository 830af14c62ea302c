import { rmSync } from 'node:fs'
import { decodeJwt } from 'jose'
import { io } from 'socket.io-client'
import { TokenService } from '../../server/auth'
import { DEFAULT_RENEW_RATE_LIMIT } from '../../server/rateLimit'
import { openDatabase, type Db } from '../../server/db'
import { SessionStore } from '../../server/sessions'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ErrorBody, Message, Session, User } from './support/types'
import {
  ALICE,
  BOB,
  CAROL,
  connect,
  connectLive,
  freshDataDir,
  emitAck,
  http,
  login,
  nextEvent,
  record,
  startTestServer,
  type ClientSocket,
  untyped,
  type TestServer,
} from './support/server'

// Sessions: short access tokens naming their session, rotating refresh tokens with a 30 s reuse window, theft
// detection, idle and absolute lifetimes, logout, `session:renew`, and sockets that end with their token.
// Expiry is driven by the server's injected clock (`now`), never by sleeping; one test waits for a real 2 s expiry.

const TTL = 60
const IDLE = 600
const MAX = 1800
let server: TestServer
/** The server's clock, in ms: tests only ever move it forward, each by what it needs. */
let clock = Date.now()
const advance = (seconds: number) => void (clock += seconds * 1000)

beforeAll(async () => {
  server = await startTestServer({
    now: () => clock,
    tokenTtlSeconds: TTL,
    refreshIdleSeconds: IDLE,
    sessionMaxSeconds: MAX,
  })
})
afterAll(() => server?.dispose())

const refresh = <T = Session>(refreshToken: unknown) =>
  http<T>(server.url, 'POST', '/api/auth/refresh', { body: { refreshToken } })
const me = <T = User>(token: string) => http<T>(server.url, 'GET', '/api/me', { token })
const socketsOfUser = async (userId: string) => (await server.io.in(`user:${userId}`).fetchSockets()).map((s) => s.id)

/** Resolves with the socket's disconnect reason. */
const disconnection = (socket: ClientSocket) => new Promise<string>((resolve) => socket.once('disconnect', resolve))

describe('login', () => {
  it('answers a short access token naming its session, and an opaque refresh token of at least 128 bits', async () => {
    const session = await login(server.url, ALICE)
    expect(session).toEqual({
      token: expect.any(String),
      refreshToken: expect.any(String),
      user: expect.objectContaining({ id: 'user-alice' }),
    })
    expect(session.refreshToken).toMatch(/^[A-Za-z0-9_-]{22,}$/)
    const claims = decodeJwt(session.token)
    expect(claims).toMatchObject({ sub: 'user-alice', sid: expect.any(String) })
    expect(claims.exp! - claims.iat!).toBe(TTL)
    // Two logins, two sessions.
    expect(decodeJwt((await login(server.url, ALICE)).token).sid).not.toBe(claims.sid)
  })
})

describe('an expired access token', () => {
  it('is refused at HTTP, at the handshake and at refresh, with no grace', async () => {
    const { token } = await login(server.url, ALICE)
    expect((await me(token)).status).toBe(200)
    advance(TTL)
    const http401 = await me<ErrorBody>(token)
    expect(http401.status).toBe(401)
    expect(http401.body.error.code).toBe('UNAUTHORIZED')
    await expect(connect(server.url, token)).rejects.toThrow('UNAUTHORIZED')
    // The access token is no refresh credential, as a body nor as a Bearer header.
    expect((await refresh(token)).status).toBe(401)
    expect((await http(server.url, 'POST', '/api/auth/refresh', { token })).status).toBe(400)
  })
})

describe('POST /api/auth/refresh', () => {
  it('rotates: a new pair, the new access token works, the refresh token changes every time', async () => {
    const first = await login(server.url, ALICE)
    const second = await refresh(first.refreshToken)
    expect(second.status).toBe(200)
    expect(second.body).toEqual({
      token: expect.any(String),
      refreshToken: expect.any(String),
      user: expect.objectContaining({ id: 'user-alice' }),
    })
    expect(second.body.refreshToken).not.toBe(first.refreshToken)
    expect(decodeJwt(second.body.token).sid).toBe(decodeJwt(first.token).sid)
    expect((await me(second.body.token)).status).toBe(200)
    advance(1)
    const third = await refresh(second.body.refreshToken)
    expect(third.status).toBe(200)
    expect(third.body.refreshToken).not.toBe(second.body.refreshToken)
    expect(third.body.token).not.toBe(second.body.token)
  })

  it('answers the same new pair to the previous refresh token for 30 s after the rotation (two tabs, a lost answer)', async () => {
    const first = await login(server.url, ALICE)
    const rotated = await refresh(first.refreshToken)
    advance(29)
    const again = await refresh(first.refreshToken)
    expect(again.status).toBe(200)
    expect(again.body).toEqual(rotated.body)
    // Made 29 s ago, as its `Age` says (its token's `iat` is the rotation's): the browser's clock is learnt from both.
    expect(rotated.headers.get('age')).toBeNull()
    expect(again.headers.get('age')).toBe('29')
    // The pair given twice is live: it refreshes on.
    expect((await refresh(again.body.refreshToken)).status).toBe(200)
  })

  it('answers the same new pair to refreshes of one token at once (two tabs)', async () => {
    const first = await login(server.url, ALICE)
    const answers = await Promise.all([
      refresh(first.refreshToken),
      refresh(first.refreshToken),
      refresh(first.refreshToken),
    ])
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200])
    expect(answers[1]!.body).toEqual(answers[0]!.body)
    expect(answers[2]!.body).toEqual(answers[0]!.body)
  })

  it('takes a rotated token presented after the window for theft: 401, and the whole session is revoked', async () => {
    const first = await login(server.url, ALICE)
    const rotated = await refresh(first.refreshToken)
    const socket = await connect(server.url, rotated.body.token)
    const dropped = disconnection(socket)
    advance(31)
    const stolen = await refresh<ErrorBody>(first.refreshToken)
    expect(stolen.status).toBe(401)
    expect(stolen.body.error.code).toBe('UNAUTHORIZED')
    // The legitimate holder's tokens die with the session, and its socket is disconnected.
    expect((await refresh(rotated.body.refreshToken)).status).toBe(401)
    expect((await me(rotated.body.token)).status).toBe(401)
    expect(await dropped).toBe('io server disconnect')
  })

  it('refuses an unknown, malformed or missing refresh token', async () => {
    expect((await refresh('x'.repeat(43))).status).toBe(401)
    expect((await refresh(42)).status).toBe(400)
    expect((await http(server.url, 'POST', '/api/auth/refresh', { body: {} })).status).toBe(400)
    expect((await http(server.url, 'POST', '/api/auth/refresh')).status).toBe(400)
  })

  it('ends a session left idle for refreshIdleSeconds', async () => {
    const first = await login(server.url, ALICE)
    advance(IDLE - 1)
    const kept = await refresh(first.refreshToken)
    expect(kept.status).toBe(200)
    advance(IDLE)
    const idle = await refresh<ErrorBody>(kept.body.refreshToken)
    expect(idle.status).toBe(401)
    expect(idle.body.error.message).toMatch(/expired/)
  })

  it('ends a session sessionMaxSeconds after login however often it is refreshed; no access token outlives it', async () => {
    let pair = await login(server.url, ALICE)
    const loginAt = clock
    while (clock + (IDLE / 2) * 1000 < loginAt + MAX * 1000) {
      advance(IDLE / 2)
      const next = await refresh(pair.refreshToken)
      expect(next.status).toBe(200)
      pair = next.body
    }
    expect(decodeJwt(pair.token).exp! * 1000).toBeLessThanOrEqual(loginAt + MAX * 1000)
    advance((loginAt + MAX * 1000 - clock) / 1000)
    expect((await refresh(pair.refreshToken)).status).toBe(401)
    expect((await me(pair.token)).status).toBe(401)
  })
})

describe('lifetimes meant as "for ever"', () => {
  it('logs in, serves, refreshes and logs out with sessionMaxSeconds and refreshIdleSeconds past the dates a clock can hold', async () => {
    // 1e13 s is past the last date the database reads (year 9999): the session ends then, rather than never starting.
    const forever = await startTestServer({ sessionMaxSeconds: 1e13, refreshIdleSeconds: 1e13 })
    try {
      const pair = await http<Session>(forever.url, 'POST', '/api/auth/login', {
        body: { email: ALICE, password: 'talemy' },
      })
      expect(pair.status, JSON.stringify(pair.body)).toBe(200)
      expect((await http(forever.url, 'GET', '/api/me', { token: pair.body.token })).status).toBe(200)
      const next = await http<Session>(forever.url, 'POST', '/api/auth/refresh', {
        body: { refreshToken: pair.body.refreshToken },
      })
      expect(next.status).toBe(200)
      expect((await http(forever.url, 'GET', '/api/me', { token: next.body.token })).status).toBe(200)
      // A session that lasts "for ever" still ends at its logout, everywhere.
      const logout = await http(forever.url, 'POST', '/api/auth/logout', { token: next.body.token })
      expect(logout.status).toBe(204)
      const again = await http(forever.url, 'POST', '/api/auth/refresh', {
        body: { refreshToken: next.body.refreshToken },
      })
      expect(again.status).toBe(401)
      expect((await http(forever.url, 'GET', '/api/me', { token: next.body.token })).status).toBe(401)
      await expect(connect(forever.url, next.body.token)).rejects.toThrow('UNAUTHORIZED')
    } finally {
      await forever.dispose()
    }
  })
})

describe('a session ended by refreshIdleSeconds (tokenTtlSeconds longer than refreshIdleSeconds)', () => {
  it('never issues an access token that outlives the idle end, so no refresh is needed to end the session', async () => {
    let idleClock = Date.now()
    const idleServer = await startTestServer({ now: () => idleClock, tokenTtlSeconds: 600, refreshIdleSeconds: 60 })
    try {
      const pair = await login(idleServer.url, ALICE)
      expect((await http(idleServer.url, 'GET', '/api/me', { token: pair.token })).status).toBe(200)
      // 60 s without a refresh: the session has ended, so its access token is refused everywhere, unrefreshed too.
      idleClock += 61_000
      expect((await http(idleServer.url, 'GET', '/api/me', { token: pair.token })).status).toBe(401)
      await expect(connect(idleServer.url, pair.token)).rejects.toThrow('UNAUTHORIZED')
    } finally {
      await idleServer.dispose()
    }
  })

  it('a refresh before the idle end moves it: the new token works past the first idle end, and ends at the new one', async () => {
    let idleClock = Date.now()
    const idleServer = await startTestServer({ now: () => idleClock, tokenTtlSeconds: 600, refreshIdleSeconds: 60 })
    try {
      const pair = await login(idleServer.url, ALICE)
      idleClock += 50_000
      const renewed = await http<{ token: string }>(idleServer.url, 'POST', '/api/auth/refresh', {
        body: { refreshToken: pair.refreshToken },
      })
      expect(renewed.status).toBe(200)
      idleClock += 20_000 // 70 s after the login, 20 s after the refresh
      expect((await http(idleServer.url, 'GET', '/api/me', { token: renewed.body.token })).status).toBe(200)
      const socket = await connect(idleServer.url, renewed.body.token)
      socket.close()
      idleClock += 41_000 // 61 s after the refresh
      expect((await http(idleServer.url, 'GET', '/api/me', { token: renewed.body.token })).status).toBe(401)
    } finally {
      await idleServer.dispose()
    }
  })
})

describe('POST /api/auth/logout', () => {
  it.each([
    ['a Bearer token', (s: { token: string }) => ({ token: s.token })],
    ['a refresh token', (s: { refreshToken: string }) => ({ body: { refreshToken: s.refreshToken } })],
  ])(
    "with %s: 204; the session's refresh and access tokens stop working and its sockets are disconnected, not another session's",
    async (_name, credentials) => {
      const session = await login(server.url, ALICE)
      const other = await login(server.url, ALICE)
      const mine = [await connect(server.url, session.token), await connect(server.url, session.token)]
      const theirs = await connect(server.url, other.token)
      const drops = mine.map(disconnection)
      const result = await http(server.url, 'POST', '/api/auth/logout', credentials(session))
      expect(result.status).toBe(204)
      expect(await Promise.all(drops)).toEqual(['io server disconnect', 'io server disconnect'])
      expect((await refresh(session.refreshToken)).status).toBe(401)
      expect((await me(session.token)).status).toBe(401)
      await expect(connect(server.url, session.token)).rejects.toThrow('UNAUTHORIZED')
      // The other session of the same user is untouched.
      expect(await emitAck(theirs, 'conversation:leave', 'conv-alice-bob')).toEqual({ ok: true, data: null })
      expect(theirs.connected).toBe(true)
      expect((await me(other.token)).status).toBe(200)
      theirs.close()
    },
  )

  it('refuses a request naming no session (401), and is repeatable with a refresh token (204)', async () => {
    expect((await http(server.url, 'POST', '/api/auth/logout')).status).toBe(401)
    expect((await http(server.url, 'POST', '/api/auth/logout', { body: { refreshToken: 'nope' } })).status).toBe(401)
    const session = await login(server.url, BOB)
    expect(
      (await http(server.url, 'POST', '/api/auth/logout', { body: { refreshToken: session.refreshToken } })).status,
    ).toBe(204)
    expect(
      (await http(server.url, 'POST', '/api/auth/logout', { body: { refreshToken: session.refreshToken } })).status,
    ).toBe(204)
  })
})

describe('POST /api/auth/logout with a body it cannot read (review)', () => {
  it.each([
    ['a refresh token of the wrong type', { refreshToken: 5 }],
    ['an empty refresh token', { refreshToken: '' }],
    ['an array', [1]],
    ['malformed JSON', '{"refreshToken":'],
  ])("with a valid Bearer and %s: INVALID, and the Bearer's session ends all the same", async (_name, body) => {
    const session = await login(server.url, BOB)
    const socket = await connect(server.url, session.token)
    const dropped = disconnection(socket)
    const result = await http<ErrorBody>(server.url, 'POST', '/api/auth/logout', { token: session.token, body })
    expect(result.status).toBe(400)
    expect(result.body.error.code).toBe('INVALID')
    expect((await me(session.token)).status).toBe(401)
    expect((await refresh(session.refreshToken)).status).toBe(401)
    expect(await dropped).toBe('io server disconnect')
  })
})

// Review (ASVS 3.3.1): the browser sends its Bearer and its stored refresh token together. When they named two sessions
// (the stored token written by another login of the same user in another tab), only the refresh token's ended: the
// Bearer's session, its access token and its sockets lived on, though the request named it with a valid credential.
describe('POST /api/auth/logout with a Bearer and a refresh token of two sessions (review)', () => {
  it('ends both: every session the request names with a valid credential', async () => {
    const bearer = await login(server.url, ALICE)
    const stored = await login(server.url, ALICE)
    const socket = await connect(server.url, bearer.token)
    const dropped = disconnection(socket)
    const result = await http(server.url, 'POST', '/api/auth/logout', {
      token: bearer.token,
      body: { refreshToken: stored.refreshToken },
    })
    expect(result.status).toBe(204)
    expect((await me(stored.token)).status).toBe(401)
    expect((await me(bearer.token)).status).toBe(401)
    expect((await refresh(bearer.refreshToken)).status).toBe(401)
    expect(await dropped).toBe('io server disconnect')
  })

  it("still ends the refresh token's session when the Bearer has expired, and refuses nothing more than before", async () => {
    const expired = await login(server.url, CAROL)
    advance(TTL)
    const stored = await login(server.url, CAROL)
    const result = await http(server.url, 'POST', '/api/auth/logout', {
      token: expired.token,
      body: { refreshToken: stored.refreshToken },
    })
    expect(result.status).toBe(204)
    expect((await me(stored.token)).status).toBe(401)
  })

  it('refuses a Bearer that names no valid session when no refresh token does either (401), and ends nothing', async () => {
    const expired = await login(server.url, CAROL)
    advance(TTL)
    const live = await login(server.url, CAROL)
    for (const request of [
      { token: expired.token },
      { token: expired.token, body: { refreshToken: 'nope' } },
      { token: `${live.token.slice(0, -2)}xx` },
    ]) {
      expect((await http(server.url, 'POST', '/api/auth/logout', request)).status).toBe(401)
    }
    expect((await me(live.token)).status).toBe(200)
    expect((await refresh(live.refreshToken)).status).toBe(200)
  })
})

describe('auth and API answers are not cached (review: ASVS asks for no-store on sensitive data)', () => {
  it('sends Cache-Control: no-store on login, refresh, logout, /api/me, refusals and unknown /api paths', async () => {
    const loggedIn = await http<Session>(server.url, 'POST', '/api/auth/login', {
      body: { email: BOB, password: 'talemy' },
    })
    const refreshed = await refresh(loggedIn.body.refreshToken)
    const answers = [
      loggedIn,
      refreshed,
      await me(refreshed.body.token),
      await me('not-a-token'),
      await http(server.url, 'GET', '/api/nope'),
      await http(server.url, 'POST', '/api/auth/logout', { token: refreshed.body.token }),
    ]
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 401, 404, 204])
    for (const answer of answers) expect(answer.headers.get('cache-control')).toBe('no-store')
  })
})

// Review (RFC 7235 §3.1, RFC 6750 §3): a 401 carried no WWW-Authenticate, so an HTTP client could not read from the
// answer which scheme to use, nor tell "this token has expired or was revoked: refresh it" from "send a token".
describe('a 401 says how to authenticate (WWW-Authenticate: Bearer) and, when a token was sent, that it was refused', () => {
  it('names the Bearer scheme on every 401, with error="invalid_token" when the request carried a Bearer token', async () => {
    const session = await login(server.url, CAROL)
    await http(server.url, 'POST', '/api/auth/logout', { token: session.token })
    const withToken = [await me('not-a-token'), await me(session.token)]
    const without = [
      await http(server.url, 'GET', '/api/me'),
      await http(server.url, 'POST', '/api/auth/login', { body: { email: CAROL, password: 'wrong' } }),
      await refresh('x'.repeat(43)),
      await http(server.url, 'POST', '/api/auth/logout'),
    ]
    expect([...withToken, ...without].map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401, 401])
    for (const answer of withToken)
      expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="talemy", error="invalid_token"')
    for (const answer of without) expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="talemy"')
    // Nothing but a 401 carries a challenge.
    expect((await me((await login(server.url, CAROL)).token)).headers.get('www-authenticate')).toBeNull()
  })
})

/** A session store's signing key and policy for the tests that build one on a database of their own. */
const KEY = new Uint8Array(32).fill(7)
const POLICY = { idleSeconds: 600, maxSeconds: 1800 }

/** Runs `test` on a fresh, migrated embedded database, closed and deleted afterwards. */
async function withDatabase(test: (db: Db) => Promise<void>): Promise<void> {
  const dataDir = freshDataDir()
  const db = await openDatabase({ dataDir })
  try {
    await test(db)
  } finally {
    await db.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

describe('a revocation is never undone by a read that started before it (review)', () => {
  it('a session read as live from the database while it was being revoked stays revoked', async () => {
    await withDatabase(async (db) => {
      const tokens = new TokenService(KEY)
      const pair = await new SessionStore(db, tokens, KEY, POLICY).start('user-alice')
      // A second store knows nothing of the session yet (another process, or this one after a restart): its first
      // check reads the database, and that read is held after it has found the session live.
      let reached!: () => void
      const readDone = new Promise<void>((resolve) => (reached = resolve))
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      const query = (async (sql: string, params?: unknown[]) => {
        const rows = await db.query(sql, params)
        if (sql.includes('select revoked_at')) {
          reached()
          await held
        }
        return rows
      }) as Db['query']
      const gated: Db = {
        kind: db.kind,
        query,
        execute: (statement, params) => db.execute(statement, params),
        executeMany: (statement, lists) => db.executeMany(statement, lists),
        transaction: (fn) => db.transaction(fn),
        close: () => db.close(),
      }
      const store = new SessionStore(gated, tokens, KEY, POLICY)
      const inFlight = store.authenticate(pair.token).then(
        () => 'accepted',
        () => 'refused',
      )
      await readDone
      await store.revokeSession(pair.sessionId) // the logout, handled while the read is in flight
      release()
      await inFlight // begun before the logout: either answer is fair for it
      await expect(store.authenticate(pair.token)).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
      expect(await store.isLive(pair.sessionId)).toBe(false)
    })
  })
})

// Review: a logout by Bearer spends no budget (its cost was meant to be a signature check), yet each one, with the
// token of a session long ended, wrote to the database again and broadcast the revocation to every node: a loop of
// them, from any user's own token, was an unbounded stream of writes queued with everyone's sends.
describe('a logout repeated for a session already ended', () => {
  it('writes nothing and tells nobody again, however often it comes; each is still answered 204', async () => {
    await withDatabase(async (db) => {
      const tokens = new TokenService(KEY)
      const pair = await new SessionStore(db, tokens, KEY, POLICY).start('user-alice')
      const calls: string[] = []
      const counting: Db = {
        kind: db.kind,
        query: (sql, params) => {
          calls.push(sql)
          return db.query(sql, params)
        },
        execute: (statement, params) => {
          calls.push(statement.text)
          return db.execute(statement, params)
        },
        executeMany: (statement, lists) => {
          calls.push(statement.text)
          return db.executeMany(statement, lists)
        },
        transaction: (fn) => {
          calls.push('transaction')
          return db.transaction(fn)
        },
        close: () => db.close(),
      }
      const store = new SessionStore(counting, tokens, KEY, POLICY)
      const told: string[] = []
      store.onRevoked((sessionId) => told.push(sessionId))
      await store.revokeSession(pair.sessionId)
      expect(told).toEqual([pair.sessionId])
      calls.length = 0
      for (let i = 0; i < 5; i++) await store.revokeSession(pair.sessionId)
      expect(calls).toEqual([])
      expect(told).toEqual([pair.sessionId])
      await expect(store.authenticate(pair.token)).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    })
    // Over HTTP, the same: each logout with the Bearer of the ended session is answered as the first was.
    const session = await login(server.url, CAROL)
    for (let i = 0; i < 3; i++)
      expect((await http(server.url, 'POST', '/api/auth/logout', { token: session.token })).status).toBe(204)
    expect((await me(session.token)).status).toBe(401)
  })
})

describe("a node checking its sockets' sessions again (endedAmong, one query)", () => {
  it('names those revoked behind its back, past their end or gone from the database, and never a live one', async () => {
    await withDatabase(async (db) => {
      let now = Date.now()
      const store = new SessionStore(db, new TokenService(KEY), KEY, POLICY, () => now)
      const live = await store.start('user-alice')
      const revoked = await store.start('user-bob')
      const old = await store.start('user-carol')
      // Revoked by another node whose word never came: only the database says so (this store saw it live).
      expect(await store.isLive(revoked.sessionId)).toBe(true)
      await db.query('update sessions set revoked_at = now() where id = $1', [revoked.sessionId])
      // Past its end: sessionMaxSeconds after its login, by the database's expiry.
      await db.query(`update sessions set expires_at = $2 where id = $1`, [old.sessionId, new Date(now + 1000)])
      now += 2000
      expect(await store.endedAmong([])).toEqual([])
      expect(await store.endedAmong([live.sessionId, revoked.sessionId, old.sessionId, 'no-such-session'])).toEqual([
        revoked.sessionId,
        old.sessionId,
        'no-such-session',
      ])
      // What it read is what this process knows from then on.
      expect(await store.isLive(revoked.sessionId)).toBe(false)
      expect(await store.isLive(live.sessionId)).toBe(true)
    })
  })
})

// Review: a session ends refreshIdleSeconds after its last refresh (the contract's 7 days), yet the check of a session
// by its id knew only its absolute end and its revocation: a session left idle was still live for it until the end of
// its 30 days (what opens a user's refresh budget past the address's to its Bearer, expired as it then is).
describe('a session left idle for refreshIdleSeconds, checked by its id (isLive, endedAmong)', () => {
  it('has ended, unless a refresh (on another node too) moved its idle end', async () => {
    await withDatabase(async (db) => {
      let now = Date.now()
      const tokens = new TokenService(KEY, { now: () => now })
      const store = new SessionStore(db, tokens, KEY, POLICY, () => now)
      const elsewhere = new SessionStore(db, tokens, KEY, POLICY, () => now)
      const idle = await store.start('user-alice')
      const refreshed = await store.start('user-bob')
      expect(await store.isLive(refreshed.sessionId)).toBe(true)
      now += (POLICY.idleSeconds - 10) * 1000
      await elsewhere.refresh(refreshed.refreshToken) // another node: this store is not told
      now += 20_000 // past the first idle end, well within the absolute one
      expect(await store.isLive(idle.sessionId)).toBe(false)
      expect(await store.isLive(refreshed.sessionId)).toBe(true)
      expect(await store.endedAmong([idle.sessionId, refreshed.sessionId])).toEqual([idle.sessionId])
      expect(await new SessionStore(db, tokens, KEY, POLICY, () => now).isLive(idle.sessionId)).toBe(false)
    })
  })
})

describe('session:renew', () => {
  /** Alice's socket, renewed with a refreshed token halfway through the first one's life; the clock just past its end. */
  async function renewedPastTheFirstToken() {
    const first = await login(server.url, ALICE)
    const socket = await connect(server.url, first.token)
    advance(TTL / 2)
    const next = await refresh(first.refreshToken)
    expect(await emitAck(socket, 'session:renew', { token: next.body.token })).toEqual({ ok: true, data: null })
    advance(TTL / 2 + 1) // the first token has expired, the renewed one has not
    return { first, socket }
  }

  /** The socket is still served (an event is answered) and connected; then closed. */
  async function expectServedThenClose(socket: ClientSocket) {
    expect(await emitAck(socket, 'conversation:leave', 'conv-alice-bob')).toEqual({ ok: true, data: null })
    expect(socket.connected).toBe(true)
    socket.close()
  }

  it("accepts a newer token of the socket's session: the socket outlives its first token", async () => {
    const { socket } = await renewedPastTheFirstToken()
    await expectServedThenClose(socket)
  })

  it('without a renewal, the first event after expiry is refused and the socket disconnected', async () => {
    // Anything the server sends the socket once the clock has moved on ends it as well (the delivery's own check): on a
    // loaded machine, say, a contact's presence from an earlier test whose grace ran out just then. The socket is then
    // gone before the event is read, its ack rejected by the client; ended by the server all the same. What this checks
    // is the event's own refusal when it comes first: tried again until it does.
    for (;;) {
      const { token } = await login(server.url, ALICE)
      // Past its handshake's hand-over (its sync marker), which ends a socket whose token has expired by then: moved on
      // before it, the clock let that end the socket first, and the event's ack never came.
      const socket = await connectLive(server.url, token)
      const dropped = disconnection(socket)
      advance(TTL)
      const answer = await emitAck(socket, 'conversation:leave', 'conv-alice-bob').catch(() => 'ended first' as const)
      expect(await dropped).toBe('io server disconnect')
      if (answer === 'ended first') continue
      expect(answer).toEqual({ ok: false, error: { code: 'UNAUTHORIZED', message: 'token expired' } })
      return
    }
  })

  it.each([
    ["another user's token", CAROL],
    ["another session's token of the same user", ALICE],
  ])('refuses %s with UNAUTHORIZED and disconnects the socket', async (_name, email) => {
    const { token } = await login(server.url, ALICE)
    const socket = await connect(server.url, token)
    const dropped = disconnection(socket)
    const foreign = await login(server.url, email)
    const answer = await emitAck(socket, 'session:renew', { token: foreign.token })
    expect(answer).toEqual({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.any(String) } })
    expect(await dropped).toBe('io server disconnect')
  })

  // Review: refused, but the socket stayed, when that token was no longer valid itself (checked before whose it was).
  it.each([
    ["another session's token of the same user, that session logged out", ALICE, 'revoked'],
    ["another session's token of the same user, expired", ALICE, 'expired'],
    ["another user's token, that session logged out", CAROL, 'revoked'],
    ["another user's token, expired", CAROL, 'expired'],
  ] as const)('refuses %s with UNAUTHORIZED and disconnects the socket', async (_name, email, how) => {
    const foreign = await login(server.url, email)
    if (how === 'expired') advance(TTL / 2)
    const { token } = await login(server.url, ALICE)
    const socket = await connect(server.url, token)
    const dropped = disconnection(socket)
    if (how === 'revoked')
      expect((await http(server.url, 'POST', '/api/auth/logout', { token: foreign.token })).status).toBe(204)
    else advance(TTL / 2 + 1) // the foreign token has expired, the socket's has not
    expect((await me(foreign.token)).status).toBe(401)
    const answer = await emitAck(socket, 'session:renew', { token: foreign.token })
    expect(answer).toEqual({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.any(String) } })
    // The disconnect follows the ack on the same transport: waited for as it comes (a socket left connected fails the
    // test at its timeout; a timer raced against it failed a busy machine that was only late).
    expect(await dropped).toBe('io server disconnect')
    socket.close()
  })

  it("refuses an expired token of the socket's own session, and leaves the socket on its renewed token", async () => {
    const { first, socket } = await renewedPastTheFirstToken()
    expect(await emitAck(socket, 'session:renew', { token: first.token })).toEqual({
      ok: false,
      error: { code: 'UNAUTHORIZED', message: 'token expired' },
    })
    // Still served, on the token it was renewed with.
    await expectServedThenClose(socket)
  })

  // Review: a renewal whose socket closed while its token was checked armed an expiry timer for the closed socket (its
  // 'disconnect' had cleared the last one), which held the socket until the new token's end: up to tokenTtlSeconds.
  it('arms no expiry timer for a socket that closed while its renewal was being checked', async () => {
    const first = await login(server.url, ALICE)
    const socket = await connect(server.url, first.token)
    advance(TTL / 2)
    const next = await refresh(first.refreshToken)
    const serverSocket = server.io.of('/').sockets.get(socket.id!)!
    // The renewal's answer goes (to a closed connection) once its handler has ended: what the test waits for.
    const packets = vi.spyOn(serverSocket as unknown as { packet(packet: { type: number }): void }, 'packet')
    const answered = vi.waitFor(() => expect(packets.mock.calls.some(([packet]) => packet.type === 3)).toBe(true), {
      timeout: 15_000,
    })
    // Closed by the server as soon as the renewal's handler awaits its first check.
    serverSocket.prependAny((event: string) => {
      if (event === 'session:renew') queueMicrotask(() => serverSocket.disconnect(true))
    })
    const timers = vi.spyOn(globalThis, 'setTimeout')
    try {
      untyped(socket).emit('session:renew', { token: next.body.token }, () => undefined)
      await answered
      // The renewed token's expiry is about one TTL away (whole seconds): no timer was armed for it.
      const expiryTimers = timers.mock.calls.filter(
        ([, ms]) => typeof ms === 'number' && ms > (TTL - 5) * 1000 && ms <= TTL * 1000,
      )
      expect(expiryTimers).toEqual([])
    } finally {
      timers.mockRestore()
      packets.mockRestore()
      socket.close()
    }
  })

  // Review: renewals had no budget, and each checks a token's signature twice (its owner, then its claims): one socket
  // sending 20,000 of them held the server for about 10 s, another user's acks waiting up to 5 s meanwhile.
  it("answers a user's renewals past a budget RATE_LIMITED with retryAfterMs, keeps the socket, and not another user's", async () => {
    const bob = await login(server.url, BOB)
    const socket = await connect(server.url, bob.token)
    // The clock stands still here: nothing refills the budget during the flood.
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => emitAck(socket, 'session:renew', { token: bob.token })),
    )
    const renewed = answers.filter((answer) => answer.ok)
    expect(renewed.length).toBeGreaterThan(0)
    expect(renewed.length).toBeLessThanOrEqual(DEFAULT_RENEW_RATE_LIMIT.burst)
    expect(answers.filter((answer) => !answer.ok)).toEqual(
      Array.from({ length: 200 - renewed.length }, () => ({
        ok: false,
        error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) },
      })),
    )
    expect(await emitAck(socket, 'conversation:leave', 'conv-alice-bob')).toEqual({ ok: true, data: null })
    expect(socket.connected).toBe(true)
    socket.close()
    const carol = await login(server.url, CAROL)
    const other = await connect(server.url, carol.token)
    expect(await emitAck(other, 'session:renew', { token: carol.token })).toEqual({ ok: true, data: null })
    other.close()
  })

  it('refuses an expired, forged or malformed token and leaves the socket on its own token', async () => {
    const first = await login(server.url, ALICE)
    const socket = await connect(server.url, first.token)
    expect((await emitAck(socket, 'session:renew', { token: `${first.token}x` })).ok).toBe(false)
    expect(await emitAck(socket, 'session:renew', { token: 5 })).toMatchObject({
      ok: false,
      error: { code: 'INVALID' },
    })
    expect(await emitAck(socket, 'session:renew')).toMatchObject({ ok: false, error: { code: 'INVALID' } })
    expect(socket.connected).toBe(true)
    socket.close()
  })
})

describe('a socket whose token has expired while its expiry timer lags (a busy loop, a clock that jumped)', () => {
  // The first event it sends is refused (above); the events for its user must not keep reaching it meanwhile: its token
  // is refused everywhere else (HTTP, a handshake), and a socket is only as good as its token.
  it('is sent no logged event: it is disconnected instead, and its client resumes from its offset with a new token', async () => {
    const bob = await login(server.url, BOB)
    const bobSocket = await connectLive(server.url, bob.token)
    const received = record(bobSocket)
    const dropped = disconnection(bobSocket)
    advance(TTL)
    expect((await me(bob.token)).status).toBe(401)
    const alice = await login(server.url, ALICE)
    const sent = await http<Message>(server.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token: alice.token,
      body: { content: 'for a socket whose token has expired', clientId: crypto.randomUUID() },
    })
    expect(sent.status).toBe(201)
    // The server emitted the message's events before answering; an event it sends after them follows them on the
    // connection, if the socket is still there to be sent anything.
    if (bobSocket.connected) await emitAck(bobSocket, 'conversation:leave', 'conv-alice-bob').catch(() => undefined)
    expect(received.of('message:new')).toEqual([])
    expect(await dropped).toBe('io server disconnect')
  })
})

describe('a socket whose token expires unrenewed', () => {
  it('is disconnected by the server when the token expires (real 2 s token)', async () => {
    const own = await startTestServer({ tokenTtlSeconds: 2 })
    try {
      const { token } = await login(own.url, ALICE)
      const socket = await connect(own.url, token)
      const exp = decodeJwt(token).exp! * 1000
      // Waited for as it comes (a socket never cut fails the test at its timeout): a busy machine may be late, never
      // early.
      expect(await disconnection(socket)).toBe('io server disconnect')
      expect(Date.now()).toBeGreaterThanOrEqual(exp - 50)
      socket.close()
    } finally {
      await own.dispose()
    }
  })
})

describe('connection-state recovery is off', () => {
  it("a socket presenting another user's recovery id (pid, offset) gets none of that user's events", async () => {
    const alice = await login(server.url, ALICE)
    const bob = await login(server.url, BOB)
    const carol = await login(server.url, CAROL)
    // Live before Bob's first post: a message committed before her handshake reads her log's head is in her past.
    const aliceSocket = await connectLive(server.url, alice.token)
    const before = nextEvent(aliceSocket, 'message:new')
    await http(server.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token: bob.token,
      body: { content: 'for alice only', clientId: `rec-${Date.now()}-1` },
    })
    await before
    // What a recovery handshake carries (socket.io-client sends `pid` and `offset` beside `auth`): Alice's socket id
    // as the pid, and an offset before the message she just got.
    const carolSocket: ClientSocket = io(server.url, {
      auth: { token: carol.token, pid: aliceSocket.id, offset: '0-0' },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    })
    const events = record(carolSocket)
    // Recording from the first packet (anything of Alice's would come before the sync), and live (past the sync) before
    // the marker is committed, or the marker may be in Carol's past and never come.
    await new Promise((resolve, reject) => {
      carolSocket.once('sync:caughtUp', () => resolve(null))
      carolSocket.once('sync:gap', () => resolve(null))
      carolSocket.once('connect_error', reject)
    })
    expect(carolSocket.recovered).not.toBe(true)
    expect(await socketsOfUser('user-alice')).not.toContain(carolSocket.id)
    // One more for Alice, then a marker for Carol: once the marker is in, anything for Alice would be too.
    const aliceGets = nextEvent(aliceSocket, 'message:new')
    await http(server.url, 'POST', '/api/conversations/conv-alice-bob/messages', {
      token: bob.token,
      body: { content: 'for alice again', clientId: `rec-${Date.now()}-2` },
    })
    await aliceGets
    const conversation = await http<{ id: string }>(server.url, 'POST', '/api/conversations', {
      token: bob.token,
      body: { participantId: 'user-carol' },
    })
    const marker = nextEvent(carolSocket, 'message:new')
    const sent = await http<Message>(server.url, 'POST', `/api/conversations/${conversation.body.id}/messages`, {
      token: bob.token,
      body: { content: 'marker for carol', clientId: `rec-${Date.now()}-3` },
    })
    await marker
    expect(events.events).toEqual([{ event: 'message:new', payload: sent.body }])
    for (const socket of [aliceSocket, carolSocket]) socket.close()
  })

  it("with an invalid token and another user's recovery id: refused, and nothing is delivered before the refusal", async () => {
    const alice = await login(server.url, ALICE)
    const aliceSocket = await connect(server.url, alice.token)
    const intruder: ClientSocket = io(server.url, {
      auth: { token: 'not-a-token', pid: aliceSocket.id, offset: '0-0' },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    })
    const events = record(intruder)
    const refusal = await new Promise<Error>((resolve) => intruder.once('connect_error', resolve))
    expect(refusal.message).toBe('UNAUTHORIZED')
    expect(events.events).toEqual([])
    intruder.close()
    aliceSocket.close()
  })
})
