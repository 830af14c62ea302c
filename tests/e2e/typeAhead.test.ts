import { describe, expect, it } from 'vitest'
import { e2ePerFile, loginAs } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * A keyboard user picks from a `<select>` by typing the first letters of what they want (the browser's type-ahead).
 * Chromium matches those letters against the start of each option's text: the "Write to" picker's options began with
 * an invisible bidi isolate (U+2068, around every name), so typing "Car" chose nobody, in either language, while the
 * Tutor pickers, whose options are the bare names, took it.
 */
describe('the "Write to" picker, by keyboard', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it('typing the first letters of a name chooses that person, and Start opens the conversation', async () => {
    const { context, page } = await loginAs(e2e, 'alice')
    try {
      const picker = page.getByLabel('Write to', { exact: true })
      // The people come with a read: letters typed before their options are there choose nobody, and are not typed again.
      await picker
        .locator('option', { hasText: 'Carol Lindqvist' })
        .waitFor({ state: 'attached', timeout: hangBound() })
      await picker.focus()
      await page.keyboard.type('Car')
      await expect
        .poll(() => picker.evaluate((el: HTMLSelectElement) => el.selectedOptions[0]?.textContent ?? ''), {
          timeout: hangBound(),
        })
        .toBe('Carol Lindqvist')
      await page.getByRole('button', { name: 'Start' }).click()
      await page.getByLabel('Message to Carol Lindqvist').waitFor({ timeout: hangBound() })
    } finally {
      await context.close()
    }
  })
})
