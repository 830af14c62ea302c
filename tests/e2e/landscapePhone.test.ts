import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { aliceBobThread, e2ePerFile, loginAs, openThread } from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * A phone held in landscape (740×360, 844×390, 915×412) is wide enough for the two-pane Messages layout, but the
 * header, its navigation tabs, the thread's heading and the composer took nearly all of its height: the open thread's
 * message list was about 67 px tall, one message at a time. The list keeps a fair share of the screen, and the
 * composer stays on it.
 */

/** The message list's drawn height, the composer's box and the window's height, in px. */
const room = (page: Page, list: string) =>
  page.evaluate((selector) => {
    const el = document.querySelector<HTMLElement>(selector)
    const composer = document.querySelector<HTMLElement>('[data-testid="composer"]')
    const r = el?.getBoundingClientRect()
    const c = composer?.getBoundingClientRect()
    return {
      list: r ? Math.round(Math.min(r.bottom, window.innerHeight) - Math.max(r.top, 0)) : 0,
      composerTop: c ? Math.round(c.top) : -1,
      composerBottom: c ? Math.round(c.bottom) : -1,
      viewport: window.innerHeight,
    }
  }, list)

describe('a long conversation open on a phone in landscape', { timeout: 180_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    [740, 360],
    [844, 390],
    [915, 412],
  ] as const)(
    '%i×%i: the message list shows a fair share of the screen, and the composer is on it',
    async (width, height) => {
      const conversationId = await aliceBobThread(e2e, 30)
      const made = await e2e.browser.newContext({ viewport: { width, height }, locale: 'en-US' })
      const { context, page } = await loginAs(e2e, 'alice', { context: made })
      try {
        const selector = await openThread(page, conversationId, 30)
        const composer = page.getByTestId('composer')
        await composer.waitFor({ timeout: hangBound() })
        // Opening the thread puts focus in the composer, which brings the thread, whole, on screen.
        await expect
          .poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid')))
          .toBe('composer')
        const seen = await room(page, selector)
        expect(seen.list, `message list ${seen.list} px of ${seen.viewport}`).toBeGreaterThanOrEqual(
          0.4 * seen.viewport,
        )
        expect(seen.composerTop).toBeGreaterThanOrEqual(0)
        expect(seen.composerBottom).toBeLessThanOrEqual(seen.viewport)
        // The page itself does not scroll; the app scrolls by its header's height, no further (no blank space below).
        expect(
          await page.evaluate(() => document.documentElement.scrollHeight - document.documentElement.clientHeight),
        ).toBe(0)
        const app = await page.evaluate(() => {
          const shell = document.querySelector<HTMLElement>('.shell')
          const header = document.querySelector<HTMLElement>('.topbar')
          return { overflow: shell ? shell.scrollHeight - shell.clientHeight : -1, header: header?.offsetHeight ?? -1 }
        })
        expect(app.overflow).toBeLessThanOrEqual(app.header)
      } finally {
        await context.close()
      }
    },
  )
  // WCAG 1.4.10: a 1280x1024 screen zoomed to 400 % (320x256), and one only short: the thread reflows, scrolled one
  // way only, its composer whole on screen.
  it.each([
    [320, 256],
    [1024, 256],
  ] as const)('%i×%i: the open thread scrolls one way only, its composer on screen', async (width, height) => {
    const conversationId = await aliceBobThread(e2e, 10, () => 'bob')
    const made = await e2e.browser.newContext({ viewport: { width, height }, locale: 'en-US' })
    const { context, page } = await loginAs(e2e, 'alice', { context: made })
    try {
      const selector = await openThread(page, conversationId, 10)
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('composer')
      const seen = await room(page, selector)
      expect(seen.list).toBeGreaterThan(0)
      expect(seen.composerTop).toBeGreaterThanOrEqual(0)
      expect(seen.composerBottom).toBeLessThanOrEqual(seen.viewport)
      const sideways = await page.evaluate(() =>
        [document.documentElement, document.querySelector<HTMLElement>('.shell')].map((el) =>
          el ? el.scrollWidth - el.clientWidth : -1,
        ),
      )
      expect(sideways).toEqual([0, 0])
    } finally {
      await context.close()
    }
  })
})
