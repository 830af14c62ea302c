import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { outboxStorageKey, selectPendingMessages, sendMessage } from '../../../src/realtime'
import { alice, message } from '../support/fixtures'
import { hangable } from './support/hangable'
import { aBrowser, connectedTabs, HEARTBEAT_MS, serve, settle, type Tab } from './support/tabStores'

// A holder whose page hung (or slept) while the tabs around it ran on is robbed of the lock: a follower took it from
// the silent holder and holds the browser's socket now. Woken, the robbed tab hears of its loss (the lock's word, the
// new holder's beats, its own check of the lock) as tasks of its page, which may come after its own overdue ones: its
// wake watch, which finds its socket silent past the server's heartbeat and makes a new one. Stores with the real
// middleware, fake sockets, the in-memory channel and lock, on fake timers; what reaches the hung tab is held until it
// wakes.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

test('a holder robbed while hung, woken before it hears of its loss, does not draw the followers off the new holder', async () => {
  const b = aBrowser()
  const page = hangable(b, 'a')
  const [robbed, ...others] = (await connectedTabs(b, ['a', 'b', 'c'])) as [Tab, Tab, Tab]
  robbed.own[0]!.io.fire('ping')

  // The browser sleeps; every page wakes but 'a', which hangs on: another tab takes the lock from it, one beat after
  // waking (its own timer late, it first lets the channel deliver what queued while it slept).
  page.hang()
  vi.setSystemTime(Date.now() + 10 * 60_000)
  await settle(2 * HEARTBEAT_MS)
  const holder = others.find((t) => t.conn().role === 'leader')!
  const follower = others.find((t) => t !== holder)!
  serve(holder.own.at(-1)!, 'sock-2', 3)
  await settle(2 * HEARTBEAT_MS)
  expect([holder, follower].map((t) => [t.conn().role, t.conn().status])).toEqual([
    ['leader', 'connected'],
    ['follower', 'connected'],
  ])
  const seen = follower.actions.length

  // 'a' wakes: its wake watch, overdue, runs before the news of its loss.
  page.wake(() => robbed.triggers.fire('wake'))
  await settle(3 * HEARTBEAT_MS)
  expect(robbed.conn().role).toBe('follower')
  expect(follower.actions.slice(seen).map((a) => a.type)).not.toContain('socket/disconnected')
  expect(follower.conn().status).toBe('connected')
})

test('a holder robbed while hung with the drain lock: the new holder sends at once; woken, it follows', async () => {
  // Its HTTP unreachable: every send goes on a socket.
  const b = aBrowser({ sharedOutbox: true, fetchFn: () => Promise.reject(new TypeError('fetch failed')) })
  const page = hangable(b, 'a')
  const [robbed, heir] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  const clientIdOf = (packet: { args: unknown[] }) => (packet.args[0] as { clientId: string }).clientId
  const written = (clientId: string, conversationId: string, second: number) => ({
    ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
    meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString() },
  })
  // 'a' holds the user's drain lock: the server told its x1 to wait an hour (a rate wait keeps the lock).
  robbed.store.dispatch(written('x1', 'c2', 0))
  await settle()
  const [x1] = robbed.own[0]!.sent('message:send')
  x1!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3_600_000 } })
  await settle()

  // 'a' hangs; 'b' takes the socket from it after the missed beats, and the user writes b1 there.
  page.hang()
  await settle(10 * HEARTBEAT_MS)
  expect(heir.conn().role).toBe('leader')
  const socket = heir.own[0]!
  serve(socket, 'sock-2', 3)
  await settle(2 * HEARTBEAT_MS)
  heir.store.dispatch(written('b1', 'c1', 1))
  await settle(2 * HEARTBEAT_MS)
  // b1 goes while 'a' still hangs (with x1, which 'b' took over from storage).
  expect(socket.sent('message:send').map(clientIdOf).toSorted()).toEqual(['b1', 'x1'])
  let seq = 0
  for (const packet of socket.sent('message:send')) {
    const { clientId, conversationId } = packet.args[0] as { clientId: string; conversationId: string }
    const stored = message(++seq, { senderId: alice.id, clientId, conversationId })
    packet.ack({ ok: true, data: stored })
    socket.serverEmit('message:sent', stored, { offset: 3 + seq })
  }
  await settle(HEARTBEAT_MS)
  expect(selectPendingMessages(heir.store.getState())).toEqual([])

  // 'a' wakes: it has lost both locks and follows 'b'; x1 is confirmed there too, and nothing is left to send. (Its try
  // of x1 before it hears so goes over HTTP, which the server's idempotency answers with the stored one.)
  page.wake()
  await settle(10 * HEARTBEAT_MS)
  expect(robbed.conn().role).toBe('follower')
  expect(selectPendingMessages(robbed.store.getState())).toEqual([])
  expect(robbed.own[0]!.sent('message:send')).toHaveLength(1)
  expect(socket.sent('message:send')).toHaveLength(2)
  expect(b.storage!.getItem(outboxStorageKey(alice.id)) ?? '[]').toBe('[]')
  for (const tab of [robbed, heir]) tab.dispose()
})

