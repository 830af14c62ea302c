import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TokenService } from '../../server/auth'
import { SessionStore } from '../../server/sessions'
import { openDatabase, type Db, type Prepared } from '../../server/db'
import { createLogger } from '../../server/logger'
import { LoginThrottle } from '../../server/loginThrottle'
import { KeyedMutex } from '../../server/mutex'
import { PasswordHasher } from '../../server/passwords'
import { RateLimiter } from '../../server/rateLimit'
import { createMessaging } from '../../server/services/messaging'
import { ConversationMembers } from '../../server/services/members'
import type { Notifier } from '../../server/services'
import { SendBatcher } from '../../server/services/sendBatcher'
import type { Message } from './support/types'
import { freshDataDir } from './support/server'

// The send path's own mechanisms: prepared statements and group commit in the db layer (PGlite), the batcher, and
// the messaging service on a real database with a recording notifier (the socket-level behaviour is in events.test.ts).

const ECHO: Prepared = {
  name: 'test_echo_v1',
  text: `select $1::int as n, $2::text as label, $3::timestamptz as at, $4::text[] as list, $5::boolean as flag, $6::text as missing`,
}
const INSERT_SETTING: Prepared = {
  name: 'test_insert_setting_v1',
  text: `insert into settings (key, value) values ($1::text, $2::text) returning key, value`,
}

describe('db layer (PGlite): prepared statements and group commit', () => {
  let dataDir: string
  let db: Db

  beforeAll(async () => {
    dataDir = freshDataDir()
    db = await openDatabase({ dataDir })
  })
  afterAll(async () => {
    await db?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('runs a prepared statement repeatedly with typed results and text-format parameters (arrays escaped)', async () => {
    const at = new Date('2030-01-02T03:04:05.678Z')
    const list = ['plain', 'with "quotes"', 'back\\slash', 'comma,brace}', '']
    for (let i = 0; i < 3; i++) {
      const rows = await db.execute<Record<string, unknown>>(ECHO, [
        41 + i,
        'héllo',
        at.toISOString(),
        list,
        true,
        null,
      ])
      expect(rows).toEqual([{ n: 41 + i, label: 'héllo', at, list, flag: true, missing: null }])
    }
    // The same statement inside a transaction, and plain queries around it.
    const inTx = await db.transaction((tx) => tx.execute<{ n: number }>(ECHO, [7, 'x', at, [], false, 'y']))
    expect(inTx[0]).toMatchObject({ n: 7, list: [], flag: false, missing: 'y' })
    expect(await db.query<{ one: number }>('select 1 as one')).toEqual([{ one: 1 }])
  })

  it('commits every run of executeMany together, in order, and returns each run its rows', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `many-${i}-${randomUUID()}`)
    const results = await db.executeMany<{ key: string; value: string }>(
      INSERT_SETTING,
      keys.map((key, i) => [key, `v${i}`]),
    )
    expect(results).toEqual(keys.map((key, i) => [{ key, value: `v${i}` }]))
    const stored = await db.query<{ key: string }>(
      'select key from settings where key = any($1::text[]) order by key',
      [keys],
    )
    expect(stored.map((row) => row.key)).toEqual([...keys].sort())
  })

  it('keeps nothing of a batch whose run fails, rejects with that error and stays usable', async () => {
    const taken = `taken-${randomUUID()}`
    await db.execute(INSERT_SETTING, [taken, 'first'])
    const fresh = [`fresh-a-${randomUUID()}`, `fresh-b-${randomUUID()}`]
    await expect(
      db.executeMany(INSERT_SETTING, [
        [fresh[0], 'a'],
        [taken, 'duplicate key'],
        [fresh[1], 'b'],
      ]),
    ).rejects.toMatchObject({ code: '23505' })
    expect(await db.query('select key from settings where key = any($1::text[])', [fresh])).toEqual([])
    // Not left inside a failed transaction: the next statements work and commit.
    expect(await db.executeMany(INSERT_SETTING, [[fresh[0], 'a']])).toEqual([[{ key: fresh[0], value: 'a' }]])
    expect(await db.query('select value from settings where key = $1', [fresh[0]])).toEqual([{ value: 'a' }])
  })

  it('rejects a statement that does not prepare, and prepares it once fixed under another name', async () => {
    await expect(db.execute({ name: 'test_broken_v1', text: 'selec 1' }, [])).rejects.toMatchObject({ code: '42601' })
    await expect(db.execute({ name: 'test_broken_v1', text: 'selec 1' }, [])).rejects.toMatchObject({ code: '42601' })
    expect(await db.execute({ name: 'test_fixed_v1', text: 'select 2 as two' }, [])).toEqual([{ two: 2 }])
  })

  /** The names of the statements a send ran, with presence's read of the sender's contacts first or not. */
  async function statementsOfFirstSend(contactsReadFirst: boolean): Promise<string[]> {
    const execute = vi.fn(db.execute.bind(db))
    const members = new ConversationMembers(db)
    const messaging = messagingOn(db, { db: { ...db, execute } as Db, members })
    // What presence does at each connect (the snapshot's contacts).
    if (contactsReadFirst) expect(await members.contactsOnConnect('user-bob')).toEqual(['user-alice'])
    const sent = await messaging.send('user-bob', {
      conversationId: 'conv-alice-bob',
      content: 'hello',
      clientId: randomUUID(),
    })
    expect(sent.content).toBe('hello')
    return execute.mock.calls.map(([statement]) => (statement as Prepared).name)
  }

  it("the first send after a connect needs no look-up of the conversation's members once the sender's contacts were read: the connect kept them", async () => {
    const withContacts = await statementsOfFirstSend(true)
    expect(withContacts).not.toContain('talemy_participants_v1')
    expect(withContacts).toHaveLength(1)
    // Without them, the first send in a conversation looks its members up first.
    expect(await statementsOfFirstSend(false)).toContain('talemy_participants_v1')
  })
})

