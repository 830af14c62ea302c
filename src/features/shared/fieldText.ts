import { type FreeTextProblem, freeTextProblem, overCharacters } from '../../contract'

/** What keeps a form's free text from being sent: the server's own rule for free text, or its limit. */
export type FieldTextProblem = FreeTextProblem | 'tooLong'

/**
 * Why `text` (trimmed, as sent) would be refused with a limit of `max` characters, if it would. The limit is checked
 * here rather than by HTML's `maxlength`, which counts UTF-16 units (an emoji twice) and cuts a paste without a word.
 */
export function fieldTextProblem(text: string, max: number): FieldTextProblem | undefined {
  return freeTextProblem(text) ?? (overCharacters(text, max) ? 'tooLong' : undefined)
}