test('a follower hung with the drain lock: the holder counts it gone and sends at once; woken, it follows', async () => {
  // Its HTTP unreachable: every send goes on the socket.
  const b = aBrowser({ sharedOutbox: true, fetchFn: () => Promise.reject(new TypeError('fetch failed')) })
  const page = hangable(b, 'f', { stopsTimers: true })
  const [holder, hung] = (await connectedTabs(b, ['h', 'f'])) as [Tab, Tab]
  const socket = holder.own[0]!
  const clientIdOf = (packet: { args: unknown[] }) => (packet.args[0] as { clientId: string }).clientId
  const written = (clientId: string, conversationId: string, second: number) => ({
    ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
    meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString() },
  })
  // 'f' holds the user's drain lock: the server told its x1 to wait an hour (a rate wait keeps the lock).
  hung.store.dispatch(written('x1', 'c2', 0))
  await settle()
  socket.sent('message:send')[0]!.ack({
    ok: false,
    error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3_600_000 },
  })
  await settle()

  // 'f' hangs; the user writes h1 in the holder, which counts 'f' gone after its missed beats.
  page.hang()
  holder.store.dispatch(written('h1', 'c1', 1))
  await settle(10 * HEARTBEAT_MS)
  // h1 goes while 'f' still hangs (with x1, which the holder took over from storage).
  const [first, ...then] = socket.sent('message:send').map(clientIdOf)
  expect([first, then.toSorted()]).toEqual(['x1', ['h1', 'x1']])
  for (const [i, packet] of socket.sent('message:send').slice(1).entries()) {
    const { clientId, conversationId } = packet.args[0] as { clientId: string; conversationId: string }
    const stored = message(i + 1, { senderId: alice.id, clientId, conversationId })
    packet.ack({ ok: true, data: stored })
    socket.serverEmit('message:sent', stored, { offset: 4 + i })
  }
  await settle(HEARTBEAT_MS)
  expect(selectPendingMessages(holder.store.getState())).toEqual([])

  // 'f' wakes: told it was dropped, it attaches again and hears both confirmed; nothing is left to send.
  page.wake()
  await settle(10 * HEARTBEAT_MS)
  expect(hung.conn().role).toBe('follower')
  expect(selectPendingMessages(hung.store.getState())).toEqual([])
  expect(b.storage!.getItem(outboxStorageKey(alice.id)) ?? '[]').toBe('[]')
  for (const tab of [holder, hung]) tab.dispose()
})

test('a holder sending under its own drain lock as a follower goes silent keeps it: its send goes once', async () => {
  // Its HTTP unreachable: every send goes on the socket.
  const b = aBrowser({ sharedOutbox: true, fetchFn: () => Promise.reject(new TypeError('fetch failed')) })
  const page = hangable(b, 'f', { stopsTimers: true })
  const [holder, hung, other] = (await connectedTabs(b, ['h', 'f', 'c'])) as [Tab, Tab, Tab]
  const socket = holder.own[0]!
  const clientIdOf = (packet: { args: unknown[] }) => (packet.args[0] as { clientId: string }).clientId
  const written = (clientId: string, second: number) => ({
    ...sendMessage({ conversationId: 'c1', content: `text ${clientId}`, clientId }),
    meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString() },
  })
  // The holder holds the drain lock, h1 on its way; 'c' waits for the lock with c1, written after it.
  holder.store.dispatch(written('h1', 0))
  await settle()
  other.store.dispatch(written('c1', 1))
  await settle()
  expect(socket.sent('message:send').map(clientIdOf)).toEqual(['h1'])

  // 'f', which holds no drain lock, hangs: the holder counts it gone, and has no lock to take from it.
  page.hang()
  await settle(10 * HEARTBEAT_MS)
  expect(socket.sent('message:send').map(clientIdOf)).toEqual(['h1'])
  for (const [i, clientId] of ['h1', 'c1'].entries()) {
    const packet = socket.sent('message:send').find((p) => clientIdOf(p) === clientId)!
    const stored = message(4 + i, { senderId: alice.id, clientId, conversationId: 'c1' })
    packet.ack({ ok: true, data: stored })
    socket.serverEmit('message:sent', stored, { offset: 4 + i })
    await settle(HEARTBEAT_MS)
  }
  expect(socket.sent('message:send').map(clientIdOf)).toEqual(['h1', 'c1'])
  page.wake()
  await settle(10 * HEARTBEAT_MS)
  for (const tab of [holder, hung, other]) expect(selectPendingMessages(tab.store.getState())).toEqual([])
  for (const tab of [holder, hung, other]) tab.dispose()
})
