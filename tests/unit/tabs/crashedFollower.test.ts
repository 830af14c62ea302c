import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { outboxStorageKey, sendMessage } from '../../../src/realtime'
import { alice, message } from '../support/fixtures'
import { aBrowser, connectedTabs, HEARTBEAT_MS, settle } from './support/tabStores'

// A follower tab that crashes (no goodbye: its page killed, or discarded by the browser while in the background)
// with a send it had not sent yet: the browser frees every lock that tab held, and the holder takes the send over at
// once, whatever the tab's visibility (a hidden tab's silence is only counted after 150 s). Stores with the real
// middleware, fake sockets, the in-memory channel and locks, on fake timers (heartbeat 100 ms).

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

const written = (clientId: string, conversationId: string, second: number) => ({
  ...sendMessage({ conversationId, content: `text ${clientId}`, clientId }),
  meta: { createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString() },
})
const clientIdOf = (packet: { args: unknown[] }) => (packet.args[0] as { clientId: string }).clientId

describe('a follower that crashes with a send it had not sent yet', () => {
  test.each([
    { visible: true, page: 'shown' },
    { visible: false, page: 'hidden' },
  ])('its page $page: the holder sends it within a few heartbeats, once', async ({ visible }) => {
    const b = aBrowser({ sharedOutbox: true })
    const [one, two] = await connectedTabs(b, ['t1', 't2'])
    const socket = one!.own[0]!
    const sends = () => socket.sent('message:send')
    // The holder holds the drain lock for x1 (in c2), which the server asks to wait an hour.
    one!.store.dispatch(written('x1', 'c2', 0))
    await settle()
    sends()[0]!.ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3_600_000 } })
    await settle()
    two!.visibility.set(visible)
    await settle(HEARTBEAT_MS)
    // The follower's b1 (in c1) waits for the drain lock; then its page crashes.
    two!.store.dispatch(written('b1', 'c1', 1))
    await settle(HEARTBEAT_MS)
    expect(sends().map(clientIdOf)).toEqual(['x1'])
    b.edges.silence(two!.tabId, true)
    b.edges.crash(two!.tabId)

    await settle(10 * HEARTBEAT_MS)
    expect(sends().map(clientIdOf)).toEqual(['x1', 'b1'])
    const b1 = sends()[1]!
    const stored = message(1, { senderId: alice.id, clientId: 'b1', conversationId: 'c1' })
    b1.ack({ ok: true, data: stored })
    socket.serverEmit('message:sent', stored, { offset: 4 })
    await settle(200_000)
    // Once: nothing sends it again (the tab's 150 s silence, when hidden, runs out meanwhile).
    expect(sends().filter((p) => clientIdOf(p) === 'b1')).toHaveLength(1)
    const left = JSON.parse(b.storage!.getItem(outboxStorageKey(alice.id)) ?? '[]') as { clientId: string }[]
    expect(left.map((m) => m.clientId)).toEqual(['x1'])
    one!.dispose()
  })
})
