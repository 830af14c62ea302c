import { cpSync, rmSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { openDatabase } from '../../server/db'
import { LiveDelivery, MemoryPresenceStore, PresenceTracker } from '../../server/realtime'
import { EventLog } from '../../server/services/eventLog'
import {
  ALICE,
  BOB,
  delivered,
  emitAck,
  freshDataDir,
  http,
  login,
  startTestServer,
  type TestServer,
} from './support/server'
import { holdLogReads } from './support/holdLogReads'
import { openStream, type Stream } from './support/stream'

const CONV = 'conv-alice-bob'
const MINUTE = 60_000
/**
 * The bound of a test that starts the server several times on its own data folder (each start opens PGlite, each copy
 * moves the folder): 10 to 25 s on a loaded machine, which the default 30 s only just covered. It only catches a hang.
 */
const RESTARTS = { timeout: 120_000 }

/** A clock tests move by hand (no real waiting for retention or for "two minutes away"). */
function manualClock(start = Date.now()) {
  let at = start
  return { now: () => at, advance: (ms: number) => void (at += ms) }
}

const open: { close(): void }[] = []
const servers: TestServer[] = []
afterEach(async () => {
  for (const socket of open.splice(0)) socket.close()
  for (const server of servers.splice(0)) await server.dispose()
})

async function stream(url: string, token: string, auth: { offset?: number; epoch?: string } = {}): Promise<Stream> {
  const s = await openStream(url, token, auth)
  open.push(s.socket)
  return s
}

async function serve(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const server = await startTestServer(options)
  servers.push(server)
  return server
}

/** Bob, synced once and gone (none of his sockets left on the server): the offset and epoch he resumes from. */
async function resumingBob(server: TestServer) {
  const token = (await login(server.url, BOB)).token
  const before = await stream(server.url, token)
  const { offset, epoch } = (await before.synced()).payload
  before.socket.close()
  const bobsSockets = () => [...server.io.of('/').sockets.values()].filter((s) => s.data.userId === 'user-bob')
  await vi.waitFor(() => expect(bobsSockets()).toEqual([]), { timeout: 10_000, interval: 10 })
  return { token, offset, epoch, bobsSockets }
}

const post = (url: string, token: string, content: string) =>
  http(url, 'POST', `/api/conversations/${CONV}/messages`, { token, body: { content, clientId: randomUUID() } }).then(
    (result) => {
      expect(result.status).toBe(201)
      return result.body as { id: string; seq: number; content: string }
    },
  )

describe('offsets and sync on the handshake', () => {
  it('answers a handshake without an offset with sync:caughtUp at the current offset, then numbers each logged event 1 step on', async () => {
    const server = await serve()
    const alice = await login(server.url, ALICE)
    const bob = await login(server.url, BOB)
    const bobStream = await stream(server.url, bob.token)
    const start = await bobStream.synced()
    expect(start.event).toBe('sync:caughtUp')
    expect(start.payload).toEqual({ offset: expect.any(Number), epoch: expect.any(String) })
    const { offset } = start.payload

    const aliceStream = await stream(server.url, alice.token)
    const aliceStart = (await aliceStream.synced()).payload.offset
    const sent = [await post(server.url, alice.token, 'one'), await post(server.url, alice.token, 'two')]
    // Alice's first reply reads Bob's last message (the seed leaves it unread to her): Bob is told, and so is she.
    await vi.waitFor(() => expect(bobStream.logged()).toHaveLength(3), { timeout: 10_000 })
    expect(bobStream.logged()).toEqual([
      {
        event: 'message:new',
        payload: expect.objectContaining({ id: sent[0]!.id, content: 'one' }),
        offset: offset + 1,
      },
      {
        event: 'conversation:seen',
        payload: { conversationId: CONV, userId: alice.user.id, seq: sent[0]!.seq },
        offset: offset + 2,
      },
      {
        event: 'message:new',
        payload: expect.objectContaining({ id: sent[1]!.id, content: 'two' }),
        offset: offset + 3,
      },
    ])
    await vi.waitFor(() => expect(aliceStream.logged()).toHaveLength(3), { timeout: 10_000 })
    expect(aliceStream.logged().map((item) => [item.event, item.offset])).toEqual([
      ['message:sent', aliceStart + 1],
      ['conversation:read', aliceStart + 2],
      ['message:sent', aliceStart + 3],
    ])
    // A replayed-looking payload is the stored message, field for field.
    const stored = await http(server.url, 'GET', `/api/conversations/${CONV}/messages`, { token: alice.token })
    expect(stored.body).toContainEqual(bobStream.logged()[2]!.payload)
  })
})

describe('resume by offset', RESTARTS, () => {
  it('gives Bob, back after a server restart and 3 minutes away, exactly the events he missed, in order, then sync:caughtUp, then live ones', async () => {
    const clock = manualClock()
    const dataDir = freshDataDir()
    try {
      const first = await startTestServer({ dataDir, now: clock.now })
      let bobToken = (await login(first.url, BOB)).token
      const bobBefore = await stream(first.url, bobToken)
      const { offset, epoch } = (await bobBefore.synced()).payload
      bobBefore.socket.close()

      const alice = (await login(first.url, ALICE)).token
      const missed = [await post(first.url, alice, 'while away 1'), await post(first.url, alice, 'while away 2')]
      const lesson = await http(first.url, 'POST', '/api/lessons', {
        token: alice,
        body: {
          tutorId: 'user-bob',
          subject: 'Resumed algebra',
          startsAt: new Date(clock.now() + 86_400_000).toISOString(),
          durationMinutes: 60,
        },
      })
      expect(lesson.status).toBe(201)
      await first.close()

      clock.advance(3 * MINUTE)
      const second = await serve({ dataDir, now: clock.now })
      bobToken = (await login(second.url, BOB)).token
      const bob = await stream(second.url, bobToken, { offset, epoch })
      const sync = await bob.synced()
      expect(sync).toEqual({ event: 'sync:caughtUp', payload: { offset: offset + 4, epoch } })
      // Alice's first reply read Bob's last message (the seed leaves it unread to her): its receipt is missed too.
      const seen = { conversationId: CONV, userId: 'user-alice', seq: missed[0]!.seq }
      expect(bob.items.slice(0, 5)).toEqual([
        { event: 'message:new', payload: expect.objectContaining({ id: missed[0]!.id }), offset: offset + 1 },
        { event: 'conversation:seen', payload: seen, offset: offset + 2 },
        { event: 'message:new', payload: expect.objectContaining({ id: missed[1]!.id }), offset: offset + 3 },
        { event: 'lesson:created', payload: lesson.body, offset: offset + 4 },
        sync,
      ])

      const live = await post(second.url, (await login(second.url, ALICE)).token, 'live again')
      await vi.waitFor(() => expect(bob.logged()).toHaveLength(5), { timeout: 10_000 })
      expect(bob.logged()[4]).toEqual({
        event: 'message:new',
        payload: expect.objectContaining({ id: live.id }),
        offset: offset + 5,
      })
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('sends sync:gap at the current offset when the missed events are past the retention, and live events after it', async () => {
    const clock = manualClock()
    const server = await serve({ now: clock.now, eventRetentionSeconds: 60 })
    const bobToken = (await login(server.url, BOB)).token
    const before = await stream(server.url, bobToken)
    const { offset, epoch } = (await before.synced()).payload
    before.socket.close()
    // Its message:new and the receipt of Alice's read (her reply passed Bob's last message, unread in the seed).
    await post(server.url, (await login(server.url, ALICE)).token, 'old news')

    clock.advance(61_000)
    const bob = await stream(server.url, (await login(server.url, BOB)).token, { offset, epoch })
    expect(await bob.synced()).toEqual({ event: 'sync:gap', payload: { offset: offset + 2, epoch } })
    expect(bob.items[0]!.event).toBe('sync:gap')

    // Up to date, nothing is missing however old the log is.
    const current = await stream(server.url, (await login(server.url, BOB)).token, { offset: offset + 2, epoch })
    expect((await current.synced()).event).toBe('sync:caughtUp')

    const live = await post(server.url, (await login(server.url, ALICE)).token, 'new news')
    await vi.waitFor(() => expect(bob.logged()).toHaveLength(1), { timeout: 10_000 })
    expect(bob.logged()[0]).toEqual({
      event: 'message:new',
      payload: expect.objectContaining({ id: live.id }),
      offset: offset + 3,
    })
  })

  it('prunes events past the retention (on the injected clock) from the database', async () => {
    const clock = manualClock()
    const server = await serve({ now: clock.now, eventRetentionSeconds: 60 })
    await post(server.url, (await login(server.url, ALICE)).token, 'to be pruned')
    clock.advance(30_000)
    await post(server.url, (await login(server.url, ALICE)).token, 'to be kept')
    await server.close()
    clock.advance(31_000)
    // Pruning runs at start (and every few minutes): the restarted server's log keeps only the younger send's events.
    await (await startTestServer({ now: clock.now, eventRetentionSeconds: 60, dataDir: server.dataDir })).close()
    const db = await openDatabase({ dataDir: server.dataDir })
    try {
      const rows = await db.query<{ payload: { content: string } }>(`select payload from user_events order by user_id`)
      expect(rows.map((row) => row.payload.content)).toEqual(['to be kept', 'to be kept'])
    } finally {
      await db.close()
    }
  })

  it('sends sync:gap past maxReplay, and replays up to it', async () => {
    const server = await serve({ maxReplay: 3 })
    const bobToken = (await login(server.url, BOB)).token
    const before = await stream(server.url, bobToken)
    const { offset, epoch } = (await before.synced()).payload
    before.socket.close()
    const alice = (await login(server.url, ALICE)).token
    // Five events: four message:new and, after the first, the receipt of Alice's read (the seed leaves her one unread).
    for (let i = 0; i < 4; i++) await post(server.url, alice, `burst ${i}`)

    const tooFar = await stream(server.url, bobToken, { offset, epoch })
    expect(await tooFar.synced()).toEqual({ event: 'sync:gap', payload: { offset: offset + 5, epoch } })
    expect(tooFar.logged()).toEqual([])

    const justEnough = await stream(server.url, bobToken, { offset: offset + 2, epoch })
    expect(await justEnough.synced()).toEqual({ event: 'sync:caughtUp', payload: { offset: offset + 5, epoch } })
    expect(justEnough.logged().map((item) => item.offset)).toEqual([offset + 3, offset + 4, offset + 5])
  })
})

// Accepted by startServer (a whole number, a duration above 0) as "keep and replay everything": the log's statement
// took maxReplay + 1 as an int (every resume with an offset failed) and the oldest instant kept as a date (an invalid
// one: every handshake failed).
it.each([
  ['maxReplay: Number.MAX_SAFE_INTEGER', { maxReplay: Number.MAX_SAFE_INTEGER }],
  ['eventRetentionSeconds: 1e13', { eventRetentionSeconds: 1e13 }],
])('replays what a client missed when started with %s', async (_name, options) => {
  const server = await serve(options)
  const bobToken = (await login(server.url, BOB)).token
  const before = await stream(server.url, bobToken)
  const { offset, epoch } = (await before.synced()).payload
  before.socket.close()
  // Its message:new and the receipt of Alice's read (her reply passed Bob's last message, unread in the seed).
  await post(server.url, (await login(server.url, ALICE)).token, 'while away')

  const back = await stream(server.url, bobToken, { offset, epoch })
  expect(await back.synced()).toEqual({ event: 'sync:caughtUp', payload: { offset: offset + 2, epoch } })
  expect(back.logged().map((item) => item.offset)).toEqual([offset + 1, offset + 2])
})

describe('resume refused', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
    // Alice has read the thread: each of her sends is then one message:new for Bob (her first would also tell him
    // she read his last message, which the seed leaves unread to her).
    const alice = await stream(server.url, (await login(server.url, ALICE)).token)
    expect(await emitAck(alice.socket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
    alice.socket.close()
  })
  afterAll(() => server?.dispose())

  it.each([
    ['another epoch', { offset: 0, epoch: 'another-database' }],
    ['an offset beyond the log', { offset: 1e9 }],
    ['a malformed offset', { offset: 'seven' as unknown as number }],
    ['a negative offset', { offset: -1 }],
  ])('sends sync:gap for %s, and the server keeps serving', async (_name, auth) => {
    const bob = (await login(server.url, BOB)).token
    const s = await stream(server.url, bob, auth)
    const sync = await s.synced()
    expect(sync.event).toBe('sync:gap')
    expect(s.logged()).toEqual([])
    expect(await emitAck(s.socket, 'conversation:leave', CONV)).toEqual({ ok: true, data: null })
  })

  it('sends sync:gap at the current offset for an offset ahead of the log in its own epoch, and live events count on from there', async () => {
    // A log that went back under the same epoch (a restore over the folder in place) leaves a client ahead of it: it
    // must be told to refetch and count from the log's offset, not wait for offsets the log has not reached.
    const bob = (await login(server.url, BOB)).token
    const before = await stream(server.url, bob)
    const { offset, epoch } = (await before.synced()).payload
    before.socket.close()

    const ahead = await stream(server.url, bob, { offset: offset + 5, epoch })
    expect(await ahead.synced()).toEqual({ event: 'sync:gap', payload: { offset, epoch } })
    await post(server.url, (await login(server.url, ALICE)).token, 'after the gap')
    await vi.waitFor(() => expect(ahead.logged()).toHaveLength(1), { timeout: 10_000 })
    expect(ahead.logged()[0]).toMatchObject({ event: 'message:new', offset: offset + 1 })
  })

  it('sends sync:gap for an offset without its epoch: it cannot tell whether the offset counts in this log', async () => {
    // An offset counts in one log (its epoch): one kept from before a database reset names other events here. Taken as
    // this log's, the client would get the events after it as if nothing had been missed, and never refetch.
    const bob = (await login(server.url, BOB)).token
    const before = await stream(server.url, bob)
    const { offset, epoch } = (await before.synced()).payload
    before.socket.close()
    await post(server.url, (await login(server.url, ALICE)).token, 'while away')

    const bare = await stream(server.url, bob, { offset })
    expect(await bare.synced()).toEqual({ event: 'sync:gap', payload: { offset: offset + 1, epoch } })
    expect(bare.logged()).toEqual([])
    // With its epoch, the same offset resumes.
    const paired = await stream(server.url, bob, { offset, epoch })
    expect(await paired.synced()).toEqual({ event: 'sync:caughtUp', payload: { offset: offset + 1, epoch } })
    expect(paired.logged().map((item) => item.event)).toEqual(['message:new'])
  })
})

describe('a database restored from a backup, or copied', RESTARTS, () => {
  it('gives its log another epoch: a client that saw events after the backup gets sync:gap, not a replay of others', async () => {
    const dataDir = freshDataDir()
    const backup = `${dataDir}-backup`
    try {
      const first = await startTestServer({ dataDir })
      const bobBefore = await stream(first.url, (await login(first.url, BOB)).token)
      await bobBefore.synced()
      await first.close()
      // The backup, taken while the server is stopped.
      cpSync(dataDir, backup, { recursive: true })

      // Bob sees three messages after it.
      const second = await startTestServer({ dataDir })
      const bob = await stream(second.url, (await login(second.url, BOB)).token)
      const { epoch } = (await bob.synced()).payload
      const alice = (await login(second.url, ALICE)).token
      // And the receipt of Alice's read after the first (her reply passed his last message, unread in the seed).
      for (const text of ['a', 'b', 'c']) await post(second.url, alice, text)
      await vi.waitFor(() => expect(bob.logged()).toHaveLength(4), { timeout: 10_000 })
      const seen = bob.logged()[3]!.offset
      bob.socket.close()
      await second.close()

      // The folder is lost and the backup restored; five new messages reuse Bob's offsets.
      rmSync(dataDir, { recursive: true, force: true })
      cpSync(backup, dataDir, { recursive: true })
      const restored = await serve({ dataDir })
      const aliceAgain = (await login(restored.url, ALICE)).token
      for (const text of ['d', 'e', 'f', 'g', 'h']) await post(restored.url, aliceAgain, text)

      // Bob's laptop wakes up with what it had seen: its offset means nothing in this log any more.
      const back = await stream(restored.url, (await login(restored.url, BOB)).token, { offset: seen, epoch })
      const sync = await back.synced()
      expect(sync.event).toBe('sync:gap')
      expect(sync.payload.epoch).not.toBe(epoch)
      expect(back.logged()).toEqual([])

      // A restart of the restored folder keeps its new epoch: resume by offset works again.
      const { offset: now, epoch: next } = sync.payload
      back.socket.close()
      await restored.close()
      servers.splice(servers.indexOf(restored), 1)
      const again = await serve({ dataDir })
      const resumed = await stream(again.url, (await login(again.url, BOB)).token, { offset: now, epoch: next })
      expect((await resumed.synced()).event).toBe('sync:caughtUp')
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
      rmSync(backup, { recursive: true, force: true })
    }
  })
})

describe('replay hand-over', () => {
  it('delivers events committed during a replay once, in offset order, after the replayed ones', async () => {
    const server = await serve()
    const { token: bobToken, offset, epoch } = await resumingBob(server)
    const alice = await stream(server.url, (await login(server.url, ALICE)).token)
    const send = (i: number) =>
      emitAck(alice.socket, 'message:send', { conversationId: CONV, content: `m${i}`, clientId: `handover-${i}` })

    const backlog = 300
    const during = 100
    await Promise.all(Array.from({ length: backlog }, (_, i) => send(i)))
    // Bob resumes while Alice keeps sending: some commit before his log is read, some during the replay, some after.
    const resuming = stream(server.url, bobToken, { offset, epoch })
    const sends = Array.from({ length: during }, (_, i) => send(backlog + i))
    const bob = await resuming
    const acks = await Promise.all(sends)
    expect(acks.every((ack) => ack.ok)).toBe(true)

    // Each message, and after the first the receipt of Alice's read (her reply passed Bob's last message, unread in
    // the seed).
    const total = backlog + during + 1
    await vi.waitFor(() => expect(bob.logged().length).toBeGreaterThanOrEqual(total), { timeout: 20_000 })
    const sync = await bob.synced()
    expect(sync.event).toBe('sync:caughtUp')
    const offsets = bob.logged().map((item) => item.offset)
    expect(offsets).toEqual(Array.from({ length: total }, (_, i) => offset + 1 + i))
    expect(bob.logged()[1]!.event).toBe('conversation:seen')
    expect(bob.logged().flatMap((item) => (item.event === 'message:new' ? [item.payload.content] : []))).toEqual(
      Array.from({ length: backlog + during }, (_, i) => `m${i}`),
    )
    // sync:caughtUp sits between the replayed events and the live ones.
    const at = bob.items.indexOf(sync)
    expect(bob.items.slice(0, at).every((item) => item.offset! <= sync.payload.offset)).toBe(true)
    expect(bob.items.slice(at + 1).every((item) => item.offset! > sync.payload.offset)).toBe(true)
  })
})

describe('notices during a replay', () => {
  // The contract's "then sync:caughtUp, and only then live events" holds for the unlogged ones too: a typing notice
  // that overtook the older messages replayed to the typer's contact would be ended by them on arrival (a message
  // from someone ends their "typing…").
  it('sends a resuming socket no typing notice before its sync:caughtUp; the next one after it arrives', async () => {
    const server = await serve()
    const { token: bobToken, offset, epoch } = await resumingBob(server)
    const alice = await stream(server.url, (await login(server.url, ALICE)).token)
    await alice.synced()
    const away = await post(server.url, (await login(server.url, ALICE)).token, 'while Bob was away')

    const held = holdLogReads('user-bob')
    try {
      const bob = await stream(server.url, bobToken, { offset, epoch })
      await held.reading
      // Bob's socket is in his user's room by now, its log not read yet.
      expect(await emitAck(alice.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
      held.release()
      expect((await bob.synced()).event).toBe('sync:caughtUp')
      expect(await emitAck(alice.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
      await delivered(bob.socket)
      const typing = { event: 'typing', payload: { conversationId: CONV, userId: 'user-alice' } }
      // The receipt: Alice's message passed Bob's last one, which the seed leaves unread to her.
      const seen = { conversationId: CONV, userId: 'user-alice', seq: away.seq }
      expect(bob.items).toEqual([
        { event: 'message:new', payload: expect.objectContaining({ id: away.id }), offset: offset + 1 },
        { event: 'conversation:seen', payload: seen, offset: offset + 2 },
        { event: 'sync:caughtUp', payload: expect.objectContaining({ offset: offset + 2 }) },
        typing,
      ])
    } finally {
      held.restore()
    }
  })
})

// Notifications lost during a handshake's first read (its socket marked stale) make it read the log again before it
// goes live, and the handshake (and its presence) waits for that read. Stand-in for the loss: `takeStale` says so once.
describe('a further read of the log at the handshake', () => {
  it('that fails ends the socket as a failed first read would: no rejection left unhandled, no presence for it', async () => {
    const server = await serve()
    const { token, offset, epoch, bobsSockets } = await resumingBob(server)
    const real = EventLog.prototype.resume
    let reads = 0
    const resume = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(async function (this: EventLog, ...args) {
      if (args[0] === 'user-bob' && ++reads === 2) throw new Error('the log cannot be read')
      return real.apply(this, args)
    })
    const stale = vi.spyOn(LiveDelivery.prototype, 'takeStale').mockReturnValueOnce(true)
    const connected = vi.spyOn(PresenceTracker.prototype, 'connected')
    try {
      const bob = await stream(server.url, token, { offset, epoch })
      await vi.waitFor(() => expect(bob.socket.connected).toBe(false), { timeout: 10_000, interval: 10 })
      await vi.waitFor(() => expect(bobsSockets()).toEqual([]), { timeout: 10_000, interval: 10 })
      expect(reads).toBe(2)
      expect(bob.items.filter((item) => item.event.startsWith('sync:'))).toEqual([])
      expect(connected).not.toHaveBeenCalled()
    } finally {
      resume.mockRestore()
      stale.mockRestore()
      connected.mockRestore()
    }
  })

  it('that a disconnect interrupts settles the handshake: the socket is not marked online, nothing is left of it', async () => {
    const server = await serve()
    const { token, offset, epoch, bobsSockets } = await resumingBob(server)
    const real = EventLog.prototype.resume
    let reads = 0
    let onSecond!: () => void
    const second = new Promise<void>((resolve) => (onSecond = resolve))
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const resume = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(async function (this: EventLog, ...args) {
      if (args[0] !== 'user-bob' || ++reads !== 2) return real.apply(this, args)
      const result = await real.apply(this, args)
      onSecond()
      await released
      return result
    })
    const stale = vi.spyOn(LiveDelivery.prototype, 'takeStale').mockReturnValueOnce(true)
    const connected = vi.spyOn(PresenceTracker.prototype, 'connected')
    const markOnline = vi.spyOn(MemoryPresenceStore.prototype, 'markOnline')
    try {
      const bob = await stream(server.url, token, { offset, epoch })
      await second
      bob.socket.close()
      await vi.waitFor(() => expect(bobsSockets()).toEqual([]), { timeout: 10_000, interval: 10 })
      release()
      await vi.waitFor(() => expect(connected).toHaveBeenCalledTimes(1), { timeout: 10_000, interval: 10 })
      await connected.mock.results[0]!.value
      expect(markOnline).not.toHaveBeenCalled()
      expect(server.io.of('/').sockets.size).toBe(0)
    } finally {
      release()
      resume.mockRestore()
      stale.mockRestore()
      connected.mockRestore()
      markOnline.mockRestore()
    }
  })
})
