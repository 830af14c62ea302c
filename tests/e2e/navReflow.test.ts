import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { apiCall, apiLogin, e2ePerFile, loginAs, unique } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * WCAG 1.4.10 (reflow at 320 CSS px, a 1280 px screen zoomed to 400 %): a tutor with news on every tab (unread
 * messages, a pending lesson, a pending request) saw the header's last tab cut at the screen's edge, its count clipped
 * in a scroll box with no scroll bar to show there was more. Every tab, with its count, stays on the screen.
 */

/** Each main navigation link's box, and the screen's width. */
const navBoxes = (page: Page) =>
  page.evaluate(() => {
    const width = document.documentElement.clientWidth
    const links = [...document.querySelectorAll<HTMLElement>('nav .nav a')].map((a) => {
      const r = a.getBoundingClientRect()
      return { name: a.textContent?.trim() ?? '', left: Math.floor(r.left), right: Math.ceil(r.right) }
    })
    return { width, links }
  })

describe('the main navigation at 320 px', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    ['English', 'en-US'],
    ['French', 'fr-FR'],
  ] as const)('%s: every tab and its count is drawn inside the screen', async (_language, locale) => {
    // Carol has a pending lesson and a pending request in the seed; a dozen unread messages make the first count two
    // digits wide.
    const alice = await apiLogin(e2e, 'alice')
    for (let i = 0; i < 12; i++) {
      await apiCall(e2e, alice.token, 'POST', '/api/conversations/conv-alice-carol/messages', {
        content: unique('unread'),
        clientId: crypto.randomUUID(),
      })
    }
    const made = await e2e.browser.newContext({ viewport: { width: 320, height: 640 }, locale })
    const { context, page } = await loginAs(e2e, 'carol', { context: made })
    try {
      for (const tab of ['nav-messages', 'nav-lessons', 'nav-contactRequests']) {
        await page.locator(`[data-testid="${tab}"] .count`).waitFor({ timeout: hangBound() })
      }
      const { width, links } = await navBoxes(page)
      expect(links).toHaveLength(3)
      const outside = links.filter((l) => l.left < 0 || l.right > width)
      expect(outside, `screen ${width} px wide`).toEqual([])
    } finally {
      await context.close()
    }
  })
})
