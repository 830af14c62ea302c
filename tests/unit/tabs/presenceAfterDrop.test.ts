import type { UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { presenceSlice, selectPresence } from '../../../src/realtime'
import { aBrowser, connectedTabs, HEARTBEAT_MS, settle, type Tab } from './support/tabStores'

// A follower's presence after the browser's socket dropped and came back: until the new connection's snapshot, what
// it knew of its contacts is stale (nobody told it who left meanwhile), and the pages show nothing of them.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** The presence slice as the follower's store would hold it after the actions it saw. */
const presenceOf = (tab: Tab) =>
  tab.actions.reduce(
    (state, action) => presenceSlice.reducer(state, action as UnknownAction),
    presenceSlice.reducer(undefined, { type: '@@test/init' }),
  )

test('a change told on the new connection before its snapshot does not pass, in a follower, for the snapshot', async () => {
  const b = aBrowser()
  const [holder, follower] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  const socket = holder.own[0]!
  socket.serverEmit('presence:snapshot', { users: [{ userId: 'bob', online: true, lastSeenAt: null }] })
  await settle()
  expect(selectPresence({ presence: presenceOf(follower) }, 'bob')?.online).toBe(true)

  // The socket drops; Bob leaves meanwhile. Back, the server replays what was missed: a change about Carol comes on
  // its own during it (notices are not held), and the snapshot (Bob offline) only after the replay's sync.
  socket.serverDrop('transport close')
  await settle(50)
  expect(socket.connectCalls).toBeGreaterThan(1)
  socket.serverConnect('sock-2')
  socket.serverEmit('presence:changed', { userId: 'carol', online: true, lastSeenAt: null })
  socket.serverEmit('sync:caughtUp', { offset: 3, epoch: 'e1' })
  await settle(HEARTBEAT_MS)
  expect(follower.conn().status).toBe('connected')

  // Connected again, before the snapshot: the follower still takes what it knew of Bob for stale.
  const presence = presenceOf(follower)
  expect(presence.stale).toBe(true)

  // The snapshot tells what happened meanwhile.
  socket.serverEmit('presence:snapshot', {
    users: [{ userId: 'bob', online: false, lastSeenAt: '2026-01-02T00:00:00.000Z' }],
  })
  await settle()
  const after = presenceOf(follower)
  expect(after.stale).toBe(false)
  expect(after.users.bob?.online).toBe(false)
})
