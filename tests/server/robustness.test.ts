import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest'
import { io } from 'socket.io-client'
import { DEFAULT_RATE_LIMIT, DEFAULT_SOCKET_EVENT_RATE_LIMIT, UNKNOWN_EVENT_RATE_LIMIT } from '../../server/rateLimit'
import { DEFAULT_REFRESH_IDLE_SECONDS, SessionStore } from '../../server/sessions'
import { EventLog } from '../../server/services/eventLog'
import type { Ack, ErrorBody, Message } from './support/types'
import { capturedLog } from '../support/capturedLog'
import {
  ALICE,
  BOB,
  CAROL,
  connect,
  connectLive,
  emitAck,
  http,
  login,
  delivered,
  manualClock,
  record,
  startTestServer,
  untyped,
  type ClientSocket,
  type TestServer,
} from './support/server'

const CONV = 'conv-alice-bob'
let server: TestServer
let aliceToken: string
let aliceId: string
let bobToken: string
let alice: ClientSocket
let bob: ClientSocket
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  // A heartbeat longer than any test here: the flood tests load this process (the servers and clients of the file share
  // it) for tens of seconds on a busy machine, and a 10 s + 10 s heartbeat then closed the shared sockets, failing the
  // tests after them at `stillServing` for want of a pong read in time. No test here is of the heartbeat.
  server = await startTestServer({ socketPingIntervalMs: 300_000, socketPingTimeoutMs: 300_000 })
  const aliceSession = await login(server.url, ALICE)
  aliceToken = aliceSession.token
  aliceId = aliceSession.user.id
  bobToken = (await login(server.url, BOB)).token
  alice = await connect(server.url, aliceToken)
  // Bob receives Alice's sends (a send without an ack): live before any is committed.
  bob = await connectLive(server.url, bobToken)
})

afterAll(async () => {
  alice?.close()
  bob?.close()
  await server?.dispose()
  process.off('unhandledRejection', onUnhandled)
})

const valid = () => ({ conversationId: CONV, content: 'still here', clientId: randomUUID() })

/** The server still answers: a valid send from another user's socket is stored. */
async function stillServing(): Promise<void> {
  expect(bob.connected).toBe(true)
  const ack = await emitAck<Message>(bob, 'message:send', valid())
  expect(ack.ok).toBe(true)
}

describe('malformed payloads are answered INVALID, naming the field, and the server keeps serving', () => {
  const protoPayload = JSON.parse(
    '{"__proto__": {"conversationId": "conv-alice-bob", "content": "x", "clientId": "y"}}',
  )
  const protoExtra = JSON.parse(
    '{"conversationId": 5, "content": "x", "clientId": "y", "__proto__": {"polluted": true}}',
  )

  it.each<[string, string, unknown[], string]>([
    ['message:send with no payload', 'message:send', [], 'payload'],
    ['message:send with null', 'message:send', [null], 'payload'],
    ['message:send with a number', 'message:send', [42], 'payload'],
    ['message:send with a string', 'message:send', ['hello'], 'payload'],
    ['message:send with an array', 'message:send', [[CONV, 'hi', 'c1']], 'conversationId'],
    ['message:send with {}', 'message:send', [{}], 'conversationId'],
    ['message:send without content', 'message:send', [{ conversationId: CONV, clientId: 'c' }], 'content'],
    ['message:send without clientId', 'message:send', [{ conversationId: CONV, content: 'hi' }], 'clientId'],
    [
      'message:send with a numeric conversationId',
      'message:send',
      [{ conversationId: 7, content: 'hi', clientId: 'c' }],
      'conversationId',
    ],
    [
      'message:send with an object content',
      'message:send',
      [{ conversationId: CONV, content: { toString: 'x' }, clientId: 'c' }],
      'content',
    ],
    [
      'message:send with empty content',
      'message:send',
      [{ conversationId: CONV, content: '', clientId: 'c' }],
      'content',
    ],
    [
      'message:send with 4001 characters',
      'message:send',
      [{ conversationId: CONV, content: 'x'.repeat(4001), clientId: 'c' }],
      'content',
    ],
    [
      'message:send with an empty clientId',
      'message:send',
      [{ conversationId: CONV, content: 'hi', clientId: '' }],
      'clientId',
    ],
    [
      'message:send with a 101-character clientId',
      'message:send',
      [{ conversationId: CONV, content: 'hi', clientId: 'c'.repeat(101) }],
      'clientId',
    ],
    [
      'message:send with a NUL in content',
      'message:send',
      [{ conversationId: CONV, content: 'a\u0000b', clientId: 'c' }],
      'content',
    ],
    [
      'message:send with a NUL in clientId',
      'message:send',
      [{ conversationId: CONV, content: 'hi', clientId: 'c\u0000' }],
      'clientId',
    ],
    [
      'message:send with a NUL in conversationId',
      'message:send',
      [{ conversationId: `${CONV}\u0000`, content: 'hi', clientId: 'c' }],
      'conversationId',
    ],
    ['message:send whose fields hide under __proto__', 'message:send', [protoPayload], 'conversationId'],
    ['message:send with a __proto__ key and a bad field', 'message:send', [protoExtra], 'conversationId'],
    ['conversation:join with a number', 'conversation:join', [42], 'conversationId'],
    ['conversation:join with null', 'conversation:join', [null], 'conversationId'],
    ['conversation:join with an object', 'conversation:join', [{ conversationId: CONV }], 'conversationId'],
    ['conversation:join with an empty id', 'conversation:join', [''], 'conversationId'],
    ['conversation:join with a __proto__ object', 'conversation:join', [protoPayload], 'conversationId'],
    ['conversation:join with a NUL in the id', 'conversation:join', [`${CONV}\u0000`], 'conversationId'],
    ['conversation:leave with a number', 'conversation:leave', [42], 'conversationId'],
    ['conversation:leave with nothing', 'conversation:leave', [], 'conversationId'],
    ['an unknown event with an ack', 'admin:dropTables', [{}], 'unknown event'],
    ['an unknown event named like a prototype key', '__proto__', [], 'unknown event'],
    ['an unknown event named constructor', 'constructor', ['x'], 'unknown event'],
  ])('%s', async (_name, event, args, field) => {
    const ack = await emitAck(alice, event, ...args)
    expect(ack).toEqual({ ok: false, error: { code: 'INVALID', message: expect.stringContaining(field) } })
    expect(alice.connected).toBe(true)
    await stillServing()
  })

  it('never echoes the raw input in the message', async () => {
    const secret = `do-not-echo-${'z'.repeat(5000)}`
    const ack = await emitAck(alice, 'message:send', { conversationId: CONV, content: secret, clientId: 'c' })
    expect(ack.ok).toBe(false)
    expect(JSON.stringify(ack)).not.toContain('do-not-echo')
  })
})