describe('SendBatcher', () => {
  const STATEMENT: Prepared = { name: 'fake', text: 'fake' }

  function fakeDb() {
    const calls: string[] = []
    const run = (params: unknown[]) => {
      if (params[0] === 'bad') throw Object.assign(new Error('bad run'), { code: '22021' })
      return [{ echo: params[0] }]
    }
    const db = {
      calls,
      execute: vi.fn(async (_statement: Prepared, params: unknown[]) => {
        calls.push(`execute ${String(params[0])}`)
        return run(params)
      }),
      executeMany: vi.fn(async (_statement: Prepared, lists: unknown[][]) => {
        calls.push(`executeMany ${lists.map((params) => String(params[0])).join(',')}`)
        return lists.map(run) // throws (nothing kept) when one run is bad
      }),
    }
    return db
  }

  it('runs the submissions of one turn as one batch, in order, and a lone one without a transaction', async () => {
    const db = fakeDb()
    const batcher = new SendBatcher<{ echo: unknown }>(db as never, STATEMENT)
    const results = await Promise.all(['a', 'b', 'c'].map((value) => batcher.submit([value])))
    expect(results).toEqual([[{ echo: 'a' }], [{ echo: 'b' }], [{ echo: 'c' }]])
    expect(await batcher.submit(['d'])).toEqual([{ echo: 'd' }])
    expect(db.calls).toEqual(['executeMany a,b,c', 'execute d'])
    expect(batcher.batches).toBe(1)
  })

  it('retries a failed batch one by one, in order, so only the bad submission fails', async () => {
    const db = fakeDb()
    const batcher = new SendBatcher<{ echo: unknown }>(db as never, STATEMENT)
    const settled = await Promise.allSettled(['a', 'bad', 'c'].map((value) => batcher.submit([value])))
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(settled[1]).toMatchObject({ reason: { code: '22021' } })
    expect(db.calls).toEqual(['executeMany a,bad,c', 'execute a', 'execute bad', 'execute c'])
  })

  it('caps a batch and takes what arrived meanwhile into the next one', async () => {
    const db = fakeDb()
    const batcher = new SendBatcher<{ echo: unknown }>(db as never, STATEMENT, { maxBatch: 2 })
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((value) => batcher.submit([value])))
    expect(db.calls).toEqual(['executeMany a,b', 'executeMany c,d', 'execute e'])
  })
})

/**
 * The messaging service over a PGlite database, with everything but the pieces a test looks at (its limiters, what
 * it tells the notifier, who views a conversation) set as no test here cares. `overrides.db` is the database as
 * messaging calls it (a test's spies over `db`); the sessions use `db` itself.
 */
