import { describe, expect, it } from 'vitest'
import { e2ePerFile, loginAs, openConversationWith } from './support/app'
import { hangBound } from '../support/hangBound'

// A half-written message is the user's work: F5 by mistake, or the browser discarding a background tab to save memory
// (it reloads the tab on return), must not take it. "Log out" must leave none of it behind.
describe('the composer’s draft in a real browser', () => {
  const e2e = e2ePerFile()

  it('survives a reload of the tab; after "Log out" and a login, the composer is empty', async () => {
    const alice = await loginAs(e2e, 'alice')
    const page = alice.page
    try {
      await openConversationWith(page, 'Bob')
      await page.getByTestId('composer').fill('half written, then F5')
      await page.reload()
      await page.getByTestId('composer').waitFor({ timeout: hangBound() })
      expect(await page.getByTestId('composer').inputValue()).toBe('half written, then F5')

      await page.getByRole('button', { name: 'Log out' }).click()
      await page.getByTestId('demo-alice').click()
      await page.locator('.login form button[type="submit"]').click()
      await page.getByTestId('current-user').waitFor({ timeout: hangBound() })
      await openConversationWith(page, 'Bob')
      expect(await page.getByTestId('composer').inputValue()).toBe('')
    } finally {
      await alice.context.close()
    }
  })
})
