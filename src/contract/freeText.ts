// Free text a person typed for another to read: a lesson's subject, a contact request's message (and a chat message's
// content, for its 'empty' alone). The server refuses what this finds (`src/contract/requests.ts`) and the forms check
// it before sending, so both say the same thing.
// Plain regular expressions, no valibot: the browser bundle carries this module.

/** What is wrong with free text: nothing a reader would see, or a control character. */
export type FreeTextProblem = 'empty' | 'control'

// White space (U+3000, no-break spaces and line breaks among it) and the default-ignorable code points, which
// Unicode says are drawn as nothing: zero-width space and joiners, U+2060, U+FEFF, the soft hyphen, bidi marks,
// variation selectors, Hangul fillers. Text of only these looks empty, so it is, whatever `trim()` leaves of it.
const INVISIBLE_ONLY = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}]*$/u
// A bell, a terminal's escape sequence, DEL or a C1 code is nothing a person wrote; tab and line breaks are the
// text's own. NUL is among the refused (PostgreSQL text cannot hold it).
const CONTROL = /[^\P{Cc}\t\n\r]/u

/**
 * What is wrong with free text as it is sent (trimmed), or undefined: empty first, as nothing else matters then.
 *
 * @example freeTextProblem('\u200B') // 'empty'
 * @example freeTextProblem('Geo\u0007metry') // 'control'
 */
export function freeTextProblem(text: string): FreeTextProblem | undefined {
  if (INVISIBLE_ONLY.test(text)) return 'empty'
  if (CONTROL.test(text)) return 'control'
  return undefined
}

// One instance for every call: a literal inside the function is a new RegExp at each call, on a send's cold path
// (bench/README.md, "What limits P1", "The send check, cold").
const LONE_SURROGATE = /\p{Cs}/u

/**
 * Whether `text` holds half of a surrogate pair (a paste cut inside an emoji), which the server refuses in every text it
 * keeps: JSON carries one, but stored as UTF-8 it becomes U+FFFD, and the text would not come back as it was sent.
 *
 * @example hasLoneSurrogate('Maths \uD83D') // true
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text)
}
