import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { aliceBobThread, e2ePerFile, loginAs, openThread } from './support/app'

/**
 * The app fills the window and scrolls inside its panes (the message list, the conversation list), never as a page.
 * With a conversation open whose messages overflowed their list, the page itself could be scrolled down through
 * thousands of pixels of blank background: each message's hidden "You:" / "Bob Okafor:" label (`.sr-only`, absolutely
 * positioned) sat where its message sat in the list's full height, outside the list's scroll box, and stretched the
 * page. A swipe that ran past the list's end (scroll chaining), a wheel over the header, or a screen reader moving
 * through those labels scrolled the whole app off the screen.
 */

/** How far the page itself can scroll, in px (0: it fits the window). */
const pageOverflow = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollHeight - document.documentElement.clientHeight)

describe('a long conversation open', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  it.each([
    ['desktop', { width: 1280, height: 800 }],
    ['phone', { width: 360, height: 740 }],
  ] as const)('%s: the page does not scroll, only the message list does', async (_name, viewport) => {
    const conversationId = await aliceBobThread(e2e, 30)
    const made = await e2e.browser.newContext({ viewport, locale: 'en-US' })
    const { context, page } = await loginAs(e2e, 'alice', { context: made })
    try {
      expect(await pageOverflow(page)).toBe(0)
      const list = page.locator(await openThread(page, conversationId, 30))
      // The list does overflow: it is the one that scrolls.
      expect(await list.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true)
      expect(await pageOverflow(page)).toBe(0)
    } finally {
      await context.close()
    }
  })
})
