import { describe, expect, it } from 'vitest'
import {
  e2ePerFile,
  loginAs,
  messagesWithText,
  openConversationWith,
  send,
  unique,
  waitOnline,
  WAIT,
} from './support/app'

// Sessions in the real SPA, against a server whose access tokens live 10 s: the page refreshes before each expiry and
// renews its socket in place, so it keeps sending on one socket across several token lifetimes; and logging out ends
// the session on the server too. (The refresh comes at 80% of a lifetime: with 10 s, its answer and the renewal have
// 2 s and more before the server would drop the socket, also on a machine busy enough to take a second over them.)

const TTL_SECONDS = 10

describe('sessions in a real browser', { timeout: 120_000 }, () => {
  const e2e = e2ePerFile({ server: { tokenTtlSeconds: TTL_SECONDS } })

  const aliceSockets = async () => (await e2e.server.io.in('user:user-alice').fetchSockets()).map((s) => s.id)
  const storedToken = (page: import('playwright-core').Page) =>
    page.evaluate(
      () => (JSON.parse(localStorage.getItem('talemy.auth') ?? 'null') as { token?: string } | null)?.token ?? null,
    )

  it('keeps sending across several token lifetimes, on the same socket, and the logout ends the session', async () => {
    // Every socket of Alice's from her login on (one the server dropped at an expiry before the loop began counts too).
    const socketIds = new Set<string>()
    const noteSocket = (socket: { id: string; data: { userId: string } }) => {
      if (socket.data.userId === 'user-alice') socketIds.add(socket.id)
    }
    e2e.server.io.on('connection', noteSocket)
    const alice = await loginAs(e2e, 'alice')
    try {
      await openConversationWith(alice.page, 'Bob')
      for (const id of await aliceSockets()) socketIds.add(id)
      const tokens = new Set([await storedToken(alice.page)])
      const sent: string[] = []
      const started = Date.now()
      // Two and a half lifetimes: a message every second or so, each confirmed before the next.
      while (Date.now() - started < 2.5 * TTL_SECONDS * 1000) {
        const text = unique(`across refreshes ${sent.length}`)
        await send(alice.page, text)
        await messagesWithText(alice.page, text)
          .and(alice.page.locator('[data-status="sent"]'))
          .waitFor({ timeout: WAIT })
        sent.push(text)
        for (const id of await aliceSockets()) socketIds.add(id)
        tokens.add(await storedToken(alice.page))
        await alice.page.waitForTimeout(1_000)
      }
      await waitOnline(alice.page)
      for (const text of sent) expect(await messagesWithText(alice.page, text).count()).toBe(1)
      // Refreshed at least twice, renewed in place: one socket the whole time.
      expect(tokens.size).toBeGreaterThanOrEqual(3)
      expect([...socketIds]).toHaveLength(1)
      const refreshToken = await alice.page.evaluate(
        () =>
          (JSON.parse(localStorage.getItem('talemy.refresh') ?? 'null') as { refreshToken?: string } | null)
            ?.refreshToken ?? null,
      )
      expect(refreshToken).toBeTruthy()

      // Log out: the browser forgets the refresh token and the server refuses it from then on.
      await alice.page.getByRole('button', { name: 'Log out' }).click()
      await alice.page.getByRole('button', { name: 'Log in' }).waitFor({ timeout: WAIT })
      expect(await alice.page.evaluate(() => localStorage.getItem('talemy.refresh'))).toBeNull()
      await expect
        .poll(
          async () =>
            (
              await fetch(`${e2e.url}/api/auth/refresh`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ refreshToken }),
              })
            ).status,
          { timeout: WAIT },
        )
        .toBe(401)
    } finally {
      e2e.server.io.off('connection', noteSocket)
      await alice.context.close()
    }
  })

  it('"Log in again" after the session was ended elsewhere brings the user back to their conversation, across a reload', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const id = await openConversationWith(alice.page, 'Bob')
      const refreshToken = await alice.page.evaluate(
        () =>
          (JSON.parse(localStorage.getItem('talemy.refresh') ?? 'null') as { refreshToken?: string } | null)
            ?.refreshToken ?? null,
      )
      // A logout elsewhere with this session's refresh token: the server drops the socket and refuses its refresh.
      const ended = await fetch(`${e2e.url}/api/auth/logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
      })
      expect(ended.status).toBe(204)
      await alice.page.getByRole('button', { name: 'Log in again', exact: true }).click({ timeout: WAIT })
      await alice.page.getByRole('button', { name: 'Log in', exact: true }).waitFor({ timeout: WAIT })
      expect(await alice.page.evaluate(() => window.location.hash)).toBe('')
      // The login page reloaded (the route is kept in the tab's history entry, which a reload keeps).
      await alice.page.reload()
      await alice.page.getByTestId('demo-alice').click()
      await alice.page.locator('.login form button[type="submit"]').click()
      await alice.page.locator(`[data-testid="thread"][data-conversation-id="${id}"]`).waitFor({ timeout: WAIT })
      expect(await alice.page.evaluate(() => window.location.hash)).toBe(`#/messages/${encodeURIComponent(id)}`)
    } finally {
      await alice.context.close()
    }
  })
})
