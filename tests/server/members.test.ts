import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { openDatabase, type Db } from '../../server/db'
import { ConversationMembers } from '../../server/services/members'
import { freshDataDir } from './support/server'

// Who is in which conversation, on a real database seeded with the demo (Alice with Bob, Alice with Carol). Reading a
// user's contacts keeps the members of all their conversations, so the first send after a connect needs no look-up.

describe('ConversationMembers', () => {
  let dataDir: string
  let db: Db
  /** The statements run, by name. */
  const ran: string[] = []
  let spied: Db

  beforeAll(async () => {
    dataDir = freshDataDir()
    db = await openDatabase({ dataDir })
    spied = {
      ...db,
      execute: vi.fn((statement, params) => {
        ran.push(statement.name)
        return db.execute(statement, params)
      }) as Db['execute'],
    }
  })
  afterAll(async () => {
    await db?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("a user's contacts at a connect are the others of their conversations, once each, and their conversations' members are kept", async () => {
    const members = new ConversationMembers(spied)
    expect(members.known('conv-alice-bob')).toBeUndefined()

    expect(await members.contactsOnConnect('user-alice')).toEqual(['user-bob', 'user-carol'])
    expect(members.known('conv-alice-bob')).toEqual(['user-alice', 'user-bob'])
    expect(members.known('conv-alice-carol')).toEqual(['user-alice', 'user-carol'])

    ran.length = 0
    expect(await members.of(spied, 'conv-alice-carol')).toEqual(['user-alice', 'user-carol'])
    expect(ran).toEqual([])
  })

  it("a user's contacts otherwise (a sweep, a list of users) are the same people, and keep nothing", async () => {
    const members = new ConversationMembers(spied)
    expect(await members.contactsOf('user-alice')).toEqual(['user-bob', 'user-carol'])
    expect(await members.contactsOf('user-carol')).toEqual(['user-alice'])
    expect(members.known('conv-alice-bob')).toBeUndefined()
    expect(members.known('conv-alice-carol')).toBeUndefined()
  })

  it('reads the members of a conversation not yet known once, and knows no conversation that is not there', async () => {
    const members = new ConversationMembers(spied)
    ran.length = 0
    expect(await members.of(spied, 'conv-alice-bob')).toEqual(['user-alice', 'user-bob'])
    expect(await members.of(spied, 'conv-alice-bob')).toEqual(['user-alice', 'user-bob'])
    expect(ran).toHaveLength(1)

    expect(await members.of(spied, 'conv-nobody')).toBeUndefined()
    expect(members.known('conv-nobody')).toBeUndefined()
    // A made-up id is asked again (no cache could hold them all), and still is not there.
    expect(await members.of(spied, 'conv-nobody')).toBeUndefined()
    expect(ran).toHaveLength(3)
  })

  it('keeps at most its capacity, letting the first kept go first', async () => {
    const members = new ConversationMembers(spied, 1)
    await members.of(spied, 'conv-alice-bob')
    await members.of(spied, 'conv-alice-carol')
    expect(members.known('conv-alice-bob')).toBeUndefined()
    expect(members.known('conv-alice-carol')).toEqual(['user-alice', 'user-carol'])
  })

  it('keeps nothing of a connect in more conversations than a tenth of its capacity: one user would push out the rest', async () => {
    // Room for 10: a connect keeps at most 1 conversation. Alice is in 2, Bob in 1.
    const members = new ConversationMembers(spied, 10)
    expect(await members.contactsOnConnect('user-alice')).toEqual(['user-bob', 'user-carol'])
    expect(members.known('conv-alice-bob')).toBeUndefined()
    expect(members.known('conv-alice-carol')).toBeUndefined()
    expect(await members.contactsOnConnect('user-bob')).toEqual(['user-alice'])
    expect(members.known('conv-alice-bob')).toEqual(['user-alice', 'user-bob'])
  })

  it('a user in no conversation has no contacts', async () => {
    await db.query(
      `insert into users (id, email, name, role, password_hash, created_at) values ($1, $2, $3, 'student', 'x', now())`,
      ['user-loner', 'loner@talemy.test', 'Loner'],
    )
    expect(await new ConversationMembers(spied).contactsOf('user-loner')).toEqual([])
    expect(await new ConversationMembers(spied).contactsOnConnect('user-loner')).toEqual([])
  })
})
