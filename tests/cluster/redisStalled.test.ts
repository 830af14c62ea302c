import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { NodeEntries } from '../../server/cluster/entries'
import { REDIS_COMMAND_TIMEOUT_MS } from '../../server/cluster/redis'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, CAROL, connect, emitAck, http, login } from '../server/support/server'
import { capturedLog, type LogLine } from '../support/capturedLog'
import { polled } from '../support/polled'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// A Redis that keeps its connections open and answers nothing (stopped, or a partition that drops packets without a
// reset): no connection error ever comes. The node must neither hold its sends for as long as that lasts nor keep quiet.
const ready = requireParts('tests/cluster/redisStalled.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('a node whose Redis holds its connections and answers nothing', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let node: Awaited<ReturnType<typeof startServer>>
  const log = capturedLog('info')

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    node = await startServer({
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_redis_stalled'),
      redisUrl: redis.url,
      redisPrefix: `rs${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      logger: log.logger,
      // Two sends, refilled one every 100 s: a token spent twice shows as the next send refused.
      rateLimit: { perSecond: 0.01, burst: 2 },
    })
  })
  afterAll(async () => {
    redis?.resume()
    await node?.close()
    await redis?.stop()
    postgres?.stop()
  })

  it('answers a send it cannot budget (INTERNAL: the client keeps it and retries) rather than hold it, and stores the retry once', async () => {
    const { token } = await login(node.url, ALICE)
    const socket = await connect(node.url, token)
    try {
      const send = { conversationId: CONV, content: 'during the stall', clientId: randomUUID() }
      redis.stall()
      // Answered while Redis still stalls (its command bound, 5 s): without the bound no answer comes, and the test's
      // timeout says so.
      const answer = await emitAck(socket, 'message:send', send)
      expect(answer).toEqual({ ok: false, error: expect.objectContaining({ code: 'INTERNAL' }) })
      redis.resume()
      const retried = await emitAck<{ clientId: string }>(socket, 'message:send', send)
      expect(retried).toEqual({ ok: true, data: expect.objectContaining({ clientId: send.clientId }) })
      const thread = await http<{ clientId: string }[]>(node.url, 'GET', `/api/conversations/${CONV}/messages`, {
        token,
      })
      expect(thread.body.filter((message) => message.clientId === send.clientId)).toHaveLength(1)
    } finally {
      redis.resume()
      socket.close()
    }
  }, 120_000)
  it('charges a send refused INTERNAL as Redis stalled nothing: its retry and the next send both go through', async () => {
    const { token } = await login(node.url, BOB)
    const socket = await connect(node.url, token)
    try {
      const first = { conversationId: CONV, content: 'sent as Redis stalls', clientId: randomUUID() }
      redis.stall()
      const answer = await emitAck(socket, 'message:send', first)
      expect(answer).toEqual({ ok: false, error: expect.objectContaining({ code: 'INTERNAL' }) })
      redis.resume()
      // The client retries what it was told failed, then sends its next message: two messages, two tokens.
      expect(await emitAck(socket, 'message:send', first)).toMatchObject({ ok: true })
      const next = { conversationId: CONV, content: 'the next one', clientId: randomUUID() }
      expect(await emitAck(socket, 'message:send', next)).toEqual({ ok: true, data: expect.anything() })
    } finally {
      redis.resume()
      socket.close()
    }
  }, 120_000)

  it('says once that Redis does not answer, not once per request it fails, and says when it answers again', async () => {
    const alice = await login(node.url, ALICE)
    const socket = await connect(node.url, alice.token)
    const since = log.lines().length
    const send = (conversationId: string) => ({ conversationId, content: 'as Redis stalls', clientId: randomUUID() })
    try {
      redis.stall()
      // Sends on the socket and over HTTP, and a handshake (the socket cap), all at once: each fails at the command
      // bound.
      const [overSocket, another, overHttp, handshake] = await Promise.allSettled([
        emitAck(socket, 'message:send', send(CONV)),
        emitAck(socket, 'message:send', send('conv-alice-carol')),
        http(node.url, 'POST', `/api/conversations/${CONV}/messages`, { token: alice.token, body: send(CONV) }),
        connect(node.url, alice.token),
      ])
      // Answered as before: INTERNAL, which the client retries.
      for (const answer of [overSocket, another])
        expect(answer).toEqual({
          status: 'fulfilled',
          value: { ok: false, error: expect.objectContaining({ code: 'INTERNAL' }) },
        })
      expect(overHttp).toMatchObject({
        status: 'fulfilled',
        value: { status: 500, body: { error: { code: 'INTERNAL' } } },
      })
      expect(handshake).toMatchObject({ status: 'rejected', reason: { message: 'INTERNAL' } })
      const outage = (line: LogLine) => /^Redis does not answer/.test(line.msg)
      // Each failure is logged (if at all) before it is answered.
      const errors = log
        .lines()
        .slice(since)
        .filter((line) => line.level >= 50)
      expect(errors.map((line) => line.msg)).toEqual([])
      await log.logged(outage, since)
      expect(log.lines().slice(since).filter(outage)).toHaveLength(1)
      redis.resume()
      expect(await emitAck(socket, 'message:send', send(CONV))).toMatchObject({ ok: true })
      await log.logged((line) => line.level === 30 && /^Redis answers again/.test(line.msg), since)
    } finally {
      redis.resume()
      socket.close()
    }
  }, 120_000)

  it('says so when its heartbeat goes unanswered (the other nodes stop counting its sockets), once, and when it is renewed again', async () => {
    const { token } = await login(node.url, ALICE)
    const socket = await connect(node.url, token)
    // This test's own lines: an earlier test's stall may have cost a beat, said then.
    const heartbeat = (since: number) =>
      log
        .lines()
        .slice(since)
        .filter((line) => /heartbeat/.test(line.msg))
    // Each beat's renewal failed, counted before the node's own handler of it runs (so before its warning, if any).
    let failedBeats = 0
    const hearFailed = new Set<() => void>()
    const renew = NodeEntries.prototype.renew
    const beats = vi.spyOn(NodeEntries.prototype, 'renew').mockImplementation(function (this: NodeEntries) {
      const beat = renew.call(this)
      beat.catch(() => {
        failedBeats++
        for (const hear of hearFailed) hear()
      })
      return beat
    })
    // Waited for as they come, with no bound of their own: each beat's renewal fails at the command bound (5 s).
    const failedUpTo = async (count: number) => {
      while (failedBeats < count) await new Promise<void>((resolve) => hearFailed.add(resolve))
      hearFailed.clear()
    }
    try {
      const since = log.lines().length
      redis.stall()
      await log.logged((line) => line.level === 40 && /heartbeat failed/.test(line.msg), since)
      // Two more beats unanswered: still one warning for the streak.
      await failedUpTo(failedBeats + 2)
      expect(heartbeat(since).filter((line) => line.level === 40)).toHaveLength(1)
      redis.resume()
      await log.logged((line) => line.level === 30 && /heartbeat renewed/.test(line.msg), since)
    } finally {
      beats.mockRestore()
      redis.resume()
      socket.close()
    }
  }, 120_000)

  it('logs a right password in while Redis stalls, within a few seconds, not past the request timeout', async () => {
    try {
      redis.stall()
      const startedAt = performance.now()
      const session = await http<{ token?: string }>(node.url, 'POST', '/api/auth/login', {
        body: { email: ALICE, password: 'talemy' },
      })
      expect(session.body).toMatchObject({ token: expect.any(String) })
      // Each of the throttle's counters waits on Redis at most as a read's budget does, not the command bound (5 s).
      expect(performance.now() - startedAt).toBeLessThan(15_000)
    } finally {
      redis.resume()
    }
  }, 120_000)

  it('forgives the typos before a right password logged in as Redis stalled, as it does otherwise', async () => {
    const attempt = async (password: string) =>
      (await http(node.url, 'POST', '/api/auth/login', { body: { email: CAROL, password } })).status
    const statuses: number[] = []
    for (let typo = 0; typo < 4; typo++) statuses.push(await attempt('wrong'))
    try {
      redis.stall()
      statuses.push(await attempt('talemy'))
    } finally {
      redis.resume()
    }
    // Her own typos, forgiven by her success: a typo and her password again are within the five failures she has.
    statuses.push(await attempt('wrong'), await attempt('talemy'))
    expect(statuses).toEqual([401, 401, 401, 401, 200, 401, 200])
  }, 120_000)

  it('forgives them too when Redis stalls past the command bound, its reads given up on before it answers', async () => {
    const attempt = async (password: string) =>
      (await http(node.url, 'POST', '/api/auth/login', { body: { email: ALICE, password } })).status
    // Bounded as the node's commands are: a PING sent after the login is answered gives up after the node's have.
    const bounded = new Redis(redis.url, { commandTimeout: REDIS_COMMAND_TIMEOUT_MS })
    const statuses: number[] = []
    try {
      await bounded.ping()
      for (let typo = 0; typo < 4; typo++) statuses.push(await attempt('wrong'))
      redis.stall()
      statuses.push(await attempt('talemy'))
      await expect(bounded.ping()).rejects.toThrow(/timed out/)
    } finally {
      redis.resume()
      bounded.disconnect()
    }
    statuses.push(await attempt('wrong'), await attempt('talemy'))
    expect(statuses).toEqual([401, 401, 401, 401, 200, 401, 200])
  }, 120_000)

  it('answers its health probe 503 naming Redis while it stalls, and 200 once Redis answers again', async () => {
    try {
      await expect(http(node.url, 'GET', '/api/health')).resolves.toMatchObject({ status: 200 })
      redis.stall()
      // The probe's own bound (2 s) answers, not the command bound.
      const during = await http(node.url, 'GET', '/api/health')
      expect(during).toMatchObject({ status: 503, body: { status: 'unavailable', failing: ['redis'] } })
      redis.resume()
      await polled(async () => (await http(node.url, 'GET', '/api/health')).status === 200)
    } finally {
      redis.resume()
    }
  }, 120_000)
})
