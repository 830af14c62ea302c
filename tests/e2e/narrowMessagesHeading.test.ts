import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { apiCall, apiLogin, e2ePerFile, loginAs } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * WCAG 1.3.1 / 2.4.6: on a phone, opening a conversation hid the conversation list's pane whole, and with it the
 * Messages page's only h1: a screen reader user, listing headings or landmarks, found a page with no h1 while the
 * thread was open. The h1 stays in the page for assistive technology (drawn nowhere: the thread fills the screen),
 * and focus never lands on anything drawn nowhere, on opening the thread nor on going back.
 */

/** The page's level-1 headings as assistive technology gets them: name and whether it is in the accessibility tree. */
const headingsOne = (page: Page) =>
  page.getByRole('heading', { level: 1 }).evaluateAll((els) => els.map((el) => el.textContent?.trim() ?? ''))

/** The focused element, and whether it takes up any room on screen (focus on something drawn nowhere is lost). */
const focusedDrawn = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null
    if (!el || el === document.body) return { what: 'body', drawn: false }
    const r = el.getBoundingClientRect()
    return {
      what: `${el.tagName.toLowerCase()}${el.dataset.testid ? ` ${el.dataset.testid}` : ''}`,
      drawn: r.width > 1 && r.height > 1,
    }
  })

describe('the Messages page at phone width', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    ['English', 'en-US', 375, 'All conversations'],
    ['French', 'fr-FR', 375, 'Toutes les conversations'],
  ] as const)(
    '%s (%s) at %i px: with a conversation open the page keeps its one h1, and focus stays on what is drawn',
    async (_language, locale, width, back) => {
      const alice = await apiLogin(e2e, 'alice')
      const bob = await apiLogin(e2e, 'bob')
      const conversation = await apiCall<{ id: string }>(e2e, alice.token, 'POST', '/api/conversations', {
        participantId: bob.user.id,
      })
      const made = await e2e.browser.newContext({ viewport: { width, height: 667 }, locale })
      const { context, page } = await loginAs(e2e, 'alice', { context: made })
      try {
        await page.getByTestId('conversation-list').waitFor({ timeout: hangBound() })
        expect(await headingsOne(page)).toEqual(['Messages'])

        await page.locator(`[data-testid="conversation"][data-conversation-id="${conversation.id}"]`).click()
        const thread = page.locator(`[data-testid="thread"][data-conversation-id="${conversation.id}"]`)
        await thread.waitFor({ timeout: hangBound() })
        // The thread fills the screen: the list is drawn nowhere.
        expect(await page.getByTestId('conversation-list').isVisible()).toBe(false)
        expect(await headingsOne(page)).toEqual(['Messages'])
        await expect.poll(() => focusedDrawn(page)).toEqual({ what: 'textarea composer', drawn: true })

        await page.getByRole('link', { name: back }).click()
        await page.getByTestId('conversation-list').waitFor({ timeout: hangBound() })
        expect(await headingsOne(page)).toEqual(['Messages'])
        await expect.poll(() => focusedDrawn(page)).toEqual({ what: 'h1', drawn: true })
      } finally {
        await context.close()
      }
    },
  )

  it('narrowed to a phone with focus in the conversation list beside an open thread, focus moves to what is drawn', async () => {
    const alice = await apiLogin(e2e, 'alice')
    const bob = await apiLogin(e2e, 'bob')
    const conversation = await apiCall<{ id: string }>(e2e, alice.token, 'POST', '/api/conversations', {
      participantId: bob.user.id,
    })
    const made = await e2e.browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' })
    const { context, page } = await loginAs(e2e, 'alice', { context: made })
    try {
      const link = page.locator(`[data-testid="conversation"][data-conversation-id="${conversation.id}"]`)
      await link.click()
      await page
        .locator(`[data-testid="thread"][data-conversation-id="${conversation.id}"]`)
        .waitFor({ timeout: hangBound() })
      // Back in the list, as a keyboard user going through it beside the thread.
      await link.focus()
      expect(await focusedDrawn(page)).toEqual({ what: 'a conversation', drawn: true })

      // The window narrowed (a rotated tablet, a window made smaller): the list is drawn nowhere now, the thread is.
      await page.setViewportSize({ width: 375, height: 667 })
      expect(await page.getByTestId('conversation-list').isVisible()).toBe(false)
      await expect.poll(() => focusedDrawn(page)).toEqual({ what: 'textarea composer', drawn: true })

      // Focus elsewhere (the header's navigation): a narrowing takes nothing from it (a rotation brings up no keyboard).
      await page.setViewportSize({ width: 1024, height: 768 })
      const nav = page.getByRole('link', { name: 'Lessons' })
      await nav.focus()
      await page.setViewportSize({ width: 375, height: 667 })
      await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))))
      expect(await nav.evaluate((el) => el === document.activeElement)).toBe(true)
    } finally {
      await context.close()
    }
  })
})
