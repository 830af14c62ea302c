import { describe, expect, test, vi } from 'vitest'
import type { Id, User } from '../../src/contract'
import {
  joinConversation,
  joined,
  selectConnection,
  sendConfirmed,
  sendMessage,
  socketHolderRequested,
  type SocketHolder,
  type TabsOptions,
} from '../../src/realtime'
import { manualVisibility } from '../../src/realtime/tabs/visibility'
import { conversationRoom } from '../../server/realtime/rooms'
import { browser as tabsBrowser } from '../unit/tabs/support/browser'
import { browserStore, conversationBetween, serverPerFile, type BrowserStore } from './support'
import { createMemoryStorage } from '../../src/app/store'
import { createOutboxStorage } from '../../src/realtime'
import { http } from '../server/support/server'
import { storedThread } from '../reliability/support'
import { hangBound } from '../support/hangBound'

// One socket per browser against the reference server on loopback: several stores of one "browser" (one storage, one
// channel, one lock) share one Socket.IO connection; the channel and the lock are in-process fakes of
// BroadcastChannel and Web Locks (Node has no navigator.locks), the server and the sockets are real.

const file = serverPerFile()

const socketsOf = async (user: User) => (await file.server.io.in(`user:${user.id}`).fetchSockets()).map((s) => s.id)

/** Waits until the server holds exactly one socket for `user`, other than `not`; returns its id. */
async function oneSocketOtherThan(user: User, not: string | undefined): Promise<string> {
  return vi.waitFor(
    async () => {
      const ids = await socketsOf(user)
      if (ids.length !== 1 || ids[0] === not) throw new Error(`sockets: ${ids.join(', ')}`)
      return ids[0]!
    },
    { timeout: hangBound(), interval: 20 },
  )
}

/** A browser: its tabs share a storage, a channel and a lock. */
function aBrowser() {
  const storage = createMemoryStorage()
  const edges = tabsBrowser()
  const tabs: Array<BrowserStore & { tabId: string; visibility: ReturnType<typeof manualVisibility> }> = []
  return {
    tabs,
    storage,
    /** A new tab; the first one logs in, the others find the session in storage. */
    async open(email: string, tuning: { heartbeatMs?: number; ackTimeoutMs?: number; fetchFn?: typeof fetch } = {}) {
      const tabId = `tab-${tabs.length + 1}`
      const visibility = manualVisibility(true)
      const options: TabsOptions = {
        channelName: 'it',
        ...edges.tab(tabId),
        visibility,
        tabId,
        heartbeatMs: tuning.heartbeatMs ?? 100,
      }
      const s = browserStore(file.server.url, {
        storage,
        ...(tuning.fetchFn ? { fetchFn: tuning.fetchFn } : {}),
        realtime: { tabs: options, ...(tuning.ackTimeoutMs ? { ackTimeoutMs: tuning.ackTimeoutMs } : {}) },
      })
      file.track(s)
      if (tabs.length === 0) await s.login(email)
      else s.store.dispatch({ type: 'socket/connect' })
      const tab = Object.assign(s, { tabId, visibility })
      tabs.push(tab)
      return tab
    },
    edges,
    /** Alice in `count` tabs, once one of them holds the socket and every one is connected. */
    async alice(count: number) {
      const tabs = [await this.open('alice@talemy.test')]
      while (tabs.length < count) tabs.push(await this.open('alice@talemy.test'))
      const parts = [...Array<string>(count - 1).fill('follower'), 'leader'].join()
      await tabs[0]!.until(() => rolesOf(tabs).join() === parts && tabs.every((t) => t.status() === 'connected'))
      const user = tabs[0]!.store.getState().auth.user as User
      return { tabs, user, holder: tabs.find((t) => roleOf(t) === 'leader')! }
    },
    /** Closes a tab as the browser does: the page goes (no goodbye), its locks are released. */
    close(tab: BrowserStore & { tabId: string }) {
      edges.crash(tab.tabId)
      tab.close()
      tabs.splice(tabs.indexOf(tab as never), 1)
    },
  }
}

const roleOf = (s: BrowserStore) => selectConnection(s.store.getState()).role
const rolesOf = (list: BrowserStore[]) => list.map(roleOf).sort()

