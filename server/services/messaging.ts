import { randomUUID } from 'node:crypto'
import * as v from 'valibot'
import {
  DEFAULT_MESSAGE_PAGE,
  MAX_MESSAGE_PAGE,
  type Conversation,
  type Id,
  type Message,
  type ServerEventName,
} from '../../src/contract'
import {
  conversationIdSchema,
  createConversationBodySchema,
  parseRequest,
  postMessageBodySchema,
  sendMessageSchema,
} from '../../src/contract/requests'
import { AppError, forbidden, invalid, notFound } from '../errors'
import type { Prepared, Queryable } from '../db'
import { replayPastBudget, type Limiter } from '../rateLimit'
import type { ServiceContext } from './context'
import { MESSAGE_COLUMNS, iso, toMessage, type MessageRow } from './rows'
import { SendBatcher } from './sendBatcher'
import { appendEvents, lockCounters, type LoggedEvent, type NewEvent } from './eventLog'

/** The largest `seq` (a PostgreSQL `int`) and page there can be: a larger number asks for no more than it. */
const MAX_INT4 = 2 ** 31 - 1
const positiveInteger = v.pipe(
  // The query string gives a repeated name (`?limit=1&limit=2`) as an array of its values.
  v.custom<string>((value) => !Array.isArray(value), 'given twice'),
  v.string('must be a positive whole number'),
  v.regex(/^\d+$/, 'must be a positive whole number'),
  v.transform(Number),
  v.minValue(1, 'must be at least 1'),
  v.transform((n) => Math.min(n, MAX_INT4)),
)
/** The conversation a `message:send` names, read on its own when the rest of the payload is malformed. */
const sendTargetSchema = v.object({ conversationId: conversationIdSchema })
type SendInput = v.InferOutput<typeof sendMessageSchema>

/** `?before=<seq>&limit=<n>` as strings from the query string. */
const messagePageQuerySchema = v.object({
  before: v.optional(positiveInteger),
  limit: v.optional(positiveInteger),
})

interface ConversationRow {
  id: string
  updated_at: Date | string
  last_seq: number
  last_read_seq: number
  unread: number
}

/**
 * A send in one statement: the stored message when (sender, clientId) is taken (`inserted` false: nothing changes),
 * else the conversation's seq bump, the insert, the read position of the sender and of the participants looking at it
 * ($7, an array, usually empty) and the events in the recipients' logs — all or nothing. Each participant ($8) gets
 * `message:sent` (the sender) or `message:new`, each viewer (never the sender) then `conversation:read`, and every
 * participant a `conversation:seen` for each viewer other than themselves (the receipt). Replying is reading: when the
 * sender had left something unread before their message (`moved`: not joined, as over HTTP with the socket down), the
 * sender's sockets get `conversation:read` and the others `conversation:seen` for the sender, last, as a join's read
 * tells them; a sender who had read everything is told nothing (their own message was never unread to them, and no
 * "Seen" changes), so a send in an open thread costs no more events. Every counter goes up by 1 + viewers + moved, and
 * `logged` answers `[userId, offset, event, reader]` for each event. Two concurrent transactions (PostgreSQL)
 * sending one (sender, clientId) into two conversations make the later one fail on the unique constraint, which rolls
 * it all back. Kept lean (no window functions, the payload built once): it is the hot path.
 */
