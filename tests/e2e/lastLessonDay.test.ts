import { describe, expect, it } from 'vitest'
import { apiCall, apiLogin, e2ePerFile, loginAs, unique, WAIT } from './support/app'

/**
 * The contract's years end with 2100 in UTC (LESSON_YEARS): west of UTC the last evening of 2100 is already 2101 there,
 * and a lesson typed for 20:00 on 31 December 2100 in New York was refused with "choose a day in 2100 or before", the
 * very day chosen. The words name the last moment the student can choose, on their own clock, and that moment books.
 * The SPA's jsdom tests run in worker threads, whose time zone cannot be changed: the browser's is set here.
 */
describe('a lesson booked past the last moment of 2100 (UTC), west of UTC', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    {
      locale: 'en-GB',
      labels: { tutor: 'Tutor', subject: 'Subject', when: 'Date and time', book: 'Book lesson' },
      said: 'Date and time: choose a moment no later than 31 Dec 2100 at 18:59.',
    },
    {
      locale: 'fr-FR',
      labels: { tutor: 'Tuteur', subject: 'Matière', when: 'Date et heure', book: 'Réserver le cours' },
      said: 'Date et heure\u202f: choisissez un moment au plus tard le 31 déc. 2100 à 18:59.',
    },
  ])(
    '($locale) in New York, 20:00 on 31 December 2100 is said with the last moment there, which books',
    async ({ locale, labels, said }) => {
      const context = await e2e.browser.newContext({ timezoneId: 'America/New_York', locale })
      try {
        const { page } = await loginAs(e2e, 'alice', { context })
        await page.getByTestId('nav-lessons').click()
        await page.getByTestId('lesson-list').waitFor({ timeout: WAIT })
        await page.getByLabel(labels.tutor, { exact: true }).selectOption({ label: 'Bob Okafor' })
        const subject = unique('LastDay')
        await page.getByLabel(labels.subject, { exact: true }).fill(subject)
        const when = page.getByLabel(labels.when, { exact: true })
        await when.fill('2100-12-31T20:00')
        await page.getByRole('button', { name: labels.book }).click()

        await page.locator('.form-ok, input[aria-invalid="true"]').first().waitFor({ timeout: WAIT })
        expect(await when.getAttribute('aria-invalid')).toBe('true')
        const describedBy = (await when.getAttribute('aria-describedby')) ?? ''
        expect((await page.locator(`[id="${describedBy}"]`).textContent())?.replace(/\s/g, ' ')).toBe(
          said.replace(/\s/g, ' '),
        )

        // The moment named is one the server takes.
        await when.fill('2100-12-31T18:59')
        await page.getByRole('button', { name: labels.book }).click()
        await page.locator('.form-ok').waitFor({ timeout: WAIT })
        const alice = await apiLogin(e2e, 'alice')
        const lessons = await apiCall<{ subject: string; startsAt: string }[]>(e2e, alice.token, 'GET', '/api/lessons')
        expect(lessons.filter((l) => l.subject === subject).map((l) => l.startsAt)).toEqual([
          '2100-12-31T23:59:00.000Z',
        ])
      } finally {
        await context.close()
      }
    },
  )
})