/**
 * Bob, and Alice in three tabs of one browser, every one with their conversation `id` open; `before`: Alice's one
 * socket at the server, `rest`: the two tabs that do not hold it.
 */
async function threeTabsInAThread() {
  const bob = await file.loggedIn('bob@talemy.test')
  const b = aBrowser()
  const { tabs, user: alice, holder } = await b.alice(3)
  const id = await conversationBetween(bob, alice)
  await bob.openThread(id)
  for (const t of tabs) await t.openThread(id)
  const [before] = await socketsOf(alice)
  return { bob, b, tabs, alice, holder, id, before, rest: tabs.filter((t) => t !== holder) }
}

/** Waits until one of `rest` holds the socket, all of them connected, and the server has it instead of `before`. */
async function takenOver(rest: BrowserStore[], user: User, before: string | undefined) {
  await rest[0]!.until(
    () => rolesOf(rest).join() === 'follower,leader' && rest.every((t) => t.status() === 'connected'),
  )
  await oneSocketOtherThan(user, before)
}

/** Expects each of `sent` exactly once in the tab's thread `id`. */
function expectEachOnce(t: BrowserStore, id: Id, sent: ReadonlyArray<{ clientId: string }>) {
  for (const p of sent) expect(t.thread(id).filter((m) => m.clientId === p.clientId)).toHaveLength(1)
}

describe('three tabs of one user', () => {
  test('one socket at the server; every event in every tab once; sends from any tab confirmed in that tab', async () => {
    const bob = await file.loggedIn('bob@talemy.test')
    const b = aBrowser()
    const { tabs, user: alice } = await b.alice(3)
    expect(await socketsOf(alice)).toHaveLength(1)
    // `useSocket().socket`: the real socket in the holder, null in a follower.
    const exposed = (t: BrowserStore) => (t.store.dispatch(socketHolderRequested()) as unknown as SocketHolder).get()
    expect(tabs.filter((t) => exposed(t) !== null).map(roleOf)).toEqual(['leader'])

    const id = await conversationBetween(bob, alice)
    await bob.openThread(id)
    for (const t of tabs) await t.openThread(id)

    const fromBob = bob.store.dispatch(sendMessage({ conversationId: id, content: 'to every tab' })).payload
    for (const t of tabs) await t.until(() => t.thread(id).some((m) => m.clientId === fromBob.clientId))

    const sent = tabs.map(
      (t, i) => t.store.dispatch(sendMessage({ conversationId: id, content: `from tab ${i + 1}` })).payload,
    )
    for (const [i, t] of tabs.entries()) {
      // Confirmed in the tab that sent it, exactly as in the holder: its own `sendConfirmed`.
      await t.until(() =>
        t.actions.some((a) => sendConfirmed.match(a) && a.payload.message.clientId === sent[i]!.clientId),
      )
    }
    await bob.until(() => sent.every((p) => bob.thread(id).some((m) => m.clientId === p.clientId)))
    for (const t of tabs) {
      await t.until(() => sent.every((p) => t.thread(id).some((m) => m.clientId === p.clientId && m.status === 'sent')))
    }
    for (const t of [...tabs, bob]) expectEachOnce(t, id, [fromBob, ...sent])
    expect(
      bob
        .thread(id)
        .slice(-3)
        .map((m) => m.content),
    ).toEqual(['from tab 1', 'from tab 2', 'from tab 3'])
    // Every tab's store saw the event as its own action (what its DevTools shows).
    for (const t of tabs) expect(t.actions.filter((a) => a.type === 'socket/message:new').length).toBeGreaterThan(0)
    expect(await socketsOf(alice)).toHaveLength(1)
  })

  test('the holder closes: another tab takes over from its own offset; nothing meanwhile is lost or doubled', async () => {
    const { bob, b, alice, holder, id, before, rest } = await threeTabsInAThread()

    b.close(holder)
    const fromBob = bob.store.dispatch(sendMessage({ conversationId: id, content: 'during the handoff' })).payload
    const fromTabs = rest.map(
      (t, i) => t.store.dispatch(sendMessage({ conversationId: id, content: `handoff ${i}` })).payload,
    )

    await takenOver(rest, alice, before)
    for (const t of [...rest, bob]) {
      await t.until(() =>
        [fromBob, ...fromTabs].every((p) =>
          t.thread(id).some((m) => m.clientId === p.clientId && m.status !== 'pending'),
        ),
      )
      expectEachOnce(t, id, [fromBob, ...fromTabs])
    }
    // The new holder resumed from its offset: no thread refetch was needed for the event it missed.
    const newHolder = rest.find((t) => roleOf(t) === 'leader')!
    expect(newHolder.actions.some((a) => a.type === 'socket/sync:gap')).toBe(false)
  })

  test('the holder disconnects (its own choice): another tab takes the socket over; it rides along after connect', async () => {
    const { bob, tabs, alice, holder, id, before, rest } = await threeTabsInAThread()

    holder.store.dispatch({ type: 'socket/disconnect' })
    const during = bob.store.dispatch(sendMessage({ conversationId: id, content: 'while one tab is offline' })).payload
    await takenOver(rest, alice, before)
    for (const t of rest) await t.until(() => t.thread(id).some((m) => m.clientId === during.clientId))
    expect(holder.status()).toBe('disconnected')
    expect(roleOf(holder)).toBe('follower')

    // Back online: it rides on the new holder's socket, and gets what it missed and what comes next, once.
    holder.store.dispatch({ type: 'socket/connect' })
    await holder.until(() => holder.status() === 'connected')
    const after = bob.store.dispatch(sendMessage({ conversationId: id, content: 'everyone online again' })).payload
    for (const t of tabs) {
      await t.until(() => [during, after].every((p) => t.thread(id).some((m) => m.clientId === p.clientId)))
      expectEachOnce(t, id, [during, after])
    }
    expect(roleOf(holder)).toBe('follower')
    // Replayed from its own offset by the holder, not refetched.
    expect(holder.actions.some((a) => a.type === 'socket/sync:gap')).toBe(false)
    expect(await socketsOf(alice)).toHaveLength(1)
  })
})

