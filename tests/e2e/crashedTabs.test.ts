import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  apiCall,
  apiLogin,
  badge,
  blockSockets,
  type E2EApp,
  e2ePerFile,
  gotoConversation,
  holdRequests,
  loginAs,
  messagesWithText,
  openConversationWith,
  openTab,
  roleOf,
  send,
  socketsOf,
  storedTexts,
  unique,
  waitNotOnline,
  waitOnline,
} from './support/app'
import { crashTab, freeze, messageHeldInMemory } from './support/tabs'
import { hangBound } from '../support/hangBound'

// One socket per browser when a tab dies without a word: its renderer crashes (CDP `Page.crash`), so no `pagehide`,
// no goodbye on the channel; the browser frees the Web Locks it held. The holder crashes with something of another
// tab's under way through it (a send, a join, its socket's replay), or a follower crashes: nothing accepted is lost or
// shown twice, the next holder takes the socket over and joins the threads looked at, and no tab says online while
// no socket is up.

/** The names of the Web Locks held and asked for in the page's origin (every tab of its context shares them). */
const lockNames = (page: Page) =>
  page.evaluate(async () => {
    const { held = [], pending = [] } = await navigator.locks.query()
    return { held: held.map((l) => l.name ?? ''), pending: pending.map((l) => l.name ?? '') }
  })

/**
 * Holds the packets of `event` that user `userId`'s sockets send the server, before the server reads them, until
 * `release`; what comes after goes through. A packet let go after its socket closed is dropped (Socket.IO's rule).
 */
function holdPackets(e2e: E2EApp, userId: string, event: string) {
  const held: (() => void)[] = []
  let holding = true
  const hook = (socket: typeof e2e.server.io.sockets.sockets extends Map<string, infer S> ? S : never) =>
    socket.use((packet, next) => {
      if (holding && socket.data.userId === userId && packet[0] === event) held.push(() => next())
      else next()
    })
  for (const socket of e2e.server.io.of('/').sockets.values()) hook(socket)
  e2e.server.io.on('connection', hook)
  return {
    count: () => held.length,
    release() {
      holding = false
      e2e.server.io.off('connection', hook)
      for (const go of held.splice(0)) go()
    },
  }
}

/** The one socket of the user's at the server once the old one (`before`) has gone and another is up. */
async function nextSocket(e2e: E2EApp, userId: string, before: string) {
  await expect
    .poll(async () => (await socketsOf(e2e, userId)).map((id) => (id === before ? 'the old one' : 'another')), {
      timeout: hangBound(),
    })
    .toEqual(['another'])
  const [socket] = await e2e.server.io.in(`user:${userId}`).fetchSockets()
  return socket!
}

/** Whether the page's badge said online, and when (`Date.now()`), from now on: each change, in order. */
async function recordBadge(page: Page): Promise<void> {
  await page.evaluate(() => {
    const node = document.querySelector('[data-testid="connection-badge"]')!
    const log: { at: number; status: string }[] = [{ at: Date.now(), status: node.getAttribute('data-status') ?? '' }]
    ;(window as { badgeLog?: typeof log }).badgeLog = log
    new MutationObserver(() => {
      const status = node.getAttribute('data-status') ?? ''
      if (log.at(-1)!.status !== status) log.push({ at: Date.now(), status })
    }).observe(node, { attributes: true, attributeFilter: ['data-status'] })
  })
}
const badgeLog = (page: Page) =>
  page.evaluate(() => (window as { badgeLog?: { at: number; status: string }[] }).badgeLog ?? [])

/** Alice's thread with Bob open in three tabs, once one holds the socket: the conversation, the tabs and the holder. */
async function threeTabsOnBob(e2e: E2EApp, alice: Awaited<ReturnType<typeof loginAs>>) {
  const id = await openConversationWith(alice.page, 'Bob')
  const url = `${e2e.url}/#/messages/${encodeURIComponent(id)}`
  const tabs = [alice.page, await openTab(alice, url), await openTab(alice, url)]
  await expect
    .poll(async () => (await Promise.all(tabs.map(roleOf))).sort(), { timeout: hangBound() })
    .toEqual(['follower', 'follower', 'leader'])
  const roles = await Promise.all(tabs.map(roleOf))
  return { id, tabs, holder: tabs[roles.indexOf('leader')]! }
}

/** Waits until one of the two tabs left holds the socket, the other following it. */
const nextHolderAmong = (survivors: Page[]) =>
  expect
    .poll(async () => (await Promise.all(survivors.map(roleOf))).sort(), { timeout: hangBound() })
    .toEqual(['follower', 'leader'])

