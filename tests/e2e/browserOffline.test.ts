import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  badge,
  e2ePerFile,
  gotoConversation,
  loginAs,
  messagesWithText,
  openConversationWith,
  openTab,
  roleOf,
  send,
  storedTexts,
  unique,
  waitNotOnline,
  waitOnline,
} from './support/app'
import { hangBound } from '../support/hangBound'

// offline.test.ts cuts the socket on the server (HTTP still works). Here the browser itself loses the network
// (`setOffline`: the socket and every request fail, the page hears `offline` and later `online`), in both tabs of one
// user, with the app used meanwhile: two sends, a draft, a move to another page and back, and a tab reloaded.

/** Every sentence the page's live regions are given (each is a node of its own, see Announcer.tsx), in order. */
function recordAnnouncements() {
  const said: string[] = []
  ;(window as { said?: string[] }).said = said
  new MutationObserver((records) => {
    for (const record of records)
      for (const node of record.addedNodes) {
        const region = node.parentElement?.getAttribute('data-testid')
        if (region?.startsWith('announcer-')) said.push(`${region.slice('announcer-'.length)}: ${node.textContent}`)
      }
  }).observe(document, { childList: true, subtree: true })
}

const announced = (page: Page) => page.evaluate(() => (window as { said?: string[] }).said ?? [])

const focusedTestId = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))

/** The texts of the thread's last `n` messages, each with its status. */
const lastMessages = (page: Page, n: number) =>
  page
    .getByTestId('message')
    .evaluateAll(
      (nodes, n) =>
        nodes.slice(-n).map((m) => [m.querySelector('.msg-body')?.textContent, m.getAttribute('data-status')]),
      n,
    )

describe('the browser offline, in both tabs of one user', () => {
  const e2e = e2ePerFile()

  it('sends wait pending and go once each, in order; the draft stays; every tab says so, and comes back', async () => {
    const alice = await loginAs(e2e, 'alice', { initScript: recordAnnouncements })
    const bob = await loginAs(e2e, 'bob')
    try {
      const id = await openConversationWith(alice.page, 'Bob')
      const other = await openTab(alice, `${e2e.url}/#/messages/${encodeURIComponent(id)}`)
      const tabs = [alice.page, other]
      await gotoConversation(bob.page, id)
      // One tab holds the browser's socket, the other goes through it: both kinds lose the network.
      await expect
        .poll(async () => (await Promise.all(tabs.map(roleOf))).sort(), { timeout: hangBound() })
        .toEqual(['follower', 'leader'])
      // A third tab on the thread, kept open through it all (the second one is reloaded offline below).
      const kept = await openTab(alice, `${e2e.url}/#/messages/${encodeURIComponent(id)}`)

      await alice.context.setOffline(true)
      // Not "online" in either tab, each saying that the connection is lost (assertively); Bob's stays online.
      for (const tab of tabs) {
        await waitNotOnline(tab)
        await expect
          .poll(async () => (await announced(tab)).some((s) => s.startsWith('assertive: Connection lost.')), {
            timeout: hangBound(),
          })
          .toBe(true)
      }
      expect(await badge(bob.page).getAttribute('data-status')).toBe('connected')

      const first = unique('First while offline')
      const second = unique('Second while offline')
      await send(alice.page, first)
      await send(alice.page, second)
      const pending = alice.page.locator('[data-testid="message"][data-status="pending"]')
      await pending.nth(1).waitFor({ timeout: hangBound() })
      expect(await lastMessages(alice.page, 2)).toEqual([
        [first, 'pending'],
        [second, 'pending'],
      ])
      await expect.poll(() => pending.last().locator('.msg-meta').textContent()).toBe('Sending…')
      // Alice's other tabs show them too, pending and in order, with nothing to do there: only the tab holding the send
      // lock takes the stored sends in, and these showed nothing (taken for lost, they would be written again).
      for (const tab of [other, kept]) {
        await expect
          .poll(() => lastMessages(tab, 2), { timeout: hangBound() })
          .toEqual([
            [first, 'pending'],
            [second, 'pending'],
          ])
        expect(await tab.getByTestId('message').getByRole('button').count()).toBe(0)
      }

      // A draft, then the lessons page and back to the thread: the draft is still there, and the sends still wait.
      const draft = unique('A draft typed offline')
      await alice.page.getByTestId('composer').fill(draft)
      await alice.page.getByTestId('nav-lessons').click()
      await alice.page.getByRole('heading', { level: 1, name: 'Lessons' }).waitFor({ timeout: hangBound() })
      await gotoConversation(alice.page, id)
      expect(await alice.page.getByTestId('composer').inputValue()).toBe(draft)
      await expect.poll(() => focusedTestId(alice.page), { timeout: hangBound() }).toBe('composer')
      expect(await lastMessages(alice.page, 2)).toEqual([
        [first, 'pending'],
        [second, 'pending'],
      ])
      expect(await storedTexts(e2e, id)).not.toContain(first)

      // The other tab reloaded with no network: no copy of the app is kept offline today, so the browser says it cannot
      // load the page (its own error page); a page that did come up from a copy must not say it is online.
      const reloaded = await other.reload().then(
        () => null,
        (error: Error) => error.message,
      )
      if (reloaded === null) await waitNotOnline(other)
      else expect(reloaded).toContain('ERR_INTERNET_DISCONNECTED')

      await alice.context.setOffline(false)
      await waitOnline(alice.page)
      // Sent, once each and in order, for Alice and for Bob; stored once each; nothing left "Sending…".
      for (const page of [alice.page, bob.page])
        await messagesWithText(page, second).and(page.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
      expect(await lastMessages(alice.page, 2)).toEqual([
        [first, 'sent'],
        [second, 'sent'],
      ])
      expect(await lastMessages(bob.page, 2)).toEqual([
        [first, 'sent'],
        [second, 'sent'],
      ])
      expect(await alice.page.locator('[data-status="pending"]').count()).toBe(0)
      expect((await storedTexts(e2e, id)).filter((t) => t === first || t === second)).toEqual([first, second])
      expect(await alice.page.getByTestId('composer').inputValue()).toBe(draft)
      await expect.poll(() => focusedTestId(alice.page), { timeout: hangBound() }).toBe('composer')
      // The tab that could not reload comes up once reloaded online, with both messages once each and nothing pending.
      await other.reload()
      await waitOnline(other)
      await messagesWithText(other, second).and(other.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
      expect(await lastMessages(other, 2)).toEqual([
        [first, 'sent'],
        [second, 'sent'],
      ])
      expect(await other.locator('[data-status="pending"]').count()).toBe(0)
      // The tab kept open shows each once, sent: the confirmation took the place of the other tab's copy.
      await expect
        .poll(() => lastMessages(kept, 2), { timeout: hangBound() })
        .toEqual([
          [first, 'sent'],
          [second, 'sent'],
        ])
      for (const text of [first, second]) expect(await messagesWithText(kept, text).count()).toBe(1)
      expect(await kept.locator('[data-status="pending"]').count()).toBe(0)

      // Said in the tab kept open: the loss, then that it is back (nothing said as lost again after that).
      const said = await announced(alice.page)
      const lost = said.findIndex((s) => s.startsWith('assertive: Connection lost.'))
      expect(lost).toBeGreaterThanOrEqual(0)
      expect(said.slice(lost + 1)).toContain('polite: Connection back: online.')
      expect(said.slice(lost + 1).filter((s) => s.startsWith('assertive:'))).toEqual([])
    } finally {
      await alice.context.setOffline(false).catch(() => {})
      await alice.context.close()
      await bob.context.close()
    }
  })
})
