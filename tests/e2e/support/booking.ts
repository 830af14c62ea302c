import type { Locator, Page } from 'playwright-core'
import { apiCall, apiLogin, type E2EApp, loginAs, unique } from './app'
import { hangBound } from '../../support/hangBound'

/** The booking form's labels in the two languages the page speaks. */
const LABELS = {
  'en-GB': { tutor: 'Tutor', subject: 'Subject', when: 'Date and time', book: 'Book lesson' },
  'fr-FR': { tutor: 'Tuteur', subject: 'Matière', when: 'Date et heure', book: 'Réserver le cours' },
} as const

export type BookingLocale = keyof typeof LABELS

export interface BookingForm {
  page: Page
  /** The date and time field. */
  when: Locator
  /** This booking's subject (fresh for each). */
  subject: string
  /** Types `moment` (`YYYY-MM-DDTHH:mm`) and presses "Book lesson"; resolves once booked or held back on a field. */
  book(moment: string): Promise<void>
  /** The words said on the date field, or null when it holds nothing refused. */
  refusal(): Promise<string | null>
  /** The `startsAt` of each of Alice's lessons with this subject, as the server stored them. */
  stored(): Promise<string[]>
  close(): Promise<void>
}

/**
 * Alice's booking form with Bob chosen and a fresh subject, in a browser whose clock is in `timezoneId` and which
 * speaks `locale`. The SPA's jsdom tests run in worker threads, whose time zone cannot be changed: the browser's is set
 * here.
 */
export async function bookingForm(
  e2e: E2EApp,
  { timezoneId, locale, tag }: { timezoneId: string; locale: BookingLocale; tag: string },
): Promise<BookingForm> {
  const labels = LABELS[locale]
  const context = await e2e.browser.newContext({ timezoneId, locale })
  try {
    const { page } = await loginAs(e2e, 'alice', { context })
    await page.getByTestId('nav-lessons').click()
    await page.getByTestId('lesson-list').waitFor({ timeout: hangBound() })
    await page.getByLabel(labels.tutor, { exact: true }).selectOption({ label: 'Bob Okafor' })
    const subject = unique(tag)
    await page.getByLabel(labels.subject, { exact: true }).fill(subject)
    const when = page.getByLabel(labels.when, { exact: true })
    return {
      page,
      when,
      subject,
      async book(moment) {
        await when.fill(moment)
        await page.getByRole('button', { name: labels.book }).click()
        // Booked (what it did) or held back on the field, whichever comes.
        await page.locator('.form-ok, input[aria-invalid="true"]').first().waitFor({ timeout: hangBound() })
      },
      async refusal() {
        if ((await when.getAttribute('aria-invalid')) !== 'true') return null
        const describedBy = (await when.getAttribute('aria-describedby')) ?? ''
        return page.locator(`[id="${describedBy}"]`).textContent()
      },
      async stored() {
        const alice = await apiLogin(e2e, 'alice')
        const lessons = await apiCall<{ subject: string; startsAt: string }[]>(e2e, alice.token, 'GET', '/api/lessons')
        return lessons.filter((lesson) => lesson.subject === subject).map((lesson) => lesson.startsAt)
      },
      close: () => context.close(),
    }
  } catch (error) {
    await context.close()
    throw error
  }
}
