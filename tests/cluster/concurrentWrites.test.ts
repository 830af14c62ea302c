import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Ack, ContactRequest, Lesson, Message } from '../../src/contract'
import { startServer, type StartServerOptions } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import {
  ALICE,
  BOB,
  declinePending,
  delivered,
  emitAck,
  freshDataDir,
  http,
  login,
  record,
  type ClientSocket,
  type Recorder,
} from '../server/support/server'
import { openStream } from '../server/support/stream'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { polled } from '../support/polled'

// The same write arriving twice at once, or two parties' writes to one thing at once, on the embedded database (one
// node) and on PostgreSQL with two nodes (each half on another node): nothing is doubled or lost, and what each party
// is told agrees with what is stored. What is stored is read over the API and by replaying each user's whole log.
const clustered = requireParts('tests/cluster/concurrentWrites.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'
const frozen = Date.parse('2031-03-01T09:00:00Z')
const ROUNDS = 6
type Node = Awaited<ReturnType<typeof startServer>>

const setups = [
  { name: 'the embedded database, one node', run: true },
  { name: 'PostgreSQL, two nodes', run: clustered },
]

describe.each(setups)('concurrent writes on $name', ({ name, run }) => {
  let postgres: PostgresCluster | undefined
  let redis: RedisServer | undefined
  let a: Node
  let b: Node
  const sockets: ClientSocket[] = []
  let alice: string
  let bob: string
  let rec: { aliceA: Recorder; bobA: Recorder; bobB: Recorder }
  /** Each socket's `lesson:statusUpdated`, with the offset each came with, in the order they came. */
  let updates: Map<ClientSocket, { lesson: Lesson; offset: number }[]>
  let aliceA: ClientSocket
  let bobA: ClientSocket
  let bobB: ClientSocket
  let epoch: string

  beforeAll(async () => {
    if (!run) return
    const options: StartServerOptions = {
      port: 0,
      seedDemo: true,
      now: () => frozen,
      rateLimit: { perSecond: 1, burst: 100_000 },
      readRateLimit: { perSecond: 1, burst: 100_000 },
      maxReplay: 100_000,
    }
    if (name.startsWith('PostgreSQL')) {
      ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
      const databaseUrl = postgres.createDatabase('talemy_concurrent_writes')
      Object.assign(options, {
        databaseUrl,
        redisUrl: redis.url,
        redisPrefix: `t${randomUUID().slice(0, 8)}:`,
        dataDir: tmpdir(),
      })
      a = await startServer(options)
      b = await startServer(options)
    } else {
      a = await startServer({ ...options, dataDir: freshDataDir() })
      b = a
    }
    alice = (await login(a.url, ALICE)).token
    bob = (await login(b.url, BOB)).token
    const live = async (url: string, token: string) => {
      const s = await openStream(url, token)
      sockets.push(s.socket)
      epoch = (await s.synced()).payload.epoch
      return s.socket
    }
    ;[aliceA, bobA, bobB] = await Promise.all([live(a.url, alice), live(a.url, bob), live(b.url, bob)])
    rec = { aliceA: record(aliceA), bobA: record(bobA), bobB: record(bobB) }
    updates = new Map(
      [aliceA, bobA, bobB].map((socket) => {
        const came: { lesson: Lesson; offset: number }[] = []
        // Every logged event carries its offset (CONTRACT): -1 marks one without it, which the status race refuses.
        socket.on('lesson:statusUpdated', (lesson, meta) => void came.push({ lesson, offset: meta?.offset ?? -1 }))
        return [socket, came]
      }),
    )
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await a?.close()
    if (b !== a) await b?.close()
    await redis?.stop()
    postgres?.stop()
  })

  /**
   * Waits until each socket has heard `count` of what `of` picks: an event written through the other node comes by
   * Redis, which `delivered` (an ack on each socket, from its own node) does not wait for. The test then says exactly
   * what was heard.
   */
  async function untilHeard(sockets: Recorder[], of: (r: Recorder) => unknown[], count: number) {
    await delivered(aliceA, bobA, bobB)
    await polled(
      () => sockets.every((r) => of(r).length >= count),
      20,
      () => sockets.map(of),
    )
  }

  /** Each user's whole log (a replay from offset 0), as the statuses of `event` for the item `id`, in log order. */
  async function logged(event: string, id: string): Promise<Record<string, string[]>> {
    const byUser: Record<string, string[]> = {}
    for (const [userId, token] of [
      ['user-alice', alice],
      ['user-bob', bob],
    ] as const) {
      const replay = await openStream(a.url, token, { offset: 0, epoch })
      try {
        expect((await replay.synced()).event).toBe('sync:caughtUp')
        const items = replay.logged().filter((item) => item.event === event && item.payload.id === id)
        if (items.length > 0) byUser[userId] = items.map((item) => String(item.payload.status))
      } finally {
        replay.socket.close()
      }
    }
    return byUser
  }

  const lessons = async () => (await http<Lesson[]>(b.url, 'GET', '/api/lessons', { token: alice })).body
  const latest = async () =>
    (await http<Message[]>(b.url, 'GET', `/api/conversations/${CONV}/messages?limit=200`, { token: bob })).body

  const inFuture = (round: number) => new Date(frozen + (round + 30) * 86_400_000).toISOString()

  it.runIf(run)(
    'books one lesson for one Idempotency-Key sent four times at once (across both nodes where two run): one booked, all answers name it, one event each',
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const key = randomUUID()
        const body = { tutorId: 'user-bob', subject: `Race ${key}`, startsAt: inFuture(round), durationMinutes: 60 }
        const headers = { 'idempotency-key': key }
        const answers = await Promise.all(
          [a.url, b.url, a.url, b.url].map((url) =>
            http<Lesson>(url, 'POST', '/api/lessons', { token: alice, body, headers }),
          ),
        )
        expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201])
        const ids = new Set(answers.map((answer) => answer.body.id))
        expect(ids.size).toBe(1)
        const [id] = [...ids] as [string]
        expect(
          (await lessons()).filter((lesson) => lesson.subject === body.subject).map((lesson) => lesson.id),
        ).toEqual([id])
        expect(await logged('lesson:created', id)).toEqual({ 'user-alice': ['pending'], 'user-bob': ['pending'] })
        const created = (r: Recorder) => r.of('lesson:created').filter((lesson) => lesson.id === id)
        await untilHeard([rec.aliceA, rec.bobA, rec.bobB], created, 1)
        for (const r of [rec.aliceA, rec.bobA, rec.bobB]) {
          expect(created(r)).toHaveLength(1)
        }
      }
    },
  )

  it.runIf(run)(
    'sends one contact request for one Idempotency-Key sent four times at once (across both nodes where two run): one sent, one event each',
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        await declinePending(b.url, bob, 'user-alice')
        const key = randomUUID()
        const body = { tutorId: 'user-bob', message: `Race ${key}` }
        const headers = { 'idempotency-key': key }
        const answers = await Promise.all(
          [a.url, b.url, b.url, a.url].map((url) =>
            http<{ id: string }>(url, 'POST', '/api/contact-requests', { token: alice, body, headers }),
          ),
        )
        expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201])
        expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1)
        const id = answers[0]!.body.id
        const listed = await http<ContactRequest[]>(b.url, 'GET', '/api/contact-requests', { token: alice })
        expect(listed.body.filter((request) => request.message === body.message).map((request) => request.id)).toEqual([
          id,
        ])
        expect(await logged('contactRequest:created', id)).toEqual({
          'user-alice': ['pending'],
          'user-bob': ['pending'],
        })
        const created = (r: Recorder) => r.of('contactRequest:created').filter((request) => request.id === id)
        await untilHeard([rec.aliceA, rec.bobA, rec.bobB], created, 1)
        for (const r of [rec.aliceA, rec.bobA, rec.bobB]) {
          expect(created(r)).toHaveLength(1)
        }
      }
    },
  )

  it.runIf(run)(
    'refuses one Idempotency-Key sent at once with two bodies: one booked, the other 400 INVALID',
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const key = randomUUID()
        const headers = { 'idempotency-key': key }
        const bodies = ['one', 'two'].map((which) => ({
          tutorId: 'user-bob',
          subject: `Two bodies ${which} ${key}`,
          startsAt: inFuture(round),
          durationMinutes: 45,
        }))
        const answers = await Promise.all(
          bodies.map((body, i) =>
            http<{ id?: string; error?: { code: string; message: string } }>(
              i ? b.url : a.url,
              'POST',
              '/api/lessons',
              { token: alice, body, headers },
            ),
          ),
        )
        expect(answers.map((answer) => answer.status).sort()).toEqual([201, 400])
        const refused = answers.find((answer) => answer.status === 400)!
        expect(refused.body.error).toEqual({
          code: 'INVALID',
          message: 'Idempotency-Key: already used for a different request',
        })
        const stored = (await lessons()).filter((lesson) => lesson.subject.endsWith(key)).map((lesson) => lesson.id)
        expect(stored).toEqual([answers.find((answer) => answer.status === 201)!.body.id])
      }
    },
  )

  it.runIf(run)(
    'stores one message for one clientId sent at once over the socket and over HTTP (on the other node where two run)',
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const clientId = randomUUID()
        const content = `both ways ${clientId}`
        const [ack, posted] = await Promise.all([
          emitAck<Message>(aliceA, 'message:send', { conversationId: CONV, content, clientId }),
          http<Message>(b.url, 'POST', `/api/conversations/${CONV}/messages`, {
            token: alice,
            body: { content, clientId },
          }),
        ])
        expect(ack.ok).toBe(true)
        expect([200, 201]).toContain(posted.status)
        const stored = (ack as Extract<Ack<Message>, { ok: true }>).data
        expect(posted.body).toEqual(stored)
        expect((await latest()).filter((message) => message.clientId === clientId)).toEqual([stored])
        const news = (r: Recorder) => r.of('message:new').filter((message) => message.clientId === clientId)
        const sent = (r: Recorder) => r.of('message:sent').filter((message) => message.clientId === clientId)
        await untilHeard([rec.bobA, rec.bobB], news, 1)
        await untilHeard([rec.aliceA], sent, 1)
        for (const r of [rec.bobA, rec.bobB]) {
          expect(news(r)).toEqual([stored])
        }
        expect(sent(rec.aliceA)).toEqual([stored])
        expect(rec.aliceA.of('message:new').filter((message) => message.clientId === clientId)).toEqual([])
      }
    },
  )

  it.runIf(run)(
    'keeps one legal history when the tutor confirms or completes while the student cancels at once',
    async () => {
      // From pending: confirm then cancel is a legal sequence (both 200), cancel then confirm is not (confirm INVALID).
      // From confirmed: complete and cancel both end it, so exactly one stands.
      for (let round = 0; round < 2 * ROUNDS; round++) {
        const fromConfirmed = round % 2 === 1
        const booked = await http<Lesson>(a.url, 'POST', '/api/lessons', {
          token: alice,
          body: {
            tutorId: 'user-bob',
            subject: `Status race ${round}`,
            startsAt: inFuture(round),
            durationMinutes: 30,
          },
        })
        expect(booked.status).toBe(201)
        const path = `/api/lessons/${booked.body.id}`
        if (fromConfirmed) {
          expect((await http(b.url, 'PATCH', path, { token: bob, body: { status: 'confirmed' } })).status).toBe(200)
        }
        const tutorAsks = fromConfirmed ? 'completed' : 'confirmed'
        const [tutor, student] = await Promise.all([
          http<Lesson & { error?: { code: string } }>(a.url, 'PATCH', path, {
            token: bob,
            body: { status: tutorAsks },
          }),
          http<Lesson & { error?: { code: string } }>(b.url, 'PATCH', path, {
            token: alice,
            body: { status: 'cancelled' },
          }),
        ])
        const won = [tutor, student].filter((answer) => answer.status === 200)
        const lost = [tutor, student].filter((answer) => answer.status !== 200)
        for (const answer of lost) expect(answer).toMatchObject({ status: 400, body: { error: { code: 'INVALID' } } })
        if (fromConfirmed) expect(won).toHaveLength(1)
        else {
          // The student's cancel is legal whatever came first: only the tutor's confirm can lose.
          expect(student.status).toBe(200)
        }
        // The answers in the order they were applied: updatedAt grows with each change.
        const history = won.sort((x, y) => Date.parse(x.body.updatedAt) - Date.parse(y.body.updatedAt))
        const statuses = history.map((answer) => answer.body.status)
        expect((await lessons()).find((lesson) => lesson.id === booked.body.id)?.status).toBe(statuses.at(-1))
        const before = fromConfirmed ? ['confirmed'] : []
        expect(await logged('lesson:statusUpdated', booked.body.id)).toEqual({
          'user-alice': [...before, ...statuses],
          'user-bob': [...before, ...statuses],
        })
        // In offset order: the other node's change comes by Redis, and may come after this node's later one; the client
        // holds an event above its offset + 1 until the missing ones come (CONTRACT, durable resume).
        const statusOf = (socket: ClientSocket) =>
          updates
            .get(socket)!
            .filter(({ lesson }) => lesson.id === booked.body.id)
            .sort((x, y) => x.offset - y.offset)
            .map(({ lesson }) => lesson)
        const expected = [...before, ...statuses]
        const all = [aliceA, bobA, bobB]
        await delivered(aliceA, bobA, bobB)
        await polled(
          () => all.every((socket) => statusOf(socket).length >= expected.length),
          20,
          () => all.map(statusOf),
        )
        for (const socket of all) {
          const told = statusOf(socket)
          expect(updates.get(socket)!.every(({ offset }) => offset > 0)).toBe(true)
          expect(told.map((lesson) => lesson.status)).toEqual(expected)
          expect(told.at(-1)?.updatedAt).toBe(history.at(-1)!.body.updatedAt)
        }
      }
    },
  )

  it.runIf(run)(
    'numbers a burst from both parties, over sockets and HTTP, 1..n without gaps in each sender’s order',
    async () => {
      const last = (await latest()).at(-1)?.seq ?? 0
      const send = (socket: ClientSocket, content: string) =>
        emitAck<Message>(socket, 'message:send', { conversationId: CONV, content, clientId: randomUUID() })
      const post = (url: string, token: string, content: string) =>
        http<Message>(url, 'POST', `/api/conversations/${CONV}/messages`, {
          token,
          body: { content, clientId: randomUUID() },
        }).then((answer) => answer.body)
      const aliceSocket: Promise<Ack<Message>>[] = []
      const bobSocket: Promise<Ack<Message>>[] = []
      const others: Promise<Message>[] = []
      for (let i = 0; i < 40; i++) {
        aliceSocket.push(send(aliceA, `alice ${i}`))
        bobSocket.push(send(bobB, `bob ${i}`))
        others.push(post(b.url, alice, `alice http ${i}`), post(a.url, bob, `bob http ${i}`))
      }
      const fromSockets = await Promise.all([...aliceSocket, ...bobSocket])
      const all = [...fromSockets.map((ack) => (ack.ok ? ack.data : undefined)), ...(await Promise.all(others))]
      expect(all.every((message) => message?.id)).toBe(true)
      const seqs = all.map((message) => message!.seq).sort((x, y) => x - y)
      expect(seqs).toEqual(Array.from({ length: all.length }, (_, i) => last + 1 + i))
      // Each socket's sends are stored in the order it sent them.
      for (const ordered of [fromSockets.slice(0, 40), fromSockets.slice(40)]) {
        const its = ordered.map((ack) => (ack.ok ? ack.data.seq : -1))
        expect(its).toEqual([...its].sort((x, y) => x - y))
      }
      const stored = (await latest()).filter((message) => message.seq > last)
      expect(stored.map((message) => message.seq)).toEqual(seqs)
      const ids = new Set(all.map((message) => message!.id))
      await untilHeard([rec.bobA, rec.bobB], (r) => r.of('message:new').filter((message) => ids.has(message.id)), 80)
      // Bob's sockets each hear every message of Alice's once, and none of his own as new.
      for (const r of [rec.bobA, rec.bobB]) {
        const heard = r.of('message:new').filter((message) => ids.has(message.id))
        expect(heard).toHaveLength(80)
        expect(new Set(heard.map((message) => message.id)).size).toBe(80)
        expect(heard.every((message) => message.senderId === 'user-alice')).toBe(true)
      }
    },
  )
})
