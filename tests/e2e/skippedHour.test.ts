import { describe, expect, it } from 'vitest'
import { e2ePerFile } from './support/app'
import { bookingForm } from './support/booking'

/**
 * The night the clocks go forward, the hour they skip does not exist where the student is: Chromium's `new Date` reads
 * 02:30 as 03:30, and the lesson was booked an hour later than typed, with nothing said (the confirmation names no
 * time).
 */
describe('a lesson booked in the hour the clocks skip', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    {
      locale: 'en-GB',
      said: 'Date and time: the clocks go forward then, so that time does not exist on that day; choose another time.',
    },
    {
      locale: 'fr-FR',
      said: 'Date et heure\u202f: les horloges avancent à ce moment-là, cette heure n’existe donc pas ce jour-là\u202f; choisissez-en une autre.',
    },
  ] as const)(
    '($locale) in Paris, 02:30 on the last Sunday of March is said on the date field, and nothing is booked',
    async ({ locale, said }) => {
      const form = await bookingForm(e2e, { timezoneId: 'Europe/Paris', locale, tag: 'Skipped' })
      try {
        const year = new Date().getFullYear() + 1
        const lastSunday = 31 - new Date(Date.UTC(year, 2, 31)).getUTCDay()
        await form.book(`${year}-03-${lastSunday}T02:30`)
        expect(await form.refusal()).toBe(said)
        expect(await form.page.evaluate(() => document.activeElement?.getAttribute('type'))).toBe('datetime-local')
        expect(await form.stored()).toEqual([])
      } finally {
        await form.close()
      }
    },
  )
})