export const SEND_MESSAGE: Prepared = {
  name: 'talemy_send_message_v5',
  text: `with dup as (
      select ${MESSAGE_COLUMNS} from messages where sender_id = $3::text and client_id = $5::text
    ), bump as (
      update conversations set last_seq = last_seq + 1, updated_at = $6::timestamptz
      where id = $2::text and not exists (select 1 from dup)
      returning last_seq
    ), ins as (
      insert into messages (id, conversation_id, seq, sender_id, content, client_id, created_at)
      select $1::text, $2::text, bump.last_seq, $3::text, $4::text, $5::text, $6::timestamptz from bump
      returning ${MESSAGE_COLUMNS}
    ), readers as (
      update conversation_members m set last_read_seq = greatest(m.last_read_seq, ins.seq) from ins
      where m.conversation_id = ins.conversation_id and (m.user_id = $3::text or m.user_id = any($7::text[]))
    ), moved as (
      select count(*)::int as n from conversation_members m join ins on m.conversation_id = ins.conversation_id
      where m.user_id = $3::text and m.last_read_seq < ins.seq - 1
    ), counters as (
      update users u set event_offset = u.event_offset + 1 + cardinality($7::text[]) + moved.n from moved
      where u.id = any($8::text[]) and exists (select 1 from ins)
      returning u.id, u.event_offset, array_position($7::text[], u.id) as vpos,
        u.event_offset - cardinality($7::text[]) - moved.n as first, moved.n as moved
    ), placed as (
      select c.id as user_id, c.first as "offset",
        case when c.id = $3::text then 'message:sent' else 'message:new' end as event, null::text as subject,
        jsonb_build_object('id', ins.id, 'conversationId', ins.conversation_id, 'seq', ins.seq, 'senderId', ins.sender_id,
          'content', ins.content, 'createdAt', $9::text, 'clientId', ins.client_id) as payload
      from counters c cross join ins
      union all
      select c.id, c.first + 1, 'conversation:read', null, jsonb_build_object('conversationId', $2::text, 'unreadCount', 0)
      from counters c where c.vpos is not null
      union all
      select c.id, c.first + case when c.vpos is null then 0 else 1 end + v.k - case when c.vpos < v.k then 1 else 0 end,
        'conversation:seen', v.viewer, jsonb_build_object('conversationId', $2::text, 'userId', v.viewer, 'seq', ins.seq)
      from counters c cross join ins cross join unnest($7::text[]) with ordinality as v(viewer, k)
      where v.viewer <> c.id
      union all
      select c.id, c.event_offset,
        case when c.id = $3::text then 'conversation:read' else 'conversation:seen' end,
        case when c.id = $3::text then null else $3::text end,
        case when c.id = $3::text then jsonb_build_object('conversationId', $2::text, 'unreadCount', 0)
          else jsonb_build_object('conversationId', $2::text, 'userId', $3::text, 'seq', ins.seq) end
      from counters c cross join ins where c.moved > 0
    ), logged as (
      insert into user_events (user_id, "offset", event, payload, created_at)
      select user_id, "offset", event, payload, $6::timestamptz from placed
    )
    select true as inserted, ${MESSAGE_COLUMNS},
      (select jsonb_agg(jsonb_build_array(user_id, "offset", event, subject) order by "offset") from placed) as logged
    from ins
    union all
    select false as inserted, ${MESSAGE_COLUMNS}, null from dup`,
}

/** `logged`: `[recipient, offset, event, reader]` (`reader`: whose receipt a `conversation:seen` is, else null). */
/** Where SEND_MESSAGE's parameters hold the viewers ($7) and the participants ($8). */
const VIEWERS_PARAM = 6
const PARTICIPANTS_PARAM = 7

type SendRow = MessageRow & { inserted: boolean; logged: [Id, number | string, ServerEventName, Id | null][] | null }

/** The stored message of (sender, clientId), if any: answers a replay without storing anything. */
const MESSAGE_BY_CLIENT_ID: Prepared = {
  name: 'talemy_message_by_client_id_v1',
  text: `select ${MESSAGE_COLUMNS} from messages where sender_id = $1::text and client_id = $2::text`,
}

const UNIQUE_VIOLATION = '23505'

/**
 * A send's events with the other participants' first and the sender's own last, each user's in the order given
 * (offset order, which their streams need). The sending socket has its ack; its echo (for the sender's other tabs)
 * and its receipts need not go out, and wake the sender's device, before the message reaches the people it is for.
 *
 * @example othersFirst([aSent, aSeen, bNew, bRead], 'a') // [bNew, bRead, aSent, aSeen]
 */
