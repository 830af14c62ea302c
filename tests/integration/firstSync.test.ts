import { randomUUID } from 'node:crypto'
import { io } from 'socket.io-client'
import { afterEach, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { selectConnection } from '../../src/realtime'
import { ALICE, BOB, http, login, startTestServer, type TestServer } from '../server/support/server'
import { hangBound } from '../support/hangBound'

// A page that (re)loads reads its lists over HTTP at mount, while its socket's first handshake (no offset yet) is
// still on its way. An event committed after the read's snapshot and before the handshake's is in neither: the
// handshake answers sync:caughtUp at an offset that already counts it, so it is never sent. CONTRACT "Durable
// resume": "it connects, takes the offset from sync:caughtUp, and reads … so no event falls between a read and the
// stream": what was read before the store's first sync is read again once after it.

const CONV = 'conv-alice-bob'
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

test.each([
  { when: 'between the page-load read and the first handshake', beforeHandshake: true },
  // The same message after the handshake reaches the list through the stream.
  { when: 'after the first handshake', beforeHandshake: false },
])('a message sent $when reaches the cached conversation list', async ({ beforeHandshake }) => {
  const server: TestServer = await startTestServer()
  cleanups.push(() => server.dispose())
  const bob = await login(server.url, BOB)

  // The handshake is slower than the read (as on any real network: engine open + CONNECT + auth vs one GET).
  let release!: () => void
  const handshakeMayGo = new Promise<void>((r) => (release = r))
  const store = makeStore({
    apiUrl: server.url,
    storage: createMemoryStorage(),
    shareSocket: false,
    // A reloaded page: the session restored from storage, so the store connects at once.
    preloadedState: { auth: { token: bob.token, user: bob.user } },
    createSocket: (url, options) => {
      const socket = io(url, { ...options, transports: ['websocket'] })
      const connect = socket.connect.bind(socket)
      socket.connect = socket.open = () => {
        void handshakeMayGo.then(() => connect())
        return socket
      }
      return socket
    },
  })
  cleanups.push(() => store.dispose())
  const connection = () => selectConnection(store.getState())
  const synced = () =>
    vi.waitFor(() => expect(connection()).toMatchObject({ status: 'connected', syncing: false }), {
      timeout: hangBound(),
    })

  // The page mounts: the conversations list is read (the restored session is connecting meanwhile).
  const list = store.dispatch(api.endpoints.getConversations.initiate())
  cleanups.push(() => list.unsubscribe())
  await list
  expect(connection().offset).toBeNull()

  if (!beforeHandshake) {
    release()
    await synced()
  }
  const alice = await login(server.url, ALICE)
  const sent = await http(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
    token: alice.token,
    body: { content: 'hello Bob', clientId: randomUUID() },
  })
  expect(sent.status).toBe(201)
  release()
  await synced()

  const lastContent = () =>
    api.endpoints.getConversations
      .select()(store.getState())
      .data?.find((c) => c.id === CONV)?.lastMessage?.content
  await vi.waitFor(() => expect(lastContent()).toBe('hello Bob'), { timeout: hangBound() })
})
