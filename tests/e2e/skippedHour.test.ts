import { describe, expect, it } from 'vitest'
import { apiCall, apiLogin, e2ePerFile, loginAs, unique, WAIT } from './support/app'

/**
 * The night the clocks go forward, the hour they skip does not exist where the student is: Chromium's `new Date` reads
 * 02:30 as 03:30, and the lesson was booked an hour later than typed, with nothing said (the confirmation names no
 * time). The SPA's jsdom tests run in worker threads, whose time zone cannot be changed: the browser's is set here.
 */
describe('a lesson booked in the hour the clocks skip', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    {
      locale: 'en-GB',
      labels: { tutor: 'Tutor', subject: 'Subject', when: 'Date and time', book: 'Book lesson' },
      said: 'Date and time: the clocks go forward then, so that time does not exist on that day; choose another time.',
    },
    {
      locale: 'fr-FR',
      labels: { tutor: 'Tuteur', subject: 'Matière', when: 'Date et heure', book: 'Réserver le cours' },
      said: 'Date et heure\u202f: les horloges avancent à ce moment-là, cette heure n’existe donc pas ce jour-là\u202f; choisissez-en une autre.',
    },
  ])(
    '($locale) in Paris, 02:30 on the last Sunday of March is said on the date field, and nothing is booked',
    async ({ locale, labels, said }) => {
      const context = await e2e.browser.newContext({ timezoneId: 'Europe/Paris', locale })
      try {
        const { page } = await loginAs(e2e, 'alice', { context })
        await page.getByTestId('nav-lessons').click()
        await page.getByTestId('lesson-list').waitFor({ timeout: WAIT })
        await page.getByLabel(labels.tutor, { exact: true }).selectOption({ label: 'Bob Okafor' })
        const subject = unique('Skipped')
        await page.getByLabel(labels.subject, { exact: true }).fill(subject)
        const year = new Date().getFullYear() + 1
        const lastSunday = 31 - new Date(Date.UTC(year, 2, 31)).getUTCDay()
        const when = page.getByLabel(labels.when, { exact: true })
        await when.fill(`${year}-03-${lastSunday}T02:30`)
        await page.getByRole('button', { name: labels.book }).click()

        // Booked (what it did) or held back on the field, whichever comes.
        await page.locator('.form-ok, input[aria-invalid="true"]').first().waitFor({ timeout: WAIT })
        expect(await when.getAttribute('aria-invalid')).toBe('true')
        const describedBy = (await when.getAttribute('aria-describedby')) ?? ''
        expect(await page.locator(`[id="${describedBy}"]`).textContent()).toBe(said)
        expect(await page.evaluate(() => document.activeElement?.getAttribute('type'))).toBe('datetime-local')
        const alice = await apiLogin(e2e, 'alice')
        const lessons = await apiCall<{ subject: string }[]>(e2e, alice.token, 'GET', '/api/lessons')
        expect(lessons.filter((l) => l.subject === subject)).toEqual([])
      } finally {
        await context.close()
      }
    },
  )
})