export function othersFirst(events: readonly LoggedEvent[], senderId: Id): LoggedEvent[] {
  const own = events.filter((event) => event.userId === senderId)
  return own.length === 0 ? [...events] : [...events.filter((event) => event.userId !== senderId), ...own]
}

/**
 * What a join found once its turn came: `joined` the socket's room, was `present` in it already, or was `gone`
 * (superseded while it waited: the socket closed, or it left the conversation since).
 */
export type JoinOutcome = 'joined' | 'present' | 'gone'

export function createMessaging(ctx: ServiceContext) {
  const { db, limiter, replayLookups, notifier, presence, conversationLocks, members, now, logger } = ctx
  // On PostgreSQL every send takes its recipients' log counters first, in ascending id order across its whole batch
  // (one connection serialises everything on PGlite: nothing to order there, and a lone send stays one round trip).
  // Its viewers are read only then: a join, on any node, shares its viewer before it takes these counters for its read
  // mark, so either the join's mark comes after this send (and reads its seq) or this send sees the viewer.
  const sends = new SendBatcher<SendRow>(db, SEND_MESSAGE, {
    lockFirst:
      db.kind === 'postgres'
        ? (paramLists) => async (tx) => {
            await lockCounters(
              tx,
              paramLists.flatMap((params) => params[PARTICIPANTS_PARAM] as Id[]),
            )
            await Promise.all(
              paramLists.map(async (params) => {
                params[VIEWERS_PARAM] = await viewersOf(
                  params[1] as Id,
                  params[2] as Id,
                  params[PARTICIPANTS_PARAM] as Id[],
                )
              }),
            )
          }
        : undefined,
  })

  /** The participants other than the sender looking at the conversation right now. */
  async function viewersOf(conversationId: Id, senderId: Id, participants: readonly Id[]): Promise<Id[]> {
    const viewers: Id[] = []
    for (const id of await presence.viewers(conversationId))
      if (id !== senderId && participants.includes(id)) viewers.push(id)
    return viewers
  }
  /** Participants of a conversation; NOT_FOUND when there is no such conversation, FORBIDDEN for outsiders. */
  async function participantsFor(q: Queryable, userId: Id, conversationId: Id): Promise<readonly Id[]> {
    const participants = await members.of(q, conversationId)
    if (!participants) throw notFound('conversation')
    if (!participants.includes(userId)) throw forbidden('not a participant of this conversation')
    return participants
  }

  async function findByClientId(q: Queryable, senderId: Id, clientId: string): Promise<Message | undefined> {
    const rows = await q.execute<MessageRow>(MESSAGE_BY_CLIENT_ID, [senderId, clientId])
    return rows[0] ? toMessage(rows[0]) : undefined
  }

  /**
   * The user's conversations (or the one of `onlyId`), read in three statements on one snapshot (repeatable read):
   * each on its own, a send committed between them came back as the last message but not in the unread count nor in
   * `updatedAt`, and the browser, whose event for that message then changes nothing, kept the count and the order wrong.
   */
  function conversationsFor(userId: Id, onlyId?: Id): Promise<Conversation[]> {
    return db.transaction(async (tx) => {
      await tx.query('set transaction isolation level repeatable read, read only')
      return conversationsOn(tx, userId, onlyId)
    })
  }

  async function conversationsOn(q: Queryable, userId: Id, onlyId?: Id): Promise<Conversation[]> {
    const rows = await q.query<ConversationRow>(
      `select c.id, c.updated_at, c.last_seq, me.last_read_seq,
         (select count(*) from messages x
           where x.conversation_id = c.id and x.seq > me.last_read_seq and x.sender_id <> $1)::int as unread
       from conversations c
       join conversation_members me on me.conversation_id = c.id and me.user_id = $1
       where ($2::text is null or c.id = $2)
       order by c.updated_at desc, c.id`,
      [userId, onlyId ?? null],
    )
    if (rows.length === 0) return []
    const members = await q.query<{ conversation_id: string; user_id: string; last_read_seq: number | string }>(
      `select other.conversation_id, other.user_id, other.last_read_seq
       from conversation_members me join conversation_members other on other.conversation_id = me.conversation_id
       where me.user_id = $1 and ($2::text is null or me.conversation_id = $2)
       order by other.user_id`,
      [userId, onlyId ?? null],
    )
    const last = await q.query<MessageRow>(
      `select ${MESSAGE_COLUMNS.split(', ')
        .map((column) => `x.${column}`)
        .join(', ')}
       from conversation_members me
       join conversations c on c.id = me.conversation_id
       join messages x on x.conversation_id = c.id and x.seq = c.last_seq
       where me.user_id = $1 and ($2::text is null or me.conversation_id = $2)`,
      [userId, onlyId ?? null],
    )
    const participants = new Map<string, Id[]>()
    const readSeqs = new Map<string, Record<Id, number>>()
    for (const row of members) {
      participants.set(row.conversation_id, [...(participants.get(row.conversation_id) ?? []), row.user_id])
      readSeqs.set(row.conversation_id, {
        ...readSeqs.get(row.conversation_id),
        [row.user_id]: Number(row.last_read_seq),
      })
    }
    const lastMessages = new Map(last.map((row) => [row.conversation_id, toMessage(row)]))
    return rows.map((row) => ({
      id: row.id,
      participantIds: participants.get(row.id) ?? [],
      lastMessage: lastMessages.get(row.id) ?? null,
      unreadCount: Number(row.unread),
      updatedAt: iso(row.updated_at),
      readSeq: readSeqs.get(row.id) ?? {},
    }))
  }

  /** The stored message; `inserted` false when (sender, clientId) was already taken (a replay: nothing changed). */
  async function storeMessage(
    senderId: Id,
    conversationId: Id,
    content: string,
    clientId: string,
  ): Promise<{ message: Message; inserted: boolean }> {
    const participants = await participantsFor(db, senderId, conversationId)
    // On PostgreSQL filled in inside the transaction (see `sends`); on PGlite the conversation's lock does that job.
    const viewers = db.kind === 'postgres' ? [] : await viewersOf(conversationId, senderId, participants)
    let rows: SendRow[]
    try {
      const at = now().toISOString()
      rows = await sends.submit([
        randomUUID(),
        conversationId,
        senderId,
        content,
        clientId,
        at,
        viewers,
        participants,
        at,
      ])
    } catch (error) {
      // A concurrent send of this (sender, clientId) won (PostgreSQL only): nothing of ours was kept; return theirs.
      if ((error as { code?: unknown } | null)?.code !== UNIQUE_VIOLATION) throw error
      const winner = await findByClientId(db, senderId, clientId)
      if (!winner) throw error
      return { message: sameSend(winner, conversationId, content), inserted: false }
    }
    const row = rows[0]
    if (!row) throw notFound('conversation')
    const message = toMessage(row)
    if (!row.inserted) return { message: sameSend(message, conversationId, content), inserted: false }
    const logged = (row.logged ?? []).map(
      ([userId, offset, event, reader]): LoggedEvent => ({
        userId,
        offset: Number(offset),
        event,
        payload:
          event === 'conversation:read'
            ? { conversationId, unreadCount: 0 }
            : event === 'conversation:seen'
              ? { conversationId, userId: reader, seq: message.seq }
              : message,
      }),
    )
    notifier.deliver(othersFirst(logged, senderId))
    return { message, inserted: true }
  }

  /**
   * Gives `userId`'s token back to `budget`, not awaited: the caller's answer (a replay's stored message, FORBIDDEN,
   * INVALID) is the operation's, whatever becomes of its bookkeeping. Awaited, a shared budget that did not answer
   * (Redis stalled or away) turned that answer into INTERNAL after the command bound, and the client sent again a
   * message that was stored. A refund not answered is sent again once Redis is (RedisRateLimiter).
   */
  function giveBack(budget: Limiter, userId: Id): void {
    Promise.resolve(budget.refund(userId)).catch((error: unknown) =>
      logger.warn({ err: error }, 'a token could not be given back yet; sent again once Redis answers'),
    )
  }

  /**
   * Out of budget: a replay of a stored message is still answered with it (while look-ups are left); anything else is
   * RATE_LIMITED, to be tried again when the budget has a token.
   */
  async function replayOrRefuse(
    senderId: Id,
    conversationId: Id,
    clientId: string,
    content: string,
    retryAfterMs: number,
  ): Promise<Message> {
    // Past a few look-ups, no look-up: once the budget has a token again, a replay is told apart by the send itself.
    const stored = await replayPastBudget(
      replayLookups,
      senderId,
      () => findByClientId(db, senderId, clientId),
      retryAfterMs,
    )
    return sameSend(stored, conversationId, content)
  }

  /**
   * The stored message of (sender, clientId), when it is the one sent again. Another text under that clientId is
   * refused: answered with the stored message, it would be taken for sent, and reach no one.
   */
  function sameSend(message: Message, conversationId: Id, content: string): Message {
    if (message.conversationId !== conversationId) {
      throw new AppError('INVALID', 'clientId: already used for a message in another conversation')
    }
    if (message.content !== content) throw new AppError('INVALID', 'clientId: already used for a different message')
    return message
  }

  /**
   * Stores a message (socket `message:send`, or HTTP with the conversation id from the path). Idempotent per
   * (sender, clientId): a repeat returns the stored message, notifies nobody and costs no rate-limit token.
   *
   * Validation runs synchronously (a malformed send naming a conversation is told so only once the sender is known to
   * be in it: `refuseOnceAllowed`), then the send queues on the conversation's lock (so one sender's messages keep
   * their order) and takes its rate-limit token there. A new message spends a token, and so does a send to a
   * conversation that is not there; the send statement itself tells a replay apart (no extra query on the common
   * path), and the token taken for a replay is given back; when the bucket is empty, one look-up of (sender,
   * clientId) answers a replay with the stored message instead of RATE_LIMITED.
   */
  function send(senderId: Id, payload: unknown): Promise<Message> {
    const input = parseRequest(sendMessageSchema, payload)
    if (input.ok) return sendValid(senderId, input.value)
    const refusal = invalid(input.issues, 'payload')
    const target = parseRequest(sendTargetSchema, payload)
    return target.ok ? refuseOnceAllowed(senderId, target.value.conversationId, refusal) : Promise.reject(refusal)
  }

  /**
   * A send that names a conversation but is malformed otherwise: refused as an outsider's (FORBIDDEN) or as one to no
   * conversation (NOT_FOUND) as a valid send there would be, and only a participant is told `refusal` (INVALID), what
   * is wrong with the message. Fixing the message would otherwise only lead to the refusal behind it. Where the members
   * are not known yet, their look-up is paid for as a send's is (a made-up id keeps the token; past the budget,
   * RATE_LIMITED, as a valid send's), and nothing is stored, so the token is given back otherwise.
   */
  async function refuseOnceAllowed(senderId: Id, conversationId: Id, refusal: AppError): Promise<never> {
    const known = members.known(conversationId)
    if (known) throw known.includes(senderId) ? refusal : forbidden('not a participant of this conversation')
    const budget = await limiter.tryTake(senderId)
    if (!budget.ok) throw new AppError('RATE_LIMITED', 'too many requests, slow down', budget.retryAfterMs)
    try {
      await participantsFor(db, senderId, conversationId)
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'NOT_FOUND')) giveBack(limiter, senderId)
      throw error
    }
    giveBack(limiter, senderId)
    throw refusal
  }

  /** `send` of a well-formed message. */
  function sendValid(senderId: Id, { conversationId, content, clientId }: SendInput): Promise<Message> {
    // An outsider is refused at once where the members are known (they never change): a flood of theirs neither waits
    // in the conversation's queue, holding up its participants, nor spends anything.
    const known = members.known(conversationId)
    if (known && !known.includes(senderId)) return Promise.reject(forbidden('not a participant of this conversation'))
    // The budget is taken in the conversation's queue: a shared (Redis) budget answers asynchronously, and the
    // queue keeps one sender's messages in the order they came. It is taken before the look-up of who may send there
    // and kept when there is no such conversation: made-up ids would otherwise cost the database a query each (no
    // cache can hold them all). An outsider gets it back: the members are cached from then on, refused for free above.
    return conversationLocks.run(conversationId, async () => {
      const budget = await limiter.tryTake(senderId)
      if (!budget.ok) return replayOrRefuse(senderId, conversationId, clientId, content, budget.retryAfterMs)
      try {
        await participantsFor(db, senderId, conversationId)
      } catch (error) {
        if (!(error instanceof AppError && error.code === 'NOT_FOUND')) giveBack(limiter, senderId)
        throw error
      }
      const { message, inserted } = await storeMessage(senderId, conversationId, content, clientId)
      if (!inserted) giveBack(limiter, senderId)
      return message
    })
  }

  /**
   * The conversation's participants, for a participant, the look-up paid from `budget` (a join's, a typing notice's)
   * as a send pays its own: an outsider is refused at once where the members are known (they never change), and gets
   * the token back otherwise, so refusals neither spend the user's own budget nor turn FORBIDDEN into RATE_LIMITED; a
   * conversation that does not exist keeps it spent (made-up ids would cost a query each).
   */
  async function paidParticipants(userId: Id, conversationId: Id, budget: Limiter): Promise<readonly Id[]> {
    const known = members.known(conversationId)
    if (known && !known.includes(userId)) throw forbidden('not a participant of this conversation')
    await budget.take(userId)
    try {
      return await participantsFor(db, userId, conversationId)
    } catch (error) {
      if (error instanceof AppError && error.code === 'FORBIDDEN') giveBack(budget, userId)
      throw error
    }
  }

  return {
    send,

    /** The conversation's participants, for a participant; NOT_FOUND / FORBIDDEN as for reading it. */
    participants: (userId: Id, conversationId: Id) => participantsFor(db, userId, conversationId),

    /**
     * The other participants to tell that `userId` is typing, the notice paid from `budget` (the typing one,
     * `paidParticipants`). A conversation that does not exist is FORBIDDEN too: the contract gives typing FORBIDDEN
     * alone, one that does not exist being one the user is not in either.
     */
    async typingRecipients(userId: Id, conversationId: Id, budget: Limiter): Promise<Id[]> {
      const participants = await paidParticipants(userId, conversationId, budget).catch((error: unknown) => {
        throw error instanceof AppError && error.code === 'NOT_FOUND'
          ? forbidden('not a participant of this conversation')
          : error
      })
      return participants.filter((id) => id !== userId)
    },

    listConversations: (userId: Id) => conversationsFor(userId),

    /** The pair's conversation, created when it does not exist yet (`created` tells which). */
    async createConversation(userId: Id, body: unknown): Promise<{ conversation: Conversation; created: boolean }> {
      const input = parseRequest(createConversationBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      const { participantId } = input.value
      if (participantId === userId) throw new AppError('INVALID', 'participantId: must be someone else')
      await limiter.take(userId)
      const other = await db.query('select id from users where id = $1', [participantId])
      if (other.length === 0) throw notFound('user')
      const pairKey = [userId, participantId].sort().join(':')
      const at = now().toISOString()
      const { id, created } = await db.transaction(async (tx) => {
        const inserted = await tx.query<{ id: string }>(
          `insert into conversations (id, pair_key, last_seq, created_at, updated_at) values ($1, $2, 0, $3, $3)
           on conflict (pair_key) do nothing returning id`,
          [randomUUID(), pairKey, at],
        )
        if (inserted[0]) {
          for (const member of [userId, participantId]) {
            await tx.query('insert into conversation_members (conversation_id, user_id) values ($1, $2)', [
              inserted[0].id,
              member,
            ])
          }
          return { id: inserted[0].id, created: true }
        }
        return { id: '', created: false }
      })
      const conversationId =
        id || (await db.query<{ id: string }>('select id from conversations where pair_key = $1', [pairKey]))[0]!.id
      const [conversation] = await conversationsFor(userId, conversationId)
      return { conversation: conversation!, created }
    },

    async listMessages(userId: Id, conversationId: unknown, query: unknown): Promise<Message[]> {
      const id = parseRequest(conversationIdSchema, conversationId)
      if (!id.ok) throw notFound('conversation')
      // Whether the reader may see the conversation before what is wrong with the page asked for: an outsider's answer
      // (FORBIDDEN, or NOT_FOUND for none) is the same whatever the query says.
      await participantsFor(db, userId, id.value)
      const page = parseRequest(messagePageQuerySchema, query ?? {})
      if (!page.ok) throw invalid(page.issues, 'query')
      const limit = Math.min(page.value.limit ?? DEFAULT_MESSAGE_PAGE, MAX_MESSAGE_PAGE)
      const rows = await db.query<MessageRow>(
        `select ${MESSAGE_COLUMNS} from messages
         where conversation_id = $1 and ($2::int is null or seq < $2)
         order by seq desc limit $3`,
        [id.value, page.value.before ?? null, limit],
      )
      return rows.reverse().map(toMessage)
    },

    /** The HTTP form of `send`: body `{ content, clientId }`, conversation from the path. */
    post(senderId: Id, conversationId: unknown, body: unknown): Promise<Message> {
      const id = parseRequest(conversationIdSchema, conversationId)
      if (!id.ok) return Promise.reject(notFound('conversation'))
      const input = parseRequest(postMessageBodySchema, body)
      if (!input.ok) return refuseOnceAllowed(senderId, id.value, invalid(input.issues))
      return sendValid(senderId, { ...input.value, conversationId: id.value })
    },

    /**
     * "This user is looking at the conversation": checks access (the look-up paid from `budget`, the join one:
     * `paidParticipants`), then runs `onAllowed` (the socket joins its room) and marks everything read, both under the
     * conversation's lock so no concurrent send slips between the two. `onAllowed`
     * answers `joined` (the socket was not in the room yet), `present` (it was already) or `gone` (the join was
     * superseded while it waited: the socket has closed, or its last word for the conversation is a leave). A join
     * that changes nothing (already in the room, already read up to the last message) writes nothing and tells no one;
     * a superseded one joins nothing, so it reads nothing either: the messages committed while it waited, after the
     * leave or the close, stay unread.
     */
    async markRead(
      userId: Id,
      conversationId: unknown,
      budget: Limiter,
      onAllowed: (conversationId: Id) => JoinOutcome | Promise<JoinOutcome> = () => 'joined',
    ): Promise<void> {
      const id = parseRequest(conversationIdSchema, conversationId)
      if (!id.ok) throw invalid(id.issues, 'conversationId')
      const participants = await paidParticipants(userId, id.value, budget)
      return conversationLocks.run(id.value, async () => {
        const outcome = await onAllowed(id.value)
        if (outcome === 'gone') return
        const joined = outcome === 'joined'
        const logged = await db.transaction(async (tx) => {
          // The reader's log and, for the receipts, the other participants' (ascending, like every writer).
          await lockCounters(tx, participants)
          const updated = await tx.query<{ last_read_seq: number | string }>(
            `update conversation_members m set last_read_seq = c.last_seq from conversations c
             where c.id = $1 and m.conversation_id = $1 and m.user_id = $2 and m.last_read_seq < c.last_seq
             returning m.last_read_seq`,
            [id.value, userId],
          )
          if (!joined && updated.length === 0) return []
          const events: NewEvent[] = [
            { userId, event: 'conversation:read', payload: { conversationId: id.value, unreadCount: 0 } },
          ]
          if (updated[0]) {
            const seen = { conversationId: id.value, userId, seq: Number(updated[0].last_read_seq) }
            for (const other of participants)
              if (other !== userId) events.push({ userId: other, event: 'conversation:seen', payload: seen })
          }
          return appendEvents(tx, events, now().toISOString())
        })
        notifier.deliver(logged)
      })
    },
  }
}

export type Messaging = ReturnType<typeof createMessaging>