function messagingOn(
  db: Db,
  overrides: Partial<
    Pick<
      Parameters<typeof createMessaging>[0],
      'db' | 'limiter' | 'replayLookups' | 'notifier' | 'presence' | 'members'
    >
  > = {},
) {
  const tokens = new TokenService(new Uint8Array(32))
  const unlimited = () => new RateLimiter({ perSecond: 1e6, burst: 1e6 })
  return createMessaging({
    db,
    tokens,
    sessions: new SessionStore(db, tokens, new Uint8Array(32), { idleSeconds: 60, maxSeconds: 60 }),
    limiter: unlimited(),
    replayLookups: unlimited(),
    notifier: { deliver: () => undefined },
    presence: { viewers: () => new Set() },
    conversationLocks: new KeyedMutex(),
    members: new ConversationMembers(db),
    now: () => new Date(),
    passwords: new PasswordHasher(),
    loginThrottle: new LoginThrottle(),
    logger: createLogger('silent'),
    ...overrides,
  })
}

describe('messaging on PGlite: sends grouped into one commit', () => {
  let dataDir: string
  let db: Db
  let executeMany: ReturnType<typeof vi.fn>
  let execute: ReturnType<typeof vi.fn>
  const viewers = new Map<string, Set<string>>()
  const stored: Message[] = []
  const reads: { userId: string; conversationId: string }[] = []
  /** Every `deliver` call's events, in the order given. */
  const deliveries: { userId: string; event: string; offset: number }[][] = []
  let messaging: ReturnType<typeof createMessaging>

  beforeAll(async () => {
    dataDir = freshDataDir()
    db = await openDatabase({ dataDir })
    executeMany = vi.fn(db.executeMany.bind(db))
    execute = vi.fn(db.execute.bind(db))
    const notifier: Notifier = {
      deliver(events) {
        deliveries.push(events.map(({ userId, event, offset }) => ({ userId, event, offset })))
        for (const { event, payload, userId } of events) {
          if (event === 'message:sent') stored.push(payload as Message)
          if (event === 'conversation:read')
            reads.push({ userId, conversationId: (payload as { conversationId: string }).conversationId })
        }
      },
    }
    messaging = messagingOn(db, {
      db: { ...db, executeMany, execute } as Db,
      notifier,
      presence: { viewers: (conversationId) => viewers.get(conversationId) ?? new Set() },
    })
  })
  afterAll(async () => {
    await db?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const lastSeq = async (conversationId: string) =>
    (await db.query<{ last_seq: number }>('select last_seq from conversations where id = $1', [conversationId]))[0]!
      .last_seq
  const seqs = async (conversationId: string) =>
    (
      await db.query<{ seq: number }>('select seq from messages where conversation_id = $1 order by seq', [
        conversationId,
      ])
    ).map((row) => row.seq)

  it('stores concurrent sends of several users in one commit, each conversation numbered without gaps, each acked once', async () => {
    // Participants cached first, so every first send of the wave reaches the batcher in the same turn.
    await messaging.send('user-alice', { conversationId: 'conv-alice-bob', content: 'warm', clientId: randomUUID() })
    await messaging.send('user-alice', { conversationId: 'conv-alice-carol', content: 'warm', clientId: randomUUID() })
    const [ab, ac] = [await lastSeq('conv-alice-bob'), await lastSeq('conv-alice-carol')]
    stored.length = 0
    executeMany.mockClear()
    const sends = [
      ['user-alice', 'conv-alice-bob', 'a1'],
      ['user-carol', 'conv-alice-carol', 'c1'],
      ['user-bob', 'conv-alice-bob', 'b1'],
      ['user-alice', 'conv-alice-carol', 'a2'],
      ['user-alice', 'conv-alice-bob', 'a3'],
    ] as const
    const results = await Promise.all(
      sends.map(([sender, conversationId, content]) =>
        messaging.send(sender, { conversationId, content, clientId: randomUUID() }),
      ),
    )
    // One batch per "wave": a conversation's next send waits for the previous one's commit (its lock).
    expect(executeMany).toHaveBeenCalled()
    expect(executeMany.mock.calls[0]![1]).toHaveLength(2)
    const byConversation = (id: string) => results.filter((message) => message.conversationId === id)
    expect(byConversation('conv-alice-bob').map((m) => [m.content, m.seq])).toEqual([
      ['a1', ab + 1],
      ['b1', ab + 2],
      ['a3', ab + 3],
    ])
    expect(byConversation('conv-alice-carol').map((m) => [m.content, m.seq])).toEqual([
      ['c1', ac + 1],
      ['a2', ac + 2],
    ])
    expect(await seqs('conv-alice-bob')).toEqual(Array.from({ length: ab + 3 }, (_, i) => i + 1))
    expect(await seqs('conv-alice-carol')).toEqual(Array.from({ length: ac + 2 }, (_, i) => i + 1))
    expect(stored.map((message) => message.id).sort()).toEqual(results.map((message) => message.id).sort())
    // What the ack carries is what was stored.
    const page = await messaging.listMessages('user-alice', 'conv-alice-bob', {})
    expect(page.slice(-3)).toEqual(byConversation('conv-alice-bob'))
  })

  it('answers replays (also concurrent ones, also inside one batch) with the stored message and notifies nothing new', async () => {
    stored.length = 0
    const clientId = randomUUID()
    const payload = { conversationId: 'conv-alice-bob', content: 'once', clientId }
    const [first, second, third] = await Promise.all([
      messaging.send('user-alice', payload),
      messaging.send('user-alice', payload),
      messaging.send('user-alice', payload),
    ])
    expect(second).toEqual(first)
    expect(third).toEqual(first)
    expect(stored).toEqual([first])
    // The same clientId in another conversation, in the same batch as a fresh send there: refused, and no gap.
    const before = await lastSeq('conv-alice-carol')
    const other = randomUUID()
    const outcomes = await Promise.allSettled([
      messaging.send('user-alice', { conversationId: 'conv-alice-bob', content: 'x', clientId: other }),
      messaging.send('user-alice', { conversationId: 'conv-alice-carol', content: 'y', clientId: other }),
      messaging.send('user-carol', { conversationId: 'conv-alice-carol', content: 'z', clientId: other }),
    ])
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(outcomes[1]).toMatchObject({ reason: { code: 'INVALID' } })
    expect(outcomes[2]).toMatchObject({ value: { seq: before + 1, content: 'z' } })
    expect(await seqs('conv-alice-carol')).toEqual(Array.from({ length: before + 1 }, (_, i) => i + 1))
  })

  it('fails only the send whose statement fails, and keeps the others of its batch in order and without gaps', async () => {
    // A valid send whose statement the database refuses: a trigger (test-only) rejects one content on insert.
    await db.query(`create function test_poison() returns trigger language plpgsql as $$
      begin
        if new.content = 'poisoned' then raise exception 'poisoned row' using errcode = '22021'; end if;
        return new;
      end $$`)
    await db.query('create trigger test_poison before insert on messages for each row execute function test_poison()')
    try {
      const before = await lastSeq('conv-alice-bob')
      const beforeCarol = await lastSeq('conv-alice-carol')
      stored.length = 0
      executeMany.mockClear()
      const outcomes = await Promise.allSettled([
        messaging.send('user-alice', { conversationId: 'conv-alice-bob', content: 'good one', clientId: randomUUID() }),
        messaging.send('user-carol', {
          conversationId: 'conv-alice-carol',
          content: 'poisoned',
          clientId: randomUUID(),
        }),
        messaging.send('user-bob', { conversationId: 'conv-alice-bob', content: 'later', clientId: randomUUID() }),
      ])
      // The failing statement was in a batch with the good one (which was then retried alone and kept).
      expect(executeMany.mock.calls[0]![1]).toHaveLength(2)
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(outcomes[1]).toMatchObject({ reason: { code: '22021' } })
      expect(stored.map((message) => [message.content, message.seq])).toEqual([
        ['good one', before + 1],
        ['later', before + 2],
      ])
      expect(await lastSeq('conv-alice-carol')).toBe(beforeCarol)
      expect(await seqs('conv-alice-bob')).toEqual(Array.from({ length: before + 2 }, (_, i) => i + 1))
    } finally {
      await db.query('drop trigger test_poison on messages')
      await db.query('drop function test_poison()')
    }
  })

  it('refuses text with a NUL character as INVALID naming the field, before the database', async () => {
    execute.mockClear()
    executeMany.mockClear()
    await expect(
      messaging.send('user-alice', {
        conversationId: 'conv-alice-bob',
        content: 'bad \u0000 one',
        clientId: randomUUID(),
      }),
    ).rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining('content') })
    await expect(
      messaging.send('user-alice', { conversationId: 'conv-alice-bob', content: 'fine', clientId: 'nul\u0000id' }),
    ).rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining('clientId') })
    expect(execute).not.toHaveBeenCalled()
    expect(executeMany).not.toHaveBeenCalled()
  })

  it('marks a new message read for the participants looking at the conversation, in the same statement', async () => {
    reads.length = 0
    viewers.set('conv-alice-bob', new Set(['user-bob', 'user-alice', 'user-carol']))
    try {
      const [one, two] = await Promise.all([
        messaging.send('user-alice', { conversationId: 'conv-alice-bob', content: 'seen', clientId: randomUUID() }),
        messaging.send('user-carol', { conversationId: 'conv-alice-carol', content: 'unseen', clientId: randomUUID() }),
      ])
      const read = await db.query<{ conversation_id: string; user_id: string; last_read_seq: number }>(
        `select conversation_id, user_id, last_read_seq from conversation_members where conversation_id in ('conv-alice-bob', 'conv-alice-carol') order by 1, 2`,
      )
      expect(
        read.find((row) => row.conversation_id === 'conv-alice-bob' && row.user_id === 'user-bob')?.last_read_seq,
      ).toBe(one.seq)
      // The sender's, her reply being her read, but nobody else's in a conversation nobody looks at.
      expect(
        read.find((row) => row.conversation_id === 'conv-alice-bob' && row.user_id === 'user-alice')?.last_read_seq,
      ).toBe(one.seq)
      expect(
        read.find((row) => row.conversation_id === 'conv-alice-carol' && row.user_id === 'user-alice')?.last_read_seq,
      ).toBeLessThan(two.seq)
      // Only participants other than the sender are told as viewers (carol is "looking" but is not a participant);
      // Alice, last, of her own read: her reply passed Bob's last message, which the seed leaves unread to her.
      expect(reads).toEqual([
        { userId: 'user-bob', conversationId: 'conv-alice-bob' },
        { userId: 'user-alice', conversationId: 'conv-alice-bob' },
      ])
    } finally {
      viewers.clear()
    }
  })

  it("delivers a send's events to the other participants before the sender's own, each user's in offset order", async () => {
    // The sender has its ack; its echo (for its other tabs) and receipts wait until the recipients' writes are out.
    viewers.set('conv-alice-bob', new Set(['user-bob']))
    try {
      for (const sender of ['user-alice', 'user-bob', 'user-alice']) {
        deliveries.length = 0
        await messaging.send(sender, { conversationId: 'conv-alice-bob', content: 'order', clientId: randomUUID() })
        expect(deliveries).toHaveLength(1)
        const events = deliveries[0]!
        const firstOwn = events.findIndex((e) => e.userId === sender)
        expect(firstOwn).toBeGreaterThan(0)
        expect(events.slice(firstOwn).every((e) => e.userId === sender)).toBe(true)
        expect(events.map((e) => e.event)).toContain('message:new')
        for (const user of ['user-alice', 'user-bob']) {
          const offsets = events.filter((e) => e.userId === user).map((e) => e.offset)
          expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
        }
      }
    } finally {
      viewers.clear()
    }
  })

  it('answers NOT_FOUND and FORBIDDEN as before (participants cached after the first look-up)', async () => {
    await expect(
      messaging.send('user-alice', { conversationId: 'no-such-conversation', content: 'x', clientId: randomUUID() }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    for (let i = 0; i < 2; i++) {
      await expect(
        messaging.send('user-bob', { conversationId: 'conv-alice-carol', content: 'x', clientId: randomUUID() }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' })
    }
  })
})

describe('messaging on PGlite: what a send to a conversation it does not know costs', () => {
  let dataDir: string
  let db: Db
  let messaging: ReturnType<typeof createMessaging>
  let execute: ReturnType<typeof vi.fn>

  beforeAll(async () => {
    dataDir = freshDataDir()
    db = await openDatabase({ dataDir })
    execute = vi.fn(db.execute.bind(db))
    // A clock that never moves: no budget comes back while the test runs.
    const frozen = () => 0
    messaging = messagingOn(db, {
      db: { ...db, execute } as Db,
      limiter: new RateLimiter({ perSecond: 1, burst: 3 }, frozen),
      replayLookups: new RateLimiter({ perSecond: 1, burst: 2 }, frozen),
    })
  })
  afterAll(async () => {
    await db?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('spends the sender’s budget on each refused look-up: a flood of made-up conversations costs the database a bounded number of queries', async () => {
    const codes: string[] = []
    for (let i = 0; i < 12; i++) {
      const payload = { conversationId: `made-up-${i}`, content: 'x', clientId: randomUUID() }
      codes.push(
        await messaging.send('user-mallory', payload).then(
          () => 'stored',
          (error: { code: string }) => error.code,
        ),
      )
    }
    // The burst's three are answered for what they are; the rest are past the budget.
    expect(codes).toEqual([...Array(3).fill('NOT_FOUND'), ...Array(9).fill('RATE_LIMITED')])
    // Three look-ups of the conversation, two of a replay by clientId (the replay budget), then none.
    expect(execute).toHaveBeenCalledTimes(5)
  })
})
