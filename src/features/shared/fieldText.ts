import { type FreeTextProblem, freeTextProblem, hasLoneSurrogate, overCharacters } from '../../contract'

/** What keeps a form's free text from being sent: the server's own rule for free text, or its limit. */
export type FieldTextProblem = FreeTextProblem | 'tooLong'

/**
 * Why `text` (trimmed, as sent) would be refused with a limit of `max` characters, if it would. The limit is checked
 * here rather than by HTML's `maxlength`, which counts UTF-16 units (an emoji twice) and cuts a paste without a word.
 * A lone surrogate is said as a character that cannot be sent, as the composer says it.
 */
export function fieldTextProblem(text: string, max: number): FieldTextProblem | undefined {
  const problem = freeTextProblem(text) ?? (hasLoneSurrogate(text) ? 'control' : undefined)
  return problem ?? (overCharacters(text, max) ? 'tooLong' : undefined)
}