describe('acks and unknown events', () => {
  it('a send without an ack callback is stored and delivered', async () => {
    const events = record(bob)
    const payload = valid()
    untyped(alice).emit('message:send', payload)
    await vi.waitFor(() => expect(events.of('message:new').map((m) => m.clientId)).toContain(payload.clientId), {
      timeout: 10_000,
      interval: 10,
    })
    expect(alice.connected).toBe(true)
  })

  it('an invalid send and a join without an ack callback are harmless', async () => {
    untyped(alice).emit('message:send', { nope: true })
    untyped(alice).emit('conversation:join', 42)
    untyped(alice).emit('conversation:join', 'no-such-conversation')
    // Answered after the three above (one connection, handled in order): the server has seen them and kept the socket.
    await delivered(alice)
    expect(alice.connected).toBe(true)
    await stillServing()
  })

  it('an unknown event without an ack is ignored', async () => {
    untyped(alice).emit('whatever', { a: 1 })
    await delivered(alice)
    expect(alice.connected).toBe(true)
    expect((await emitAck(alice, 'conversation:leave', CONV)).ok).toBe(true)
  })
})

describe('packets that break the protocol', () => {
  it('an oversize packet (> 64 KB) closes only its own connection', async () => {
    const victim = await connect(server.url, aliceToken)
    const bystander = await connect(server.url, aliceToken)
    const closed = new Promise<string>((resolve) => victim.once('disconnect', resolve))
    untyped(victim).emit('message:send', {
      conversationId: CONV,
      content: 'x'.repeat(70 * 1024),
      clientId: randomUUID(),
    })
    expect(await closed).toMatch(/transport (close|error)/)
    await delivered(bystander)
    expect(bystander.connected).toBe(true)
    expect((await emitAck(bystander, 'message:send', valid())).ok).toBe(true)
    expect((await http(server.url, 'GET', '/api/me', { token: aliceToken })).status).toBe(200)
    bystander.close()
  })

  // Review: Engine.IO's limit is per frame, and a binary event's attachments each travel in a frame of their own (up to
  // ten of them): a packet of 600 KB passed, and a packet's first frames were kept until its last came, even before
  // any socket had authenticated on the connection.
  // Review: the header frame was counted in UTF-16 code units, not bytes, so a header of 3-byte characters counted a
  // third of its size: 45 KB of '€' and a 30 KB attachment (75 KB) reached the handler as a packet of 45 "KB".
  it.each([
    ['sent as binary attachments, each under 64 KB', new Uint8Array(40 * 1024), new Uint8Array(40 * 1024)],
    ['whose header is multi-byte text (counted in bytes)', '€'.repeat(15 * 1024), new Uint8Array(30 * 1024)],
  ] as const)('an oversize packet %s closes its connection', async (_case, content, attachment) => {
    const headerBytes = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength
    expect(headerBytes + attachment.byteLength).toBeGreaterThan(64 * 1024)
    const victim = await connect(server.url, aliceToken)
    const outcome = new Promise<string>((resolve) => {
      victim.once('disconnect', resolve)
      untyped(victim).emit('message:send', { conversationId: CONV, content, clientId: randomUUID() }, attachment, () =>
        resolve('answered'),
      )
    })
    expect(await outcome).toMatch(/transport (close|error)/)
    await stillServing()
  })

  // Review: every event with an ack is answered, and nothing bounded what waited for a client that reads nothing: 400,000
  // events of 10 bytes left 134,000 answers in the server's buffer and its heap 220 MB larger, for as long as the
  // client went on (any packet it sends keeps Engine.IO's heartbeat from timing out, pong or not).
  it('a client that keeps sending and reads none of the answers is closed once they pile up, not kept growing', async () => {
    // Without a per-socket budget of events: the flood would end the socket past it, proving nothing of the backlog.
    const unbudgeted = await startTestServer({ socketEventRateLimit: { perSecond: 1e9, burst: 1e9 } })
    onTestFinished(() => unbudgeted.dispose())
    const { token } = await login(unbudgeted.url, ALICE)
    const victim = await connect(unbudgeted.url, token)
    const conn = unbudgeted.io.of('/').sockets.get(victim.id!)!.conn as unknown as {
      writeBuffer: unknown[]
      on(event: 'packetCreate' | 'close', listener: () => void): void
    }
    const outcome = new Promise<string>((resolve) => {
      conn.on('close', () => resolve('closed'))
      conn.on('packetCreate', () => conn.writeBuffer.length >= 50_000 && resolve('piling up'))
    })
    // From now on the client reads nothing: the server's answers wait, first in the kernel's buffers, then in its own.
    const raw = (victim.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws
    raw._socket.pause()
    // A known event each answered at once (an unknown one would end the socket after its own budget, proving nothing).
    // In runs of 5,000, the event loop turning between them: one synchronous loop of 200,000 held this process (the
    // file's shared server and its sockets too) for tens of seconds on a loaded machine.
    let ended = false
    void outcome.then(() => (ended = true))
    for (let i = 0; i < 200_000 && !ended; i++) {
      untyped(victim).emit('conversation:leave', CONV, () => undefined)
      if (i % 5_000 === 4_999) await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await outcome).toBe('closed')
    // Reading again, it hears the close (else its WebSocket would wait 30 s for a closing handshake it cannot read).
    raw._socket.resume()
    victim.close()
    const after = await connect(unbudgeted.url, token)
    expect((await emitAck(after, 'conversation:leave', CONV)).ok).toBe(true)
    after.close()
  })

  it('a binary packet under 64 KB is answered INVALID like any other malformed payload', async () => {
    const socket = await connect(server.url, aliceToken)
    const answer = await emitAck(socket, 'message:send', {
      conversationId: CONV,
      content: new Uint8Array(1024),
      clientId: randomUUID(),
    })
    expect(answer).toMatchObject({ ok: false, error: { code: 'INVALID' } })
    expect(socket.connected).toBe(true)
    socket.close()
  })

  it('a garbage packet closes only its own connection', async () => {
    const victim = await connect(server.url, aliceToken)
    const closed = new Promise<string>((resolve) => victim.once('disconnect', resolve))
    victim.io.engine.write('42["message:send"') // a truncated EVENT packet
    expect(typeof (await closed)).toBe('string')
    expect(bob.connected).toBe(true)
    await stillServing()
  })
  // Review (ASVS V13): an ACK packet bypassed the per-socket event budget (it is no event), and Socket.IO drops one it
  // did not ask for only after a tick of its own: 100,000 from each of 10 sockets of one user, never cut off, held the
  // event loop 456 ms (as many Engine.IO pongs: 13 ms). The server asks a client for no ack.
  it.each<[string, (string | Uint8Array)[]]>([
    ['an ACK', ['30[]']],
    ['a binary ACK', ['61-0[{"_placeholder":true,"num":0}]', new Uint8Array(1)]],
  ])('%s packet (the server asks for none) closes only its own connection', async (_case, frames) => {
    const victim = await connect(server.url, aliceToken)
    const outcome = new Promise<string>((resolve) => {
      victim.once('disconnect', resolve)
      for (const frame of frames) victim.io.engine.write(frame as string)
      // Handled after the packet: answered only if its connection was kept.
      untyped(victim).emit('conversation:leave', CONV, () => resolve('served after it'))
    })
    expect(await outcome).toMatch(/transport (close|error)/)
    await stillServing()
  })
})

/**
 * Sends `count` of `event` from `socket`, then a `conversation:leave` as a barrier: how it ended (the disconnect's
 * reason, or "served after the flood"), and the answers the flood got.
 */
async function flood(socket: ClientSocket, count: number, event: string, args: () => unknown[]) {
  const answers: Ack<unknown>[] = []
  const outcome = await new Promise<string>((resolve) => {
    socket.once('disconnect', resolve)
    for (let i = 0; i < count; i++)
      untyped(socket).emit(event, ...args(), (answer: Ack<unknown>) => answers.push(answer))
    // Handled in order after the flood: answered only if the flood was let through.
    untyped(socket).emit('conversation:leave', CONV, () => resolve('served after the flood'))
  })
  return { outcome, answers }
}

// Review (ASVS V13/V14): an unknown event was answered like any other and nothing bounded how many one socket sent:
// 20,000 of them held the process about 2.3 s, and the socket was kept. A client of this contract never sends one.
describe('unknown events past a per-socket budget', () => {
  let own: TestServer
  const log = capturedLog('warn')
  // The clock stands still: nothing refills the budget while the flood arrives, however slow the machine.
  const clock = manualClock()
  beforeAll(async () => {
    own = await startTestServer({ now: clock.now, logger: log.logger })
  })
  afterAll(() => own?.dispose())

  it("are answered RATE_LIMITED once past it and the socket is disconnected, the user's other sockets served", async () => {
    const token = (await login(own.url, ALICE)).token
    const flooder = await connect(own.url, token)
    const sibling = await connect(own.url, token)
    const flooderId = flooder.id
    const { outcome, answers } = await flood(flooder, 2_000, 'nope', () => [])
    expect(outcome).toBe('io server disconnect')
    expect(answers).toEqual([
      ...Array.from({ length: UNKNOWN_EVENT_RATE_LIMIT.burst }, () => ({
        ok: false,
        error: { code: 'INVALID', message: 'unknown event' },
      })),
      { ok: false, error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) } },
    ])
    expect(log.lines().filter((line) => line.msg.includes('unknown events'))).toEqual([
      expect.objectContaining({ level: 40, socketId: flooderId, userId: expect.any(String) }),
    ])
    expect((await emitAck(sibling, 'conversation:leave', CONV)).ok).toBe(true)
    // A new socket starts with a budget of its own.
    const again = await connect(own.url, token)
    expect(await emitAck(again, 'nope')).toEqual({ ok: false, error: { code: 'INVALID', message: 'unknown event' } })
    again.close()
    sibling.close()
  })
})