describe('rooms: the union of the visible tabs’ open threads', () => {
  test('a hidden tab looking at a conversation joins nothing (nothing is marked read); shown again, it joins', async () => {
    const bob = await file.loggedIn('bob@talemy.test')
    const b = aBrowser()
    const { tabs, user: alice, holder } = await b.alice(2)
    const id = await conversationBetween(bob, alice)
    const follower = tabs.find((t) => t !== holder)!
    const inRoom = async () => (await file.server.io.in(conversationRoom(id)).fetchSockets()).length

    // The follower's page is hidden while it opens the thread; the holder shows another page.
    follower.visibility.set(false)
    follower.store.dispatch(joinConversation({ conversationId: id }))
    await follower.until(() => follower.actions.some((a) => joined.match(a)))
    await holder.openConversations()
    // Other tests of this file wrote in the same conversation: counted from what it is now.
    const unread = () => holder.conversations().find((c) => c.id === id)?.unreadCount
    const before = unread() ?? 0
    bob.store.dispatch(sendMessage({ conversationId: id, content: 'while hidden' }))
    await holder.until(() => unread() === before + 1)
    expect(await inRoom()).toBe(0)

    // Shown: the room is joined (the one socket's), and what is there is read.
    follower.visibility.set(true)
    await vi.waitFor(async () => expect(await inRoom()).toBe(1), { timeout: hangBound(), interval: 20 })
    await holder.until(() => unread() === 0)

    // Hidden again: it leaves, and a new message stays unread.
    follower.visibility.set(false)
    await vi.waitFor(async () => expect(await inRoom()).toBe(0), { timeout: hangBound(), interval: 20 })
    bob.store.dispatch(sendMessage({ conversationId: id, content: 'hidden again' }))
    await holder.until(() => unread() === 1)
  })
})