/**
 * Crashes the holder with `held`'s packet under way: `served`, the server got it (`untilServed` waits for its effect)
 * while the holder, frozen, read nothing more (the answers reach its socket and go no further); or not, let go once
 * the holder's socket `before` is gone. Answers the moment just before the crash.
 */
async function crashHolderWith(
  e2e: E2EApp,
  userId: string,
  before: string,
  { holder, held, served }: { holder: Page; held: ReturnType<typeof holdPackets>; served: boolean },
  untilServed: () => Promise<unknown>,
): Promise<number> {
  if (served) {
    await freeze(holder)
    held.release()
    await untilServed()
  }
  const crashedAt = Date.now()
  await crashTab(holder)
  if (!served) {
    await expect.poll(async () => (await socketsOf(e2e, userId)).includes(before), { timeout: hangBound() }).toBe(false)
    held.release()
  }
  return crashedAt
}

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
          { timeout: hangBound() },
        )
        .toEqual({ held: 1, pending: 0 })

      const dialogs: string[] = []
      const asked = alice.page
        .waitForEvent('dialog', { timeout: hangBound() })
        .then((dialog) => {
          dialogs.push(dialog.message())
          return dialog.dismiss()
        })
        // Not asked: the page logs out and closes with the context, and this wait ends unanswered.
        .catch(() => {})
      await alice.page.getByRole('button', { name: 'Log out' }).click()
      // Logged out (the login page), or asked first: whichever comes.
      await Promise.race([asked, alice.page.getByTestId('demo-alice').waitFor({ timeout: hangBound() })])
      expect(dialogs).toEqual([])
      expect(await messagesWithText(alice.page, text).count()).toBe(0)
    } finally {
      blockSockets(e2e, user.id, 0)
      await alice.context.close()
    }
  })

  it.each([
    { served: false, sendFrom: 0, what: 'it never reached the server' },
    { served: true, sendFrom: 0, what: 'the server stored it, its answer went down with the holder' },
    { served: false, sendFrom: 1, what: 'it never reached the server' },
    { served: true, sendFrom: 1, what: 'the server stored it, its answer went down with the holder' },
  ])(
    'the holder crashes with follower $sendFrom’s send under way through it ($what): shown once, sent, in every tab',
    async ({ served, sendFrom }) => {
      const alice = await loginAs(e2e, 'alice')
      const { user } = await apiLogin(e2e, 'alice')
      let held: ReturnType<typeof holdPackets> | null = null
      try {
        const { id, tabs, holder } = await threeTabsOnBob(e2e, alice)
        // The first follower opened is the next in the lock's queue: the next holder.
        const followers = tabs.filter((t) => t !== holder)
        const sender = followers[sendFrom]!
        const other = followers[1 - sendFrom]!
        for (const tab of [sender, other]) await recordBadge(tab)
        const [before] = await socketsOf(e2e, user.id)

        held = holdPackets(e2e, user.id, 'message:send')
        const text = unique('Sent through the holder, which crashed')
        await send(sender, text)
        await expect.poll(() => held!.count(), { timeout: hangBound() }).toBe(1)
        const crashedAt = await crashHolderWith(e2e, user.id, before!, { holder, held, served }, () =>
          expect.poll(async () => (await storedTexts(e2e, id)).includes(text), { timeout: hangBound() }).toBe(true),
        )

        await nextHolderAmong([sender, other])
        for (const tab of [sender, other]) await waitOnline(tab)
        const after = await nextSocket(e2e, user.id, before!)
        for (const tab of [sender, other]) {
          await messagesWithText(tab, text).and(tab.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
        }
        // One more message after it, sent from the other tab: anything doubled before it has shown by then.
        const later = unique('after the crash')
        await send(other, later)
        for (const tab of [sender, other]) {
          await messagesWithText(tab, later).and(tab.locator('[data-status="sent"]')).waitFor({ timeout: hangBound() })
          expect(await messagesWithText(tab, text).count()).toBe(1)
        }
        expect((await storedTexts(e2e, id)).filter((t) => t === text)).toHaveLength(1)
        // No tab said online while no socket was up: each left "online" after the crash, and came back to it only once
        // the next holder's handshake had begun.
        for (const tab of [sender, other]) {
          const log = (await badgeLog(tab)).filter((entry) => entry.at >= crashedAt)
          const away = log.findIndex((entry) => entry.status !== 'connected')
          const back = log.findIndex((entry, i) => i > away && entry.status === 'connected')
          expect({ away: away > -1, back: back > -1 }, JSON.stringify(log)).toEqual({ away: true, back: true })
          expect(log[back]!.at, JSON.stringify(log)).toBeGreaterThanOrEqual(after.handshake.issued)
        }
      } finally {
        held?.release()
        await alice.context.close()
      }
    },
  )

  it.each([
    { served: false, what: 'it never reached the server' },
    { served: true, what: 'the server joined it, its answer went down with the holder' },
  ])(
    'the holder crashes with a follower’s join under way through it ($what): the next holder joins it',
    async ({ served }) => {
      const alice = await loginAs(e2e, 'alice')
      const { user } = await apiLogin(e2e, 'alice')
      let held: ReturnType<typeof holdPackets> | null = null
      try {
        const { id, tabs, holder } = await threeTabsOnBob(e2e, alice)
        const [viewer, other] = tabs.filter((t) => t !== holder) as [Page, Page]
        const [before] = await socketsOf(e2e, user.id)
        const inRoom = async (conversationId: string) =>
          (await e2e.server.io.in(`conv:${conversationId}`).fetchSockets()).map((s) => s.id)

        held = holdPackets(e2e, user.id, 'conversation:join')
        const carol = 'conv-alice-carol'
        await gotoConversation(viewer, carol)
        await expect.poll(() => held!.count(), { timeout: hangBound() }).toBe(1)
        await crashHolderWith(e2e, user.id, before!, { holder, held, served }, () =>
          expect.poll(() => inRoom(carol), { timeout: hangBound() }).toEqual([before]),
        )
        await nextHolderAmong([viewer, other])
        for (const tab of [viewer, other]) await waitOnline(tab)
        const { id: after } = await nextSocket(e2e, user.id, before!)
        expect(after).not.toBe(before)
        // The union of the visible tabs' open threads: Carol's (the viewer's) and Bob's (the other tab's).
        await expect.poll(() => inRoom(carol), { timeout: hangBound() }).toEqual([after])
        await expect.poll(() => inRoom(id), { timeout: hangBound() }).toEqual([after])
      } finally {
        held?.release()
        await alice.context.close()
      }
    },
  )

  it('a follower looking at a thread crashes: the socket leaves that thread’s room (it is no longer read for her)', async () => {
    const alice = await loginAs(e2e, 'alice')
    const { user } = await apiLogin(e2e, 'alice')
    try {
      const id = await openConversationWith(alice.page, 'Bob')
      const viewer = await openTab(alice, `${e2e.url}/#/messages/conv-alice-carol`)
      await expect
        .poll(async () => (await Promise.all([alice.page, viewer].map(roleOf))).sort(), { timeout: hangBound() })
        .toEqual(['follower', 'leader'])
      const holder = (await roleOf(alice.page)) === 'leader' ? alice.page : viewer
      const follower = holder === alice.page ? viewer : alice.page
      const followerThread = holder === alice.page ? 'conv-alice-carol' : id
      const [socket] = await socketsOf(e2e, user.id)
      const inRoom = async (conversationId: string) =>
        (await e2e.server.io.in(`conv:${conversationId}`).fetchSockets()).map((s) => s.id)
      await expect.poll(() => inRoom(followerThread), { timeout: hangBound() }).toEqual([socket])
      await crashTab(follower)
      await expect.poll(() => inRoom(followerThread), { timeout: hangBound() }).toEqual([])
      expect(await socketsOf(e2e, user.id)).toEqual([socket])
    } finally {
      await alice.context.close()
    }
  })

  it('the holder crashes in the middle of its socket’s replay: the next holder resumes, each message shows once', async () => {
    const alice = await loginAs(e2e, 'alice')
    const { user } = await apiLogin(e2e, 'alice')
    const bob = await apiLogin(e2e, 'bob')
    type Socket = typeof e2e.server.io.sockets.sockets extends Map<string, infer S> ? S : never
    let holding: Socket | null = null
    const heldBack: string[] = []
    const holdAfterFirst = (socket: Socket) => {
      if (socket.data.userId !== user.id || holding) return
      holding = socket
      const emit = socket.emit.bind(socket) as (event: string, ...args: unknown[]) => boolean
      let passed = 0
      ;(socket as { emit: typeof emit }).emit = (event, ...args) => {
        // The first replayed message goes; the rest of the replay, its sync marker and all after them wait.
        if (event === 'message:new' && passed === 0) {
          passed += 1
          return emit(event, ...args)
        }
        if (passed === 0) return emit(event, ...args)
        heldBack.push(event)
        return true
      }
    }
    try {
      const { id, tabs, holder } = await threeTabsOnBob(e2e, alice)
      const rest = tabs.filter((t) => t !== holder)

      blockSockets(e2e, user.id, 10 * 60_000)
      for (const tab of tabs) await waitNotOnline(tab)
      const texts = [unique('Bob while Alice was away 1'), unique('Bob while Alice was away 2')]
      for (const content of texts)
        await apiCall(e2e, bob.token, 'POST', `/api/conversations/${encodeURIComponent(id)}/messages`, {
          content,
          clientId: crypto.randomUUID(),
        })
      e2e.server.io.on('connection', holdAfterFirst)
      blockSockets(e2e, user.id, 0)
      // The whole replay has been sent: its second message and its sync marker are held back.
      await expect.poll(() => heldBack.includes('sync:caughtUp'), { timeout: hangBound() }).toBe(true)
      expect(heldBack).toContain('message:new')
      e2e.server.io.off('connection', holdAfterFirst)
      // Mid-replay: the followers are not told they are online.
      for (const tab of rest) expect(await badge(tab).getAttribute('data-status')).not.toBe('connected')
      await crashTab(holder)

      await nextHolderAmong(rest)
      for (const tab of rest) await waitOnline(tab)
      for (const tab of rest) {
        for (const text of texts) await messagesWithText(tab, text).waitFor({ timeout: hangBound() })
      }
      const after = unique('Bob after the crash')
      await apiCall(e2e, bob.token, 'POST', `/api/conversations/${encodeURIComponent(id)}/messages`, {
        content: after,
        clientId: crypto.randomUUID(),
      })
      for (const tab of rest) {
        await messagesWithText(tab, after).waitFor({ timeout: hangBound() })
        for (const text of texts) expect(await messagesWithText(tab, text).count()).toBe(1)
      }
    } finally {
      e2e.server.io.off('connection', holdAfterFirst)
      blockSockets(e2e, user.id, 0)
      await alice.context.close()
    }
  })

  it('the holder crashes with its cancellation of a lesson unsent: Bob’s cancellation is a toast in the other tab', async () => {
    const aliceApi = await apiLogin(e2e, 'alice')
    const bob = await apiLogin(e2e, 'bob')
    const subject = unique('Crashed')
    const lesson = await apiCall<{ id: string }>(e2e, aliceApi.token, 'POST', '/api/lessons', {
      tutorId: bob.user.id,
      subject,
      startsAt: new Date(Date.now() + 3 * 24 * 3600_000).toISOString(),
      durationMinutes: 60,
    })
    const alice = await loginAs(e2e, 'alice')
    try {
      const holder = alice.page
      await holder.getByTestId('nav-lessons').click()
      const other = await openTab(alice, `${e2e.url}/#/messages`)
      await nextHolderAmong([holder, other])
      expect(await roleOf(holder)).toBe('leader')
      // What the other tab's toaster hears: a channel of the same name made after its own hears after it.
      await other.evaluate(() => {
        const heard: unknown[] = []
        ;(window as { toastWords?: unknown[] }).toastWords = heard
        new BroadcastChannel('talemy.toasts').onmessage = (event) => heard.push(event.data)
      })
      // Her cancellation never leaves the holder: it crashes first.
      const patches = await holdRequests(holder, [['PATCH', /^\/api\/lessons\//]])
      const card = holder.locator(`[data-testid="lesson"][data-lesson-id="${lesson.id}"]`)
      await card.getByRole('button', { name: 'Cancel lesson' }).click()
      await card.getByRole('button', { name: 'Yes, cancel lesson' }).click()
      await expect.poll(() => patches.seen, { timeout: hangBound() }).toEqual([JSON.stringify({ status: 'cancelled' })])
      await expect
        .poll(() => other.evaluate(() => (window as { toastWords?: unknown[] }).toastWords?.length ?? 0), {
          timeout: hangBound(),
        })
        .toBeGreaterThan(0)
      await crashTab(holder)

      // The other tab takes the socket over and catches up: had her cancellation been made, its event came then.
      await expect.poll(() => roleOf(other), { timeout: hangBound() }).toBe('leader')
      await waitOnline(other)
      await apiCall(e2e, bob.token, 'PATCH', `/api/lessons/${lesson.id}`, { status: 'cancelled' })
      await other
        .getByTestId('toast')
        .filter({ hasText: `Lesson “${subject}” (Bob Okafor) was cancelled` })
        .waitFor({ timeout: hangBound() })
    } finally {
      await alice.context.close()
    }
  })
})