// Review (ASVS V13): the budget above counted only unknown events. A known event answered at once (a malformed
// payload: INVALID before any budget; conversation:leave, which has none; any event past its own budget: RATE_LIMITED)
// could be sent without end, and the socket was kept.
describe('every event a socket sends counts against one per-socket budget', () => {
  let own: TestServer
  const log = capturedLog('warn')
  // The clock stands still: nothing refills a budget while a flood arrives, however slow the machine.
  const clock = manualClock()
  const { burst } = DEFAULT_SOCKET_EVENT_RATE_LIMIT
  beforeAll(async () => {
    // The per-user budgets as deployed (the test server's own raises the send budget).
    own = await startTestServer({ now: clock.now, logger: log.logger, rateLimit: DEFAULT_RATE_LIMIT })
  })
  afterAll(() => own?.dispose())

  const floodLines = (socketId: string | undefined) =>
    log.lines().filter((line) => line.msg.includes('past the per-socket budget') && line.socketId === socketId)

  it.each<[string, string, () => unknown[]]>([
    ['message:send with an empty payload', 'message:send', () => [{}]],
    ['message:send with a numeric conversationId', 'message:send', () => [{ conversationId: 7, content: 'x' }]],
    ['conversation:join with a number', 'conversation:join', () => [42]],
    ['typing with null', 'typing', () => [null]],
    ['session:renew with no token', 'session:renew', () => [{}]],
    ['conversation:leave (no budget of its own)', 'conversation:leave', () => [CONV]],
    ['conversation:join past its own budget', 'conversation:join', () => [CONV]],
    ['message:send past its own budget', 'message:send', () => [valid()]],
  ])('a flood of %s ends the socket past it', async (_case, event, args) => {
    const token = (await login(own.url, ALICE)).token
    const flooder = await connect(own.url, token)
    const sibling = await connect(own.url, token)
    const flooderId = flooder.id
    const { outcome, answers } = await flood(flooder, 2 * burst, event, args)
    expect(outcome).toBe('io server disconnect')
    const cutOff = answers.filter((answer) => !answer.ok && answer.error.message.includes('disconnected'))
    expect(cutOff).toEqual([
      { ok: false, error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) } },
    ])
    expect(answers.length).toBeLessThanOrEqual(burst + 1)
    expect(floodLines(flooderId)).toEqual([
      expect.objectContaining({ level: 40, socketId: flooderId, userId: expect.any(String) }),
    ])
    // Never the text the client chose.
    expect(JSON.stringify(floodLines(flooderId))).not.toContain(event)
    expect((await emitAck(sibling, 'conversation:leave', CONV)).ok).toBe(true)
    sibling.close()
  })

  // What the browser sends at its busiest (src/realtime): after a reconnect its outbox (at most 500 unconfirmed,
  // `outboxLimit`) sends the oldest of each conversation at once, 500 if each is in a conversation of its own; the
  // holder of the browser's one socket joins the open thread of every visible tab again; the session is renewed and
  // the user types. Then, each second, what the per-user budgets let through (sends 10, joins 20, typing 2, renewals
  // 1) and the refused sends it tries again, one for every retryAfterMs (about 10 a second).
  it('is well above a busy browser: its outbox flushed whole after a reconnect, rejoins, and after', async () => {
    const token = (await login(own.url, ALICE)).token
    const socket = await connect(own.url, token)
    const socketId = socket.id
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve))
    let answered = 0
    const count = () => answered++
    const second = (sends: number, joins: number) => {
      untyped(socket).emit('session:renew', { token }, count)
      untyped(socket).emit('typing', { conversationId: CONV }, count)
      untyped(socket).emit('typing', { conversationId: CONV }, count)
      for (let i = 0; i < sends; i++) untyped(socket).emit('message:send', valid(), count)
      for (let i = 0; i < joins; i++) untyped(socket).emit('conversation:join', i === 0 ? CONV : `conv-${i}`, count)
    }
    second(500, 50)
    for (let s = 0; s < 10; s++) {
      clock.advance(1_000)
      second(20, 20)
    }
    const sent = 3 + 500 + 50 + 10 * (3 + 20 + 20)
    // The barrier: answered only after every event before it has been read (one connection, in order).
    expect(await emitAck(socket, 'conversation:leave', CONV)).toEqual({ ok: true, data: null })
    await vi.waitFor(() => expect(answered).toBe(sent), { timeout: 30_000, interval: 20 })
    expect(socket.connected).toBe(true)
    expect(floodLines(socketId)).toEqual([])
    socket.close()
    expect(await closed).toBe('io client disconnect')
  })
})

