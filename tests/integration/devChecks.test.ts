import type { UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { loggedOut } from '../../src/api'
import { loadRefreshToken } from '../../src/api/credentials'
import { tokenSessionId } from '../../src/api/jwt'
import { createMemoryStorage } from '../../src/app/store'
import { firstNonPlain } from '../support/plainData'
import type { User } from '../../src/contract'
import {
  connect,
  disconnect,
  discardMessage,
  joinConversation,
  PREFIX,
  selectConnection,
  sendMessage,
  sendTyping,
} from '../../src/realtime'
import { manualVisibility } from '../../src/realtime/tabs/visibility'
import { browser as tabsBrowser } from '../unit/tabs/support/browser'
import { browserStore, conversationBetween, serverPerFile } from './support'

// CONTRACT: nothing non-serializable enters the state or an action; in development (NODE_ENV is `test` here) RTK's
// serializability and immutability checks are on, and a realistic flow against the real server never trips them.

const file = serverPerFile()

// Not their "…InvariantMiddleware took N ms" notes: those time one check against 32 ms, which a busy machine can pass.
const RTK_WARNINGS = ['non-serializable value was detected', 'state mutation was detected']
let said: string[] = []
beforeEach(() => {
  said = []
  for (const level of ['warn', 'error'] as const) {
    const original = console[level]
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      said.push(args.map(String).join(' '))
      original(...args)
    })
  }
})
afterEach(() => {
  vi.restoreAllMocks()
})

test('connect, messages both ways, a reconnect, two tabs, logout and another login: RTK checks stay quiet', async () => {
  const bob = await file.loggedIn('bob@talemy.test')
  // Alice in two tabs of one browser (one shared socket).
  const storage = createMemoryStorage()
  const edges = tabsBrowser()
  const tab = (tabId: string) =>
    file.track(
      browserStore(file.server.url, {
        storage,
        realtime: {
          tabs: {
            channelName: 'dev',
            ...edges.tab(tabId),
            visibility: manualVisibility(true),
            tabId,
            heartbeatMs: 100,
          },
        },
      }),
    )
  const a1 = tab('t1')
  const alice = (await a1.login('alice@talemy.test')) as User
  // The refresh token is kept by the session code in storage, never in an action or the state (DevTools show both).
  const refreshToken = loadRefreshToken(storage, alice.id, tokenSessionId(a1.store.getState().auth.token))
  expect(refreshToken).toBeTruthy()
  const a2 = tab('t2')
  a2.store.dispatch(connect())
  await a1.until(() => [a1, a2].every((t) => t.status() === 'connected'))

  const id = await conversationBetween(bob, alice)
  await bob.openThread(id)
  await a1.openThread(id)
  await a2.openThread(id)
  await bob.openConversations()
  await a1.openConversations()
  bob.store.dispatch(joinConversation({ conversationId: id }))
  a1.store.dispatch(joinConversation({ conversationId: id }))

  const fromBob = bob.store.dispatch(sendMessage({ conversationId: id, content: 'hi alice' })).payload
  const fromA2 = a2.store.dispatch(sendMessage({ conversationId: id, content: 'hi bob' })).payload
  for (const t of [a1, a2, bob])
    await t.until(() =>
      [fromBob, fromA2].every((p) => t.thread(id).some((m) => m.clientId === p.clientId && m.status !== 'pending')),
    )

  // A reconnect: the server drops Bob's socket.
  const bobSocket = selectConnection(bob.store.getState()).socketId
  file.server.io.in(`user:${bob.user.id}`).disconnectSockets()
  await bob.until(() => {
    const c = selectConnection(bob.store.getState())
    return c.status === 'connected' && c.socketId !== bobSocket && !c.syncing
  })
  const again = bob.store.dispatch(sendMessage({ conversationId: id, content: 'back again' })).payload
  await a1.until(() => a1.thread(id).some((m) => m.clientId === again.clientId))

  // Typing, a send the server refuses (then discarded), and a send while offline (over HTTP).
  bob.store.dispatch(sendTyping({ conversationId: id }))
  await a1.until(() => a1.actions.some((a) => a.type === 'socket/typing'))
  const refused = a1.store.dispatch(sendMessage({ conversationId: id, content: 'x'.repeat(4001) })).payload
  await a1.until(() => a1.thread(id).some((m) => m.clientId === refused.clientId && m.status === 'failed'))
  a1.store.dispatch(discardMessage({ clientId: refused.clientId }))
  bob.store.dispatch(disconnect())
  const offline = bob.store.dispatch(sendMessage({ conversationId: id, content: 'over http' })).payload
  await a1.until(() => a1.thread(id).some((m) => m.clientId === offline.clientId))
  bob.store.dispatch(connect())
  await bob.until(() => bob.status() === 'connected')

  // Logout (Node has no `storage` event to tell the other tab: it is told here), then Carol logs in in that browser.
  a1.store.dispatch(loggedOut())
  a2.store.dispatch(loggedOut())
  await a1.until(() => [a1, a2].every((t) => t.status() === 'idle'))
  await a1.login('carol@talemy.test')
  await a1.until(() => a1.status() === 'connected')

  const rtk = said.filter((line) => RTK_WARNINGS.some((w) => line.includes(w)))
  expect(rtk).toEqual([])
  for (const s of [a1, a2, bob]) {
    const layer = s.actions.filter((a: UnknownAction) => a.type.startsWith(PREFIX))
    expect(layer.length).toBeGreaterThan(0)
    expect(layer.map((a) => [a.type, firstNonPlain(a, 'action')]).filter(([, p]) => p !== null)).toEqual([])
    expect(firstNonPlain(s.store.getState(), 'state')).toBeNull()
    expect(JSON.stringify(s.actions)).not.toContain(refreshToken)
    expect(JSON.stringify(s.store.getState())).not.toContain(refreshToken)
  }
})
