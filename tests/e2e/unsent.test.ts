import type { Page, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  apiLogin,
  blockSockets,
  loginAs,
  messagesWithText,
  openConversationWith,
  send,
  shot,
  startE2E,
  unique,
  waitNotOnline,
  WAIT,
  type E2E,
} from './support/app'

/** The HTTP send, which is all Alice has while her socket is refused. */
const POST_MESSAGE = /\/api\/conversations\/[^/]+\/messages$/

function refuse(route: Route) {
  if (route.request().method() !== 'POST') return route.fallback()
  return route.fulfill({
    status: 403,
    contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'FORBIDDEN', message: 'You cannot write here' } }),
  })
}

function dropConnection(route: Route) {
  if (route.request().method() !== 'POST') return route.fallback()
  return route.abort('internetdisconnected')
}

async function messageIn(page: Page, text: string, status: 'pending' | 'sent' | 'failed') {
  const message = messagesWithText(page, text).and(page.locator(`[data-status="${status}"]`))
  await message.waitFor({ timeout: WAIT })
  return message
}

describe('messages the server has not stored', { timeout: 90_000 }, () => {
  let e2e: E2E
  beforeAll(async () => {
    e2e = await startE2E()
  })
  afterAll(async () => {
    await e2e?.close()
  })

  it('a refused message offers Retry and Discard; an unsent one makes logout ask first', async () => {
    const alice = await loginAs(e2e, 'alice')
    const { page } = alice
    try {
      const { user } = await apiLogin(e2e, 'alice')
      await openConversationWith(page, 'Bob')
      // No socket for the whole test: every send goes over HTTP, which the page's routes below decide about.
      blockSockets(e2e, user.id, 85_000)
      await waitNotOnline(page)

      // Refused by the server → failed, with Retry and Discard.
      await page.route(POST_MESSAGE, refuse)
      const retried = unique('Refused, then retried')
      await send(page, retried)
      const failed = await messageIn(page, retried, 'failed')
      await send(page, unique('Refused, then discarded'))
      await shot(page, 'failed-messages-alice-desktop')
      expect(await failed.textContent()).toContain('You cannot write here')

      // Retry once the server accepts it: stored, shown once.
      await page.unroute(POST_MESSAGE, refuse)
      await failed.getByRole('button', { name: 'Retry' }).click()
      await messageIn(page, retried, 'sent')
      expect(await messagesWithText(page, retried).count()).toBe(1)

      // Discard removes the other failed one.
      const discarded = page.locator('[data-testid="message"][data-status="failed"]')
      await discarded.getByRole('button', { name: 'Discard' }).click()
      await discarded.waitFor({ state: 'detached', timeout: WAIT })

      // Unreachable server → the message stays pending (and is retried); logging out asks first.
      await page.route(POST_MESSAGE, dropConnection)
      const stuck = unique('Still waiting for the network')
      await send(page, stuck)
      await messageIn(page, stuck, 'pending')
      await shot(page, 'pending-message-alice-desktop')

      const dialogs: string[] = []
      page.once('dialog', (d) => {
        dialogs.push(d.message())
        void d.dismiss()
      })
      await page.getByRole('button', { name: 'Log out' }).click()
      expect(dialogs).toHaveLength(1)
      expect(dialogs[0]).toContain('not been sent')
      await messageIn(page, stuck, 'pending')
      await page.getByTestId('current-user').waitFor({ timeout: WAIT })

      page.once('dialog', (d) => void d.accept())
      await page.getByRole('button', { name: 'Log out' }).click()
      await page.getByTestId('demo-alice').waitFor({ timeout: WAIT })
    } finally {
      await alice.context.close()
    }
  })
})
