import { describeIssues, MAX_CLIENT_ID_LENGTH, MAX_CONTENT_LENGTH, parse, sendMessageSchema } from '../contract'

const MAX_ID_LENGTH = 100

const text = (value: unknown, max: number): boolean =>
  typeof value === 'string' && value.length >= 1 && value.length <= max && !value.includes('\u0000')

/**
 * `sendMessageSchema` as a hand-written check, for the send's hot path (it runs before every emit): the same rules
 * (three non-empty strings within their limits, no NUL), tested to agree with the schema on a table of payloads.
 * Only a refused payload goes through valibot, for the schema's own wording of what is wrong.
 *
 * @example sendMessageProblem({ conversationId: 'c1', content: '', clientId: 'k1' }) // 'content: must not be empty'
 */
export function sendMessageProblem(payload: {
  conversationId: unknown
  content: unknown
  clientId: unknown
}): string | null {
  if (
    text(payload.conversationId, MAX_ID_LENGTH) &&
    text(payload.content, MAX_CONTENT_LENGTH) &&
    text(payload.clientId, MAX_CLIENT_ID_LENGTH)
  ) {
    return null
  }
  const parsed = parse(sendMessageSchema, payload)
  return parsed.ok ? null : describeIssues(parsed.issues)
}