describe('a holder that goes silent', () => {
  test('loses the socket after missed heartbeats, closes its own first, and rides along when it wakes', async () => {
    const b = aBrowser()
    const { tabs, user: alice, holder } = await b.alice(3)
    const first = tabs[0]!
    const [before] = await socketsOf(alice)
    const mark = holder.actions.length

    b.edges.silence(holder.tabId, true)
    // Another tab takes the lock after the missed beats; the old holder, robbed, closes its socket first.
    await first.until(() => roleOf(holder) === 'follower')
    const after = holder.actions.slice(mark).map((a) => a.type)
    const robbed = after.indexOf('socket/roleChanged')
    expect(after.slice(robbed, robbed + 2)).toEqual(['socket/roleChanged', 'socket/reconnecting'])
    await first.until(() => tabs.filter((t) => roleOf(t) === 'leader').length === 1)
    const now = await oneSocketOtherThan(alice, before)

    // It wakes up: a follower of the new holder, the same single socket at the server.
    b.edges.silence(holder.tabId, false)
    await first.until(() => tabs.every((t) => t.status() === 'connected'))
    expect(rolesOf(tabs).join()).toBe('follower,follower,leader')
    expect(await socketsOf(alice)).toEqual([now])
  })
})

describe('a holder that does not answer', () => {
  test('a follower’s send goes over HTTP once its ack does not come in time, and arrives once', async () => {
    const bob = await file.loggedIn('bob@talemy.test')
    const b = aBrowser()
    // Heartbeats far apart: nobody takes the lock during the test, the holder just stops answering.
    const first = await b.open('alice@talemy.test', { heartbeatMs: 60_000 })
    const alice = first.store.getState().auth.user as User
    const posts: string[] = []
    const counting: typeof fetch = (input, init) => {
      const request = input instanceof Request ? input : null
      const method = request?.method ?? init?.method ?? 'GET'
      const url = request?.url ?? String(input)
      if (method === 'POST' && url.endsWith('/messages')) posts.push(url)
      return fetch(input, init)
    }
    const follower = await b.open('alice@talemy.test', { heartbeatMs: 60_000, ackTimeoutMs: 300, fetchFn: counting })
    await first.until(() => roleOf(follower) === 'follower' && follower.status() === 'connected')
    const id = await conversationBetween(bob, alice)
    await bob.openThread(id)
    await follower.openThread(id)

    b.edges.silence(first.tabId, true)
    const sent = follower.store.dispatch(sendMessage({ conversationId: id, content: 'over HTTP' })).payload
    await follower.until(() =>
      follower.actions.some((a) => sendConfirmed.match(a) && a.payload.message.clientId === sent.clientId),
    )
    expect(posts).toHaveLength(1)
    await bob.until(() => bob.thread(id).some((m) => m.clientId === sent.clientId))
    // The holder did emit it (its answer was lost): the server's idempotency by clientId keeps it single.
    b.edges.silence(first.tabId, false)
    const later = bob.store.dispatch(sendMessage({ conversationId: id, content: 'a later one' })).payload
    await bob.until(() => bob.thread(id).some((m) => m.clientId === later.clientId))
    await follower.until(() => follower.thread(id).some((m) => m.clientId === later.clientId))
    expect(bob.thread(id).filter((m) => m.clientId === sent.clientId)).toHaveLength(1)
    expect(follower.thread(id).filter((m) => m.clientId === sent.clientId)).toHaveLength(1)
  })
})

describe('the outbox at a handoff', () => {
  test('sends the closed holder left unsent are sent by the tab that takes over, once', async () => {
    const bob = await file.loggedIn('bob@talemy.test')
    const b = aBrowser()
    const { tabs, user: alice, holder } = await b.alice(2)
    const id = await conversationBetween(bob, alice)
    await bob.openThread(id)
    const other = tabs.find((t) => t !== holder)!

    // The holder's page dies right after writing a send to its durable outbox, before the emit got anywhere.
    const left = {
      clientId: 'left-by-the-holder',
      conversationId: id,
      content: 'written just before the crash',
      createdAt: new Date().toISOString(),
      status: 'pending' as const,
      attempts: 0,
      error: null,
    }
    createOutboxStorage(b.storage).save(alice.id, [], [left])
    b.close(holder)

    await other.until(() => roleOf(other) === 'leader' && other.status() === 'connected')
    await bob.until(() => bob.thread(id).some((m) => m.clientId === left.clientId))
    await other.until(() => other.store.getState().socket.outbox.length === 0)
    expect(bob.thread(id).filter((m) => m.clientId === left.clientId)).toHaveLength(1)
    expect(createOutboxStorage(b.storage).load(alice.id)).toEqual([])
  })
})

