import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { api } from '../../../src/api'
import { joinConversation, joinFailed, leaveConversation } from '../../../src/realtime'
import { bob, conversation, message } from '../support/fixtures'
import { aBrowser, connectedTabs, settle, type Tab } from './support/tabStores'

// A tab that opens a thread while hidden is answered at once (the hub joins nothing for it: a background tab must not
// mark anything read); the hub joins when the tab shows. That join's outcome is the tab's too: refused, its store
// forgets the room and says so (`socket/joinFailed`); not done, its list counts the thread's new messages as unread,
// as the server does.

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** Two tabs, the holder and a follower; one of them (the follower unless said), hidden, opens `room`, then shows. */
async function shownAfterJoiningHidden(room: string, which: 'holder' | 'follower' = 'follower') {
  const b = aBrowser()
  const [holder, other] = (await connectedTabs(b, ['a', 'b'])) as [Tab, Tab]
  const follower = which === 'holder' ? holder : other
  follower.visibility.set(false)
  await settle()
  follower.store.dispatch(joinConversation({ conversationId: room }))
  await settle()
  const socket = holder.own[0]!
  expect(socket.sent('conversation:join')).toHaveLength(0)
  follower.visibility.set(true)
  await settle()
  const joins = socket.sent('conversation:join')
  expect(joins.map((p) => p.args[0])).toEqual([room])
  return { holder, follower, socket, join: joins[0]! }
}

describe('a thread opened in a hidden follower, joined by the hub when the tab shows', () => {
  test.each(['follower', 'holder'] as const)(
    'refused: the tab is told (socket/joinFailed) and forgets the room (%s)',
    async (which) => {
      const { follower, join } = await shownAfterJoiningHidden('secret', which)
      join.ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } })
      await settle()
      expect(follower.actions.filter((a) => joinFailed.match(a)).map((a) => a.payload)).toEqual([
        { conversationId: 'secret', code: 'FORBIDDEN' },
      ])
      expect(follower.store.getState().socket.rooms).toEqual([])
    },
  )

  test('not done (INTERNAL): a message arriving meanwhile counts as unread, also once the thread is closed', async () => {
    const { follower, socket, join } = await shownAfterJoiningHidden('c1')
    await follower.store.dispatch(
      api.util.upsertQueryData('getConversations', undefined, [
        conversation('c1', { lastMessage: message(1), unreadCount: 0, updatedAt: message(1).createdAt }),
      ]),
    )
    join.ack({ ok: false, error: { code: 'INTERNAL', message: 'boom' } })
    await settle()
    // Bob writes; the server has no viewer for c1, so no `conversation:read` follows.
    socket.serverEmit('message:new', message(2, { senderId: bob.id }), { offset: 4 })
    await settle()
    follower.store.dispatch(leaveConversation({ conversationId: 'c1' }))
    const list = api.endpoints.getConversations.select()(follower.store.getState() as never).data
    expect(list?.[0]?.lastMessage?.id).toBe('m2')
    expect(list?.[0]?.unreadCount).toBe(1)
  })
})
