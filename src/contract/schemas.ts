import {
  array,
  atLeast,
  boolean,
  integer,
  literal,
  maxLength,
  minLength,
  nullable,
  number,
  object,
  optional,
  pattern,
  picklist,
  record,
  string,
  unknown,
  type Check,
} from './check'
import {
  CONTACT_REQUEST_STATUSES,
  LESSON_STATUSES,
  type ContactRequest,
  type Conversation,
  type Lesson,
  type Message,
  type User,
} from './entities'
import { ERROR_CODES, type Ack, type ApiError } from './errors'
import { MAX_PRESENCE_SNAPSHOT } from './limits'
import type {
  ConversationReadPayload,
  ConversationSeenPayload,
  EphemeralEventName,
  EventMeta,
  PresenceState,
  ServerEventPayload,
  SyncEventName,
  SyncPayload,
  TypingNotice,
} from './events'

// What the browser accepts from the server: entities, events, acks and error bodies. What the server accepts from
// clients is in `./requests` (valibot).

/**
 * An ISO-8601 timestamp: date, time to the second, an optional fraction, `Z` or an offset of hours and minutes. Only
 * what `Date.parse` reads: a time it cannot (`+01`, a space before the offset) would sort as no time at all.
 */
export const ISO_TIMESTAMP =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:[12]\d|0[1-9]|3[01])[T ](?:0\d|1\d|2[0-3])(?::[0-5]\d){2}(?:\.\d{1,9})?(?:Z|[+-](?:0\d|1\d|2[0-3]):?[0-5]\d)$/

/**
 * The names every object already has: `Object.prototype`'s own, as the language defines them, read once at load. A
 * `Set` lookup, because `value in Object.prototype` on a string fresh from the wire (not internalized by V8, as a
 * UUID never is) looks it up in V8's string table first, which cost more than the rest of a message's check together
 * (bench/README.md, "Receive path, fifth pass").
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype))

/**
 * Whether `value` is a name every object already has (`constructor`, `__proto__`, `toString`…). Ids key the store's
 * plain objects (who is typing where, RTK Query's subscriptions): such a key reads what JavaScript put there.
 */
export const isReservedName = (value: string): boolean => RESERVED_NAMES.has(value)

const id = string(minLength(1, 'must be a non-empty id'), maxLength(100), (value) =>
  isReservedName(value) ? 'must not be a name JavaScript reserves' : undefined,
)
const timestamp = string(pattern(ISO_TIMESTAMP, 'must be an ISO-8601 timestamp'))
const count = number(integer, atLeast(0))
const positive = number(integer, atLeast(1))

export const userSchema = object<User>({
  id,
  name: string(),
  role: picklist(['student', 'tutor']),
  online: optional(nullable(boolean)),
  lastSeenAt: optional(nullable(timestamp)),
})

export const messageSchema = object<Message>({
  id,
  conversationId: id,
  seq: positive,
  senderId: id,
  content: string(),
  createdAt: timestamp,
  clientId: nullable(string()),
})

export const conversationSchema = object<Conversation>({
  id,
  participantIds: array(id),
  lastMessage: nullable(messageSchema),
  unreadCount: count,
  updatedAt: timestamp,
  readSeq: record(id, count),
})

export const lessonSchema = object<Lesson>({
  id,
  tutorId: id,
  studentId: id,
  subject: string(),
  startsAt: timestamp,
  durationMinutes: positive,
  status: picklist(LESSON_STATUSES),
  updatedAt: timestamp,
})

export const contactRequestSchema = object<ContactRequest>({
  id,
  studentId: id,
  tutorId: id,
  message: string(),
  status: picklist(CONTACT_REQUEST_STATUSES),
  createdAt: timestamp,
  updatedAt: timestamp,
})

export const conversationReadSchema = object<ConversationReadPayload>({ conversationId: id, unreadCount: literal(0) })

export const conversationSeenSchema = object<ConversationSeenPayload>({ conversationId: id, userId: id, seq: count })

/** A logged event's trailing `{ offset }`. */
export const eventMetaSchema = object<EventMeta>({ offset: positive })

/** `sync:caughtUp` and `sync:gap`. */
export const syncPayloadSchema = object<SyncPayload>({
  offset: count,
  epoch: string(minLength(1, 'must not be empty'), maxLength(100)),
})
export const syncEventSchemas: { [E in SyncEventName]: Check<SyncPayload> } = {
  'sync:caughtUp': syncPayloadSchema,
  'sync:gap': syncPayloadSchema,
}

export const presenceStateSchema = object<PresenceState>({
  userId: id,
  online: boolean,
  lastSeenAt: nullable(timestamp),
})
/** The events that are neither logged nor replayed (typing, presence). */
export const ephemeralEventSchemas: { [E in EphemeralEventName]: Check<ServerEventPayload<E>> } = {
  typing: object<TypingNotice>({ conversationId: id, userId: id }),
  'presence:changed': presenceStateSchema,
  'presence:snapshot': object<ServerEventPayload<'presence:snapshot'>>({
    users: array(presenceStateSchema, MAX_PRESENCE_SNAPSHOT),
  }),
}

// --- Answers the browser reads (acks and HTTP error bodies) ---------------------------------------------------------

export const apiErrorSchema = object<ApiError>({
  code: picklist(ERROR_CODES),
  message: string(),
  retryAfterMs: optional(number(atLeast(0))),
})

const ackOk = object<{ ok: true; data: unknown }>({ ok: literal(true), data: unknown })
const ackError = object<{ ok: false; error: ApiError }>({ ok: literal(false), error: apiErrorSchema })

/**
 * An `Ack<T>` around `data`; the data itself is validated by the caller with its own schema.
 *
 * @example parse(ackSchema, { ok: false, error: { code: 'INVALID', message: 'content: must not be empty' } })
 */
export const ackSchema: Check<Ack<unknown>> = (input, issues, path) =>
  ((input as { ok?: unknown } | null)?.ok === true ? ackOk : ackError)(input, issues, path)

/** The body of every HTTP error: `{ error: ApiError }`. */
export const errorBodySchema = object<{ error: ApiError }>({ error: apiErrorSchema })
