import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { apiCall, apiLogin, e2ePerFile, loginAs, unique } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * WCAG 2.4.11 (Focus Not Obscured, AA): a control that gets keyboard focus is not hidden whole behind the toasts. On a
 * phone the toast region spans the screen's width near its foot; a card's button drawn behind it, once tabbed to, was
 * in view as far as the browser could tell, so nothing scrolled it out from under the toast, and the keyboard user
 * could not see where they were (nor the toast go, while the pointer rests on it).
 */

/** The focused element's part inside the page's scrolling region, and the toast region's box, in viewport pixels. */
const focusAndToasts = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null
    const main = document.getElementById('main')
    const toasts = document.querySelector('.toasts')
    if (!el || !main || !toasts || !main.contains(el) || el === main) return null
    const r = el.getBoundingClientRect()
    const m = main.getBoundingClientRect()
    const t = toasts.getBoundingClientRect()
    const seen = {
      top: Math.max(r.top, m.top),
      bottom: Math.min(r.bottom, m.bottom),
      left: Math.max(r.left, m.left),
      right: Math.min(r.right, m.right),
    }
    const hidden =
      seen.top >= t.top && seen.bottom <= t.bottom && seen.left >= t.left && seen.right <= t.right && t.height > 0
    return { what: `${el.tagName.toLowerCase()} "${el.textContent?.trim() ?? ''}"`, hidden }
  })

describe('focus not obscured by the toasts (WCAG 2.4.11)', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it('at 360 px, tabbing through the lessons page never lands on a control hidden whole behind a toast', async () => {
    const alice = await apiLogin(e2e, 'alice')
    const bob = await apiLogin(e2e, 'bob')
    // Enough pending lessons (each card with Confirm and Cancel) to fill the screen and more.
    for (let i = 0; i < 8; i++) {
      await apiCall(e2e, alice.token, 'POST', '/api/lessons', {
        tutorId: bob.user.id,
        subject: unique(`Covered ${i}`),
        startsAt: new Date(Date.now() + (2 + i) * 24 * 3600_000).toISOString(),
        durationMinutes: 60,
      })
    }
    const { context, page } = await loginAs(e2e, 'bob', { viewport: { width: 360, height: 740 } })
    try {
      await page.getByTestId('nav-lessons').click()
      await page.locator('[data-testid="lesson"] button').first().waitFor({ timeout: hangBound() })
      // Two toasts: Alice's request, declined on Bob's other device, and her next one.
      const first = await apiCall<{ id: string }>(e2e, alice.token, 'POST', '/api/contact-requests', {
        tutorId: bob.user.id,
        message: unique('Hi'),
      })
      await apiCall(e2e, bob.token, 'PATCH', `/api/contact-requests/${first.id}`, { status: 'declined' })
      await apiCall(e2e, alice.token, 'POST', '/api/contact-requests', { tutorId: bob.user.id, message: unique('Hi') })
      await expect.poll(() => page.getByTestId('toast').count(), { timeout: hangBound() }).toBe(2)
      const toast = page.getByTestId('toast').first()
      // The pointer resting on the toast keeps it (WCAG 2.2.1), as it keeps for someone reading it.
      const box = (await toast.boundingBox())!
      await page.mouse.move(box.x + 8, box.y + box.height / 2)
      await page.locator('h1').focus()
      const hiddenWhole: string[] = []
      for (let i = 0; i < 20; i++) {
        await page.keyboard.press('Tab')
        const now = await focusAndToasts(page)
        if (now?.hidden) hiddenWhole.push(now.what)
      }
      expect(await toast.isVisible()).toBe(true)
      expect(hiddenWhole).toEqual([])
    } finally {
      await context.close()
    }
  })
})
