import { describe, expect, it } from 'vitest'
import { e2ePerFile, endSessionElsewhere, loginAs } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * WCAG 2.4.3 / 1.3.2: at 480 px and below the header drew the language switch before Log out (CSS `order`), while Tab
 * went Log out, EN, FR: the keyboard went backwards across what the eye reads left to right. The header's controls,
 * in Tab order, are drawn in that order on every width.
 */
describe('the header at phone width', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    ['English', 'en-US', 375],
    ['French', 'fr-FR', 360],
  ] as const)(
    '%s (%s) at %i px, Tab goes through the header controls in the order they are drawn, all in view',
    async (_language, locale, width) => {
      const made = await e2e.browser.newContext({ viewport: { width, height: 667 }, locale })
      const { context, page } = await loginAs(e2e, 'alice', { context: made })
      const controls = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('.topbar-row button, .topbar-row a')].map((el) => {
          const r = el.getBoundingClientRect()
          return {
            name: el.textContent?.trim() ?? '',
            top: Math.round(r.top),
            left: Math.round(r.left),
            inView: r.left >= 0 && r.right <= window.innerWidth,
          }
        }),
      )
      const domOrder = controls.map((c) => c.name)
      // Reading order: line by line (a line is the same top, give or take), left to right within it.
      const drawn = [...controls]
        .sort((a, b) => (Math.abs(a.top - b.top) > 8 ? a.top - b.top : a.left - b.left))
        .map((c) => c.name)
      expect(domOrder).toEqual(drawn)
      expect(controls.filter((c) => !c.inView).map((c) => c.name)).toEqual([])
      await context.close()
    },
  )

  // WCAG 1.4.10: at 320 px (400 % zoom) in French the name beside "Déconnexion" was cut to its first letter ("A…" for
  // Alice Martin), the only place the page says who is logged in.
  it.each([
    ['French', 'fr-FR', 320, 'alice'],
    ['French', 'fr-FR', 360, 'carol'],
    ['English', 'en-US', 320, 'carol'],
  ] as const)('%s (%s) at %i px, %s: the name in the header shows whole', async (_language, locale, width, who) => {
    const made = await e2e.browser.newContext({ viewport: { width, height: 667 }, locale })
    const { context, page } = await loginAs(e2e, who, { context: made })
    try {
      const name = page.getByTestId('current-user')
      const shown = await name.evaluate((el) => ({ needs: el.scrollWidth, has: el.clientWidth }))
      expect(shown.needs, `the name needs ${shown.needs} px and has ${shown.has}`).toBeLessThanOrEqual(shown.has)
    } finally {
      await context.close()
    }
  })

  it.each([
    ['French', 'fr-FR', 360],
    ['English', 'en-US', 320],
  ] as const)(
    '%s (%s) at %i px with the session expired: "Log in again" in view, over nothing, and the name still shown',
    async (_language, locale, width) => {
      const made = await e2e.browser.newContext({ viewport: { width, height: 667 }, locale })
      const { context, page } = await loginAs(e2e, 'alice', { context: made })
      try {
        await endSessionElsewhere(e2e, page)
        await page
          .locator('[data-testid="connection-badge"][data-status="unauthorized"]')
          .waitFor({ timeout: hangBound() })
        const header = await page.evaluate(() => {
          const box = (el: Element) => {
            const r = el.getBoundingClientRect()
            return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width }
          }
          const brand = box(document.querySelector('.topbar-row .brand')!)
          const controls = [...document.querySelectorAll<HTMLElement>('.topbar-row button')].map((el) => ({
            name: el.textContent?.trim() ?? '',
            ...box(el),
          }))
          return {
            // Tab order, and the order they are drawn in: line by line (the same top, give or take), left to right.
            domOrder: controls.map((c) => c.name),
            drawn: [...controls]
              .sort((a, b) => (Math.abs(a.top - b.top) > 8 ? a.top - b.top : a.left - b.left))
              .map((c) => c.name),
            outOfView: controls.filter((c) => c.left < 0 || c.right > window.innerWidth).map((c) => c.name),
            overBrand: controls
              .filter(
                (c) => c.left < brand.right && c.right > brand.left && c.top < brand.bottom && c.bottom > brand.top,
              )
              .map((c) => c.name),
            nameWidth: box(document.querySelector('[data-testid="current-user"]')!).width,
          }
        })
        expect(header.outOfView).toEqual([])
        expect(header.domOrder).toEqual(header.drawn)
        expect(header.overBrand).toEqual([])
        expect(header.nameWidth).toBeGreaterThan(0)
      } finally {
        await context.close()
      }
    },
  )
})