describe('rate limiting (per user, socket and HTTP together)', () => {
  let limited: TestServer
  let strict: TestServer
  // The limited server's clock moves only when the test moves it: the bucket refills by what the test says, never by
  // how long the flood took to arrive on a loaded machine.
  const clock = manualClock()
  beforeAll(async () => {
    ;[limited, strict] = await Promise.all([
      startTestServer({ rateLimit: { perSecond: 10, burst: 20 }, now: clock.now }),
      // Refills one token every 100 s: what happens next does not depend on how loaded the machine is.
      startTestServer({ rateLimit: { perSecond: 0.01, burst: 3 } }),
    ])
  })
  afterAll(() => Promise.all([limited?.dispose(), strict?.dispose()]))

  it("throttles one user's flood (10/s, bursts of 20) with RATE_LIMITED and retryAfterMs while another user is still served", async () => {
    const flooder = await connect(limited.url, (await login(limited.url, ALICE)).token)
    const other = await connect(limited.url, (await login(limited.url, BOB)).token)
    const flood = Array.from({ length: 60 }, () =>
      emitAck<Message>(flooder, 'message:send', { conversationId: CONV, content: 'spam', clientId: randomUUID() }),
    )
    const otherAck = await emitAck<Message>(other, 'message:send', {
      conversationId: CONV,
      content: 'hi',
      clientId: randomUUID(),
    })
    const acks: Ack<Message>[] = await Promise.all(flood)
    // No time passed on the server's clock: exactly the burst got through, in the order sent, and the rest was refused.
    expect(otherAck.ok).toBe(true)
    expect(acks.map((ack) => ack.ok)).toEqual([...Array<boolean>(20).fill(true), ...Array<boolean>(40).fill(false)])
    for (const ack of acks.slice(20)) {
      // One token comes back every 100 ms at 10/s.
      expect(ack).toEqual({
        ok: false,
        error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: 100 },
      })
    }
    const later = () =>
      emitAck<Message>(flooder, 'message:send', { conversationId: CONV, content: 'later', clientId: randomUUID() })
    // Not a moment before the time it was told to wait…
    clock.advance(99)
    expect(await later()).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    // …and served again once it has passed.
    clock.advance(1)
    expect((await later()).ok).toBe(true)
    flooder.close()
    other.close()
  })

  it('shares one bucket between the socket and HTTP: 429 with Retry-After and retryAfterMs', async () => {
    const { token } = await login(strict.url, ALICE)
    const socket = await connect(strict.url, token)
    const send = () =>
      emitAck<Message>(socket, 'message:send', { conversationId: CONV, content: 'x', clientId: randomUUID() })
    for (let i = 0; i < 3; i++) expect((await send()).ok).toBe(true)
    const overHttp = await http<ErrorBody>(strict.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token,
      body: { content: 'more', clientId: randomUUID() },
    })
    expect(overHttp.status).toBe(429)
    expect(Number(overHttp.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(overHttp.body).toEqual({
      error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) },
    })
    expect(overHttp.body.error.retryAfterMs).toBeGreaterThan(1000)
    expect(await send()).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    // Another user has their own bucket.
    const bob = (await login(strict.url, BOB)).token
    const bobPost = await http(strict.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: bob,
      body: { content: 'mine', clientId: randomUUID() },
    })
    expect(bobPost.status).toBe(201)
    socket.close()
  })
})

describe('replays and the rate limit (idempotency first)', () => {
  let replays: TestServer
  // Three tokens, refilled one every 100 s: an empty bucket stays empty for the whole test, however slow the machine.
  beforeAll(async () => {
    replays = await startTestServer({ rateLimit: { perSecond: 0.01, burst: 3 } })
  })
  afterAll(() => replays?.dispose())

  it('answers a replay of an accepted clientId with the stored message, never RATE_LIMITED, and emits nothing new (socket and HTTP)', async () => {
    const { token } = await login(replays.url, ALICE)
    const socket = await connect(replays.url, token)
    // Bob must receive each accepted message: live before the first is committed (else it is in his past).
    const bobSocket = await connectLive(replays.url, (await login(replays.url, BOB)).token)
    const bobEvents = record(bobSocket)
    const send = (clientId: string, content = 'x') =>
      emitAck<Message>(socket, 'message:send', { conversationId: CONV, content, clientId })
    const ids = [randomUUID(), randomUUID(), randomUUID()]
    const accepted: Message[] = []
    for (const id of ids) {
      const ack = await send(id, `accepted ${id}`)
      expect(ack.ok).toBe(true)
      if (ack.ok) accepted.push(ack.data)
    }
    // The bucket is empty: a new message is refused…
    expect(await send(randomUUID())).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    const overHttp = await http<ErrorBody>(replays.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token,
      body: { content: 'new', clientId: randomUUID() },
    })
    expect(overHttp.status).toBe(429)
    // …but a replay is answered with what was stored, over the socket and over HTTP.
    expect(await send(ids[0]!, `accepted ${ids[0]}`)).toEqual({ ok: true, data: accepted[0] })
    const replayed = await http<Message>(replays.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token,
      body: { content: `accepted ${ids[1]}`, clientId: ids[1] },
    })
    expect(replayed.status).toBeLessThan(300)
    expect(replayed.body).toEqual(accepted[1])
    // Another text under an accepted clientId is refused, not answered with the stored message, past the budget too.
    expect(await send(ids[0]!, 'another text')).toEqual({
      ok: false,
      error: { code: 'INVALID', message: 'clientId: already used for a different message' },
    })
    // A replay naming another conversation is still refused as INVALID (not as RATE_LIMITED).
    expect(
      await emitAck(socket, 'message:send', { conversationId: 'conv-alice-carol', content: 'x', clientId: ids[2] }),
    ).toMatchObject({
      ok: false,
      error: { code: 'INVALID', message: expect.stringContaining('clientId') },
    })
    await vi.waitFor(() => expect(bobEvents.of('message:new')).toHaveLength(3), { timeout: 10_000, interval: 10 })
    await delivered(bobSocket)
    expect(bobEvents.of('message:new')).toEqual(accepted)
    socket.close()
    bobSocket.close()
  })

  it('takes no token for a replay: only new messages count against the budget', async () => {
    const { token } = await login(replays.url, CAROL)
    const socket = await connect(replays.url, token)
    const send = (clientId: string) =>
      emitAck<Message>(socket, 'message:send', { conversationId: 'conv-alice-carol', content: 'y', clientId })
    const first = randomUUID()
    expect((await send(first)).ok).toBe(true)
    for (let i = 0; i < 5; i++) expect((await send(first)).ok).toBe(true)
    const overHttp = await http(replays.url, 'POST', '/api/conversations/conv-alice-carol/messages', {
      token,
      body: { content: 'y', clientId: first },
    })
    expect(overHttp.status).toBeLessThan(300)
    // Two tokens are left for two new messages; the third new one is refused.
    expect((await send(randomUUID())).ok).toBe(true)
    expect((await send(randomUUID())).ok).toBe(true)
    expect(await send(randomUUID())).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    socket.close()
  })
})

