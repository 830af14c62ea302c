import { describe, expect, it } from 'vitest'
import { e2ePerFile, loginAs } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * A keyboard user picks from a `<select>` by typing the first letters of what they want (the browser's type-ahead).
 * Chromium matches those letters against the start of each option's text: the "Write to" picker's options began with
 * an invisible bidi isolate (U+2068, around every name), so typing "Car" chose nobody, in either language, while the
 * Tutor pickers, whose options are the bare names, took it. Since each option is the name alone, a right-to-left name
 * keeps its direction with the option's dir="auto", and no isolate stands before its first letters either.
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

  // A right-to-left name, as a keyboard user with an Arabic layout types its first letters: the option's text must
  // begin with the name (an invisible isolate before it matched nothing they could type). The name is this test's
  // own: the server's answer with one more person in it.
  it('typing the first letters of a right-to-left name chooses that person', async () => {
    const context = await e2e.browser.newContext({ viewport: { width: 1280, height: 800 } })
    const ali = { id: 'rtl-ali', name: 'علي حسن', role: 'tutor' }
    await context.route('**/api/users', async (route) => {
      const response = await route.fetch()
      await route.fulfill({ response, json: [...((await response.json()) as unknown[]), ali] })
    })
    const { page } = await loginAs(e2e, 'alice', { context })
    try {
      const picker = page.getByLabel('Write to', { exact: true })
      await picker.locator(`option[value="${ali.id}"]`).waitFor({ state: 'attached', timeout: hangBound() })
      await picker.focus()
      // Keys of an Arabic layout: each keydown carries its character, as the browser's type-ahead hears it.
      const cdp = await context.newCDPSession(page)
      for (const text of 'عل') {
        await cdp.send('Input.dispatchKeyEvent', { type: 'keyDown', text, key: text, unmodifiedText: text })
        await cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key: text })
      }
      await expect
        .poll(() => picker.evaluate((el: HTMLSelectElement) => el.value), { timeout: hangBound() })
        .toBe(ali.id)
      // The name alone, laid out in its own direction.
      const chosen = await picker.evaluate((el: HTMLSelectElement) => {
        const option = el.selectedOptions[0]!
        return { text: option.textContent, direction: getComputedStyle(option).direction }
      })
      expect(chosen).toEqual({ text: ali.name, direction: 'rtl' })
    } finally {
      await context.close()
    }
  })
})
