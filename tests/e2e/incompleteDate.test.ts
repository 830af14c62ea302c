import { describe, expect, it } from 'vitest'
import { e2ePerFile } from './support/app'
import { bookingForm } from './support/booking'

/**
 * A date typed in part (only the day): the field's value is empty, the browser's `badInput`. The booking form said
 * "Fill in this field." (its words for `valueMissing`), though the user had filled it in, in part.
 */
describe('a lesson date typed in part', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    { locale: 'en-GB', book: 'Book lesson', said: 'Date and time: incomplete; fill in every part of it.' },
    {
      locale: 'fr-FR',
      book: 'Réserver le cours',
      said: 'Date et heure\u202f: saisie incomplète\u202f; renseignez chaque partie.',
    },
  ] as const)(
    '($locale) the field says the date is incomplete, and nothing is booked',
    async ({ locale, book, said }) => {
      const form = await bookingForm(e2e, { timezoneId: 'Europe/Paris', locale, tag: 'Incomplete' })
      try {
        // Emptied, then its first part typed (the day, in these locales): the rest stays blank.
        await form.when.fill('')
        await form.when.focus()
        await form.page.keyboard.type('15')
        await form.page.getByRole('button', { name: book }).click()
        const field = await form.when.evaluate((el: HTMLInputElement) => ({
          value: el.value,
          badInput: el.validity.badInput,
          message: el.validationMessage,
        }))
        expect(field).toEqual({ value: '', badInput: true, message: said })
        expect(await form.stored()).toEqual([])
      } finally {
        await form.close()
      }
    },
  )
})
