import type { Check } from './check'
import type { Message } from './entities'
import type { ServerEventName, ServerEventPayload } from './events'
import {
  MAX_CLIENT_ID_LENGTH,
  MAX_CONTACT_MESSAGE_LENGTH,
  MAX_CONTENT_LENGTH,
  MAX_LESSON_SUBJECT_LENGTH,
} from './limits'
import {
  contactRequestSchema,
  conversationReadSchema,
  conversationSeenSchema,
  ISO_TIMESTAMP,
  isReservedName,
  lessonSchema,
  messageSchema,
} from './schemas'

/** The string fields of a payload. */
type TextFields<T> = { [K in keyof T]-?: T[K] extends string | null ? K : never }[keyof T]

/** What both sides know about one server event. */
export interface ServerEventSpec<E extends ServerEventName> {
  /** What the browser accepts (unknown keys dropped). */
  schema: Check<ServerEventPayload<E>>
  /**
   * A precompiled `schema` for the hot path, where one exists: the fresh payload, or `null` (then `schema` says why).
   * Tested to agree with `schema`.
   */
  check?: (input: unknown) => ServerEventPayload<E> | null
  /**
   * The longest each free-text field may be. The entity schemas check types only: a stored message can never be
   * longer than a send may be, so a longer one is not the server's and is rejected rather than cached.
   */
  textLimits: { [K in TextFields<ServerEventPayload<E>>]?: number }
}

/** Every server event's spec, keyed by the event map: a new event without its entry does not compile. */
export type ServerEventTable = { [E in ServerEventName]: ServerEventSpec<E> }

const isId = (value: unknown): value is string =>
  typeof value === 'string' && value.length >= 1 && value.length <= 100 && !isReservedName(value)

/**
 * `messageSchema` written out by hand (the receive path runs it for every message): the same rules, and a fresh
 * object with only the contract's fields.
 *
 * @example checkMessage(JSON.parse(frame)) // Message | null
 */
export function checkMessage(input: unknown): Message | null {
  if (typeof input !== 'object' || input === null) return null
  const m = input as Record<string, unknown>
  const { id, conversationId, seq, senderId, content, createdAt, clientId } = m
  if (!isId(id) || !isId(conversationId) || !isId(senderId)) return null
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1) return null
  if (typeof content !== 'string' || typeof createdAt !== 'string' || !ISO_TIMESTAMP.test(createdAt)) return null
  if (clientId !== null && typeof clientId !== 'string') return null
  return { id, conversationId, seq, senderId, content, createdAt, clientId }
}

const messageText = { content: MAX_CONTENT_LENGTH, clientId: MAX_CLIENT_ID_LENGTH }

/**
 * The one place per server event: its schema (and hot-path check) and its text limits. Its keys are the logged events,
 * every one written to the user's log and replayed on resume (CONTRACT.md, "Durable resume"); typing and presence
 * are never logged (`ephemeralEventSchemas`). The browser's cache work is keyed by the same map (`cacheWorkTable`), as
 * are its actions (`serverEventActions`) and the app's toasts (`TOAST_NEWS`).
 *
 * @example serverEvents['lesson:created'].textLimits.subject // 200
 */
export const serverEvents: ServerEventTable = {
  'message:new': { schema: messageSchema, check: checkMessage, textLimits: messageText },
  'message:sent': { schema: messageSchema, check: checkMessage, textLimits: messageText },
  'conversation:read': { schema: conversationReadSchema, textLimits: {} },
  'conversation:seen': { schema: conversationSeenSchema, textLimits: {} },
  'lesson:created': { schema: lessonSchema, textLimits: { subject: MAX_LESSON_SUBJECT_LENGTH } },
  'lesson:statusUpdated': { schema: lessonSchema, textLimits: { subject: MAX_LESSON_SUBJECT_LENGTH } },
  'contactRequest:created': {
    schema: contactRequestSchema,
    textLimits: { message: MAX_CONTACT_MESSAGE_LENGTH },
  },
  'contactRequest:statusUpdated': {
    schema: contactRequestSchema,
    textLimits: { message: MAX_CONTACT_MESSAGE_LENGTH },
  },
}

// Derived tables, marked pure so a bundle that does not read them (the browser's) leaves them out.

/** What the browser accepts from the server, one schema per event (taken from `serverEvents`). */
export const serverEventSchemas = /* @__PURE__ */ Object.fromEntries(
  /* @__PURE__ */ (Object.keys(serverEvents) as ServerEventName[]).map((e) => [e, serverEvents[e].schema]),
) as { [E in ServerEventName]: ServerEventTable[E]['schema'] }
