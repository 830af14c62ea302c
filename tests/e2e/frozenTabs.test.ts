import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  blockSockets,
  e2ePerFile,
  holdRequests,
  loginAs,
  messagesWithText,
  openConversationWith,
  openTab,
  send,
  type Session,
  unique,
  waitNotOnline,
  waitOnline,
  roleOf,
  socketsOf,
  storedTexts,
} from './support/app'
import { freeze, thaw } from './support/tabs'
import { hangBound } from '../support/hangBound'

// One socket per browser when the holder's tab is frozen or hung (no task runs, its timers stop, its WebSocket stays
// open at the server): a follower takes the lock from it after the missed beats and opens the socket; thawed, the old
// holder must close its socket and follow, and every tab shows every message once, in order. (tabs.test.ts covers a
// holder that closes, which frees the lock; here it is taken from a holder still alive.)
//
// The e2e Chromium (a headless shell) accepts `Page.setWebLifecycleState` and freezes nothing (its timers run on), so
// the tab is stopped here in the debugger: none of its tasks run until it is resumed. Unlike a frozen page, a page
// paused this way loses the BroadcastChannel messages posted to it meanwhile, so the thawed tab must also recover
// from those (it does: it finds its lock gone and attaches to the new holder from its own offset). So must a paused
// follower: the holder's next heartbeat says how far its stream has gone, and the follower attaches again from its
// offset.