describe('what a flood past the budget can cost the server', () => {
  let tight: TestServer
  // One send and two replay look-ups per user, refilled one every 100 s: empty buckets stay empty for the test.
  beforeAll(async () => {
    tight = await startTestServer({
      rateLimit: { perSecond: 0.01, burst: 1 },
      replayLookupLimit: { perSecond: 0.01, burst: 2 },
    })
  })
  afterAll(() => tight?.dispose())

  it('an outsider’s sends are FORBIDDEN before any budget: they spend none of theirs and queue behind no one', async () => {
    const { token } = await login(tight.url, CAROL)
    const socket = await connect(tight.url, token)
    const send = (conversationId: string) =>
      emitAck<Message>(socket, 'message:send', { conversationId, content: 'x', clientId: randomUUID() })
    for (let i = 0; i < 3; i++) expect(await send(CONV)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    // Her one token is still there for her own conversation.
    expect((await send('conv-alice-carol')).ok).toBe(true)
    expect(await send('conv-alice-carol')).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    socket.close()
  })

  it('past the budget, a replay is looked up a few times a second at most: beyond, it is RATE_LIMITED too', async () => {
    const { token } = await login(tight.url, ALICE)
    const socket = await connect(tight.url, token)
    const send = (clientId: string) =>
      emitAck<Message>(socket, 'message:send', { conversationId: CONV, content: 'x', clientId })
    const stored = randomUUID()
    const first = await send(stored)
    expect(first.ok).toBe(true)
    // The bucket is empty: each send past it costs a look-up of its clientId, two of which are left.
    expect(await send(randomUUID())).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    expect(await send(stored)).toEqual(first)
    expect(await send(stored)).toMatchObject({
      ok: false,
      error: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) },
    })
    socket.close()
  })
})

/**
 * Connects Alice and resolves why the server ended that socket. It listens before the connection: the server's
 * disconnect may come in the same read as its connect.
 */
function aliceEndedBy(): Promise<string> {
  const socket = io(server.url, {
    auth: { token: aliceToken },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  })
  return new Promise<string>((resolve) => socket.on('disconnect', resolve))
}

describe('a database error where the server checks the session again after the connection', () => {
  it('closes that socket as a network drop would (the client retries with its token, no refresh), logs nothing unhandled, and keeps serving', async () => {
    const real = SessionStore.prototype.isLive
    let calls = 0
    // The handshake's check passes; the one after the connection (for a revocation during the handshake) fails.
    const spy = vi.spyOn(SessionStore.prototype, 'isLive').mockImplementation(function (this: SessionStore, id) {
      calls++
      return calls === 2 ? Promise.reject(new Error('database down')) : real.call(this, id)
    })
    try {
      // Not `io server disconnect`: that is a kick, which the layer answers with a token refresh.
      expect(await aliceEndedBy()).toBe('transport close')
      expect(calls).toBe(2)
    } finally {
      spy.mockRestore()
    }
    await stillServing()
  })
})

describe('a database error while the server reads a new socket’s log (its replay)', () => {
  it('closes that socket as a network drop would, and the same token connects again once the log can be read', async () => {
    const real = EventLog.prototype.resume
    let failed = 0
    const spy = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(function (this: EventLog, ...args) {
      if (failed > 0 || args[0] !== aliceId) return real.apply(this, args)
      failed++
      return Promise.reject(new Error('database down'))
    })
    try {
      expect(await aliceEndedBy()).toBe('transport close')
      expect(failed).toBe(1)
    } finally {
      spy.mockRestore()
    }
    const again = await connectLive(server.url, aliceToken)
    expect(again.connected).toBe(true)
    again.close()
    await stillServing()
  })
})

// Review: the embedded database (PGlite) decodes each text value it reads with a TextDecoder, which takes a leading
// U+FEFF for a byte order mark and drops it. A content of '\uFEFF' was stored, then acked and read back as '' (an empty
// message); a clientId '\uFEFFk' was stored as its own key, but acked and read back as 'k': the sender's pending copy
// was never confirmed, and two messages came back with one clientId (the browser keeps one of them).
describe('text starting with U+FEFF (the embedded database reads it back without it): INVALID naming the field', () => {
  const bom = () => ({ conversationId: CONV, content: '\uFEFF', clientId: randomUUID() })
  const bomClientId = () => ({ conversationId: CONV, content: 'hello', clientId: `\uFEFF${randomUUID()}` })

  it.each([
    ['content of a lone U+FEFF', bom, 'content'],
    ['clientId starting with U+FEFF', bomClientId, 'clientId'],
  ])('over the socket: %s', async (_name, payload, field) => {
    const ack = await emitAck(alice, 'message:send', payload())
    expect(ack).toEqual({ ok: false, error: { code: 'INVALID', message: expect.stringContaining(field) } })
    await stillServing()
  })

  it.each([
    ['content of a lone U+FEFF', bom, 'content'],
    ['clientId starting with U+FEFF', bomClientId, 'clientId'],
  ])('over HTTP: %s', async (_name, payload, field) => {
    const { content, clientId } = payload()
    const result = await http<ErrorBody>(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: aliceToken,
      body: { content, clientId },
    })
    expect(result.status).toBe(400)
    expect(result.body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining(field) } })
  })

  it('takes U+FEFF anywhere else, and gives it back as sent', async () => {
    const payload = { conversationId: CONV, content: 'a\uFEFFb', clientId: `k\uFEFF${randomUUID()}` }
    const ack = await emitAck<Message>(alice, 'message:send', payload)
    expect(ack.ok && [ack.data.content, ack.data.clientId]).toEqual([payload.content, payload.clientId])
  })
})

