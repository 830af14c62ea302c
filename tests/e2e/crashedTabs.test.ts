import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { apiLogin, blockSockets, e2ePerFile, loginAs, messagesWithText, WAIT } from './support/app'
import { crashTab, messageHeldInMemory } from './support/tabs'

// One socket per browser when a tab dies without a word: its renderer crashes (CDP `Page.crash`), so no `pagehide`,
// no goodbye on the channel; the browser frees the Web Locks it held.

/** The names of the Web Locks held and asked for in the page's origin (every tab of its context shares them). */
const lockNames = (page: Page) =>
  page.evaluate(async () => {
    const { held = [], pending = [] } = await navigator.locks.query()
    return { held: held.map((l) => l.name ?? ''), pending: pending.map((l) => l.name ?? '') }
  })

describe('one socket per browser, when a tab crashes', { timeout: 180_000 }, () => {
  const e2e = e2ePerFile()

  it('"Log out" asks nothing about a message only a crashed tab held (storage full): it went with that tab', async () => {
    const alice = await loginAs(e2e, 'alice')
    const { user } = await apiLogin(e2e, 'alice')
    try {
      const { other, text } = await messageHeldInMemory(
        e2e,
        alice,
        user.id,
        'Written offline, storage full, then the tab crashed',
      )
      const pageLocks = (names: string[]) => names.filter((n) => /\.tab\.[^.]+$/.test(n))
      // Asked after the tab's own channel heard the message (a BroadcastChannel delivers in creation order), so after
      // whatever that made the tab ask of the locks: the browser has it before the crash below.
      expect(pageLocks((await lockNames(alice.page)).held)).toHaveLength(2)

      await crashTab(other)
      // The browser frees the crashed tab's page lock, and the tabs watching it have heard (their watch let go).
      await expect
        .poll(
          async () => {
            const { held, pending } = await lockNames(alice.page)
            return { held: pageLocks(held).length, pending: pageLocks(pending).length }
          },
          { timeout: WAIT },
        )
        .toEqual({ held: 1, pending: 0 })

      const dialogs: string[] = []
      const asked = alice.page
        .waitForEvent('dialog', { timeout: WAIT })
        .then((dialog) => {
          dialogs.push(dialog.message())
          return dialog.dismiss()
        })
        // Not asked: the page logs out and closes with the context, and this wait ends unanswered.
        .catch(() => {})
      await alice.page.getByRole('button', { name: 'Log out' }).click()
      // Logged out (the login page), or asked first: whichever comes.
      await Promise.race([asked, alice.page.getByTestId('demo-alice').waitFor({ timeout: WAIT })])
      expect(dialogs).toEqual([])
      expect(await messagesWithText(alice.page, text).count()).toBe(0)
    } finally {
      blockSockets(e2e, user.id, 0)
      await alice.context.close()
    }
  })
})
