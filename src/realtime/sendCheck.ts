import {
  freeTextProblem,
  hasLoneSurrogate,
  MAX_CLIENT_ID_LENGTH,
  MAX_CONTENT_LENGTH,
  overCharacters,
} from '../contract'

type SendPayload = { conversationId: unknown; content: unknown; clientId: unknown }

/** The limits and wording of `sendMessageSchema`'s three fields. */
const CONVERSATION_ID_MAX = 100
const CONTENT_TOO_LONG = `must be at most ${MAX_CONTENT_LENGTH} characters`
const CLIENT_ID_TOO_LONG = `must be at most ${MAX_CLIENT_ID_LENGTH} characters`

const unitsOver = (text: string, limit: number): boolean => text.length > limit
/** Content of only white space or characters drawn as nothing is empty, as the server's `contentSchema` says. */
const blank = (text: string): boolean => freeTextProblem(text) === 'empty'

/** Adds to `problems` what is wrong with one field, each as `field: problem`. */
function addTextProblems(
  problems: string[],
  field: string,
  value: unknown,
  max: number,
  tooLong: string,
  givenBack = false,
  over: (text: string, limit: number) => boolean = overCharacters,
  empty: (text: string) => boolean = (text) => text.length === 0,
): void {
  if (value === undefined) problems.push(`${field}: is required`)
  else if (typeof value !== 'string') problems.push(`${field}: must be a string`)
  else {
    if (empty(value)) problems.push(`${field}: must not be empty`)
    if (over(value, max)) problems.push(`${field}: ${tooLong}`)
    if (value.includes('\u0000')) problems.push(`${field}: must not contain NUL characters`)
    if (hasLoneSurrogate(value)) problems.push(`${field}: must not contain lone surrogates`)
    if (givenBack && value.charCodeAt(0) === 0xfeff) problems.push(`${field}: must not start with U+FEFF`)
  }
}

/**
 * The server's `sendMessageSchema` (`src/contract/requests.ts`) as a check the browser runs before every emit: the
 * same rules (three non-empty strings within their limits, content not only of white space or invisible characters, no
 * NUL or lone surrogate, content and clientId not starting with U+FEFF) and the same wording, tested to agree with the
 * schema on a table of payloads, so a send the server would refuse is refused here with the server's words.
 *
 * @example sendMessageProblem({ conversationId: 'c1', content: '', clientId: 'k1' }) // 'content: must not be empty'
 */
export function sendMessageProblem(payload: SendPayload): string | null {
  // One plain call per field: every send runs this once before its emit, cold, after the page has been idle
  // (bench/README.md, "What limits P1", "The send check, cold").
  const problems: string[] = []
  // An id's limit counts UTF-16 units (the server's `conversationIdSchema`), not characters as a text's does.
  addTextProblems(
    problems,
    'conversationId',
    payload.conversationId,
    CONVERSATION_ID_MAX,
    'is too long',
    false,
    unitsOver,
  )
  addTextProblems(
    problems,
    'content',
    payload.content,
    MAX_CONTENT_LENGTH,
    CONTENT_TOO_LONG,
    true,
    overCharacters,
    blank,
  )
  addTextProblems(problems, 'clientId', payload.clientId, MAX_CLIENT_ID_LENGTH, CLIENT_ID_TOO_LONG, true)
  return problems.length > 0 ? problems.join('; ') : null
}