describe('process health', () => {
  it('left no unhandled rejection behind', async () => {
    // Node reports an unhandled rejection once the microtasks have run: one turn of the event loop is enough.
    await new Promise((resolve) => setImmediate(resolve))
    expect(unhandled).toEqual([])
  })
})

describe('a client packet named "error"', () => {
  it('is an unknown event like any other: answered INVALID, and never written to the log', async () => {
    // Socket.IO's parser lets a client name an event `error`, which then also reaches the socket's own `error`
    // listener: logging it would let any user fill the log with lines of their choosing.
    const { logger, raw: lines } = capturedLog('debug')
    const own = await startTestServer({ logger })
    const socket = await connect(own.url, (await login(own.url, ALICE)).token)
    try {
      const ack = await emitAck(socket, 'error', { message: 'forged', forged: true })
      expect(ack).toEqual({ ok: false, error: { code: 'INVALID', message: 'unknown event' } })
      untyped(socket).emit('error', { message: 'forged too', forged: true })
      await delivered(socket)
      expect(socket.connected).toBe(true)
      expect(lines.filter((line) => line.includes('forged'))).toEqual([])
    } finally {
      socket.close()
      await own.dispose()
    }
  })
})

describe('the read budget', () => {
  let reads: TestServer
  // Three reads, refilled one every 100 s: an empty bucket stays empty for the whole test, however slow the machine.
  beforeAll(async () => {
    reads = await startTestServer({ readRateLimit: { perSecond: 0.01, burst: 3 } })
  })
  afterAll(() => reads?.dispose())

  it("refuses one user's reads past the budget with RATE_LIMITED and Retry-After on every read, while another user's reads and the user's sends go on", async () => {
    const alice = (await login(reads.url, ALICE)).token
    const bob = (await login(reads.url, BOB)).token
    const read = (path: string, token: string) => http<ErrorBody>(reads.url, 'GET', path, { token })
    const allowed = ['/api/me', '/api/conversations', `/api/conversations/${CONV}/messages`]
    for (const path of allowed) expect((await read(path, alice)).status).toBe(200)
    for (const path of [...allowed, '/api/users', '/api/lessons', '/api/contact-requests']) {
      const refused = await read(path, alice)
      expect(refused.status).toBe(429)
      expect(refused.body).toEqual({
        error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) },
      })
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    }
    // Another user has a budget of their own; sends have theirs.
    expect((await read('/api/lessons', bob)).status).toBe(200)
    const sent = await http<Message>(reads.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: alice,
      body: { content: 'reads spent, sends not', clientId: randomUUID() },
    })
    expect(sent.status).toBe(201)
  })

  it('answers a read without a valid token UNAUTHORIZED, not RATE_LIMITED, and spends no budget', async () => {
    // Signed by this server and naming Carol, but of an ended session: whose it is must not be taken for a credential.
    const ended = (await login(reads.url, CAROL)).token
    expect((await http(reads.url, 'POST', '/api/auth/logout', { token: ended })).status).toBe(204)
    for (let i = 0; i < 5; i++) {
      expect((await http(reads.url, 'GET', '/api/lessons')).status).toBe(401)
      expect((await http(reads.url, 'GET', '/api/lessons', { token: ended })).status).toBe(401)
    }
    const carol = (await login(reads.url, CAROL)).token
    for (let i = 0; i < 3; i++)
      expect((await http(reads.url, 'GET', '/api/lessons', { token: carol })).status).toBe(200)
  })
})

// Review (ASVS 2.2.1, anti-automation): a refresh token presented (refresh, or logout with one) is hashed and looked up
// whatever it is, before any user is known, and had no budget: one address could make the server do so without end.
/** Spends the address's refresh budget (3 made-up refresh tokens, `guess-0` to `guess-2`): the next is over it. */
async function spendAddress(url: string, address: Record<string, string>): Promise<void> {
  for (let i = 0; i < 3; i++)
    await http(url, 'POST', '/api/auth/refresh', { body: { refreshToken: `guess-${i}` }, headers: address })
}

describe('the refresh budget, per client address', () => {
  let refreshes: TestServer
  // Three, refilled one every 100 s: an empty bucket stays empty for the whole test. The address comes from
  // X-Forwarded-For (trustProxy: 1), so one test plays several clients.
  beforeAll(async () => {
    refreshes = await startTestServer({ trustProxy: 1, refreshRateLimit: { perSecond: 0.01, burst: 3 } })
  })
  afterAll(() => refreshes?.dispose())
  const from = (address: string) => ({ 'x-forwarded-for': address })

  it('refuses refresh tokens past it, made-up or real, on refresh and logout alike, with RATE_LIMITED and Retry-After; another address goes on', async () => {
    const real = await login(refreshes.url, ALICE)
    const present = (path: string, refreshToken: string, address: string) =>
      http<ErrorBody>(refreshes.url, 'POST', path, { body: { refreshToken }, headers: from(address) })
    for (let i = 0; i < 3; i++)
      expect((await present('/api/auth/refresh', `guess-${i}`, '198.51.100.7')).status).toBe(401)
    for (const path of ['/api/auth/refresh', '/api/auth/logout']) {
      const refused = await present(path, real.refreshToken, '198.51.100.7')
      expect(refused.status).toBe(429)
      expect(refused.body).toEqual({
        error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) },
      })
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    }
    // Refused before its lookup: the real token was neither rotated nor revoked, and serves another address.
    expect((await present('/api/auth/refresh', real.refreshToken, '203.0.113.20')).status).toBe(200)
  })

  // A refresh whose body names no refresh token is refused INVALID before any lookup: it spent the address's budget all
  // the same, so a broken client (or anyone on the address) sending {} held up the real refreshes behind it.
  it('is not spent by a refresh whose body names no refresh token', async () => {
    const address = '198.51.100.9'
    for (let i = 0; i < 3; i++) {
      const empty = await http<ErrorBody>(refreshes.url, 'POST', '/api/auth/refresh', {
        body: {},
        headers: from(address),
      })
      expect(empty.status).toBe(400)
      expect(empty.body.error.code).toBe('INVALID')
    }
    const real = await login(refreshes.url, CAROL)
    const refresh = await http(refreshes.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: real.refreshToken },
      headers: from(address),
    })
    expect(refresh.status).toBe(200)
  })

  it('never refuses a logout by Bearer alone, nor one with a refresh token beside a Bearer it signed, and ends the session', async () => {
    const address = '198.51.100.8'
    for (let i = 0; i < 3; i++)
      await http(refreshes.url, 'POST', '/api/auth/refresh', {
        body: { refreshToken: `guess-${i}` },
        headers: from(address),
      })
    const bearerOnly = await login(refreshes.url, BOB)
    const logout = await http(refreshes.url, 'POST', '/api/auth/logout', {
      token: bearerOnly.token,
      headers: from(address),
    })
    expect(logout.status).toBe(204)
    const both = await login(refreshes.url, BOB)
    const withBoth = await http(refreshes.url, 'POST', '/api/auth/logout', {
      token: both.token,
      body: { refreshToken: both.refreshToken },
      headers: from(address),
    })
    expect(withBoth.status).toBe(204)
    expect((await http(refreshes.url, 'GET', '/api/me', { token: both.token })).status).toBe(401)
  })
})

