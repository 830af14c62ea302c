import * as v from 'valibot'
import { MAX_REPORTED_ISSUES, type ParseResult } from './check'
import { CONTACT_REQUEST_STATUSES, LESSON_STATUSES } from './entities'
import { freeTextProblem, type FreeTextProblem, hasLoneSurrogate } from './freeText'
import {
  MAX_CLIENT_ID_LENGTH,
  MAX_CONTACT_MESSAGE_LENGTH,
  MAX_CONTENT_LENGTH,
  LESSON_YEARS,
  MAX_LESSON_SUBJECT_LENGTH,
  overCharacters,
} from './limits'

// What the server accepts from clients (event payloads, HTTP bodies), in valibot: a well-kept library for untrusted
// input. Only the server imports this module, so the browser bundle carries no valibot; what the browser reads is
// checked by `./schemas`. The browser's own pre-send check (`src/realtime/sendCheck.ts`) is tested to agree with
// `sendMessageSchema`, wording included.

// PostgreSQL text cannot hold NUL: refuse it up front as INVALID rather than fail at the database as INTERNAL.
const noNul = v.check((s: string) => !s.includes('\u0000'), 'must not contain NUL characters')
// Nor a lone surrogate (`hasLoneSurrogate`): two different clientIds would be one key once stored (the second send
// answered with the first message).
const wellFormed = v.check((s: string) => !hasLoneSurrogate(s), 'must not contain lone surrogates')
// Nor, where it is given back as sent (content, clientId), a leading U+FEFF: the embedded database (PGlite) decodes each
// text value it reads with a TextDecoder, which drops it as a byte order mark ('\uFEFFk' came back as the clientId 'k').
const noLeadingBom = v.check((s: string) => !s.startsWith('\uFEFF'), 'must not start with U+FEFF')

/** At most `max` characters, an emoji one (`characterCount`), not JavaScript's UTF-16 `length`. */
const maxCharacters = (max: number, message: string) => v.check((s: string) => !overCharacters(s, max), message)

// Content of only white space or characters drawn as nothing (`freeTextProblem`'s 'empty') is an empty bubble to its
// reader and an empty last line in the list: refused as the empty string is. Kept as written otherwise (not trimmed).
const visible = v.check((s: string) => freeTextProblem(s) !== 'empty', 'must not be empty')

export const contentSchema = v.pipe(
  v.string('must be a string'),
  visible,
  maxCharacters(MAX_CONTENT_LENGTH, `must be at most ${MAX_CONTENT_LENGTH} characters`),
  noNul,
  wellFormed,
  noLeadingBom,
)
export const clientIdSchema = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  maxCharacters(MAX_CLIENT_ID_LENGTH, `must be at most ${MAX_CLIENT_ID_LENGTH} characters`),
  noNul,
  wellFormed,
  noLeadingBom,
)
export const conversationIdSchema = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(100, 'is too long'),
  noNul,
  wellFormed,
)

export const sendMessageSchema = v.object({
  conversationId: conversationIdSchema,
  content: contentSchema,
  clientId: clientIdSchema,
})

const tokenString = (max: number) =>
  v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(max, 'is too long'))
/** `POST /api/auth/refresh`. */
export const refreshBodySchema = v.object({ refreshToken: tokenString(1000) })
/** `POST /api/auth/logout`: the refresh token is optional (a Bearer token may name the session instead). */
export const logoutBodySchema = v.object({ refreshToken: v.optional(tokenString(1000)) })
/** `session:renew`'s payload. */
export const sessionRenewSchema = v.object({ token: tokenString(4096) })
export const typingSchema = v.object({ conversationId: conversationIdSchema })
/**
 * The resume part of the handshake's `auth` (the token is checked on its own): an offset the server can have issued
 * (a safe integer, 0 or more) and an epoch of at most 100 characters.
 */
export const handshakeResumeSchema = v.object({
  offset: v.optional(
    v.pipe(v.number('must be a number'), v.safeInteger('must be a whole number'), v.minValue(0, 'must be at least 0')),
  ),
  epoch: v.optional(
    v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(100, 'is too long')),
  ),
})
/** What the server accepts as the first argument of each client event. */
export const clientEventSchemas = {
  'conversation:join': conversationIdSchema,
  'conversation:leave': conversationIdSchema,
  'message:send': sendMessageSchema,
  'session:renew': sessionRenewSchema,
  typing: typingSchema,
}

/** Email and password of at most 200 characters each, an emoji one (as every text limit counts). */
export const loginBodySchema = v.object({
  email: v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    maxCharacters(200, 'is too long'),
    noNul,
    wellFormed,
  ),
  password: v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    maxCharacters(200, 'is too long'),
    noNul,
    wellFormed,
  ),
})
export const createConversationBodySchema = v.object({ participantId: conversationIdSchema })
export const postMessageBodySchema = v.object({ content: contentSchema, clientId: clientIdSchema })

// The format valibot's isoTimestamp accepts, with the calendar fields, the fraction and the offset captured.
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z| ?[+-]\d{2}(?::?\d{2})?)$/

/**
 * The instant of a timestamp INSTANT matched, in ms (NaN when there is none). Rewritten in the form `Date.parse` reads
 * everywhere first: it refuses an offset of hours alone (`+05`) or after a space, which INSTANT admits.
 */
