import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { loggedIn, loggedOut } from '../../../src/app/authSlice'
import { outboxStorageKey, selectPendingMessages, sendMessage } from '../../../src/realtime'
import { sendFailed, sendRetryScheduled } from '../../../src/realtime/actions'
import { alice } from '../support/fixtures'
import { aBrowser, connectedTabs, HEARTBEAT_MS, settle } from './support/tabStores'

// Tabs of one browser sharing one socket and one stored outbox (see `outboxOrder.test.ts`). The user chose "Log out"
// in one tab; the others hear of it only with the storage event, a later task, and a send of theirs that settles in
// between is written back to storage (its merge write).

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('a logout in a follower while a send of the socket’s holder settles', () => {
  test.each([
    { outcome: 'told to retry', error: { code: 'INTERNAL', message: 'try again' }, settled: sendRetryScheduled },
    { outcome: 'refused', error: { code: 'FORBIDDEN', message: 'not yours' }, settled: sendFailed },
  ])(
    '$outcome before the logout is heard: it is not stored again, and the next login sends nothing',
    async ({ error, settled }) => {
      const b = aBrowser({ sharedOutbox: true })
      const [holder, leaving] = await connectedTabs(b, ['t1', 't2'])
      const socket = holder!.own[0]!
      holder!.store.dispatch(sendMessage({ conversationId: 'c1', content: 'text b1', clientId: 'b1' }))
      await settle()
      expect(socket.sent('message:send')).toHaveLength(1)
      leaving!.store.dispatch(loggedOut())
      expect(b.storage!.getItem(outboxStorageKey(alice.id))).toBeNull()
      socket.sent('message:send')[0]!.ack({ ok: false, error })
      await settle()
      expect(holder!.actions.some((a) => settled.match(a))).toBe(true)
      // What the session sync does on that storage event.
      holder!.store.dispatch(loggedOut({ keepOutbox: true }))
      await settle(HEARTBEAT_MS)
      expect(b.storage!.getItem(outboxStorageKey(alice.id))).toBeNull()
      // The next login on this browser: nothing is read back, nothing goes.
      for (const tab of [holder!, leaving!]) tab.store.dispatch(loggedIn({ token: 'token-2', user: alice }))
      await settle(HEARTBEAT_MS)
      expect(selectPendingMessages(holder!.store.getState())).toEqual([])
      expect(selectPendingMessages(leaving!.store.getState())).toEqual([])
      expect(socket.sent('message:send')).toHaveLength(1)
      for (const tab of [holder!, leaving!]) tab.dispose()
    },
  )
})
