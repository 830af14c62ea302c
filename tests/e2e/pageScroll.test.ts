import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { apiCall, apiLogin, e2ePerFile, loginAs, unique, WAIT } from './support/app'

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
    const alice = await apiLogin(e2e, 'alice')
    const bob = await apiLogin(e2e, 'bob')
    const conversation = await apiCall<{ id: string }>(e2e, alice.token, 'POST', '/api/conversations', {
      participantId: bob.user.id,
    })
    for (let i = 0; i < 30; i++) {
      await apiCall(e2e, i % 2 ? bob.token : alice.token, 'POST', `/api/conversations/${conversation.id}/messages`, {
        content: unique(`line ${i}`),
        clientId: crypto.randomUUID(),
      })
    }
    const made = await e2e.browser.newContext({ viewport, locale: 'en-US' })
    const { context, page } = await loginAs(e2e, 'alice', { context: made })
    try {
      expect(await pageOverflow(page)).toBe(0)
      await page.locator(`[data-testid="conversation"][data-conversation-id="${conversation.id}"]`).click()
      const list = page.locator(
        `[data-testid="thread"][data-conversation-id="${conversation.id}"] [data-testid="message-list"]`,
      )
      await list.locator('[data-testid="message"]').nth(29).waitFor({ timeout: WAIT })
      // The list does overflow: it is the one that scrolls.
      expect(await list.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true)
      expect(await pageOverflow(page)).toBe(0)
    } finally {
      await context.close()
    }
  })
})
