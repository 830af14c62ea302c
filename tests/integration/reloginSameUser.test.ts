import { randomUUID } from 'node:crypto'
import { io } from 'socket.io-client'
import { afterEach, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { selectConnection } from '../../src/realtime'
import { ALICE, http, login, startTestServer, type TestServer } from '../server/support/server'
import { hangBound } from '../support/hangBound'

// `unauthorized` "stays so until the next login". A login of the same user keeps the api cache (only another user's
// login resets it), and `socket/sessionStarted` forgets the applied offset: the new handshake carries none, so the
// events of the time spent unauthorized are not replayed. That session's first sync reads the cache again instead.

const CONV = 'conv-alice-bob'
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

test('Bob logs in again after his session expired: the message sent meanwhile reaches his cached list', async () => {
  const server: TestServer = await startTestServer()
  cleanups.push(() => server.dispose())
  const store = makeStore({
    apiUrl: server.url,
    storage: createMemoryStorage(),
    shareSocket: false,
    createSocket: (url, options) => io(url, { ...options, transports: ['websocket'] }),
  })
  cleanups.push(() => store.dispose())
  const logIn = async () => {
    const r = await store.dispatch(api.endpoints.login.initiate({ email: 'bob@talemy.test', password: 'talemy' }))
    if (!('data' in r)) throw new Error('login failed')
  }
  const connection = () => selectConnection(store.getState())
  await logIn()
  const list = store.dispatch(api.endpoints.getConversations.initiate())
  cleanups.push(() => list.unsubscribe())
  await list
  await vi.waitFor(() => expect(connection()).toMatchObject({ status: 'connected', syncing: false }), {
    timeout: hangBound(),
  })
  const before = connection().offset
  expect(before).toEqual(expect.any(Number))

  // The session ends on the server (revoked elsewhere): the socket is dropped, the refresh refused → unauthorized.
  const revoked = await http(server.url, 'POST', '/api/auth/logout', { token: store.getState().auth.token! })
  expect(revoked.status).toBe(204)
  await vi.waitFor(() => expect(connection().status).toBe('unauthorized'), { timeout: hangBound() })
  expect(connection().offset).toBe(before) // still known here

  const alice = await login(server.url, ALICE)
  const sent = await http(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
    token: alice.token,
    body: { content: 'while Bob was logged out', clientId: randomUUID() },
  })
  expect(sent.status).toBe(201)

  await logIn()
  await vi.waitFor(() => expect(connection()).toMatchObject({ status: 'connected', syncing: false }), {
    timeout: hangBound(),
  })
  const lastContent = () =>
    api.endpoints.getConversations
      .select()(store.getState())
      .data?.find((c) => c.id === CONV)?.lastMessage?.content
  // The cached list is still there (same user), so it must catch up: by replay from `before`, or by a refetch.
  expect(lastContent()).toBeDefined()
  await vi.waitFor(() => expect(lastContent()).toBe('while Bob was logged out'), { timeout: hangBound() })
})