// Review (ASVS 3.3.1, logout ends the session): the browser logs out with its Bearer and its refresh token and forgets
// both whatever the answer. With the Bearer expired (a tab asleep) and the address's refresh budget spent (one address
// for a whole office, or someone else on it spending it), the logout was refused RATE_LIMITED and the session went on.
describe('a logout or a refresh past the refresh budget, its access token expired', () => {
  let budgeted: TestServer
  const clock = manualClock()
  beforeAll(async () => {
    budgeted = await startTestServer({
      trustProxy: 1,
      now: clock.now,
      tokenTtlSeconds: 60,
      refreshRateLimit: { perSecond: 0.001, burst: 3 },
    })
  })
  afterAll(() => budgeted?.dispose())

  it('still ends the session its refresh token names, when it carries a Bearer this server signed', async () => {
    const address = { 'x-forwarded-for': '198.51.100.10' }
    const session = await login(budgeted.url, ALICE)
    clock.advance(61_000)
    expect((await http(budgeted.url, 'GET', '/api/me', { token: session.token })).status).toBe(401)
    await spendAddress(budgeted.url, address)
    const logout = await http(budgeted.url, 'POST', '/api/auth/logout', {
      token: session.token,
      body: { refreshToken: session.refreshToken },
      headers: address,
    })
    expect(logout.status).toBe(204)
    const refresh = await http(budgeted.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: session.refreshToken },
      headers: { 'x-forwarded-for': '203.0.113.22' },
    })
    expect(refresh.status).toBe(401)
  })

  // A school behind one NAT: hundreds of browsers back from sleep at once spend the address's budget, and each refresh
  // past it was refused RATE_LIMITED, its user's token renewal held up (a send is never limited per address for that
  // reason). The browser refreshes with its Bearer (expired, as after a sleep): its user pays, as a logout's does.
  it('renews past the address’s budget a refresh that carries a Bearer this server signed (expired too) of its live session', async () => {
    // Alice: Carol's budget past the address's is the next test's, whole (one per user, not per session).
    const address = { 'x-forwarded-for': '198.51.100.14' }
    const session = await login(budgeted.url, ALICE)
    clock.advance(61_000)
    await spendAddress(budgeted.url, address)
    const refresh = await http<{ token: string }>(budgeted.url, 'POST', '/api/auth/refresh', {
      token: session.token,
      body: { refreshToken: session.refreshToken },
      headers: address,
    })
    expect(refresh.status).toBe(200)
    expect((await http(budgeted.url, 'GET', '/api/me', { token: refresh.body.token })).status).toBe(200)
    // Without a Bearer, the address still bounds it.
    const bare = await http(budgeted.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: 'guess-3' },
      headers: address,
    })
    expect(bare.status).toBe(429)
  })

  it('bounds made-up refresh tokens on refresh beside one signed Bearer by its user, shared with its logouts', async () => {
    const address = { 'x-forwarded-for': '198.51.100.15' }
    const { token } = await login(budgeted.url, CAROL)
    clock.advance(61_000)
    await spendAddress(budgeted.url, address)
    const refresh = (refreshToken: string) =>
      http(budgeted.url, 'POST', '/api/auth/refresh', { token, body: { refreshToken }, headers: address })
    for (let i = 3; i < 5; i++) expect((await refresh(`guess-${i}`)).status).toBe(401)
    const logout = await http(budgeted.url, 'POST', '/api/auth/logout', {
      token,
      body: { refreshToken: 'guess-5' },
      headers: address,
    })
    expect(logout.status).toBe(401)
    expect((await refresh('guess-6')).status).toBe(429)
  })

  it('bounds made-up refresh tokens beside one signed Bearer by its user, as the address bounds them without one', async () => {
    const address = { 'x-forwarded-for': '198.51.100.11' }
    const { token } = await login(budgeted.url, BOB)
    clock.advance(61_000)
    const logOut = (refreshToken: string, bearer?: string) =>
      http(budgeted.url, 'POST', '/api/auth/logout', { token: bearer, body: { refreshToken }, headers: address })
    for (let i = 0; i < 3; i++) expect((await logOut(`guess-${i}`)).status).toBe(401)
    expect((await logOut('guess-3')).status).toBe(429)
    for (let i = 4; i < 7; i++) expect((await logOut(`guess-${i}`, token)).status).toBe(401)
    expect((await logOut('guess-7', token)).status).toBe(429)
  })

  // The Bearer of an ended session stays signed: had it a budget of its own, every login (a new session, ended at once)
  // would add one for good, and made-up refresh tokens past the address's would grow with the logins made, without end.
  it('gives no budget past the address’s to the Bearer of a session already ended', async () => {
    const address = { 'x-forwarded-for': '198.51.100.12' }
    const { token } = await login(budgeted.url, BOB)
    expect((await http(budgeted.url, 'POST', '/api/auth/logout', { token, headers: address })).status).toBe(204)
    await spendAddress(budgeted.url, address)
    const logout = await http(budgeted.url, 'POST', '/api/auth/logout', {
      token,
      body: { refreshToken: 'guess-3' },
      headers: address,
    })
    expect(logout.status).toBe(429)
  })

  // Only a Bearer this server signed opens a session's budget: one made up (or signed with another key) is no proof.
  it('gives none to a Bearer this server did not sign', async () => {
    const address = { 'x-forwarded-for': '198.51.100.13' }
    const session = await login(budgeted.url, CAROL)
    await spendAddress(budgeted.url, address)
    const [header, payload] = session.token.split('.')
    for (const forged of ['not-a-jwt', `${header}.${payload}.${'A'.repeat(43)}`]) {
      const logout = await http(budgeted.url, 'POST', '/api/auth/logout', {
        token: forged,
        body: { refreshToken: session.refreshToken },
        headers: address,
      })
      expect(logout.status).toBe(429)
    }
    // Nothing was looked up for them: the session lives on.
    const refresh = await http(budgeted.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: session.refreshToken },
      headers: { 'x-forwarded-for': '203.0.113.23' },
    })
    expect(refresh.status).toBe(200)
  })

  // Review (ASVS 3.3.1): past the address's budget and its user's there too (spent by another of the user's sessions, a
  // shared computer left logged in), a logout with an unexpired Bearer was refused 429 yet ended its session, while
  // one whose Bearer had expired (a tab asleep) was refused and its session lived on, the browser forgetting its tokens.
  // The refresh token issued with the Bearer proves the session with no lookup to pay for.
  it('ends the session named by an expired Bearer and the refresh token issued with it, past its user’s budget too', async () => {
    const address = { 'x-forwarded-for': '198.51.100.21' }
    const session = await login(budgeted.url, ALICE)
    const stale = await login(budgeted.url, ALICE)
    clock.advance(61_000)
    await spendAddress(budgeted.url, address)
    for (let i = 3; i < 6; i++)
      await http(budgeted.url, 'POST', '/api/auth/refresh', {
        token: stale.token,
        body: { refreshToken: `guess-${i}` },
        headers: address,
      })
    const logout = await http(budgeted.url, 'POST', '/api/auth/logout', {
      token: session.token,
      body: { refreshToken: session.refreshToken },
      headers: address,
    })
    expect(logout.status).toBe(204)
    const refresh = await http(budgeted.url, 'POST', '/api/auth/refresh', {
      body: { refreshToken: session.refreshToken },
      headers: { 'x-forwarded-for': '203.0.113.24' },
    })
    expect(refresh.status).toBe(401)
    // Another session's refresh token beside the Bearer is no such proof: past the budgets, it is still refused.
    const other = await http(budgeted.url, 'POST', '/api/auth/logout', {
      token: session.token,
      body: { refreshToken: stale.refreshToken },
      headers: address,
    })
    expect(other.status).toBe(429)
  })

  // A session ends refreshIdleSeconds (7 days) after its last refresh, as it does 30 days after its login: its Bearer,
  // still signed, was taken for a live session's until the 30 days, and opened its user's budget past the address's.
  // Last in this block: it moves the clock on by a week.
  it('gives none to the Bearer of a session ended by being left idle for refreshIdleSeconds', async () => {
    const address = { 'x-forwarded-for': '198.51.100.20' }
    const { token } = await login(budgeted.url, BOB)
    clock.advance(DEFAULT_REFRESH_IDLE_SECONDS * 1000 + 1000)
    await spendAddress(budgeted.url, address)
    const refresh = await http(budgeted.url, 'POST', '/api/auth/refresh', {
      token,
      body: { refreshToken: 'guess-3' },
      headers: address,
    })
    expect(refresh.status).toBe(429)
  })
})

