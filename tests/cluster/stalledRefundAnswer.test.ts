import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, CAROL, connectLive, emitAck, http, login } from '../server/support/server'
import { capturedLog } from '../support/capturedLog'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// A token given back (a replayed send's, an outsider's send, join or typing notice, a malformed send's) as Redis
// stalls: the budget was taken before the stall, the refund comes during it. The refund is bookkeeping (sent again once
// Redis answers): the caller must get the answer its request deserved, not the refund's failure (INTERNAL), which would
// have the client send again a message that is stored, or retry a refusal that stands.
const ready = requireParts('tests/cluster/stalledRefundAnswer.test.ts', [postgresRunnable(), redisRunnable()])
const AB = 'conv-alice-bob'
const AC = 'conv-alice-carol'

describe.runIf(ready)('an answer whose token is given back as Redis stalls', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  })
  afterAll(async () => {
    await redis?.stop()
    postgres?.stop()
  })

  /** A node of its own (a database of its own): which conversations' members it knows is up to the test. */
  async function nodeOn(name: string) {
    const databaseUrl = postgres.createDatabase(name)
    const node = await startServer({
      port: 0,
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: `${name}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      logger: capturedLog('info').logger,
    })
    return { node, databaseUrl }
  }

  /**
   * Runs `start` while the tables the operations read after their budget (the members, the messages) are locked;
   * once `waiting` of them wait for the lock (their token taken), stalls Redis and lets them go on: each gives its
   * token back as Redis answers nothing. Resolves with their answers.
   */
  async function heldUntilRedisStalls<T>(databaseUrl: string, waiting: number, start: () => Promise<T>[]) {
    const holder = new pg.Client({ connectionString: databaseUrl })
    await holder.connect()
    try {
      await holder.query('begin')
      // The members' look-up (PARTICIPANTS) waits for `conversations`, the send statement (SEND_MESSAGE) for
      // `messages`: tables the node reads nothing else from meanwhile (its presence reads only `conversation_members`).
      await holder.query('lock table conversations, messages in access exclusive mode')
      // Settled together from the start: one that fails while the others are held is no unhandled rejection.
      const answers = Promise.all(start())
      const held = async () =>
        Number(
          (
            await holder.query<{ n: string }>(
              `select count(*) as n from pg_locks where not granted
               and relation in ('conversations'::regclass, 'messages'::regclass)`,
            )
          ).rows[0]?.n,
        )
      await vi.waitFor(async () => expect(await held()).toBe(waiting), { timeout: hangBound(), interval: 50 })
      redis.stall()
      await holder.query('commit')
      return await answers
    } finally {
      redis.resume()
      await holder.end()
    }
  }

  it('socket: a replay gets its stored message, an outsider FORBIDDEN (send, join, typing), a malformed send INVALID', async () => {
    const { node, databaseUrl } = await nodeOn('rfa_socket')
    try {
      const bob = await login(node.url, BOB)
      const socket = await connectLive(node.url, bob.token)
      try {
        const sent = { conversationId: AB, content: 'sent once', clientId: randomUUID() }
        const stored = await emitAck<{ id: string }>(socket, 'message:send', sent)
        expect(stored).toMatchObject({ ok: true })
        // Bob and Carol's, made now: its members are not known yet, as Alice and Carol's are not (Bob is not in it).
        const created = await http<{ id: string }>(node.url, 'POST', '/api/conversations', {
          token: bob.token,
          body: { participantId: 'user-carol' },
        })
        expect(created.status).toBe(201)
        const answers = await heldUntilRedisStalls(databaseUrl, 5, () => [
          emitAck(socket, 'message:send', sent),
          emitAck(socket, 'message:send', { conversationId: AC, content: 'not mine', clientId: randomUUID() }),
          emitAck(socket, 'conversation:join', AC),
          emitAck(socket, 'typing', { conversationId: AC }),
          emitAck(socket, 'message:send', { conversationId: created.body.id, clientId: randomUUID() }),
        ])
        const refused = (code: string) => ({ ok: false, error: expect.objectContaining({ code }) })
        expect(answers).toEqual([
          { ok: true, data: expect.objectContaining({ id: stored.ok && stored.data.id, clientId: sent.clientId }) },
          refused('FORBIDDEN'),
          refused('FORBIDDEN'),
          refused('FORBIDDEN'),
          refused('INVALID'),
        ])
      } finally {
        socket.close()
      }
    } finally {
      await node.close()
    }
  }, 120_000)

  it('HTTP: a replay (POST with a stored clientId) gets its stored message, an outsider 403, a malformed post 400', async () => {
    const { node, databaseUrl } = await nodeOn('rfa_http')
    try {
      const [alice, bob, carol] = await Promise.all([
        login(node.url, ALICE),
        login(node.url, BOB),
        login(node.url, CAROL),
      ])
      const post = (token: string, conversationId: string, body: unknown) =>
        http<{ id?: string; error?: { code: string } }>(
          node.url,
          'POST',
          `/api/conversations/${conversationId}/messages`,
          {
            token,
            body,
          },
        )
      const sent = { content: 'sent once', clientId: randomUUID() }
      const stored = await post(alice.token, AB, sent)
      expect(stored.status).toBe(201)
      const answers = await heldUntilRedisStalls(databaseUrl, 3, () => [
        post(alice.token, AB, sent),
        post(bob.token, AC, { content: 'not mine', clientId: randomUUID() }),
        post(carol.token, AC, { clientId: randomUUID() }),
      ])
      expect(answers.map(({ status, body }) => ({ status, body }))).toEqual([
        { status: 201, body: expect.objectContaining({ id: stored.body.id, clientId: sent.clientId }) },
        { status: 403, body: { error: expect.objectContaining({ code: 'FORBIDDEN' }) } },
        { status: 400, body: { error: expect.objectContaining({ code: 'INVALID' }) } },
      ])
    } finally {
      await node.close()
    }
  }, 120_000)
})
