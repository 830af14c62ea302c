import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type StartServerOptions } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import {
  ALICE,
  BOB,
  CAROL,
  connectLive,
  http,
  login,
  manualClock,
  record,
  type ClientSocket,
} from '../server/support/server'
import type { Session } from '../server/support/types'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// Sessions across two nodes (OWASP ASVS V2, V3): a refresh token replayed on one node, or two tabs refreshing one token
// on two nodes at once, end (or keep) the session on both, and its sockets on the other node with it; a logout on one
// node lets no later event reach its socket on the other; a password guessed on both nodes at once is throttled once.
const ready = requireParts('tests/cluster/sessionsAcrossNodes.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('sessions across two nodes', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let a: Awaited<ReturnType<typeof startServer>>
  let b: Awaited<ReturnType<typeof startServer>>
  const clock = manualClock()
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    const options: StartServerOptions = {
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_sessions_nodes'),
      redisUrl: redis.url,
      redisPrefix: `s${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      now: clock.now,
      tokenTtlSeconds: 3600,
    }
    a = await startServer(options)
    b = await startServer(options)
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await a?.close()
    await b?.close()
    await redis?.stop()
    postgres?.stop()
  })

  const refresh = (url: string, refreshToken: string) =>
    http<Session>(url, 'POST', '/api/auth/refresh', { body: { refreshToken } })
  const me = (url: string, token: string) => http(url, 'GET', '/api/me', { token })
  const live = async (url: string, token: string) => {
    const socket = await connectLive(url, token)
    sockets.push(socket)
    return socket
  }
  const disconnection = (socket: ClientSocket) => new Promise<string>((resolve) => socket.once('disconnect', resolve))

  it('two tabs refreshing one token on two nodes at once get the same pair; a replay after the window ends it everywhere', async () => {
    const first = await login(a.url, BOB)
    const answers = await Promise.all([refresh(a.url, first.refreshToken), refresh(b.url, first.refreshToken)])
    expect(answers.map((answer) => answer.status)).toEqual([200, 200])
    expect(answers[1].body).toEqual(answers[0].body)
    const next = answers[0].body
    // Bob's tabs on both nodes, on the rotated pair.
    const onA = await live(a.url, next.token)
    const onB = await live(b.url, next.token)
    const drops = [disconnection(onA), disconnection(onB)]
    clock.advance(31_000)
    // The first token, presented again past the reuse window, on node B: theft.
    expect((await refresh(b.url, first.refreshToken)).status).toBe(401)
    expect(await Promise.all(drops)).toEqual(['io server disconnect', 'io server disconnect'])
    for (const node of [a, b]) {
      expect((await me(node.url, next.token)).status).toBe(401)
      expect((await refresh(node.url, next.refreshToken)).status).toBe(401)
    }
  })

  it('a socket on node B of a session logged out on node A gets no event committed after the logout was answered', async () => {
    const bob = await login(b.url, BOB)
    const onB = await live(b.url, bob.token)
    const received = record(onB)
    const dropped = disconnection(onB)
    expect((await http(a.url, 'POST', '/api/auth/logout', { token: bob.token })).status).toBe(204)
    const alice = await login(b.url, ALICE)
    const sent = await http(b.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: alice.token,
      body: { content: 'after his logout', clientId: randomUUID() },
    })
    expect(sent.status).toBe(201)
    expect(await dropped).toBe('io server disconnect')
    expect(received.of('message:new')).toEqual([])
  })

  it('lets at most perEmail wrong passwords for one email be checked when they come at once to both nodes', async () => {
    const attempts = Array.from({ length: 40 }, (_, i) =>
      http(i % 2 ? a.url : b.url, 'POST', '/api/auth/login', {
        body: { email: CAROL, password: `guess${i}` },
      }),
    )
    const statuses = (await Promise.all(attempts)).map((answer) => answer.status)
    expect(statuses.filter((status) => status === 401).length).toBe(5)
    expect(statuses.filter((status) => status === 429).length).toBe(35)
  })
})