// Review (ASVS 2.2.1, anti-automation): past the address's refresh budget, a signed Bearer of a live session paid with
// its session's budget. Every login starts a session, live for days if never refreshed, so one account's password,
// logged in again and again from one address, added a budget of made-up refresh tokens (each a hashed lookup) per
// login: their load grew with the logins made, without end, as an ended session's would have.
describe('the refresh budget past the address’s, per user', () => {
  let perUser: TestServer
  beforeAll(async () => {
    perUser = await startTestServer({ trustProxy: 1, refreshRateLimit: { perSecond: 0.001, burst: 3 } })
  })
  afterAll(() => perUser?.dispose())

  it('is one for all the sessions of a user, however many times they log in', async () => {
    const address = { 'x-forwarded-for': '198.51.100.16' }
    await spendAddress(perUser.url, address)
    const guess = (token: string, refreshToken: string) =>
      http(perUser.url, 'POST', '/api/auth/refresh', { token, body: { refreshToken }, headers: address })
    const first = await login(perUser.url, BOB)
    for (let i = 3; i < 6; i++) expect((await guess(first.token, `guess-${i}`)).status).toBe(401)
    expect((await guess(first.token, 'guess-6')).status).toBe(429)
    // A new login is no new budget.
    const again = await login(perUser.url, BOB)
    expect((await guess(again.token, 'guess-7')).status).toBe(429)
  })

  it('still renews each of a user’s devices behind the spent address, once each', async () => {
    const address = { 'x-forwarded-for': '198.51.100.17' }
    await spendAddress(perUser.url, address)
    const devices = [await login(perUser.url, CAROL), await login(perUser.url, CAROL), await login(perUser.url, CAROL)]
    for (const device of devices) {
      const renewed = await http(perUser.url, 'POST', '/api/auth/refresh', {
        token: device.token,
        body: { refreshToken: device.refreshToken },
        headers: address,
      })
      expect(renewed.status).toBe(200)
    }
  })

  // A Bearer of one of the user's sessions (a shared computer left logged in, its token expired since) spent the user's
  // whole budget past its address's from anywhere: every device of that user behind a spent address (a school's NAT
  // back from sleep) was then refused its renewal, where each session had paid for its own.
  it('is not spent for a device of the user behind another address', async () => {
    const elsewhere = { 'x-forwarded-for': '198.51.100.18' }
    const school = { 'x-forwarded-for': '198.51.100.19' }
    await spendAddress(perUser.url, elsewhere)
    await spendAddress(perUser.url, school)
    const stale = await login(perUser.url, ALICE)
    const device = await login(perUser.url, ALICE)
    for (let i = 0; i < 4; i++)
      await http(perUser.url, 'POST', '/api/auth/refresh', {
        token: stale.token,
        body: { refreshToken: `guess-${i}` },
        headers: elsewhere,
      })
    const renewed = await http(perUser.url, 'POST', '/api/auth/refresh', {
      token: device.token,
      body: { refreshToken: device.refreshToken },
      headers: school,
    })
    expect(renewed.status).toBe(200)
  })
})

// Review (ASVS 2.2.1, resource exhaustion): the login throttle counts failures only, and each login hashes a password
// (Argon2): one account's right password, sent again and again, kept the hashing threads busy without end.
describe('the login budget, per client address', () => {
  let logins: TestServer
  // Three, refilled one every 100 s: an empty bucket stays empty for the whole test. The address comes from
  // X-Forwarded-For (trustProxy: 1), so one test plays several clients.
  beforeAll(async () => {
    logins = await startTestServer({ trustProxy: 1, loginRateLimit: { perSecond: 0.01, burst: 3 } })
  })
  afterAll(() => logins?.dispose())

  it('refuses logins past it, with the right password too, with RATE_LIMITED and Retry-After; another address goes on', async () => {
    const logIn = (address: string) =>
      http<ErrorBody>(logins.url, 'POST', '/api/auth/login', {
        body: { email: ALICE, password: 'talemy' },
        headers: { 'x-forwarded-for': address },
      })
    for (let i = 0; i < 3; i++) expect((await logIn('198.51.100.9')).status).toBe(200)
    const refused = await logIn('198.51.100.9')
    expect(refused.status).toBe(429)
    expect(refused.body).toEqual({
      error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) },
    })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await logIn('203.0.113.21')).status).toBe(200)
  })
})