describe('a follower closes with unsent messages', () => {
  test('the holder sends what the closed follower left in storage, once, without waiting for a reload', async () => {
    const bob = await file.loggedIn('bob@talemy.test')
    const b = aBrowser()
    const { tabs, user: alice, holder } = await b.alice(2)
    const id = await conversationBetween(bob, alice)
    await bob.openThread(id)
    const follower = tabs.find((t) => t !== holder)!

    // The follower's page dies right after writing a send to the durable outbox, before its emit reached the holder.
    const left = {
      clientId: 'left-by-a-follower',
      conversationId: id,
      content: 'written just before the tab closed',
      createdAt: new Date().toISOString(),
      status: 'pending' as const,
      attempts: 0,
      error: null,
    }
    createOutboxStorage(b.storage).save(alice.id, [], [left])
    b.close(follower)

    // The holder notices the follower gone (its heartbeats stop) and sends what it left.
    await bob.until(() => bob.thread(id).some((m) => m.clientId === left.clientId))
    await holder.until(() => createOutboxStorage(b.storage).load(alice.id).length === 0)
    expect(bob.thread(id).filter((m) => m.clientId === left.clientId)).toHaveLength(1)
    expect(roleOf(holder)).toBe('leader')
  })
})

describe('the session ends on the server', () => {
  test('every tab says so (unauthorized), the followers too, not only the holder', async () => {
    const browser = aBrowser()
    const { tabs, holder } = await browser.alice(2)
    const follower = tabs.find((t) => t !== holder)!
    // Logged out elsewhere with this session's refresh token: the server revokes it and disconnects its sockets.
    const { token } = holder.store.getState().auth
    expect((await http(file.server.url, 'POST', '/api/auth/logout', { token: token! })).status).toBe(204)
    await holder.until(() => holder.status() === 'unauthorized')
    await follower.until(() => follower.status() === 'unauthorized')
    expect(selectConnection(follower.store.getState()).error?.code).toBe('UNAUTHORIZED')
  })

  // The holder keeps the lock (every tab follows it) and has no socket left: a tab opened afterwards finds the ended
  // session in storage and must be told so too, not say "reconnecting…" until its token's refresh falls due (12 min).
  test('a tab opened afterwards says so too (no page read, its token’s refresh minutes away), and makes no socket', async () => {
    const browser = aBrowser()
    const { tabs, holder, user } = await browser.alice(2)
    const { token } = holder.store.getState().auth
    expect((await http(file.server.url, 'POST', '/api/auth/logout', { token: token! })).status).toBe(204)
    await holder.until(() => tabs.every((t) => t.status() === 'unauthorized'))
    const late = await browser.open('alice@talemy.test')
    await late.until(() => late.status() === 'unauthorized')
    expect([roleOf(late), late.sockets()]).toEqual(['follower', 0])
    expect(roleOf(holder)).toBe('leader')
    expect(await socketsOf(user)).toEqual([])
  })
})

describe('without the mechanism', () => {
  test('each store has a socket of its own (role solo), as before', async () => {
    const storage = createMemoryStorage()
    const one = browserStore(file.server.url, { storage })
    file.track(one)
    const user = await one.login('carol@talemy.test')
    const two = browserStore(file.server.url, { storage })
    file.track(two)
    two.store.dispatch({ type: 'socket/connect' })
    await one.until(() => one.status() === 'connected' && two.status() === 'connected')
    expect([roleOf(one), roleOf(two)]).toEqual(['solo', 'solo'])
    expect(await socketsOf(user)).toHaveLength(2)
  })
})

