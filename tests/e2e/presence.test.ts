import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { Conversation, Message } from '../../src/contract'
import {
  aliceBobThread,
  apiCall,
  apiLogin,
  e2ePerFile,
  gotoConversation,
  loginAs,
  messagesWithText,
  openConversationWith,
  shot,
  unique,
} from './support/app'
import { hangBound } from '../support/hangBound'

// Presence, typing and read receipts between two browser contexts (CONTRACT.md, "Presence, typing, read receipts").
// A short grace period keeps the "goes offline" step quick; the server's clock is the real one.

/** A screenshot at desktop width and at 360 px, then back to desktop. */
async function shots(page: Page, name: string) {
  await shot(page, `${name}-desktop`)
  await page.setViewportSize({ width: 360, height: 740 })
  await shot(page, `${name}-360`)
  await page.setViewportSize({ width: 1280, height: 800 })
}

describe('presence, typing and read receipts in a real browser', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile({ server: { presenceGraceSeconds: 1 } })

  it('Bob sees Alice come online, type, write and go offline; Alice sees "Seen" once Bob has read, also after a reload', async () => {
    const bob = await loginAs(e2e, 'bob')
    let alice: Awaited<ReturnType<typeof loginAs>> | undefined
    try {
      const id = await openConversationWith(bob.page, 'Alice')
      const header = bob.page.getByTestId('thread').locator('.thread-head').getByTestId('presence')
      await header.and(bob.page.locator('[data-online="false"]')).waitFor({ timeout: hangBound() })

      // Alice logs in: Bob's header and list say she is online, without a reload.
      alice = await loginAs(e2e, 'alice')
      await header.and(bob.page.locator('[data-online="true"]')).waitFor({ timeout: hangBound() })
      const listed = bob.page
        .locator(`[data-testid="conversation"][data-conversation-id="${id}"]`)
        .getByTestId('presence')
      await listed.and(bob.page.locator('[data-online="true"]')).waitFor({ timeout: hangBound() })
      await shots(bob.page, 'presence-bob-sees-alice-online')

      // Alice types: Bob sees it under the thread.
      await gotoConversation(alice.page, id)
      const text = unique('Are we still on for Thursday?')
      const composer = alice.page.getByTestId('composer')
      await composer.pressSequentially(text.slice(0, 12), { delay: 50 })
      const typing = bob.page.getByTestId('typing')
      await typing.filter({ hasText: 'Alice Martin is typing…' }).waitFor({ timeout: hangBound() })
      await shots(bob.page, 'presence-bob-sees-alice-typing')

      // She sends: the message arrives and the line is empty at once (not 5 s later).
      await composer.fill(text)
      await composer.press('Enter')
      await messagesWithText(bob.page, text).waitFor({ timeout: hangBound() })
      expect(await typing.textContent()).toBe('')
      await shots(bob.page, 'presence-bob-got-message')

      // Bob had the thread open, so he has read it: Alice sees "Seen" under her message.
      const sent = messagesWithText(alice.page, text)
      await sent.getByTestId('seen').waitFor({ timeout: hangBound() })
      await shots(alice.page, 'presence-alice-sees-seen')

      // Bob looks away; Alice writes again: no "Seen" under the new one until he opens the thread.
      await bob.page.getByTestId('nav-lessons').click()
      await bob.page.getByTestId('thread').waitFor({ state: 'detached', timeout: hangBound() })
      const second = unique('Let me know')
      await composer.fill(second)
      await composer.press('Enter')
      await messagesWithText(alice.page, second)
        .and(alice.page.locator('[data-status="sent"]'))
        .waitFor({ timeout: hangBound() })
      expect(await messagesWithText(alice.page, second).getByTestId('seen').count()).toBe(0)
      await gotoConversation(bob.page, id)
      await messagesWithText(alice.page, second).getByTestId('seen').waitFor({ timeout: hangBound() })
      // One "Seen", under the last message he has read.
      expect(await alice.page.getByTestId('seen').count()).toBe(1)

      // After a reload, from the conversation list's readSeq.
      await alice.page.reload()
      await messagesWithText(alice.page, second).getByTestId('seen').waitFor({ timeout: hangBound() })
      await shots(alice.page, 'presence-alice-sees-seen-after-reload')

      // Alice closes the app: after the grace period Bob sees her offline, with when she was last seen.
      await alice.context.close()
      alice = undefined
      await header.and(bob.page.locator('[data-online="false"]')).waitFor({ timeout: hangBound() })
      expect(await header.textContent()).toMatch(/last seen/)
      await shots(bob.page, 'presence-bob-sees-alice-offline')
    } finally {
      await alice?.context.close()
      await bob.context.close()
    }
  })

  it('two people who start their first conversation see each other online at once, without a reload', async () => {
    const bob = await loginAs(e2e, 'bob')
    const carol = await loginAs(e2e, 'carol')
    try {
      // Bob and Carol share no conversation yet: neither may know whether the other is online.
      const id = await openConversationWith(bob.page, 'Carol')
      const header = bob.page.getByTestId('thread').locator('.thread-head').getByTestId('presence')
      await header.and(bob.page.locator('[data-online="true"]')).waitFor({ timeout: hangBound() })

      await bob.page.getByTestId('composer').fill(unique('Hello Carol'))
      await bob.page.getByTestId('composer').press('Enter')
      const listed = carol.page
        .locator(`[data-testid="conversation"][data-conversation-id="${id}"]`)
        .getByTestId('presence')
      await listed.and(carol.page.locator('[data-online="true"]')).waitFor({ timeout: hangBound() })
    } finally {
      await carol.context.close()
      await bob.context.close()
    }
  })

  // Review: the thread stayed joined while its reader was scrolled up, so the server marked read (and told the other
  // person "Seen") messages that came below the view, unseen.
  it('a reader scrolled up the thread has not read what comes below until it comes into view', async () => {
    const id = await aliceBobThread(e2e, 30)
    const [a, b] = await Promise.all([apiLogin(e2e, 'alice'), apiLogin(e2e, 'bob')])
    const bob = await loginAs(e2e, 'bob')
    try {
      await gotoConversation(bob.page, id)
      const list = bob.page.getByTestId('message-list')
      await list.getByTestId('message').nth(29).waitFor({ timeout: hangBound() })
      /** Whether one of Bob's sockets is in the conversation's room: the server marks read what comes there. */
      const looking = async () =>
        (await e2e.server.io.in(`conv:${id}`).fetchSockets()).some((s) => s.data.userId === b.user.id)
      /** How far Bob has read, as Alice's conversation list says (her "Seen"). */
      const bobRead = async () =>
        (await apiCall<Conversation[]>(e2e, a.token, 'GET', '/api/conversations')).find((c) => c.id === id)!.readSeq[
          b.user.id
        ] ?? 0
      await expect.poll(looking, { timeout: hangBound() }).toBe(true)

      expect(await list.evaluate((el) => el.scrollHeight - el.clientHeight)).toBeGreaterThan(500)
      await list.evaluate(
        (el) =>
          new Promise<void>((resolve) => {
            el.addEventListener('scroll', () => resolve(), { once: true })
            el.scrollTop = 0
          }),
      )
      await expect.poll(looking, { timeout: hangBound() }).toBe(false)
      const below = await apiCall<Message>(e2e, a.token, 'POST', `/api/conversations/${id}/messages`, {
        content: unique('Below the view'),
        clientId: crypto.randomUUID(),
      })
      await bob.page.getByTestId('new-below').waitFor({ timeout: hangBound() })
      expect(await bobRead()).toBeLessThan(below.seq)

      await bob.page.getByTestId('new-below').click()
      await expect.poll(bobRead, { timeout: hangBound() }).toBe(below.seq)
    } finally {
      await bob.context.close()
    }
  })
})
