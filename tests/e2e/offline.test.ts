import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  apiCall,
  apiLogin,
  badge,
  blockSockets,
  gotoConversation,
  loginAs,
  messagesWithText,
  openConversationWith,
  send,
  shot,
  startE2E,
  unique,
  waitNotOnline,
  waitOnline,
  WAIT,
  type E2E,
} from './support/app'

/** Long enough to send over HTTP while the socket is refused; the reconnection follows within socket.io's backoff. */
const BLOCK_MS = 8_000

describe('when the socket is cut but HTTP still works', { timeout: 90_000 }, () => {
  let e2e: E2E
  beforeAll(async () => {
    e2e = await startE2E()
  })
  afterAll(async () => {
    await e2e?.close()
  })

  it('sends over HTTP, the other side still sees it, and nothing is duplicated once the socket is back', async () => {
    const alice = await loginAs(e2e, 'alice')
    const bob = await loginAs(e2e, 'bob')
    try {
      const { user: aliceUser, token: aliceToken } = await apiLogin(e2e, 'alice')
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
        { timeout: WAIT },
      )
      await send(alice.page, text)
      await posted
      log('posted')
      await messagesWithText(alice.page, text).and(alice.page.locator('[data-status="sent"]')).waitFor({ timeout: WAIT })
      await messagesWithText(bob.page, text).waitFor({ timeout: WAIT })
      log('bob sees it')

      // The socket comes back by itself once the server accepts Alice again.
      await waitOnline(alice.page).catch(async (e) => {
        log(`badge: ${await badge(alice.page).getAttribute('data-status')}`)
        throw e
      })
      log('online')
      expect(await badge(alice.page).textContent()).toBe('online')

      // A message from Bob after the reconnection reaches Alice live: the socket works again.
      const after = unique('Welcome back')
      await send(bob.page, after)
      await messagesWithText(alice.page, after).waitFor({ timeout: WAIT })

      expect(await messagesWithText(alice.page, text).count()).toBe(1)
      expect(await messagesWithText(bob.page, text).count()).toBe(1)
      const stored = await apiCall<Array<{ content: string }>>(e2e, aliceToken, 'GET', `/api/conversations/${id}/messages`)
      expect(stored.filter((m) => m.content === text)).toHaveLength(1)
    } finally {
      await alice.context.close()
      await bob.context.close()
    }
  })
})
