import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { outboxStorageKey, sendMessage } from '../../../src/realtime'
import type { EmittedPacket, FakeSocket } from '../support/fakeSocket'
import { alice, message } from '../support/fixtures'
import { aBrowser, connectedTabs, settle } from './support/tabStores'

// Tabs of one browser sharing one socket, one stored outbox and the drain lock: stores with the real middleware, fake
// sockets, the in-memory channel and locks, on fake timers (no wait here outlives a test: the server asks for an hour).

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

const written = (clientId: string, conversationId: string, second: number) => ({
  ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
  meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString() },
})
const clientIdOf = (packet: { args: unknown[] }) => (packet.args[0] as { clientId: string }).clientId
const conversationOf = (packet: { args: unknown[] }) => (packet.args[0] as { conversationId: string }).conversationId

/**
 * The `message:send`s on the browser's one socket (all of them, and those in c1), and the server's answer to one:
 * stored as message `seq`, acked and broadcast to the sender's tabs as `message:sent`.
 */
function sendsOn(socket: FakeSocket) {
  const sends = () => socket.sent('message:send')
  const c1 = () => sends().filter((p) => conversationOf(p) === 'c1')
  const confirm = async (packet: EmittedPacket, seq: number) => {
    const stored = message(seq, {
      senderId: alice.id,
      clientId: clientIdOf(packet),
      conversationId: conversationOf(packet),
    })
    packet.ack({ ok: true, data: stored })
    socket.serverEmit('message:sent', stored, { offset: 3 + seq })
    await settle()
  }
  return { sends, c1, confirm }
}

describe('the user’s sends in a conversation are stored in the order written, whichever tab wrote them', () => {
  test.each([
    { holder: 'the socket’s holder', holderIndex: 0 },
    { holder: 'a follower', holderIndex: 1 },
  ])(
    'while the drain lock’s holder ($holder) waits out RATE_LIMITED, the other tab’s earlier send goes before its next',
    async ({ holderIndex }) => {
      const b = aBrowser({ sharedOutbox: true })
      const tabs = await connectedTabs(b, ['t1', 't2'])
      const holder = tabs[holderIndex]!
      const other = tabs[1 - holderIndex]!
      // Every send leaves on the browser's one socket, which t1 holds, whichever tab sends it.
      const socket = tabs[0]!.own[0]!
      const { sends, c1, confirm } = sendsOn(socket)

      // The drain lock's holder: its x1 (in c2) is told to wait an hour.
      holder.store.dispatch(written('x1', 'c2', 0))
      await settle()
      expect(sends().map(clientIdOf)).toEqual(['x1'])
      sends()[0]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3_600_000 } })
      await settle()
      // The user writes b1 in c1 in the other tab (it waits for the lock), then a2 in c1 in the holder's.
      other.store.dispatch(written('b1', 'c1', 1))
      await settle()
      holder.store.dispatch(written('a2', 'c1', 2))
      await settle()
      expect(c1().map(clientIdOf)).toEqual(['b1'])
      await confirm(c1()[0]!, 1)
      expect(c1().map(clientIdOf)).toEqual(['b1', 'a2'])
      await confirm(c1()[1]!, 2)
      // Each went once; x1 alone is left, in both tabs and in storage, still waiting for the server's hour.
      expect(c1().map(clientIdOf)).toEqual(['b1', 'a2'])
      expect(sends().filter((p) => clientIdOf(p) === 'x1')).toHaveLength(1)
      const stored = JSON.parse(b.storage!.getItem(outboxStorageKey(alice.id)) ?? '[]') as { clientId: string }[]
      expect(stored.map((m) => m.clientId)).toEqual(['x1'])
      for (const tab of tabs) tab.dispose()
    },
  )
  test('two tabs waiting for a third’s lock write in turn in c1: the first granted sends the other’s earlier send first', async () => {
    const b = aBrowser({ sharedOutbox: true })
    const [t1, t2, t3] = await connectedTabs(b, ['t1', 't2', 't3'])
    const socket = t1!.own[0]!
    const { sends, c1, confirm } = sendsOn(socket)
    // t1 holds the lock for x1 (in c2), on its way; t2 asks for it for a0 (in c3), then t3 for b1 (in c1); t2 writes
    // a2 in c1 last.
    t1!.store.dispatch(written('x1', 'c2', 0))
    await settle()
    t2!.store.dispatch(written('a0', 'c3', 1))
    await settle()
    t3!.store.dispatch(written('b1', 'c1', 2))
    await settle()
    t2!.store.dispatch(written('a2', 'c1', 3))
    await settle()
    expect(sends().map(clientIdOf)).toEqual(['x1'])
    // x1 confirmed: t1 lets go, and t2, first in line, gets the lock.
    await confirm(sends()[0]!, 1)
    expect(c1().map(clientIdOf)).toEqual(['b1'])
    await confirm(c1()[0]!, 2)
    expect(c1().map(clientIdOf)).toEqual(['b1', 'a2'])
    for (const tab of [t1!, t2!, t3!]) tab.dispose()
  })
})
