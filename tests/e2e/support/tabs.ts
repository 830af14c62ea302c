import type { CDPSession, Page } from 'playwright-core'
import { expect } from 'vitest'
import { TAB_PROTOCOL } from '../../../src/realtime/tabs/protocol'
import {
  blockSockets,
  type E2EApp,
  messagesWithText,
  openConversationWith,
  openTab,
  roleOf,
  send,
  type Session,
  unique,
  waitNotOnline,
} from './app'
import { hangBound } from '../../support/hangBound'

/** The page's renderer crashes (a killed or out-of-memory tab): it runs nothing more, says nothing, no `pagehide`. */
export async function crashTab(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page)
  const crashed = page.waitForEvent('crash', { timeout: hangBound() })
  // Never answered: the renderer is gone.
  void cdp.send('Page.crash').catch(() => {})
  await crashed
}

/** Stops the page's main thread at its next task (in the debugger): none of its tasks run until `thaw`. */
export async function freeze(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Debugger.enable')
  const paused = new Promise<void>((resolve) => cdp.once('Debugger.paused', () => resolve()))
  await cdp.send('Debugger.pause')
  await paused
  return cdp
}

export async function thaw(cdp: CDPSession): Promise<void> {
  await cdp.send('Debugger.resume')
  await cdp.send('Debugger.disable')
  await cdp.detach()
}

/**
 * Alice's two tabs of one browser, offline (no socket, and the HTTP send aborted before it leaves) with the origin's
 * storage full: a message written in the second (`other`) is kept in its memory alone, and the first tab (`alice.page`)
 * has heard it say so. Lift `blockSockets(e2e, userId, 0)` when done.
 */
export async function messageHeldInMemory(
  e2e: E2EApp,
  alice: Session,
  userId: string,
  prefix: string,
): Promise<{ other: Page; text: string }> {
  const id = await openConversationWith(alice.page, 'Bob')
  const other = await openTab(alice, `${e2e.url}/#/messages/${encodeURIComponent(id)}`)
  const tabs = [alice.page, other]
  await expect
    .poll(async () => (await Promise.all(tabs.map(roleOf))).sort(), { timeout: hangBound() })
    .toEqual(['follower', 'leader'])
  // Offline: no socket, and the HTTP send never reaches the server, so the message stays unsent.
  blockSockets(e2e, userId, 10 * 60_000)
  await alice.context.route(/\/api\/conversations\/[^/]+\/messages$/, (route) =>
    route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.fallback(),
  )
  for (const tab of tabs) await waitNotOnline(tab)
  // The origin's storage full (its quota is every tab's): the other tab's outbox is refused.
  await other.evaluate(() => {
    let chunk = 'x'.repeat(1 << 20)
    for (let i = 0; chunk.length > 0; i++) {
      try {
        localStorage.setItem(`filler.${i}`, chunk)
      } catch {
        chunk = chunk.slice(0, chunk.length >> 1)
      }
    }
  })
  // What the tabs tell each other of it, heard beside the first tab's own listener (created before it: told first).
  await alice.page.evaluate((name) => {
    const channel = new BroadcastChannel(name)
    ;(window as { heard?: Promise<void> }).heard = new Promise<void>((resolve) => {
      channel.onmessage = (event) => {
        if (event.data?.kind === 'unsaved' && event.data.clientIds.length > 0) resolve()
      }
    })
  }, `talemy.socket.talemy.${TAB_PROTOCOL}`)
  const text = unique(prefix)
  await send(other, text)
  await messagesWithText(other, text).and(other.locator('[data-status="pending"]')).waitFor({ timeout: hangBound() })
  await other.getByTestId('unsaved-notice').waitFor({ timeout: hangBound() })
  const heard = await alice.page.evaluate(
    (ms) =>
      Promise.race([
        (window as { heard?: Promise<void> }).heard!.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
      ]),
    hangBound(),
  )
  expect(heard, 'the other tab told of its unsaved message').toBe(true)
  return { other, text }
}
