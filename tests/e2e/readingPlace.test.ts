import type { Locator, Route } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  apiCall,
  aliceAndCarolWithForty,
  blockSockets,
  e2ePerFile,
  gotoConversation,
  loginAs,
  messagesWithText,
  send,
  unique,
  waitNotOnline,
  waitOnline,
} from './support/app'
import { hangBound } from '../support/hangBound'

// A message written while nothing reaches the server waits, shown as "Sending…". The reader meanwhile scrolls up to
// read the history; when the server is back and confirms it, the thread must not pull them back to the bottom: only a
// message they have just written does that.

const POST_MESSAGE = /\/api\/conversations\/[^/]+\/messages$/

function dropConnection(route: Route) {
  if (route.request().method() !== 'POST') return route.fallback()
  return route.abort('internetdisconnected')
}

/** The reader scrolls `list` to its top; resolves once the page has seen the scroll event, as a user's would be. */
function scrollToTop(list: Locator) {
  return list.evaluate(
    (el) =>
      new Promise<void>((resolve) => {
        el.addEventListener('scroll', () => resolve(), { once: true })
        el.scrollTop = 0
      }),
  )
}

describe('reading up the thread while a message waits to be sent', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile()

  /**
   * Alice's conversation with Carol, 40 messages (`${word} 1`…`${word} 40`, each in turn), open on Alice's page at
   * its newest. The page's context is closed if the thread never shows.
   */
  async function aliceReadingForty(word: string) {
    const { a, c, conversation } = await aliceAndCarolWithForty(e2e, word)
    const alice = await loginAs(e2e, 'alice')
    try {
      await gotoConversation(alice.page, conversation.id)
      await messagesWithText(alice.page, `${word} 40`).waitFor({ timeout: hangBound() })
    } catch (error) {
      await alice.context.close()
      throw error
    }
    return { a, c, conversation, alice }
  }

  it('keeps the reader where they are when that message is confirmed', async () => {
    const { a, alice } = await aliceReadingForty('History')
    const { page } = alice
    try {
      blockSockets(e2e, a.user.id, 10 * 60_000)
      await page.route(POST_MESSAGE, dropConnection)
      await waitNotOnline(page)
      const text = unique('Written while offline')
      await send(page, text)
      await messagesWithText(page, text).and(page.locator('[data-status="pending"]')).waitFor({ timeout: hangBound() })

      // The reader goes up to the start of what is shown.
      const list = page.getByTestId('message-list')
      await scrollToTop(list)
      expect(await list.evaluate((el) => el.scrollHeight - el.clientHeight)).toBeGreaterThan(500)

      await page.unroute(POST_MESSAGE, dropConnection)
      blockSockets(e2e, a.user.id, 0)
      await page.evaluate(() => window.dispatchEvent(new Event('online')))
      await waitOnline(page)
      // The confirmed copy is drawn with the scroll position it leaves (a layout effect, in the same commit).
      await messagesWithText(page, text).and(page.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
      expect(await list.evaluate((el) => el.scrollTop)).toBe(0)

      // A message the reader writes now still brings them down to it.
      const next = unique('Written from up there')
      await send(page, next)
      await messagesWithText(page, next).and(page.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
      expect(await list.evaluate((el) => el.scrollHeight - el.clientHeight - el.scrollTop)).toBeLessThan(2)
    } finally {
      blockSockets(e2e, a.user.id, 0)
      await alice.context.close()
    }
  })

  it('shows a message that comes below the reader by a button over the list, which takes them to it', async () => {
    const { c, conversation, alice } = await aliceReadingForty('Earlier')
    const { page } = alice
    try {
      const list = page.getByTestId('message-list')
      await scrollToTop(list)
      const text = unique('From Carol below')
      await apiCall(e2e, c.token, 'POST', `/api/conversations/${conversation.id}/messages`, {
        content: text,
        clientId: crypto.randomUUID(),
      })
      await messagesWithText(page, text).waitFor({ timeout: hangBound() })
      const button = page.getByRole('button', { name: 'New message below' })
      await button.waitFor({ timeout: hangBound() })
      expect(await list.evaluate((el) => el.scrollTop)).toBe(0)
      // Drawn over the list's foot, and nothing over it: a click lands on it.
      const [box, view] = await Promise.all([button.boundingBox(), list.boundingBox()])
      expect(box!.y).toBeGreaterThan(view!.y)
      expect(box!.y + box!.height).toBeLessThanOrEqual(view!.y + view!.height)
      await button.click()
      await button.waitFor({ state: 'detached', timeout: hangBound() })
      expect(await list.evaluate((el) => el.scrollHeight - el.clientHeight - el.scrollTop)).toBeLessThan(2)
      expect(await list.evaluate((el) => el === document.activeElement)).toBe(true)
    } finally {
      await alice.context.close()
    }
  })
})
