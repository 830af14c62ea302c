import type { Page, Route } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  apiCall,
  apiLogin,
  badge,
  blockSockets,
  e2ePerFile,
  gotoConversation,
  loginAs,
  messagesWithText,
  openConversationWith,
  send,
  shot,
  unique,
  waitNotOnline,
  waitOnline,
} from './support/app'
import { hangBound } from '../support/hangBound'

/**
 * Far longer than any test here: a block is lifted (`blockSockets(userId, 0)`) once what it was for has been observed,
 * never left to run out on a timer, so how long a step takes on a busy machine cannot end it early. The layer's
 * full-jitter backoff may wait up to 30 s before its next try, so once the block is lifted the test says the network
 * is back (`online`), which makes the layer try at once, as a browser does when connectivity returns.
 */
const BLOCK_MS = 10 * 60_000

/** The HTTP send, which is all Carol has while her socket is refused. */
const POST_MESSAGE = /\/api\/conversations\/[^/]+\/messages$/

/**
 * The server refusing a send (INVALID): a refusal of the message, which Retry can send again once the server takes it.
 * A refusal of the conversation itself (FORBIDDEN, NOT_FOUND) would close the thread to more sends and to Retry.
 */
function refuse(route: Route) {
  if (route.request().method() !== 'POST') return route.fallback()
  return route.fulfill({
    status: 400,
    contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'INVALID', message: 'content: not accepted' } }),
  })
}

function dropConnection(route: Route) {
  if (route.request().method() !== 'POST') return route.fallback()
  return route.abort('internetdisconnected')
}

async function messageIn(page: Page, text: string, status: 'pending' | 'sent' | 'failed') {
  const message = messagesWithText(page, text).and(page.locator(`[data-status="${status}"]`))
  await message.waitFor({ timeout: hangBound() })
  return message
}

