import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startServer } from '../../server/index'
import { PresenceTracker } from '../../server/realtime'
import { EventLog } from '../../server/services/eventLog'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, emitAck, http, login, type ClientSocket } from '../server/support/server'
import { openStream, type Stream } from '../server/support/stream'
import { redisRunnable, requireParts, startRedis, whileSubscriberAway, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// A node whose Redis subscriber drops and comes back has lost what the other nodes published meanwhile; it reads its
// sockets' logs again. A socket still replaying then (its log read before the loss) must get those events too, at
// once and in order: not at the next log-tail check, which node C here never reaches (its period is an hour).
const ready = requireParts('tests/cluster/replayResync.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('a socket replaying while its node lost notifications', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let a: Awaited<ReturnType<typeof startServer>>
  let c: Awaited<ReturnType<typeof startServer>>
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    const options = {
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_replay_resync'),
      redisUrl: redis.url,
      redisPrefix: `r${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
    }
    a = await startServer(options)
    c = await startServer({ ...options, logTailCheckMs: 3_600_000 })
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await a?.close()
    await c?.close()
    await redis?.stop()
    postgres?.stop()
  })

  async function open(url: string, token: string, auth: { offset?: number; epoch?: string } = {}): Promise<Stream> {
    const s = await openStream(url, token, auth)
    sockets.push(s.socket)
    return s
  }
  /** The contents of the `message:new`s a stream was sent, in the order it got them. */
  const contentsOf = (stream: Stream) =>
    stream
      .logged()
      .filter((item) => item.event === 'message:new')
      .map((item) => item.payload.content)
  const send = (url: string, token: string, content: string) =>
    http(url, 'POST', `/api/conversations/${CONV}/messages`, {
      token,
      body: { content, clientId: `replay-resync-${randomUUID()}` },
    })

  /**
   * Alice's and Bob's tokens (Bob's on C) and where Bob's log stood (offset, epoch) for a socket of his that was live on
   * C and is now gone from it; then Alice sends `readOnResume` on A, the first event a resume from there reads. Bob's
   * sockets of the tests before are closed first, so that only the test's own resume reads his log on C.
   */
  async function bobGoneFromC(readOnResume: string) {
    for (const socket of sockets.splice(0)) socket.close()
    const bobsOnC = () => [...c.io.of('/').sockets.values()].filter((socket) => socket.data.userId === 'user-bob')
    const alice = (await login(a.url, ALICE)).token
    const bob = (await login(c.url, BOB)).token
    const first = await open(c.url, bob)
    const { offset, epoch } = (await first.synced()).payload
    first.socket.close()
    await vi.waitFor(() => expect(bobsOnC()).toEqual([]), { timeout: hangBound(), interval: 10 })
    expect((await send(a.url, alice, readOnResume)).status).toBe(201)
    return { alice, bob, offset, epoch }
  }

  it('gets the events published while it replayed, before later ones, each once', async () => {
    const { alice, bob, offset, epoch } = await bobGoneFromC('before')

    // Bob's resume on C reads his log (it has "before"), then waits until the test lets it go on.
    const real = EventLog.prototype.resume
    let held = false
    let onRead!: () => void
    const read = new Promise<void>((resolve) => (onRead = resolve))
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const resume = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(async function (this: EventLog, ...args) {
      if (held || args[0] !== 'user-bob' || args[1] !== offset) return real.apply(this, args)
      held = true
      const result = await real.apply(this, args)
      onRead()
      await released
      return result
    })
    let bobOnC: Stream
    try {
      bobOnC = await open(c.url, bob, { offset, epoch })
      await read
      // Committed after that read, announced while C's subscriber is away: C never hears of it.
      await whileSubscriberAway(c.io, redis.url, 300, async () =>
        expect((await send(a.url, alice, 'missed')).status).toBe(201),
      )
      release()
      await bobOnC.synced()
    } finally {
      release()
      resume.mockRestore()
    }
    // Sent on C itself: its event reaches Bob's socket with no Redis on the way, after whatever came before it.
    expect((await send(c.url, alice, 'after')).status).toBe(201)
    const contents = () => contentsOf(bobOnC)
    await vi.waitFor(() => expect(contents()).toContain('after'), { timeout: hangBound(), interval: 20 })
    expect(contents()).toEqual(['before', 'missed', 'after'])
    // One offset after another from his own (with, after "before", the receipt of Alice's read when her message passed
    // his last one, which the seed leaves unread to her).
    const offsets = bobOnC.logged().map((item) => item.offset)
    expect(offsets).toEqual(offsets.map((_, i) => offset + 1 + i))
  })

  it("sends the connect's presence:snapshot after its sync:caughtUp when the log is read again", async () => {
    const { alice, bob, offset, epoch } = await bobGoneFromC('before again')

    // The first read is held as above; the second (from the first's end) lets anything that runs on the back of the
    // resume's end finish first: a snapshot sent then would come before the marker.
    const real = EventLog.prototype.resume
    const connected = vi.spyOn(PresenceTracker.prototype, 'connected')
    const resent = vi.spyOn(PresenceTracker.prototype, 'resendSnapshots')
    let stage: 'first' | 'again' | 'done' = 'first'
    let onRead!: () => void
    const read = new Promise<void>((resolve) => (onRead = resolve))
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const resume = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(async function (this: EventLog, ...args) {
      if (args[0] !== 'user-bob') return real.apply(this, args)
      if (stage === 'first' && args[1] === offset) {
        stage = 'again'
        const result = await real.apply(this, args)
        onRead()
        await released
        return result
      }
      if (stage === 'again') {
        stage = 'done'
        await new Promise((resolve) => setImmediate(resolve))
        await Promise.all(connected.mock.results.map((result) => result.value))
      }
      return real.apply(this, args)
    })
    const names: string[] = []
    let bobOnC: Stream
    try {
      bobOnC = await open(c.url, bob, { offset, epoch })
      bobOnC.socket.onAny((event: string) => names.push(event))
      await read
      await whileSubscriberAway(c.io, redis.url, 300, async () =>
        expect((await send(a.url, alice, 'missed again')).status).toBe(201),
      )
      // The snapshots sent again when the subscriber is back, before the replay goes on: none to a socket replaying.
      await vi.waitFor(() => expect(resent).toHaveBeenCalled(), { timeout: hangBound(), interval: 10 })
      await Promise.all(resent.mock.results.map((result) => result.value))
      expect(names).not.toContain('presence:snapshot')
      release()
      expect((await bobOnC.synced()).event).toBe('sync:caughtUp')
    } finally {
      release()
      resume.mockRestore()
      connected.mockRestore()
      resent.mockRestore()
    }
    expect(stage).toBe('done')
    await vi.waitFor(() => expect(names).toContain('presence:snapshot'), { timeout: hangBound(), interval: 10 })
    await Promise.all(connected.mock.results.map((result) => result.value))
    expect(names.filter((name) => name === 'presence:snapshot')).toHaveLength(1)
    expect(names.indexOf('presence:snapshot')).toBeGreaterThan(names.indexOf('sync:caughtUp'))
  })

  it('reads its log once more when the subscriber is lost again during the second read', async () => {
    const { alice, bob, offset, epoch } = await bobGoneFromC('one')

    // Bob's first two reads are each held after reading, until the test lets them go on.
    const real = EventLog.prototype.resume
    const reads: (() => void)[] = []
    const onRead: (() => void)[] = []
    const readDone = [0, 1].map((i) => new Promise<void>((resolve) => (onRead[i] = resolve)))
    const gates = [0, 1].map((i) => new Promise<void>((resolve) => (reads[i] = resolve)))
    let count = 0
    const resume = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(async function (this: EventLog, ...args) {
      if (args[0] !== 'user-bob' || count >= 2) return real.apply(this, args)
      const i = count++
      const result = await real.apply(this, args)
      onRead[i]!()
      await gates[i]
      return result
    })
    let bobOnC: Stream
    try {
      bobOnC = await open(c.url, bob, { offset, epoch })
      await readDone[0]
      await whileSubscriberAway(c.io, redis.url, 300, async () =>
        expect((await send(a.url, alice, 'two')).status).toBe(201),
      )
      reads[0]!()
      await readDone[1]
      await whileSubscriberAway(c.io, redis.url, 300, async () =>
        expect((await send(a.url, alice, 'three')).status).toBe(201),
      )
      reads[1]!()
      expect((await bobOnC.synced()).payload.offset).toBe(offset + 3)
    } finally {
      for (const read of reads) read()
      resume.mockRestore()
    }
    expect(count).toBe(2)
    expect((await send(c.url, alice, 'four')).status).toBe(201)
    const contents = () => contentsOf(bobOnC)
    await vi.waitFor(() => expect(contents()).toContain('four'), { timeout: hangBound(), interval: 20 })
    expect(contents()).toEqual(['one', 'two', 'three', 'four'])
    expect(bobOnC.logged().map((item) => item.offset)).toEqual([1, 2, 3, 4].map((n) => offset + n))
    expect(bobOnC.items.filter((item) => item.event.startsWith('sync:'))).toHaveLength(1)
  })
  it('resyncs a live socket without sending again an event it got out of order, above the lost one', async () => {
    for (const socket of sockets.splice(0)) socket.close()
    const alice = (await login(a.url, ALICE)).token
    const bobOnC = await open(c.url, (await login(c.url, BOB)).token)
    const { offset } = (await bobOnC.synced()).payload
    await whileSubscriberAway(c.io, redis.url, 300, async () => {
      // Committed on A while C's subscriber is away: C never hears of it (offset + 1)...
      expect((await send(a.url, alice, 'lost on the way')).status).toBe(201)
      // ...while the next, committed on C itself, reaches Bob's socket at once, above that hole (offset + 2).
      expect((await send(c.url, alice, 'came first')).status).toBe(201)
    })
    // The subscriber is back: C reads Bob's log again from where his socket was sent everything (offset).
    await vi.waitFor(() => expect(contentsOf(bobOnC)).toContain('lost on the way'), {
      timeout: hangBound(),
      interval: 20,
    })
    // Committed after the resync has sent what it read: once it arrives, anything that resync sent has arrived.
    expect((await send(c.url, alice, 'after')).status).toBe(201)
    await vi.waitFor(() => expect(contentsOf(bobOnC)).toContain('after'), { timeout: hangBound(), interval: 20 })
    // Each event once: a listener that reads only the message (no offset) would show "came first" twice otherwise.
    expect(contentsOf(bobOnC)).toEqual(['came first', 'lost on the way', 'after'])
    expect(bobOnC.logged().map((item) => item.offset)).toEqual([offset + 2, offset + 1, offset + 3])
  })

  /**
   * Alice (a token on A, a socket on C) and Bob (a socket on C), with C's next resync of Bob's socket held `before` its
   * log read or just `after` it (what Alice does meanwhile on C is then held for Bob, or deferred): `reached` once held,
   * `release` lets it go on.
   */
  async function bobsResyncHeld(at: 'before' | 'after') {
    for (const socket of sockets.splice(0)) socket.close()
    const aliceOnA = (await login(a.url, ALICE)).token
    const aliceToken = (await login(c.url, ALICE)).token
    const aliceOnC = await open(c.url, aliceToken)
    await aliceOnC.synced()
    const bobOnC = await open(c.url, (await login(c.url, BOB)).token)
    await bobOnC.synced()
    const real = EventLog.prototype.resume
    let held = false
    let onReached!: () => void
    const reached = new Promise<void>((resolve) => (onReached = resolve))
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const resume = vi.spyOn(EventLog.prototype, 'resume').mockImplementation(async function (this: EventLog, ...args) {
      if (held || args[0] !== 'user-bob') return real.apply(this, args)
      held = true
      const result = at === 'after' ? await real.apply(this, args) : undefined
      onReached()
      await released
      return result ?? real.apply(this, args)
    })
    // Bob's resync: a message of Alice's committed on A while C's subscriber is away.
    const lose = () =>
      whileSubscriberAway(c.io, redis.url, 300, async () => {
        expect((await send(a.url, aliceOnA, 'lost on the way')).status).toBe(201)
      })
    const done = () => {
      release()
      resume.mockRestore()
    }
    return { aliceToken, aliceOnC, bobOnC, lose, reached, release, done }
  }

  // As at a handshake (8ea05f4): a typing notice that overtook the messages a resync replays would be ended by them.
  // Nor may it go missing: every socket of a node resyncs at once (publisherBack.test.ts), so it waits for the replay.
  it('sends a resyncing socket its typing notices after the messages its resync replays', async () => {
    const { aliceOnC, bobOnC, lose, reached, release, done } = await bobsResyncHeld('before')
    try {
      await lose()
      await reached
      expect(await emitAck(aliceOnC.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
      release()
      const told = () => bobOnC.items.filter((item) => item.event === 'message:new' || item.event === 'typing')
      await vi.waitFor(() => expect(told().map((item) => item.event)).toContain('typing'), {
        timeout: hangBound(),
        interval: 20,
      })
      await vi.waitFor(() => expect(contentsOf(bobOnC)).toContain('lost on the way'), {
        timeout: hangBound(),
        interval: 20,
      })
      // A message from Alice ends her "typing…": the one replayed must come before her notice.
      expect(told().map((item) => item.event)).toEqual(['message:new', 'typing'])
    } finally {
      done()
    }
  })

  // Nor after the messages that came after it: "typing", then its sender's message, must reach the client in that
  // order, or "Alice is typing…" stands under her message until the typing timeout. Held during the resync (its log
  // read done) or read by it (its log read after them, their held copies dropped), the same.
  it.each([
    ['among the events held meanwhile, where it came', 'after'],
    ['before the message heard after it that its replay holds', 'before'],
  ] as const)('sends a resyncing socket a typing notice %s', async (_, at) => {
    const { aliceToken, aliceOnC, bobOnC, lose, reached, release, done } = await bobsResyncHeld(at)
    try {
      await lose()
      await reached
      // Sent on C: each reaches Bob's held stream before its answer, with no Redis on the way.
      expect((await send(c.url, aliceToken, 'before typing')).status).toBe(201)
      expect(await emitAck(aliceOnC.socket, 'typing', { conversationId: CONV })).toEqual({ ok: true, data: null })
      expect((await send(c.url, aliceToken, 'after typing')).status).toBe(201)
      release()
      const told = () =>
        bobOnC.items
          .filter((item) => item.event === 'message:new' || item.event === 'typing')
          .map((item) => (item.event === 'typing' ? 'typing' : (item.payload as { content: string }).content))
      await vi.waitFor(() => expect(told()).toContain('after typing'), { timeout: hangBound(), interval: 20 })
      await vi.waitFor(() => expect(told()).toContain('typing'), { timeout: hangBound(), interval: 20 })
      expect(told()).toEqual(['lost on the way', 'before typing', 'typing', 'after typing'])
    } finally {
      done()
    }
  })
})