describe('one socket per browser, with a frozen holder', { timeout: 180_000 }, () => {
  const e2e = e2ePerFile()

  const aliceSockets = () => socketsOf(e2e, 'user-alice')

  const shownTexts = (page: Page) => page.getByTestId('message').locator('.msg-body').allTextContents()

  /** Every text once in the page, in the server's order, the last one sent, the badge online. */
  async function showsAllOnceInOrder(page: Page, id: string, texts: string[]) {
    for (const text of texts) await messagesWithText(page, text).first().waitFor({ timeout: hangBound() })
    const stored = (await storedTexts(e2e, id)).filter((t) => texts.includes(t))
    expect(stored.toSorted()).toEqual(texts.toSorted())
    const shown = (await shownTexts(page)).map((t) => t.trim()).filter((t) => texts.includes(t))
    expect(shown).toEqual(stored)
    await waitOnline(page)
  }

  async function setUp() {
    const alice = await loginAs(e2e, 'alice')
    const bob = await loginAs(e2e, 'bob')
    const id = await openConversationWith(alice.page, 'Bob')
    const tabB = await openTab(alice, `${e2e.url}/#/messages/${id}`)
    await tabB.locator(`[data-testid="thread"][data-conversation-id="${id}"]`).waitFor({ timeout: hangBound() })
    await openConversationWith(bob.page, 'Alice')
    await expect.poll(aliceSockets, { timeout: hangBound() }).toHaveLength(1)
    const roles = await Promise.all([roleOf(alice.page), roleOf(tabB)])
    const [holder, follower] = roles[0] === 'leader' ? [alice.page, tabB] : [tabB, alice.page]
    expect((await Promise.all([roleOf(holder), roleOf(follower)])).join()).toBe('leader,follower')
    return { alice, bob, id, holder, follower }
  }

  async function bobSends(bob: Session, text: string) {
    await send(bob.page, text)
    await messagesWithText(bob.page, text)
      .and(bob.page.locator('[data-status="sent"]'))
      .waitFor({ timeout: hangBound() })
  }

  it('a frozen holder is replaced; thawed, it follows on the one socket and shows every message once, in order', async () => {
    const { alice, bob, id, holder: a, follower: b } = await setUp()
    try {
      const texts: string[] = []
      const before = unique('Bob before the freeze')
      texts.push(before)
      await bobSends(bob, before)
      await messagesWithText(a, before).waitFor({ timeout: hangBound() })
      const [first] = await aliceSockets()

      const cdp = await freeze(a)
      // B takes the lock from the silent holder after the missed beats, and opens its own socket.
      await expect.poll(() => roleOf(b), { timeout: hangBound() }).toBe('leader')
      await waitOnline(b)
      await expect
        .poll(async () => (await aliceSockets()).some((s) => s !== first), { timeout: hangBound() })
        .toBe(true)

      for (let i = 0; i < 3; i++) {
        const text = unique(`Bob while A is frozen ${i + 1}`)
        texts.push(text)
        await bobSends(bob, text)
      }
      const fromB = unique('Alice from B while A is frozen')
      texts.push(fromB)
      await send(b, fromB)
      await messagesWithText(b, fromB).and(b.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
      await messagesWithText(bob.page, fromB).waitFor({ timeout: hangBound() })
      for (const text of texts) await messagesWithText(b, text).waitFor({ timeout: hangBound() })

      await thaw(cdp)
      // The thawed tab closes the socket it lost and follows B's.
      await expect.poll(() => roleOf(a), { timeout: hangBound() }).toBe('follower')
      await expect.poll(aliceSockets, { timeout: hangBound() }).toHaveLength(1)
      expect((await aliceSockets())[0]).not.toBe(first)

      const after = unique('Bob after the thaw')
      texts.push(after)
      await bobSends(bob, after)
      for (const tab of [a, b, bob.page]) await showsAllOnceInOrder(tab, id, texts)
      expect(await roleOf(b)).toBe('leader')
      expect(await aliceSockets()).toHaveLength(1)
    } finally {
      await alice.context.close()
      await bob.context.close()
    }
  })

  it('a follower paused in the debugger misses relays; resumed, it shows each message once, in order', async () => {
    const { alice, bob, id, holder: a, follower: b } = await setUp()
    try {
      const texts = [unique('Bob before the pause')]
      await bobSends(bob, texts[0]!)
      await messagesWithText(b, texts[0]!).waitFor({ timeout: hangBound() })

      // Short of the holder's 3 missed beats, so it keeps B as a follower: nothing but the lost relays tells of them.
      const cdp = await freeze(b)
      for (let i = 0; i < 2; i++) {
        const text = unique(`Bob while B is paused ${i + 1}`)
        texts.push(text)
        await bobSends(bob, text)
        await messagesWithText(a, text).waitFor({ timeout: hangBound() })
      }
      await thaw(cdp)

      for (const tab of [b, a]) await showsAllOnceInOrder(tab, id, texts)
      expect([await roleOf(a), await roleOf(b)]).toEqual(['leader', 'follower'])
      expect(await aliceSockets()).toHaveLength(1)
    } finally {
      await alice.context.close()
      await bob.context.close()
    }
  })

  it('a holder frozen amid a send (with the drain lock): the new holder sends at once; each shows once', async () => {
    const { alice, bob, id, holder: a, follower: b } = await setUp()
    try {
      // A's send goes over HTTP (the socket cut), and is held there: A holds the user's drain lock when it freezes.
      const held = await holdRequests(a, [['POST', /^\/api\/conversations\/[^/]+\/messages$/]])
      blockSockets(e2e, 'user-alice', 10 * 60_000)
      await waitNotOnline(a)
      const fromA = unique('Alice from A as it freezes')
      await send(a, fromA)
      await expect.poll(() => held.seen.length, { timeout: hangBound() }).toBe(1)
      const cdp = await freeze(a)
      blockSockets(e2e, 'user-alice', 0)

      await expect.poll(() => roleOf(b), { timeout: hangBound() }).toBe('leader')
      await waitOnline(b)
      const fromB = unique('Alice from B while A is frozen')
      await send(b, fromB)
      // Sent while A is still frozen, and A's too: B took it over from storage, and sends it first (written first).
      for (const text of [fromB, fromA])
        await messagesWithText(b, text).and(b.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
      await messagesWithText(bob.page, fromB).waitFor({ timeout: hangBound() })

      await thaw(cdp)
      // Its send's answer comes as it runs again. (Not unrouted after: an unroute racing the held request's continue
      // fails that continue.)
      held.release()
      await expect.poll(() => roleOf(a), { timeout: hangBound() }).toBe('follower')
      for (const tab of [a, b])
        await messagesWithText(tab, fromA).and(tab.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
      for (const tab of [a, b, bob.page]) await showsAllOnceInOrder(tab, id, [fromA, fromB])
      expect(await aliceSockets()).toHaveLength(1)
    } finally {
      blockSockets(e2e, 'user-alice', 0)
      await alice.context.close()
      await bob.context.close()
    }
  })
})
