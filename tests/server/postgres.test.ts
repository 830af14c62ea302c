import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TokenService } from '../../server/auth'
import { openDatabase, type Db, type Queryable } from '../../server/db'
import { appendEvents, EventLog, lockCounters } from '../../server/services/eventLog'
import { isKeyTaken, keepAnswer } from '../../server/services/idempotency'
import { createLogger } from '../../server/logger'
import { LoginThrottle } from '../../server/loginThrottle'
import { KeyedMutex } from '../../server/mutex'
import { PasswordHasher } from '../../server/passwords'
import { RateLimiter } from '../../server/rateLimit'
import { createMessaging } from '../../server/services/messaging'
import { ConversationMembers } from '../../server/services/members'
import { SessionStore } from '../../server/sessions'
import type { Conversation, Lesson, Message, Session } from './support/types'
import { postgresRunnable, startPostgres, type PostgresCluster } from './support/postgres'
import { expectLoginLookupIndexed } from './support/plans'
import { checkSessionPrune } from './support/sessionPrune'
import { requireParts } from '../cluster/support/redis'
import {
  ALICE,
  BOB,
  CAROL,
  type ClientSocket,
  connect,
  connectLive,
  delivered,
  emitAck,
  http,
  login,
  record,
  startTestServer,
  type TestServer,
} from './support/server'

// The DATABASE_URL path: the same schema and queries through `pg` against a real PostgreSQL started for this file.
// Skipped without PostgreSQL, saying why; under CI=true a missing PostgreSQL fails the run instead.
const ready = requireParts('tests/server/postgres.test.ts', [postgresRunnable()])

