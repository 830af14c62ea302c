import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  apiCall,
  apiLogin,
  badge,
  blockSockets,
  e2ePerFile,
  endSessionElsewhere,
  gotoConversation,
  holdRequests,
  loginAs,
  messagesWithText,
  openConversationWith,
  openTab,
  PASSWORD,
  send,
  type Session,
  unique,
  waitOnline,
  roleOf,
  socketsOf,
  storedTexts,
} from './support/app'
import { messageHeldInMemory } from './support/tabs'
import { hangBound } from '../support/hangBound'

// One socket per browser, in the real SPA: the tabs of one browser context share one Socket.IO connection held by
// one of them; closing the holder's tab hands it to another; two contexts are two browsers with a socket each.

describe('one socket per browser', { timeout: 180_000 }, () => {
  const e2e = e2ePerFile()

  const aliceSockets = () => socketsOf(e2e, 'user-alice')
  const roles = async (pages: Page[]) => (await Promise.all(pages.map(roleOf))).sort()

  /** Bob writes over HTTP (his own sockets play no part). */
  async function bobWrites(conversationId: string, content: string) {
    const bob = await apiLogin(e2e, 'bob')
    await apiCall(e2e, bob.token, 'POST', `/api/conversations/${encodeURIComponent(conversationId)}/messages`, {
      content,
      clientId: `bob-${Math.random().toString(36).slice(2)}`,
    })
  }

  async function sentIn(page: Page, text: string) {
    await messagesWithText(page, text).and(page.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
  }

  it('three tabs of Alice: one socket at the server, every message once in every tab, in order', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const id = await openConversationWith(alice.page, 'Bob')
      const tabs = [
        alice.page,
        await openTab(alice, `${e2e.url}/#/messages/${id}`),
        await openTab(alice, `${e2e.url}/#/messages/${id}`),
      ]
      await expect.poll(aliceSockets, { timeout: hangBound() }).toHaveLength(1)
      await expect.poll(() => roles(tabs), { timeout: hangBound() }).toEqual(['follower', 'follower', 'leader'])
      for (const tab of tabs) await waitOnline(tab)

      const fromBob = unique('Bob to three tabs')
      await bobWrites(id, fromBob)
      for (const tab of tabs) await messagesWithText(tab, fromBob).waitFor({ timeout: hangBound() })

      const typed = tabs.map((_, i) => unique(`typed in tab ${i + 1}`))
      for (const [i, tab] of tabs.entries()) {
        await send(tab, typed[i]!)
        await sentIn(tab, typed[i]!)
      }
      // The last one has reached every tab: anything doubled before it would have too.
      for (const tab of tabs) await sentIn(tab, typed[2]!)
      for (const tab of tabs) {
        expect(await messagesWithText(tab, fromBob).count()).toBe(1)
        for (const text of typed) expect(await messagesWithText(tab, text).count()).toBe(1)
      }
      const stored = await storedTexts(e2e, id)
      expect(stored.filter((t) => typed.includes(t))).toEqual(typed)
      expect(await aliceSockets()).toHaveLength(1)
    } finally {
      await alice.context.close()
    }
  })

  it('closing the holder tab hands the one socket to another tab; nothing sent meanwhile is lost or doubled', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const id = await openConversationWith(alice.page, 'Bob')
      const tabs = [
        alice.page,
        await openTab(alice, `${e2e.url}/#/messages/${id}`),
        await openTab(alice, `${e2e.url}/#/messages/${id}`),
      ]
      await expect.poll(() => roles(tabs), { timeout: hangBound() }).toEqual(['follower', 'follower', 'leader'])
      await expect.poll(aliceSockets, { timeout: hangBound() }).toHaveLength(1)
      const [before] = await aliceSockets()

      const holderIndex = (await Promise.all(tabs.map(roleOf))).indexOf('leader')
      const holder = tabs[holderIndex]!
      const rest = tabs.filter((t) => t !== holder)
      await holder.close({ runBeforeUnload: false })

      // Written during the handoff, from both remaining tabs and from Bob.
      const duringHandoff = rest.map((_, i) => unique(`during handoff ${i + 1}`))
      const fromBob = unique('Bob during handoff')
      await Promise.all([...rest.map((tab, i) => send(tab, duringHandoff[i]!)), bobWrites(id, fromBob)])

      // The one socket is back, held by one of the remaining tabs (a bounded wait, not a timed assert).
      await expect.poll(() => roles(rest), { timeout: hangBound() }).toEqual(['follower', 'leader'])
      await expect
        .poll(
          async () => {
            const ids = await aliceSockets()
            return ids.length === 1 && ids[0] !== before
          },
          { timeout: hangBound() },
        )
        .toBe(true)
      for (const tab of rest) await waitOnline(tab)

      for (const [i, tab] of rest.entries()) await sentIn(tab, duringHandoff[i]!)
      // One more round trip from each tab after the handoff: everything earlier has reached every tab by then.
      const after = rest.map((_, i) => unique(`after handoff ${i + 1}`))
      for (const [i, tab] of rest.entries()) {
        await send(tab, after[i]!)
        await sentIn(tab, after[i]!)
      }
      for (const tab of rest) {
        for (const text of [...after, ...duringHandoff]) await sentIn(tab, text)
        await messagesWithText(tab, fromBob).waitFor({ timeout: hangBound() })
        expect(await messagesWithText(tab, fromBob).count()).toBe(1)
        for (const text of [...duringHandoff, ...after]) expect(await messagesWithText(tab, text).count()).toBe(1)
      }
      const stored = await storedTexts(e2e, id)
      for (const text of [...duringHandoff, ...after, fromBob]) expect(stored.filter((t) => t === text)).toHaveLength(1)
      expect(await aliceSockets()).toHaveLength(1)
    } finally {
      await alice.context.close()
    }
  })

  it('logout in a follower tab: every tab follows; a login in another tab: every tab follows, on one socket', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const tabs = [alice.page, await openTab(alice, `${e2e.url}/`), await openTab(alice, `${e2e.url}/`)]
      await expect.poll(() => roles(tabs), { timeout: hangBound() }).toEqual(['follower', 'follower', 'leader'])
      const follower = tabs[(await Promise.all(tabs.map(roleOf))).indexOf('follower')]!
      await follower.getByRole('button', { name: 'Log out' }).click()
      for (const tab of tabs) await tab.getByRole('button', { name: 'Log in' }).waitFor({ timeout: hangBound() })
      await expect.poll(aliceSockets, { timeout: hangBound() }).toHaveLength(0)

      // Carol logs in from a tab that does not hold the socket: every tab follows, the holder opens the one socket.
      await follower.getByTestId('demo-carol').click()
      await follower.locator('.login form button[type="submit"]').click()
      for (const tab of tabs) {
        await tab.getByTestId('current-user').waitFor({ timeout: hangBound() })
        await waitOnline(tab)
        expect(await tab.getByTestId('current-user').textContent()).toContain('Carol')
      }
      const carolSockets = async () => (await e2e.server.io.in('user:user-carol').fetchSockets()).length
      await expect.poll(carolSockets, { timeout: hangBound() }).toBe(1)
      expect(await roles(tabs)).toEqual(['follower', 'follower', 'leader'])
    } finally {
      await alice.context.close()
    }
  })

  it('a tab logged out from another tab forgets the conversation it showed: the next user starts on their messages page', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const id = await openConversationWith(alice.page, 'Bob')
      const other = await openTab(alice, `${e2e.url}/#/messages/${encodeURIComponent(id)}`)
      await other.locator(`[data-testid="thread"][data-conversation-id="${id}"]`).waitFor({ timeout: hangBound() })
      await alice.page.getByRole('button', { name: 'Log out' }).click()
      await other.getByRole('button', { name: 'Log in' }).waitFor({ timeout: hangBound() })

      // Carol logs in from the other tab: Alice's conversation is not hers, so she lands on her own list.
      await other.getByTestId('demo-carol').click()
      await other.locator('.login form button[type="submit"]').click()
      await other.getByTestId('current-user').waitFor({ timeout: hangBound() })
      await other.getByTestId('conversation-list').waitFor({ timeout: hangBound() })
      expect(await other.evaluate(() => window.location.hash)).toBe('')
      expect(await other.getByTestId('thread').count()).toBe(0)
    } finally {
      await alice.context.close()
    }
  })

  /**
   * Alice's two tabs, the follower on her conversation with Bob with a message half written in it. Returns the tab
   * holding the socket (`leader`), the other (`follower`), the conversation and the draft.
   */
  async function followerWithDraft(alice: Session) {
    const id = await openConversationWith(alice.page, 'Bob')
    const tabs = [alice.page, await openTab(alice, `${e2e.url}/`)]
    await expect.poll(() => roles(tabs), { timeout: hangBound() }).toEqual(['follower', 'leader'])
    const leader = tabs[(await Promise.all(tabs.map(roleOf))).indexOf('leader')]!
    const follower = tabs.find((tab) => tab !== leader)!
    await gotoConversation(follower, id)
    const draft = unique('half written in the other tab')
    await follower.getByTestId('composer').fill(draft)
    return { leader, follower, id, draft }
  }

  it('"Log in again" in one tab, the other not showing the session over yet: it keeps its page and draft', async () => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const { leader, follower, id, draft } = await followerWithDraft(alice)
      // The follower hears the session's end from the holder and asks for a token itself before it says so: held here,
      // as a tab asleep in the background or on a slow network is still asking when the user acts in the other tab.
      const held = await holdRequests(follower, [['POST', /^\/api\/auth\/refresh$/]])
      try {
        await endSessionElsewhere(e2e, leader)
        await leader.getByRole('button', { name: 'Log in again', exact: true }).waitFor({ timeout: hangBound() })
        await expect.poll(() => held.seen.length, { timeout: hangBound() }).toBeGreaterThan(0)
        expect(await badge(follower).getAttribute('data-status')).not.toBe('unauthorized')
        await leader.getByRole('button', { name: 'Log in again', exact: true }).click()
        await follower.getByRole('button', { name: 'Log in', exact: true }).waitFor({ timeout: hangBound() })
      } finally {
        // Refused now (the session is over), as the tab would have been told had it asked earlier.
        held.release()
      }
      // The user chose nothing in this tab: its login page offers her email, and the login brings her back.
      expect(await follower.getByLabel('Email').inputValue()).toBe('alice@talemy.test')
      await follower.getByLabel('Password').fill(PASSWORD)
      await follower.locator('.login form button[type="submit"]').click()
      await follower.locator(`[data-testid="thread"][data-conversation-id="${id}"]`).waitFor({ timeout: hangBound() })
      expect(await follower.evaluate(() => window.location.hash)).toBe(`#/messages/${encodeURIComponent(id)}`)
      expect(await follower.getByTestId('composer').inputValue()).toBe(draft)
    } finally {
      await alice.context.close()
    }
  })

  it.each([
    ['live', false],
    ['over', true],
  ])('"Log out" in one tab leaves the other (session %s) nothing: no email, page or draft', async (_, over) => {
    const alice = await loginAs(e2e, 'alice')
    try {
      const { leader, follower, id } = await followerWithDraft(alice)
      if (over) {
        await endSessionElsewhere(e2e, leader)
        for (const tab of [leader, follower])
          await tab.getByRole('button', { name: 'Log in again', exact: true }).waitFor({ timeout: hangBound() })
      }
      await leader.getByRole('button', { name: 'Log out' }).click()
      await follower.getByRole('button', { name: 'Log in', exact: true }).waitFor({ timeout: hangBound() })
      expect(await follower.getByLabel('Email').inputValue()).toBe('')
      await follower.getByTestId('demo-alice').click()
      await follower.locator('.login form button[type="submit"]').click()
      await follower.getByTestId('conversation-list').waitFor({ timeout: hangBound() })
      expect(await follower.evaluate(() => window.location.hash)).toBe('')
      await gotoConversation(follower, id)
      expect(await follower.getByTestId('composer').inputValue()).toBe('')
    } finally {
      await alice.context.close()
    }
  })

  it('"Log out" in one tab asks about a message another tab holds unsent in memory alone (storage full)', async () => {
    const alice = await loginAs(e2e, 'alice')
    const { user } = await apiLogin(e2e, 'alice')
    try {
      const { other, text } = await messageHeldInMemory(e2e, alice, user.id, 'Written offline, storage full')
      const dialogs: string[] = []
      alice.page.once('dialog', (dialog) => {
        dialogs.push(dialog.message())
        void dialog.dismiss()
      })
      await alice.page.getByRole('button', { name: 'Log out' }).click()
      expect(dialogs).toEqual([expect.stringContaining('1')])
      // Not confirmed: the message is still there, unsent.
      await messagesWithText(other, text)
        .and(other.locator('[data-status="pending"]'))
        .waitFor({ timeout: hangBound() })
    } finally {
      blockSockets(e2e, user.id, 0)
      await alice.context.close()
    }
  })

  it('two browsers of the same user: a socket each', async () => {
    const first = await loginAs(e2e, 'alice')
    const second = await loginAs(e2e, 'alice')
    try {
      const firstTabs = [first.page, await openTab(first, `${e2e.url}/`)]
      const secondTabs = [second.page, await openTab(second, `${e2e.url}/`)]
      await expect.poll(aliceSockets, { timeout: hangBound() }).toHaveLength(2)
      // Each browser elects its own holder: the contexts share no lock and no channel.
      await expect.poll(() => roles(firstTabs), { timeout: hangBound() }).toEqual(['follower', 'leader'])
      await expect.poll(() => roles(secondTabs), { timeout: hangBound() }).toEqual(['follower', 'leader'])
      expect(await aliceSockets()).toHaveLength(2)
    } finally {
      await first.context.close()
      await second.context.close()
    }
  })
})
