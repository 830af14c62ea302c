import { describe, expect, test } from 'vitest'
import { freeTextProblem } from '../../src/contract'

// The one rule for a lesson's subject and a contact request's message, which the server enforces and the forms check
// before sending: what a reader would see as nothing is empty, and a control character but tab and line breaks is
// refused by name.

describe('freeTextProblem', () => {
  test.each([
    ['a plain subject', 'Algebra'],
    ['several lines with a tab', 'Hello,\r\n\tcould we start on Monday?'],
    ['a word with a zero-width space inside', 'Alge\u200Bbra'],
    ['a word after a soft hyphen', '\u00ADAlgebra'],
    ['a single visible character', 'x'],
    ['an emoji', '😀'],
    ['accented letters and a no-break space', 'Géométrie\u00A0II'],
  ])('takes %s', (_name, text) => {
    expect(freeTextProblem(text)).toBeUndefined()
  })

  test.each([
    ['nothing', ''],
    ['spaces and line breaks', '   \n\t '],
    ['a zero-width space', '\u200B'],
    ['a word joiner', '\u2060'],
    ['a byte order mark (zero-width no-break space)', '\uFEFF'],
    ['a soft hyphen', '\u00AD'],
    ['an ideographic space', '\u3000'],
    ['no-break spaces', '\u00A0\u202F'],
    ['a mix of invisible characters', '\u200B \u2060\u3000\uFEFF\u00AD\u200D'],
    ['bidirectional marks', '\u200E\u200F\u2066\u2069'],
    ['a Hangul filler', '\u3164'],
  ])('finds %s empty', (_name, text) => {
    expect(freeTextProblem(text)).toBe('empty')
  })

  test.each([
    ['a bell', 'Geo\u0007metry'],
    ['an escape sequence', '\u001b[2JGeometry'],
    ['DEL', 'Hello\u007f'],
    ['a C1 code', 'Hello\u009b'],
    ['NUL, which PostgreSQL cannot store', 'Alg\u0000ebra'],
    ['a vertical tab inside', 'a\u000Bb'],
    ['a control character alone', '\u0007'],
  ])('refuses %s as a control character', (_name, text) => {
    expect(freeTextProblem(text)).toBe('control')
  })
})