describe('a follower’s committed send whose answer is lost with the holder’s socket', () => {
  test('sent again after the reconnect: stored once, shown once as sent in both tabs and at Bob, in order', async () => {
    const bob = await file.loggedIn('bob@talemy.test')
    const b = aBrowser()
    const { tabs, user: alice, holder } = await b.alice(2)
    const follower = tabs.find((t) => t !== holder)!
    const id = await conversationBetween(bob, alice)
    await bob.openThread(id)
    for (const t of tabs) await t.openThread(id)

    const clientId = `follower-lost-ack-${Date.now()}`
    let dropped = false
    const [socketId] = await socketsOf(alice)
    const socket = file.server.io.sockets.sockets.get(socketId!)!
    const client = socket.client as unknown as { writeToEngine(encoded: unknown[], opts: unknown): void }
    const write = client.writeToEngine.bind(client)
    client.writeToEngine = (encoded, opts) => {
      if (!dropped && encoded.some((e) => typeof e === 'string' && e.includes(clientId))) {
        dropped = true
        socket.conn.close()
        return
      }
      write(encoded, opts)
    }
    let most = 0
    const unwatch = [...tabs, bob].map((t) =>
      t.store.subscribe(() => (most = Math.max(most, t.thread(id).filter((m) => m.clientId === clientId).length))),
    )
    follower.store.dispatch(sendMessage({ conversationId: id, content: 'from the follower', clientId }))
    await follower.until(() => dropped)
    const next = holder.store.dispatch(sendMessage({ conversationId: id, content: 'from the holder, after' })).payload
    for (const t of tabs)
      await t.until(
        () =>
          t.store.getState().socket.outbox.length === 0 &&
          [clientId, next.clientId].every((c) => t.thread(id).some((m) => m.clientId === c && m.status === 'sent')) &&
          t.status() === 'connected',
        30_000,
      )
    await bob.until(() => [clientId, next.clientId].every((c) => bob.thread(id).some((m) => m.clientId === c)))

    const db = await storedThread(file.server.url, bob.store.getState().auth.token!, id)
    const ours = (list: ReadonlyArray<{ clientId?: string | null; id: string }>) =>
      list.filter((m) => m.clientId === clientId || m.clientId === next.clientId).map((m) => m.id)
    expect(ours(db)).toHaveLength(2)
    for (const t of [...tabs, bob]) expect(ours(t.thread(id))).toEqual(ours(db))
    for (const stop of unwatch) stop()
    expect(most).toBe(1)
    expect(createOutboxStorage(b.storage).load(alice.id)).toEqual([])
  })
})

describe('a follower closes while its committed send awaits its answer', () => {
  test('the holder sends it again from storage: stored once, shown once as sent in the holder and at Bob', async () => {
    const bob = await file.loggedIn('bob@talemy.test')
    const b = aBrowser()
    const { tabs, user: alice, holder } = await b.alice(2)
    const follower = tabs.find((t) => t !== holder)!
    const id = await conversationBetween(bob, alice)
    await bob.openThread(id)
    for (const t of tabs) await t.openThread(id)

    const clientId = `follower-closed-${Date.now()}`
    let holding = true
    let withheld = 0
    const [socketId] = await socketsOf(alice)
    const socket = file.server.io.sockets.sockets.get(socketId!)!
    const client = socket.client as unknown as { writeToEngine(encoded: unknown[], opts: unknown): void }
    const write = client.writeToEngine.bind(client)
    client.writeToEngine = (encoded, opts) => {
      if (holding && encoded.some((e) => typeof e === 'string' && e.includes(clientId))) return void withheld++
      write(encoded, opts)
    }
    let most = 0
    const copies = () => holder.thread(id).filter((m) => m.clientId === clientId).length
    const unwatch = holder.store.subscribe(() => (most = Math.max(most, copies())))
    follower.store.dispatch(sendMessage({ conversationId: id, content: 'committed, then the tab closed', clientId }))
    await follower.until(() => withheld > 0)
    await bob.until(() => bob.thread(id).some((m) => m.clientId === clientId))
    b.close(follower)
    holding = false
    const next = holder.store.dispatch(sendMessage({ conversationId: id, content: 'from the holder, after' })).payload
    await holder.until(
      () =>
        holder.store.getState().socket.outbox.length === 0 &&
        createOutboxStorage(b.storage).load(alice.id).length === 0 &&
        [clientId, next.clientId].every((c) => holder.thread(id).some((m) => m.clientId === c && m.status === 'sent')),
      30_000,
    )
    await bob.until(() => bob.thread(id).some((m) => m.clientId === next.clientId))
    unwatch()
    const db = await storedThread(file.server.url, bob.store.getState().auth.token!, id)
    const ours = (list: ReadonlyArray<{ clientId?: string | null; id: string }>) =>
      list.filter((m) => m.clientId === clientId || m.clientId === next.clientId).map((m) => m.id)
    expect(ours(db)).toHaveLength(2)
    expect(ours(holder.thread(id))).toEqual(ours(db))
    expect(ours(bob.thread(id))).toEqual(ours(db))
    expect(most).toBe(1)
  })
})

