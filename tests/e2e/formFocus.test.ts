import type { Locator, Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { apiCall, apiLogin, e2ePerFile, holdRequests, loginAs, unique } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * A keyboard user who submits a form with its button keeps focus there. Chromium blurs a focused control that becomes
 * `disabled` (focus goes to `<body>`), so a button disabled while its request runs lost the user's place: a screen
 * reader is left nowhere, and the next Tab starts from wherever the browser guesses (WCAG 2.4.3). Found on a phone
 * (375×667, touch) in French, booking a lesson and sending a contact request with the keyboard.
 */

/**
 * Enter on the focused `button`, and again while its request is held (the impatient user's second press lands while
 * the first runs, whatever the machine's speed), then the request goes.
 */
async function submitTwice(page: Page, button: Locator, path: RegExp): Promise<string[]> {
  const held = await holdRequests(page, [['POST', path]])
  await button.focus()
  await page.keyboard.press('Enter')
  // The page's one form's button (its name changes while busy: "Réservation…").
  await page.locator('form button[type="submit"][aria-disabled="true"]').waitFor({ timeout: hangBound() })
  await page.keyboard.press('Enter')
  held.release()
  await page.locator('.form-ok').waitFor({ timeout: hangBound() })
  await held.end()
  return held.seen
}

/** The focused element: its tag and its text. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null
    return `${el?.tagName.toLowerCase()}: ${el === document.body ? '' : (el?.textContent?.trim() ?? '')}`
  })

describe('a form submitted from its button keeps keyboard focus', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it('booking a lesson and sending a contact request, by keyboard, on a phone in French', async () => {
    const context = await e2e.browser.newContext({
      viewport: { width: 375, height: 667 },
      isMobile: true,
      hasTouch: true,
      locale: 'fr-FR',
    })
    try {
      const { page } = await loginAs(e2e, 'alice', { context })

      await page.getByTestId('nav-lessons').click()
      await page.getByTestId('lesson-list').waitFor({ timeout: hangBound() })
      await page.getByLabel('Tuteur', { exact: true }).selectOption({ label: 'Bob Okafor' })
      const subject = unique('Focus')
      await page.getByLabel('Matière', { exact: true }).fill(subject)
      // Enter twice (an impatient user), the second while the first runs: one booking.
      const book = page.getByRole('button', { name: 'Réserver le cours' })
      expect(await submitTwice(page, book, /^\/api\/lessons$/)).toHaveLength(1)
      expect(await focused(page)).toBe('button: Réserver le cours')
      const alice = await apiLogin(e2e, 'alice')
      const lessons = await apiCall<{ subject: string }[]>(e2e, alice.token, 'GET', '/api/lessons')
      expect(lessons.filter((l) => l.subject === subject)).toHaveLength(1)

      await page.getByTestId('nav-contactRequests').click()
      await page.getByTestId('contact-request-list').waitFor({ timeout: hangBound() })
      await page.getByLabel('Tuteur', { exact: true }).selectOption({ label: 'Bob Okafor' })
      const text = unique('Focus')
      await page.getByLabel('Message', { exact: true }).fill(text)
      const sendRequest = page.getByRole('button', { name: 'Envoyer la demande' })
      expect(await submitTwice(page, sendRequest, /^\/api\/contact-requests$/)).toHaveLength(1)
      expect(await focused(page)).toBe('button: Envoyer la demande')
      const requests = await apiCall<{ message: string }[]>(e2e, alice.token, 'GET', '/api/contact-requests')
      expect(requests.filter((r) => r.message === text)).toHaveLength(1)
    } finally {
      await context.close()
    }
  })
})
