import { describe, expect, it } from 'vitest'
import {
  e2ePerFile,
  endSessionElsewhere,
  loginAs,
  messagesWithText,
  openConversationWith,
  send,
  storedRefreshToken,
  unique,
  waitOnline,
  socketsOf,
} from './support/app'
import { hangBound } from '../support/hangBound'

// Sessions in the real SPA, against a server whose access tokens live 10 s: the page refreshes before each expiry and
// renews its socket in place, so it keeps sending on one socket across several token lifetimes; and logging out ends
// the session on the server too.

const TTL_SECONDS = 10
/** How far short of the end of Alice's socket's token the server's clock waits for the refresh that renews it. */
const HELD_SHORT_MS = 1_000

describe('sessions in a real browser', { timeout: 120_000 }, () => {
  // The server's clock is the real one, except that a test may hold it at a time (`heldAt`) until it lets it go: the
  // refresh, at 80% of a lifetime, had only 2 s to land and renew the socket before the server dropped it, and a machine
  // that busy failed the test though the page was right.
  let heldAt: number | null = null
  const serverNow = () => (heldAt === null ? Date.now() : Math.min(Date.now(), heldAt))
  /** Holds the server's clock `HELD_SHORT_MS` short of `end`, never back from where it is. */
  const holdShortOf = (end: number) => {
    heldAt = Math.max(end - HELD_SHORT_MS, serverNow())
  }
  const e2e = e2ePerFile({ server: { tokenTtlSeconds: TTL_SECONDS, now: serverNow } })

  const aliceSockets = () => socketsOf(e2e, 'user-alice')
  const storedToken = (page: import('playwright-core').Page) =>
    page.evaluate(
      () => (JSON.parse(localStorage.getItem('talemy.auth') ?? 'null') as { token?: string } | null)?.token ?? null,
    )

  it('keeps sending across several token lifetimes, on the same socket, and the logout ends the session', async () => {
    // Every socket of Alice's from her login on (one the server dropped at an expiry before the loop began counts too).
    const socketIds = new Set<string>()
    const noteSocket = (socket: { id: string; data: { userId: string; expiresAt: number } }) => {
      if (socket.data.userId !== 'user-alice') return
      socketIds.add(socket.id)
      // Her first socket's token ends when she has the next one, however long her page takes to open the conversation.
      if (heldAt === null) holdShortOf(socket.data.expiresAt)
    }
    e2e.server.io.on('connection', noteSocket)
    /** When the token of Alice's socket ends, as the server has it (the earliest, were there several). */
    const socketEnd = () =>
      Math.min(
        ...[...e2e.server.io.of('/').sockets.values()]
          .filter((socket) => socket.data.userId === 'user-alice')
          .map((socket) => socket.data.expiresAt),
      )
    const alice = await loginAs(e2e, 'alice')
    try {
      await openConversationWith(alice.page, 'Bob')
      for (const id of await aliceSockets()) socketIds.add(id)
      // Each lifetime's end waits until the page has its next token and the server has Alice's socket renewed with
      // it (however late a busy machine makes them): then it passes, so a socket that was not renewed is dropped.
      let end = socketEnd()
      holdShortOf(end)
      let token = await storedToken(alice.page)
      const tokens = new Set([token])
      const sent: string[] = []
      const started = Date.now()
      // Two and a half lifetimes and two refreshes at least: a message every second or so, each confirmed before the
      // next. (Six lifetimes bound a page that does not refresh: the count of tokens below says so.)
      const elapsed = () => Date.now() - started
      while ((elapsed() < 2.5 * TTL_SECONDS * 1000 || tokens.size < 3) && elapsed() < 6 * TTL_SECONDS * 1000) {
        const text = unique(`across refreshes ${sent.length}`)
        await send(alice.page, text)
        await messagesWithText(alice.page, text)
          .and(alice.page.locator('[data-status="sent"]'))
          .waitFor({ timeout: hangBound() })
        sent.push(text)
        for (const id of await aliceSockets()) socketIds.add(id)
        const current = await storedToken(alice.page)
        if (current !== token) {
          token = current
          tokens.add(token)
          await expect
            .poll(socketEnd, { timeout: hangBound(), message: "Alice's socket renewed with her page's new token" })
            .toBeGreaterThan(end)
          end = socketEnd()
          holdShortOf(end)
        }
        await alice.page.waitForTimeout(1_000)
      }
      heldAt = null
      await waitOnline(alice.page)
      for (const text of sent) expect(await messagesWithText(alice.page, text).count()).toBe(1)
      // Refreshed at least twice, renewed in place: one socket the whole time.
      expect(tokens.size).toBeGreaterThanOrEqual(3)
      expect([...socketIds]).toHaveLength(1)
      const refreshToken = await storedRefreshToken(alice.page)
      expect(refreshToken).toBeTruthy()

      // Log out: the browser forgets the refresh token and the server refuses it from then on.
      await alice.page.getByRole('button', { name: 'Log out' }).click()
      await alice.page.getByRole('button', { name: 'Log in' }).waitFor({ timeout: hangBound() })
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
          { timeout: hangBound() },
        )
        .toBe(401)
    } finally {
      heldAt = null
      e2e.server.io.off('connection', noteSocket)
      await alice.context.close()
    }
  })

  it('"Log in again" after the session was ended elsewhere brings the user back to their conversation, across a reload', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const id = await openConversationWith(alice.page, 'Bob')
      // A logout elsewhere with this session's refresh token: the server drops the socket and refuses its refresh.
      await endSessionElsewhere(e2e, alice.page)
      await alice.page.getByRole('button', { name: 'Log in again', exact: true }).click({ timeout: hangBound() })
      await alice.page.getByRole('button', { name: 'Log in', exact: true }).waitFor({ timeout: hangBound() })
      expect(await alice.page.evaluate(() => window.location.hash)).toBe('')
      // The login page reloaded (the route is kept in the tab's history entry, which a reload keeps).
      await alice.page.reload()
      await alice.page.getByTestId('demo-alice').click()
      await alice.page.locator('.login form button[type="submit"]').click()
      await alice.page.locator(`[data-testid="thread"][data-conversation-id="${id}"]`).waitFor({ timeout: hangBound() })
      expect(await alice.page.evaluate(() => window.location.hash)).toBe(`#/messages/${encodeURIComponent(id)}`)
    } finally {
      await alice.context.close()
    }
  })

  it('a message written after the session ended says it waits for a login, not that it is sending', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      await openConversationWith(alice.page, 'Bob')
      await endSessionElsewhere(e2e, alice.page)
      await alice.page
        .locator('[data-testid="connection-badge"][data-status="unauthorized"]')
        .waitFor({ timeout: hangBound() })
      const text = unique('Written after the session ended')
      await send(alice.page, text)
      const pending = messagesWithText(alice.page, text).and(alice.page.locator('[data-status="pending"]'))
      await pending.waitFor({ timeout: hangBound() })
      expect(await pending.locator('.msg-meta').textContent()).toBe('Not sent yet: log in again')
      // Once the user is back, it goes, and says so.
      await alice.page.getByRole('button', { name: 'Log in again', exact: true }).click()
      await alice.page.getByTestId('demo-alice').click()
      await alice.page.locator('.login form button[type="submit"]').click()
      await messagesWithText(alice.page, text)
        .and(alice.page.locator('[data-status="sent"]'))
        .waitFor({ timeout: hangBound() })
    } finally {
      await alice.context.close()
    }
  })
})