describe('when the socket is cut but HTTP still works, and messages the server has not stored', () => {
  const e2e = e2ePerFile()

  it('sends over HTTP, the other side still sees it, and nothing is duplicated once the socket is back', async () => {
    const alice = await loginAs(e2e, 'alice')
    const bob = await loginAs(e2e, 'bob')
    let aliceId: string | undefined
    try {
      const { user: aliceUser, token: aliceToken } = await apiLogin(e2e, 'alice')
      aliceId = aliceUser.id
      const id = await openConversationWith(alice.page, 'Bob')
      await gotoConversation(bob.page, id)

      const t0 = Date.now()
      // E2E_TRACE=1 prints the steps' timing, for when this test ever needs looking into.
      const log = (m: string) => process.env.E2E_TRACE && console.log(`${Date.now() - t0} ms ${m}`)
      blockSockets(e2e, aliceUser.id, BLOCK_MS)
      await waitNotOnline(alice.page)
      log('not online')
      expect(await badge(alice.page).textContent()).toContain('messages go over HTTP')
      await shot(alice.page, 'offline-alice-desktop')

      const text = unique('Sent while the socket is down')
      const posted = alice.page.waitForRequest(
        (r) => r.method() === 'POST' && r.url().endsWith(`/api/conversations/${encodeURIComponent(id)}/messages`),
        { timeout: hangBound() },
      )
      await send(alice.page, text)
      await posted
      log('posted')
      await messagesWithText(alice.page, text)
        .and(alice.page.locator('[data-status="sent"]'))
        .waitFor({ timeout: hangBound() })
      await messagesWithText(bob.page, text).waitFor({ timeout: hangBound() })
      log('bob sees it')

      // The HTTP send has been seen through: the server accepts Alice's socket again, and the browser reports the
      // network back. Her socket was refused all along (the badge said so before the send, and nothing lifted it).
      blockSockets(e2e, aliceUser.id, 0)
      await alice.page.evaluate(() => window.dispatchEvent(new Event('online')))
      await waitOnline(alice.page).catch(async (e) => {
        log(`badge: ${await badge(alice.page).getAttribute('data-status')}`)
        throw e
      })
      log('online')
      expect(await badge(alice.page).textContent()).toBe('online')

      // A message from Bob after the reconnection reaches Alice live: the socket works again.
      const after = unique('Welcome back')
      await send(bob.page, after)
      await messagesWithText(alice.page, after).waitFor({ timeout: hangBound() })

      expect(await messagesWithText(alice.page, text).count()).toBe(1)
      expect(await messagesWithText(bob.page, text).count()).toBe(1)
      const stored = await apiCall<Array<{ content: string }>>(
        e2e,
        aliceToken,
        'GET',
        `/api/conversations/${id}/messages`,
      )
      expect(stored.filter((m) => m.content === text)).toHaveLength(1)
    } finally {
      if (aliceId) blockSockets(e2e, aliceId, 0)
      await alice.context.close()
      await bob.context.close()
    }
  })

  it('a refused message offers Retry and Discard; an unsent one makes logout ask first', async () => {
    const carol = await loginAs(e2e, 'carol')
    const { page } = carol
    let carolId: string | undefined
    try {
      const { user } = await apiLogin(e2e, 'carol')
      carolId = user.id
      await openConversationWith(page, 'Alice')
      // No socket for Carol for the rest of this test: every send goes over HTTP, which the page's routes below decide
      // about. Lifted in `finally`.
      blockSockets(e2e, user.id, BLOCK_MS)
      await waitNotOnline(page)

      // Refused by the server → failed, with Retry and Discard.
      await page.route(POST_MESSAGE, refuse)
      const retried = unique('Refused, then retried')
      await send(page, retried)
      const failed = await messageIn(page, retried, 'failed')
      await send(page, unique('Refused, then discarded'))
      await shot(page, 'failed-messages-carol-desktop')
      // The SPA's own words for INVALID, not the server's English message.
      expect(await failed.textContent()).toContain('Not sent: That was not accepted. Check what you entered.')

      // Retry once the server accepts it: stored, shown once.
      await page.unroute(POST_MESSAGE, refuse)
      await failed.getByRole('button', { name: 'Retry' }).click()
      await messageIn(page, retried, 'sent')
      expect(await messagesWithText(page, retried).count()).toBe(1)

      // Discard removes the other failed one.
      const discarded = page.locator('[data-testid="message"][data-status="failed"]')
      await discarded.getByRole('button', { name: 'Discard' }).click()
      await discarded.waitFor({ state: 'detached', timeout: hangBound() })

      // Unreachable server → the message stays pending (and is retried); logging out asks first.
      await page.route(POST_MESSAGE, dropConnection)
      const stuck = unique('Still waiting for the network')
      await send(page, stuck)
      const pending = await messageIn(page, stuck, 'pending')
      // What a screen reader reads of its state: the words alone, not the clock drawn before them.
      expect(await pending.locator('.msg-meta').ariaSnapshot()).toBe('- paragraph: Sending…')
      await shot(page, 'pending-message-carol-desktop')

      const dialogs: string[] = []
      page.once('dialog', (d) => {
        dialogs.push(d.message())
        void d.dismiss()
      })
      await page.getByRole('button', { name: 'Log out' }).click()
      expect(dialogs).toHaveLength(1)
      expect(dialogs[0]).toContain('not been sent')
      await messageIn(page, stuck, 'pending')
      await page.getByTestId('current-user').waitFor({ timeout: hangBound() })

      page.once('dialog', (d) => void d.accept())
      await page.getByRole('button', { name: 'Log out' }).click()
      await page.getByTestId('demo-carol').waitFor({ timeout: hangBound() })
    } finally {
      await carol.context.close()
      if (carolId) blockSockets(e2e, carolId, 0)
    }
  })

  it('a refused message discarded in one tab goes from the other tab at once, and comes back in neither', async () => {
    const carol = await loginAs(e2e, 'carol')
    let carolId: string | undefined
    try {
      const { user, token } = await apiLogin(e2e, 'carol')
      carolId = user.id
      const id = await openConversationWith(carol.page, 'Alice')
      // Every tab of this browser is refused, so neither sends it behind the test's back.
      await carol.context.route(POST_MESSAGE, refuse)
      blockSockets(e2e, user.id, BLOCK_MS)
      await waitNotOnline(carol.page)
      const text = unique('Refused, then discarded in the other tab')
      await send(carol.page, text)
      await messageIn(carol.page, text, 'failed')

      // A second tab reads the stored outbox: the refused message is there too, refused again (never sent).
      const second = await carol.context.newPage()
      await second.goto(`${e2e.url}/#/messages/${encodeURIComponent(id)}`)
      const inSecond = await messageIn(second, text, 'failed')
      await inSecond.getByRole('button', { name: 'Discard' }).click()
      await inSecond.waitFor({ state: 'detached', timeout: hangBound() })
      // The first tab drops it without a reload, a retry or a click: the second named it in storage.
      await messagesWithText(carol.page, text).waitFor({ state: 'detached', timeout: hangBound() })

      // Nor does a reload of either bring it back, and the server never stored it.
      await carol.page.reload()
      await carol.page.locator(`[data-testid="thread"][data-conversation-id="${id}"]`).waitFor({ timeout: hangBound() })
      const anotherText = unique('Sent after the discard')
      await send(carol.page, anotherText)
      await messageIn(carol.page, anotherText, 'failed')
      expect(await messagesWithText(carol.page, text).count()).toBe(0)
      expect(await messagesWithText(second, text).count()).toBe(0)
      const stored = await apiCall<Array<{ content: string }>>(e2e, token, 'GET', `/api/conversations/${id}/messages`)
      expect(stored.filter((m) => m.content === text)).toHaveLength(0)
    } finally {
      if (carolId) blockSockets(e2e, carolId, 0)
      await carol.context.close()
    }
  })

  it('a page whose read failed while the server was out of reach fills by itself once the socket is back', async () => {
    // Every read of the lessons fails from the start: the layout's at login and the first sync's catch-up alike, so
    // which of them comes before the socket is cut (a busy machine decides) does not matter.
    const context = await e2e.browser.newContext({ viewport: { width: 1280, height: 800 } })
    const unreachable = (route: Route) => route.abort('connectionrefused')
    await context.route('**/api/lessons', unreachable)
    let aliceId: string | undefined
    try {
      const alice = await loginAs(e2e, 'alice', { context })
      const { user } = await apiLogin(e2e, 'alice')
      aliceId = user.id
      // The server out of reach: no socket, and the lessons' read finds no one.
      blockSockets(e2e, user.id, BLOCK_MS)
      await waitNotOnline(alice.page)
      await alice.page.getByTestId('nav-lessons').click()
      const failed = alice.page.locator('.form-error[role=alert]').filter({ hasText: 'Try again' })
      await failed.waitFor({ timeout: hangBound() })
      await shot(alice.page, 'lessons-unreachable-alice-desktop')

      const lessonReads: string[] = []
      alice.page.on('request', (r) => {
        if (r.method() === 'GET' && new URL(r.url()).pathname === '/api/lessons') lessonReads.push(r.url())
      })
      // Back: nobody presses "Try again"; the socket resumes from its offset (no catch-up), and the read is made again.
      await context.unroute('**/api/lessons', unreachable)
      blockSockets(e2e, user.id, 0)
      await alice.page.evaluate(() => window.dispatchEvent(new Event('online')))
      await waitOnline(alice.page)
      await failed.waitFor({ state: 'detached', timeout: hangBound() })
      // Her lessons, or the words for none: what the read answered.
      await alice.page
        .getByTestId('lesson')
        .or(alice.page.getByText('No lessons yet.'))
        .first()
        .waitFor({ timeout: hangBound() })
      // Made again by the layer, once the server answered: nobody pressed "Try again".
      expect(lessonReads.length).toBeGreaterThanOrEqual(1)
    } finally {
      if (aliceId) blockSockets(e2e, aliceId, 0)
      await context.close()
    }
  })
})
