import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { joinConversation, joined } from '../../src/realtime'
import { eventually } from './support/eventually'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob, message } from './support/fixtures'
import { httpStubPerTest } from './support/httpStub'

// A room wanted through `useSocket().joinConversation` (a `socket/joinConversation`) is joined again on every
// connection once it has synced. At a `sync:gap` a thread the catch-up reads again is joined once that read lands; but
// RTK Query reads again only the entries someone subscribes to (it drops an unsubscribed one it invalidates), so a
// wanted room whose thread is cached and watched by nobody must not wait for a read that never starts.

const page = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => message(from + i, { senderId: bob.id }))
const stub = httpStubPerTest(() => ({ status: 200, body: page(1, 3) }))

function setup() {
  const sockets = fakeSockets()
  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    actions.push(action as UnknownAction)
    return next(action)
  }
  const store = trackedStore({
    apiUrl: stub.url,
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
    extraMiddleware: [record],
    realtime: { invalidationWindowMs: 0, random: () => 0 },
  })
  return { store, sockets, actions }
}

const joinsOf = (sockets: ReturnType<typeof fakeSockets>) =>
  sockets.last.sent('conversation:join').map((p) => p.args[0])

describe('a wanted room whose cached thread nobody subscribes to', () => {
  test('is joined again after a sync:gap', async () => {
    const { store, sockets, actions } = setup()
    sockets.last.serverConnect('sock-1')
    sockets.last.serverEmit('sync:caughtUp', { offset: 10, epoch: 'e1' })
    // The thread was read and its page left: still cached (RTK Query keeps it for a while), subscribed by no one.
    const read = store.dispatch(api.endpoints.getMessages.initiate('c1'))
    await read
    read.unsubscribe()
    store.dispatch(joinConversation({ conversationId: 'c1' }))
    expect(joinsOf(sockets)).toEqual(['c1'])
    sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null })
    await eventually(() => expect(actions).toContainEqual(joined({ conversationId: 'c1' })))

    // Away too long for a replay: a gap. The room is still wanted, and must be joined on the new connection.
    sockets.last.serverDrop()
    sockets.last.serverConnect('sock-2')
    sockets.last.serverEmit('sync:gap', { offset: 40, epoch: 'e1' })
    await eventually(() => expect(joinsOf(sockets)).toEqual(['c1', 'c1']))
    sockets.last.sent('conversation:join')[1]!.ack({ ok: true, data: null })
    await eventually(() => expect(actions.filter((a) => joined.match(a))).toHaveLength(2))
    expect(store.getState().socket.joinedRooms).toContain('c1')
    store.dispose()
  })
})
