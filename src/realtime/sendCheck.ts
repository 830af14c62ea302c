import { MAX_CLIENT_ID_LENGTH, MAX_CONTENT_LENGTH } from '../contract'

type SendPayload = { conversationId: unknown; content: unknown; clientId: unknown }

/** Each field of a send: its limit, and how "too long" is worded for it. */
const FIELDS: [keyof SendPayload, number, string][] = [
  ['conversationId', 100, 'is too long'],
  ['content', MAX_CONTENT_LENGTH, `must be at most ${MAX_CONTENT_LENGTH} characters`],
  ['clientId', MAX_CLIENT_ID_LENGTH, `must be at most ${MAX_CLIENT_ID_LENGTH} characters`],
]

function textProblems(value: unknown, max: number, tooLong: string): string[] {
  if (value === undefined) return ['is required']
  if (typeof value !== 'string') return ['must be a string']
  const problems: string[] = []
  if (value.length === 0) problems.push('must not be empty')
  if (value.length > max) problems.push(tooLong)
  if (value.includes('\u0000')) problems.push('must not contain NUL characters')
  if (/\p{Cs}/u.test(value)) problems.push('must not contain lone surrogates')
  return problems
}

/**
 * The server's `sendMessageSchema` (`src/contract/requests.ts`) as a check the browser runs before every emit: the
 * same rules (three non-empty strings within their limits, no NUL or lone surrogate) and the same wording, tested to agree with the
 * schema on a table of payloads, so a send the server would refuse is refused here with the server's words.
 *
 * @example sendMessageProblem({ conversationId: 'c1', content: '', clientId: 'k1' }) // 'content: must not be empty'
 */
export function sendMessageProblem(payload: SendPayload): string | null {
  const problems = FIELDS.flatMap(([field, max, tooLong]) =>
    textProblems(payload[field], max, tooLong).map((problem) => `${field}: ${problem}`),
  )
  return problems.length > 0 ? problems.join('; ') : null
}