describe('with DATABASE_URL (real PostgreSQL through pg)', () => {
  let cluster: PostgresCluster
  let databaseUrl: string
  let server: TestServer

  beforeAll(async () => {
    if (!ready) return
    cluster = await startPostgres()
    databaseUrl = cluster.createDatabase('talemy_suite')
    // dataDir is unused with DATABASE_URL; pass one so nothing is created in the repo.
    server = await startTestServer({ databaseUrl, dataDir: tmpdir(), seedDemo: true, logTailCheckMs: 300 })
  })

  afterAll(async () => {
    await server?.close()
    cluster?.stop()
  })

  it.skipIf(!ready)(
    "reads a user's contacts, and at a connect the members of their conversations, as on the embedded database",
    async () => {
      const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
      try {
        const members = new ConversationMembers(db)
        expect(await members.contactsOf('user-alice')).toEqual(['user-bob', 'user-carol'])
        expect(members.known('conv-alice-bob')).toBeUndefined()
        expect(await members.contactsOnConnect('user-alice')).toEqual(['user-bob', 'user-carol'])
        expect(members.known('conv-alice-bob')).toEqual(['user-alice', 'user-bob'])
        expect(members.known('conv-alice-carol')).toEqual(['user-alice', 'user-carol'])
        expect(await members.of(db, 'conv-nobody')).toBeUndefined()
      } finally {
        await db.close()
      }
    },
  )

  it.skipIf(!ready)('migrates and seeds the demo data on first start', async () => {
    const { token, user } = await login(server.url, ALICE)
    expect(user).toMatchObject({ id: 'user-alice', role: 'student' })
    const conversations = await http<Conversation[]>(server.url, 'GET', '/api/conversations', { token })
    expect(conversations.body.map((c) => c.id).sort()).toEqual(['conv-alice-bob', 'conv-alice-carol'])
    expect(conversations.body.find((c) => c.id === 'conv-alice-bob')?.unreadCount).toBe(1)
  })

  it.skipIf(!ready)('sends over the socket with the right events, seq numbering and idempotent replay', async () => {
    // Both live before the send: a send committed before a handshake reads its head is that socket's past.
    const alice = await connectLive(server.url, (await login(server.url, ALICE)).token)
    const bob = await connectLive(server.url, (await login(server.url, BOB)).token)
    const bobEvents = record(bob)
    const aliceEvents = record(alice)
    const payload = { conversationId: 'conv-alice-bob', content: 'via postgres', clientId: randomUUID() }
    const first = await emitAck<Message>(alice, 'message:send', payload)
    const replay = await emitAck<Message>(alice, 'message:send', payload)
    await vi.waitFor(() => expect(bobEvents.of('message:new')).not.toHaveLength(0), { timeout: 10_000, interval: 10 })
    await delivered(alice, bob)
    expect(first.ok && first.data.seq).toBe(5)
    expect(replay).toEqual(first)
    expect(bobEvents.of('message:new')).toEqual([first.ok && first.data])
    expect(aliceEvents.of('message:sent')).toEqual([first.ok && first.data])
    expect(aliceEvents.of('message:new')).toEqual([])
    alice.close()
    bob.close()
  })

  it.skipIf(!ready)("keeps one sender's concurrent sends in order (pool of connections)", async () => {
    const alice = await connect(server.url, (await login(server.url, ALICE)).token)
    const acks = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        emitAck<Message>(alice, 'message:send', {
          conversationId: 'conv-alice-carol',
          content: `p${i}`,
          clientId: randomUUID(),
        }),
      ),
    )
    alice.close()
    const contents = acks
      .map((ack) => (ack.ok ? ack.data : undefined)!)
      .sort((a, b) => a.seq - b.seq)
      .map((m) => m.content)
    expect(contents).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`))
  })

  it.skipIf(!ready)(
    'group-commits concurrent sends of several users with seqs without gaps, across two servers on one database',
    async () => {
      const other = await startTestServer({ databaseUrl, dataDir: tmpdir(), seedDemo: true })
      const sockets = [
        await connect(server.url, (await login(server.url, ALICE)).token),
        await connect(other.url, (await login(other.url, ALICE)).token),
        await connect(server.url, (await login(server.url, BOB)).token),
        await connect(other.url, (await login(other.url, CAROL)).token),
      ]
      try {
        const [alice1, alice2, bob, carol] = sockets as [ClientSocket, ClientSocket, ClientSocket, ClientSocket]
        const send = (socket: ClientSocket, conversationId: string, content: string, clientId: string = randomUUID()) =>
          emitAck<Message>(socket, 'message:send', { conversationId, content, clientId })
        // One clientId sent at once through both servers (two transactions) into two conversations: one wins, the
        // other is refused (the unique constraint, or the stored message), and neither conversation gets a gap.
        const shared = randomUUID()
        const acks = await Promise.all([
          send(alice1, 'conv-alice-bob', 'shared 1', shared),
          send(alice2, 'conv-alice-carol', 'shared 2', shared),
          ...Array.from({ length: 6 }, (_, i) =>
            send(i % 2 ? bob : carol, i % 2 ? 'conv-alice-bob' : 'conv-alice-carol', `c${i}`),
          ),
          ...Array.from({ length: 6 }, (_, i) =>
            send(i % 2 ? alice1 : alice2, i % 2 ? 'conv-alice-bob' : 'conv-alice-carol', `a${i}`),
          ),
        ])
        const [one, two] = acks
        expect([one!.ok, two!.ok].sort()).toEqual([false, true])
        expect(one!.ok ? two : one).toMatchObject({ ok: false, error: { code: 'INVALID' } })
        expect(acks.slice(2).every((ack) => ack.ok)).toBe(true)
        // One clientId sent at once through both servers into one conversation with two texts: one is stored, the
        // other refused (the unique constraint, or the stored message), never answered with a text it did not send.
        const twice = randomUUID()
        const [x, y] = await Promise.all([
          send(alice1, 'conv-alice-bob', 'text 1', twice),
          send(alice2, 'conv-alice-bob', 'text 2', twice),
        ])
        expect([x.ok, y.ok].sort()).toEqual([false, true])
        expect(x.ok ? y : x).toEqual({
          ok: false,
          error: { code: 'INVALID', message: 'clientId: already used for a different message' },
        })
        const { token } = await login(server.url, ALICE)
        for (const conversationId of ['conv-alice-bob', 'conv-alice-carol']) {
          const thread = await http<Message[]>(
            server.url,
            'GET',
            `/api/conversations/${conversationId}/messages?limit=200`,
            { token },
          )
          expect(thread.body.map((message) => message.seq)).toEqual(thread.body.map((_, i) => i + 1))
        }
      } finally {
        for (const socket of sockets) socket.close()
        await other.close()
      }
    },
  )

  it.skipIf(!ready)('applies the lesson transition table', async () => {
    const alice = (await login(server.url, ALICE)).token
    const bob = (await login(server.url, BOB)).token
    const lesson = await http<Lesson>(server.url, 'POST', '/api/lessons', {
      token: alice,
      body: { tutorId: 'user-bob', subject: 'SQL', startsAt: '2030-02-02T10:00:00.000Z', durationMinutes: 45 },
    })
    expect(lesson.status).toBe(201)
    expect(
      (
        await http(server.url, 'PATCH', `/api/lessons/${lesson.body.id}`, {
          token: alice,
          body: { status: 'confirmed' },
        })
      ).status,
    ).toBe(403)
    expect(
      (await http(server.url, 'PATCH', `/api/lessons/${lesson.body.id}`, { token: bob, body: { status: 'completed' } }))
        .status,
    ).toBe(400)
    const confirmed = await http<Lesson>(server.url, 'PATCH', `/api/lessons/${lesson.body.id}`, {
      token: bob,
      body: { status: 'confirmed' },
    })
    expect(confirmed.body.status).toBe('confirmed')
  })

  it.skipIf(!ready)(
    'books once for one Idempotency-Key sent to two servers at once (a pool of connections each)',
    async () => {
      const other = await startTestServer({ databaseUrl, dataDir: tmpdir(), seedDemo: true })
      try {
        const alice = (await login(server.url, ALICE)).token
        const key = randomUUID()
        const subject = `Once ${key}`
        const book = (url: string) =>
          http<Lesson>(url, 'POST', '/api/lessons', {
            token: alice,
            headers: { 'idempotency-key': key },
            body: { tutorId: 'user-bob', subject, startsAt: '2030-02-02T10:00:00.000Z', durationMinutes: 45 },
          })
        const answers = await Promise.all([server.url, other.url, server.url, other.url].map(book))
        expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201])
        expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1)
        const lessons = await http<Lesson[]>(server.url, 'GET', '/api/lessons', { token: alice })
        expect(lessons.body.filter((lesson) => lesson.subject === subject)).toHaveLength(1)
      } finally {
        await other.close()
      }
    },
  )

  it.skipIf(!ready)(
    'deletes sessions ended longer ago than the grace with their tokens, in batches; keeps the rest',
    async () => {
      // A database of its own: the prune's clock is far ahead, and would end the other tests' sessions here.
      const db = await openDatabase({ databaseUrl: cluster.createDatabase('talemy_prune'), dataDir: tmpdir() })
      try {
        await checkSessionPrune(db)
      } finally {
        await db.close()
      }
    },
  )

  it.skipIf(!ready)("serves the login's lookup by email with an index on lower(email)", async () => {
    const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
    try {
      await expectLoginLookupIndexed(db)
    } finally {
      await db.close()
    }
  })

  it.skipIf(!ready)('keeps one answer per user and key, whatever the locks: the later of two fails', async () => {
    const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
    try {
      const request = { userId: 'user-alice', key: randomUUID(), fingerprint: 'f' }
      const answer = { status: 201, body: { n: 1 }, replayed: false }
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      let kept!: () => void
      const firstKept = new Promise<void>((resolve) => (kept = resolve))
      const first = db.transaction(async (tx) => {
        await keepAnswer(tx, request, answer, new Date())
        kept()
        await held
      })
      // The second goes once the first's row is in (started together, on a busy machine the second's could land first,
      // and the first failed instead: seen in CI). It waits on the first's uncommitted row, then meets the primary key
      // once it commits.
      await Promise.race([firstKept, first])
      // Its failure is taken as it comes: it may come before the first's commit is seen here, and a rejection nobody
      // handles by then fails the run.
      const second = db
        .transaction((tx) => keepAnswer(tx, request, answer, new Date()))
        .then(
          () => undefined,
          (failure: unknown) => failure,
        )
      // The first commits once the second waits on its uncommitted row (or has failed already): waited for, not a pause
      // of 200 ms, within which a busy machine's second might not reach the database, leaving the lock untried.
      let secondDone = false
      void second.then(() => {
        secondDone = true
      })
      const waitingOnALock = async () =>
        (
          await db.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
          )
        )[0]?.n ?? 0
      try {
        await vi.waitFor(async () => expect(secondDone || (await waitingOnALock()) > 0).toBe(true), {
          timeout: 20_000,
          interval: 20,
        })
      } finally {
        release()
      }
      await first
      expect(isKeyTaken(await second)).toBe(true)
    } finally {
      await db.close()
    }
  })

  // As on the embedded database (tests/server/resume.test.ts): the limit past an int, no oldest instant to compare.
  it.skipIf(!ready)(
    'replays a log kept "for ever" (maxReplay and retention as large as startServer takes)',
    async () => {
      const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
      try {
        const log = await EventLog.open(db, { maxReplay: Number.MAX_SAFE_INTEGER, retentionSeconds: 1e13 })
        const { offset } = await log.resume('user-bob', undefined, undefined)
        const logged = await db.transaction(async (tx) => {
          await lockCounters(tx, ['user-bob'])
          return appendEvents(
            tx,
            [{ userId: 'user-bob', event: 'conversation:read', payload: {} }],
            new Date().toISOString(),
          )
        })
        expect(await log.resume('user-bob', offset, log.epoch)).toMatchObject({ kind: 'replay', events: logged })
        expect(await log.prune()).toBe(0)
      } finally {
        await db.close()
      }
    },
  )

  it.skipIf(!ready)('keeps data and tokens across a restart, and seeds only once', async () => {
    const { token } = await login(server.url, ALICE)
    const before = await http<Message[]>(server.url, 'GET', '/api/conversations/conv-alice-bob/messages', { token })
    await server.close()
    server = await startTestServer({ databaseUrl, dataDir: tmpdir(), seedDemo: true, logTailCheckMs: 300 })
    expect((await http(server.url, 'GET', '/api/me', { token })).status).toBe(200)
    const after = await http<Message[]>(server.url, 'GET', '/api/conversations/conv-alice-bob/messages', { token })
    expect(after.body).toEqual(before.body)
  })

  it.skipIf(!ready)('lets two servers start at once on a new database (migrations and seed run once)', async () => {
    const url = cluster.createDatabase('talemy_twins')
    const started = await Promise.allSettled([
      startTestServer({ databaseUrl: url, dataDir: tmpdir(), seedDemo: true }),
      startTestServer({ databaseUrl: url, dataDir: tmpdir(), seedDemo: true }),
    ])
    const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    try {
      expect(started.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled'])
      const [one, two] = servers as [TestServer, TestServer]
      const { token } = await login(one.url, BOB)
      // Same secret for both: a token from one works on the other.
      expect((await http(two.url, 'GET', '/api/me', { token })).status).toBe(200)
      const lessons = await http<Lesson[]>(two.url, 'GET', '/api/lessons', { token })
      expect(lessons.body.filter((lesson) => lesson.id.startsWith('lesson-'))).toHaveLength(2)
    } finally {
      await Promise.all(servers.map((running) => running.close()))
    }
  })

  it.skipIf(!ready)(
    "reads a send's viewers while it holds the recipients' log counters, so a join on another node is never missed",
    async () => {
      // A join shares its viewer (Redis, with several nodes) and then takes these counters for its read mark. Viewers
      // read before the send's transaction can miss a join whose read mark then commits before the send: the new
      // message stays unread for someone looking at the thread, and the sender never sees "Seen". Here the probe's
      // `viewers` asks another connection for Bob's counter without waiting: refused means the send holds it.
      const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
      const probe = await openDatabase({ databaseUrl, dataDir: tmpdir() })
      const heldWhenRead: boolean[] = []
      try {
        const tokens = new TokenService(new Uint8Array(32))
        const messaging = createMessaging({
          db,
          tokens,
          sessions: new SessionStore(db, tokens, new Uint8Array(32), { idleSeconds: 60, maxSeconds: 60 }),
          limiter: new RateLimiter({ perSecond: 1e6, burst: 1e6 }),
          replayLookups: new RateLimiter({ perSecond: 1e6, burst: 1e6 }),
          notifier: { deliver: () => undefined },
          presence: {
            async viewers() {
              const held = await probe
                .transaction((tx) => tx.query("select 1 from users where id = 'user-bob' for update nowait"))
                .then(
                  () => false,
                  (error: { code?: string }) => {
                    if (error.code !== '55P03') throw error
                    return true
                  },
                )
              heldWhenRead.push(held)
              return new Set(['user-bob'])
            },
          },
          conversationLocks: new KeyedMutex(),
          members: new ConversationMembers(db),
          now: () => new Date(),
          passwords: new PasswordHasher(),
          loginThrottle: new LoginThrottle(),
          logger: createLogger('silent'),
        })
        const sent = await messaging.send('user-alice', {
          conversationId: 'conv-alice-bob',
          content: 'read under the lock',
          clientId: randomUUID(),
        })
        expect(heldWhenRead).toEqual([true])
        const [bob] = await db.query<{ last_read_seq: number | string }>(
          "select last_read_seq from conversation_members where conversation_id = 'conv-alice-bob' and user_id = 'user-bob'",
        )
        expect(Number(bob?.last_read_seq)).toBe(sent.seq)
      } finally {
        await Promise.all([db.close(), probe.close()])
      }
    },
  )

  it.skipIf(!ready)(
    'answers the same new pair to refreshes of one token at once (two tabs), never a 500 from a second rotation',
    async () => {
      const refresh = (refreshToken: string) =>
        http<Session>(server.url, 'POST', '/api/auth/refresh', { body: { refreshToken } })
      for (let round = 0; round < 5; round++) {
        const { refreshToken } = await login(server.url, ALICE)
        const answers = await Promise.all([refresh(refreshToken), refresh(refreshToken), refresh(refreshToken)])
        expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200])
        expect(answers[1]!.body).toEqual(answers[0]!.body)
        expect(answers[2]!.body).toEqual(answers[0]!.body)
      }
    },
  )

  it.skipIf(!ready)(
    'takes refreshes of a token and of its successor and a logout at once in turn: each answered, none a 500',
    async () => {
      // They lock the same session and token rows, each statement the session first: they wait, never deadlock.
      const refresh = (refreshToken: string) =>
        http<Session>(server.url, 'POST', '/api/auth/refresh', { body: { refreshToken } })
      for (let round = 0; round < 5; round++) {
        const first = await login(server.url, ALICE)
        const second = await refresh(first.refreshToken)
        const answers = await Promise.all([
          refresh(first.refreshToken),
          refresh(second.body.refreshToken),
          refresh(second.body.refreshToken),
          http(server.url, 'POST', '/api/auth/logout', { body: { refreshToken: second.body.refreshToken } }),
        ])
        expect(answers[3]!.status).toBe(204)
        for (const answer of answers.slice(0, 3)) expect([200, 401]).toContain(answer.status)
        // The session ended with the logout, whatever order they took.
        expect((await refresh(second.body.refreshToken)).status).toBe(401)
      }
    },
  )

  it.skipIf(!ready)('seeds no demo accounts unless asked (SEED_DEMO is off by default with DATABASE_URL)', async () => {
    const url = cluster.createDatabase('talemy_no_demo')
    const plain = await startTestServer({ databaseUrl: url, dataDir: tmpdir() })
    try {
      const result = await http(plain.url, 'POST', '/api/auth/login', { body: { email: ALICE, password: 'talemy' } })
      expect(result.status).toBe(401)
    } finally {
      await plain.close()
    }
  })
  it.skipIf(!ready)(
    'brings an event committed without a word (the commit’s reply was lost on the way back) to the live sockets within a check',
    async () => {
      // Bob is live (his handshake's resume has read his log's head) before the event is written.
      const bob = await connectLive(server.url, (await login(server.url, BOB)).token)
      const bobEvents = record(bob)
      // What a commit whose reply never came back leaves (the sender retries and gets the stored message, which tells
      // nobody again): the event in the log, and no word of it to the live sockets.
      const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
      try {
        await db.transaction(async (tx) => {
          await lockCounters(tx, ['user-bob'])
          await appendEvents(
            tx,
            [
              {
                userId: 'user-bob',
                event: 'conversation:read',
                payload: { conversationId: 'conv-alice-bob', unreadCount: 0 },
              },
            ],
            new Date().toISOString(),
          )
        })
      } finally {
        await db.close()
      }
      await vi.waitFor(() => expect(bobEvents.of('conversation:read')).toHaveLength(1), {
        timeout: 20_000,
        interval: 20,
      })
      bob.close()
    },
  )

  it.skipIf(!ready)(
    'answers the conversation list from one snapshot: a send committed between its reads is in all of it or none',
    async () => {
      // The list is read in three statements (the conversations with their unread counts, the members' read marks, the
      // last messages). Each on its own snapshot, a send committed between them came back as the last message but not
      // in the unread count nor in `updatedAt`: the browser then counts one unread too few (the event of that message
      // lands on a list that holds it already, so it changes nothing) and sorts the list by an older time, for good.
      const db = await openDatabase({ databaseUrl, dataDir: tmpdir() })
      try {
        const messagingOn = (on: Db) => {
          const tokens = new TokenService(new Uint8Array(32))
          return createMessaging({
            db: on,
            tokens,
            sessions: new SessionStore(on, tokens, new Uint8Array(32), { idleSeconds: 60, maxSeconds: 60 }),
            limiter: new RateLimiter({ perSecond: 1e6, burst: 1e6 }),
            replayLookups: new RateLimiter({ perSecond: 1e6, burst: 1e6 }),
            notifier: { deliver: () => undefined },
            presence: { viewers: () => new Set<string>() },
            conversationLocks: new KeyedMutex(),
            members: new ConversationMembers(on),
            now: () => new Date(),
            passwords: new PasswordHasher(),
            loginThrottle: new LoginThrottle(),
            logger: createLogger('silent'),
          })
        }
        const writer = messagingOn(db)
        // Alice writes to Bob right after the list's first statement has answered (on another connection).
        let sent: Message | undefined
        const afterFirstRead = async <T>(sql: string, rows: T[]): Promise<T[]> => {
          if (sent === undefined && sql.includes(' as unread')) {
            sent = await writer.send('user-alice', {
              conversationId: 'conv-alice-bob',
              content: 'between the reads',
              clientId: randomUUID(),
            })
          }
          return rows
        }
        const watched = (q: Queryable): Queryable => ({
          ...q,
          query: async <T>(sql: string, params?: unknown[]) => afterFirstRead(sql, await q.query<T>(sql, params)),
        })
        const reader = messagingOn({
          ...db,
          ...watched(db),
          transaction: (fn) => db.transaction((tx) => fn(watched(tx))),
        } as Db)
        const before = (await writer.listConversations('user-bob')).find((c) => c.id === 'conv-alice-bob')!
        const listed = (await reader.listConversations('user-bob')).find((c) => c.id === 'conv-alice-bob')!
        expect(sent).toBeDefined()
        const after = (await writer.listConversations('user-bob')).find((c) => c.id === 'conv-alice-bob')!
        expect(after.lastMessage?.id).toBe(sent?.id)
        expect([before, after]).toContainEqual(listed)
      } finally {
        await db.close()
      }
    },
  )
})
