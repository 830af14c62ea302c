import { describe, expect, it } from 'vitest'
import { e2ePerFile } from './support/app'
import { bookingForm } from './support/booking'
import { hangBound } from '../support/hangBound'

/**
 * The contract's years end with 2100 in UTC (LESSON_YEARS): west of UTC the last evening of 2100 is already 2101 there,
 * and a lesson typed for 20:00 on 31 December 2100 in New York was refused with "choose a day in 2100 or before", the
 * very day chosen. The words name the last moment the student can choose, on their own clock, and that moment books.
 */
describe('a lesson booked past the last moment of 2100 (UTC), west of UTC', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    { locale: 'en-GB', said: 'Date and time: choose a moment no later than 31 Dec 2100 at 18:59.' },
    { locale: 'fr-FR', said: 'Date et heure\u202f: choisissez un moment au plus tard le 31 déc. 2100 à 18:59.' },
  ] as const)(
    '($locale) in New York, 20:00 on 31 December 2100 is said with the last moment there, which books',
    async ({ locale, said }) => {
      const form = await bookingForm(e2e, { timezoneId: 'America/New_York', locale, tag: 'LastDay' })
      try {
        await form.book('2100-12-31T20:00')
        expect((await form.refusal())?.replace(/\s/g, ' ')).toBe(said.replace(/\s/g, ' '))

        // The moment named is one the server takes.
        await form.book('2100-12-31T18:59')
        await form.page.locator('.form-ok').waitFor({ timeout: hangBound() })
        expect(await form.stored()).toEqual(['2100-12-31T23:59:00.000Z'])
      } finally {
        await form.close()
      }
    },
  )
})