function instantOf(fields: RegExpExecArray): number {
  const [, year, month, day, hour, minute, second, fraction = '', zone = 'Z'] = fields
  const offset = zone.trim()
  const normalized = offset === 'Z' ? 'Z' : `${offset.slice(0, 3)}:${offset.slice(3).replace(':', '') || '00'}`
  return Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${normalized}`)
}

/**
 * What is wrong with a lesson's `startsAt`, or undefined: an ISO-8601 timestamp whose calendar fields exist (no
 * 31 February, no 24:00: `new Date` would roll those over to another day) at an instant in the years 2000-2100 (UTC).
 * "In the future" is the server's check, against its clock.
 *
 * @example startsAtProblem('2027-02-31T10:00:00Z') // 'must be a real date and time'
 */
export function startsAtProblem(value: string): string | undefined {
  const fields = INSTANT.exec(value)
  if (!fields) return 'must be an ISO-8601 timestamp'
  const [year, month, day, hour, minute, second] = fields.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const probe = new Date(Date.UTC(2000, month - 1, day, hour, minute, second))
  probe.setUTCFullYear(year, month - 1, day)
  const instant = instantOf(fields)
  const exists =
    probe.getUTCFullYear() === year &&
    probe.getUTCMonth() === month - 1 &&
    probe.getUTCDate() === day &&
    probe.getUTCHours() === hour &&
    probe.getUTCMinutes() === minute &&
    probe.getUTCSeconds() === second &&
    !Number.isNaN(instant)
  if (!exists) return 'must be a real date and time'
  const utcYear = new Date(instant).getUTCFullYear()
  if (utcYear < LESSON_YEARS.min || utcYear > LESSON_YEARS.max) {
    return `must be in the years ${LESSON_YEARS.min} to ${LESSON_YEARS.max}`
  }
  return undefined
}

/** A lesson's `startsAt`, given back as the server stores and answers it: `toISOString()`'s form, in UTC. */
export const lessonStartsAtSchema = v.pipe(
  v.string('must be a string'),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? startsAtProblem(dataset.value) : undefined
    if (problem) addIssue({ message: problem })
  }),
  v.transform((value) => new Date(instantOf(INSTANT.exec(value)!)).toISOString()),
)

const FREE_TEXT_WORDING: Record<FreeTextProblem, string> = {
  empty: 'must not be empty',
  control: 'must not contain control characters',
}
// The forms check the same rule before sending (`freeTextProblem`), and say its problems in the user's language.
const freeText = v.rawCheck<string>(({ dataset, addIssue }) => {
  const problem = dataset.typed ? freeTextProblem(dataset.value) : undefined
  if (problem) addIssue({ message: FREE_TEXT_WORDING[problem] })
})

/**
 * Free text a user typed: trimmed, then something a reader would see, at most `max` characters, no lone surrogate
 * and no control character but tab and line breaks (NUL among them).
 */
const trimmedText = (max: number) =>
  v.pipe(
    v.string('must be a string'),
    v.trim(),
    freeText,
    maxCharacters(max, `must be at most ${max} characters`),
    wellFormed,
  )

export const createLessonBodySchema = v.object({
  tutorId: conversationIdSchema,
  subject: trimmedText(MAX_LESSON_SUBJECT_LENGTH),
  startsAt: lessonStartsAtSchema,
  durationMinutes: v.pipe(
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(15, 'must be at least 15'),
    v.maxValue(480, 'must be at most 480'),
  ),
})
export const updateLessonStatusBodySchema = v.object({
  status: v.picklist(LESSON_STATUSES, `must be one of ${LESSON_STATUSES.join(', ')}`),
})
export const createContactRequestBodySchema = v.object({
  tutorId: conversationIdSchema,
  message: trimmedText(MAX_CONTACT_MESSAGE_LENGTH),
})
export const updateContactRequestStatusBodySchema = v.object({
  status: v.picklist(CONTACT_REQUEST_STATUSES, `must be one of ${CONTACT_REQUEST_STATUSES.join(', ')}`),
})

// --- Parsing ----------------------------------------------------------------------------------

/**
 * Validates a client's `input`, returning a fresh value (unknown keys, `__proto__` included, are dropped) or at most
 * ten issues that name fields but never echo the raw input (the same `ParseResult` as the contract's `parse`).
 *
 * @example parseRequest(sendMessageSchema, payload) // { ok: true, value } | { ok: false, issues: [{ path: 'content', message: 'must not be empty' }] }
 */
export function parseRequest<S extends v.GenericSchema>(schema: S, input: unknown): ParseResult<v.InferOutput<S>> {
  const result = v.safeParse(schema, input)
  if (result.success) return { ok: true, value: result.output }
  return {
    ok: false,
    issues: result.issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => ({
      path: issuePath(issue),
      message: issueMessage(issue),
    })),
  }
}

function issuePath(issue: v.BaseIssue<unknown>): string {
  return (issue.path ?? []).map((item) => String((item as { key?: unknown }).key)).join('.')
}

function issueMessage(issue: v.BaseIssue<unknown>): string {
  // Valibot's default messages quote the received value; keep only our own wording or the expectation.
  if (issue.received === 'undefined') return 'is required'
  if (issue.message && !issue.message.startsWith('Invalid ')) return issue.message
  return issue.expected ? `expected ${issue.expected}` : 'is invalid'
}
