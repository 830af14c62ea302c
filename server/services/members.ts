import type { Id } from '../../src/contract'
import type { Db, Prepared, Queryable } from '../db'

/** A conversation's members (one row with a null user when it has none; no row when there is no such conversation). */
const PARTICIPANTS: Prepared = {
  name: 'talemy_participants_v1',
  text: `select m.user_id from conversations c left join conversation_members m on m.conversation_id = c.id
    where c.id = $1::text order by m.user_id`,
}

/** The people who share a conversation with `$1`, once each, by id. */
const CONTACTS_OF: Prepared = {
  name: 'talemy_contacts_of_v1',
  text: `select distinct other.user_id from conversation_members me
    join conversation_members other on other.conversation_id = me.conversation_id
    where me.user_id = $1::text and other.user_id <> $1::text order by other.user_id`,
}

/** Every member of each conversation `$1` is in, themselves included, in the order of PARTICIPANTS. */
const MEMBERS_OF_CONVERSATIONS_OF: Prepared = {
  name: 'talemy_members_of_conversations_of_v1',
  text: `select m.conversation_id, m.user_id from conversation_members me
    join conversation_members m on m.conversation_id = me.conversation_id
    where me.user_id = $1::text order by m.user_id`,
}

/** The default of how many conversations' members are kept. */
export const MEMBERS_CACHE_SIZE = 10_000
/**
 * Of `capacity`, the most conversations one connect keeps: a user in more (a tutor of thousands) would push out the
 * conversations of everybody else; theirs are read at their first send in each, as any conversation not kept.
 */
const KEPT_PER_CONNECT_SHARE = 10

/**
 * Who is in which conversation. Members are written with their conversation, in one transaction, and never change
 * afterwards, so what was read once is kept (up to `capacity` conversations, the oldest let go first). Reading a
 * user's contacts at a connect (presence's snapshot) reads the members of all their conversations in the same query
 * and keeps them: the first message a user sends after connecting then needs no look-up of its own, which would queue
 * on the database between two group commits and make that send wait for both.
 *
 * @example const members = new ConversationMembers(db); await members.contactsOnConnect('u1'); members.known('c1') // ['u1', 'u2']
 */
export class ConversationMembers {
  private readonly cache = new Map<Id, readonly Id[]>()

  constructor(
    private readonly db: Pick<Db, 'execute'>,
    private readonly capacity = MEMBERS_CACHE_SIZE,
  ) {}

  /** The members already known of `conversationId`; `undefined` when they were not read yet. */
  known(conversationId: Id): readonly Id[] | undefined {
    return this.cache.get(conversationId)
  }

  /** The members of `conversationId` (read through `q` when not known); `undefined` when there is no such conversation. */
  async of(q: Pick<Queryable, 'execute'>, conversationId: Id): Promise<readonly Id[] | undefined> {
    const known = this.cache.get(conversationId)
    if (known) return known
    const rows = await q.execute<{ user_id: string | null }>(PARTICIPANTS, [conversationId])
    if (rows.length === 0) return undefined
    const members = rows.flatMap((row) => (row.user_id ? [row.user_id] : []))
    if (members.length > 0) this.keep(conversationId, members)
    return members
  }

  /** The people who share a conversation with `userId` (never themselves), in the database's order of their ids. */
  async contactsOf(userId: Id): Promise<Id[]> {
    const rows = await this.db.execute<{ user_id: string }>(CONTACTS_OF, [userId])
    return rows.map((row) => row.user_id)
  }

  /**
   * `contactsOf`, at a connect: the same query reads the members of each of the user's conversations, kept when they
   * are not too many (about twice the rows of `contactsOf` alone, so it is only worth it where a send may follow).
   */
  async contactsOnConnect(userId: Id): Promise<Id[]> {
    const rows = await this.db.execute<{ conversation_id: string; user_id: string }>(MEMBERS_OF_CONVERSATIONS_OF, [
      userId,
    ])
    const byConversation = new Map<Id, Id[]>()
    const contacts = new Set<Id>()
    for (const row of rows) {
      const members = byConversation.get(row.conversation_id)
      if (members) members.push(row.user_id)
      else byConversation.set(row.conversation_id, [row.user_id])
      if (row.user_id !== userId) contacts.add(row.user_id)
    }
    if (byConversation.size <= this.capacity / KEPT_PER_CONNECT_SHARE)
      for (const [conversationId, members] of byConversation) this.keep(conversationId, members)
    return [...contacts]
  }

  private keep(conversationId: Id, members: readonly Id[]): void {
    if (this.cache.has(conversationId)) return
    if (this.cache.size >= this.capacity) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(conversationId, members)
  }
}