describe('two tabs write in one conversation while offline', () => {
  test.each([
    ['each in a later millisecond, as a person writes', false],
    ['all in one millisecond, as a script may', true],
  ])(
    'once back, the server has them in the order they were written, and every tab and Bob show that order: %s',
    async (_how, oneMillisecond) => {
      const bob = await file.loggedIn('bob@talemy.test')
      let offline = false
      const held: Array<() => void> = []
      file.server.io.use((socket, next) => {
        if (offline && socket.data.userId === 'user-alice') return void held.push(() => next())
        next()
      })
      const fetchFn: typeof fetch = (input, init) => {
        const request = input instanceof Request ? input : new Request(input, init)
        if (offline && request.method === 'POST' && request.url.endsWith('/messages'))
          return Promise.reject(new TypeError('Failed to fetch'))
        return fetch(request)
      }
      const b = aBrowser()
      const first = await b.open('alice@talemy.test', { fetchFn })
      const second = await b.open('alice@talemy.test', { fetchFn })
      const tabs = [first, second]
      await first.until(
        () => rolesOf(tabs).join() === 'follower,leader' && tabs.every((t) => t.status() === 'connected'),
      )
      const alice = first.store.getState().auth.user as User
      const id = await conversationBetween(bob, alice)
      await bob.openThread(id)
      for (const t of tabs) await t.openThread(id)

      offline = true
      for (const s of await file.server.io.in(`user:${alice.id}`).fetchSockets()) s.disconnect(false)
      await first.until(() => tabs.every((t) => t.status() !== 'connected'))
      const written: string[] = []
      let lastAt = 0
      for (const [i, t] of [first, second, first, second, first].entries()) {
        // Each in a later millisecond than the one before, or all bearing the first one's time: within a millisecond
        // the tabs order their sends by where storage holds them.
        if (!oneMillisecond) await t.until(() => Date.now() > lastAt)
        const clientId = `offline-${i}-${Date.now()}`
        written.push(clientId)
        const action = sendMessage({ conversationId: id, content: `written ${i}`, clientId })
        const createdAt = oneMillisecond && lastAt > 0 ? new Date(lastAt).toISOString() : action.meta.createdAt
        t.store.dispatch({ ...action, meta: { createdAt } })
        if (!oneMillisecond || lastAt === 0) lastAt = Date.parse(createdAt)
        // Each written after the previous one is in storage, as a user typing in one tab, then the other.
        await t.until(() =>
          createOutboxStorage(b.storage)
            .load(alice.id)
            .some((m) => m.clientId === clientId),
        )
      }
      let most = 0
      const watch = (t: BrowserStore) =>
        t.store.subscribe(() => {
          for (const c of written) most = Math.max(most, t.thread(id).filter((m) => m.clientId === c).length)
        })
      const unwatch = [...tabs, bob].map(watch)
      offline = false
      for (const release of held.splice(0)) release()
      for (const t of tabs) t.store.dispatch({ type: 'socket/connect' })
      await bob.until(() => written.every((c) => bob.thread(id).some((m) => m.clientId === c)))
      for (const t of tabs)
        await t.until(
          () =>
            t.store.getState().socket.outbox.length === 0 &&
            written.every((c) => t.thread(id).some((m) => m.clientId === c && m.status === 'sent')),
        )
      const db = await storedThread(file.server.url, bob.store.getState().auth.token!, id)
      const ours = (list: ReadonlyArray<{ clientId?: string | null }>) =>
        list.filter((m) => written.includes(m.clientId ?? '')).map((m) => m.clientId)
      expect(ours(db)).toEqual(written)
      for (const t of [...tabs, bob]) expect(ours(t.thread(id))).toEqual(written)
      for (const stop of unwatch) stop()
      expect(most).toBe(1)
    },
  )
})
