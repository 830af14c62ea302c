import { rmSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import type { UnknownAction } from '@reduxjs/toolkit'
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { connectFailed, selectConnection } from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir } from '../server/support/server'
import { PASSWORD } from './support'
import { hangBound } from '../support/hangBound'

// One unauthenticated session per address: a test holds its address's (127.0.0.1) slot itself.
let server: RunningServer
let dataDir = ''
beforeAll(async () => {
  dataDir = freshDataDir()
  server = await startServer({ port: 0, dataDir, maxUnauthenticatedPerAddress: 1 })
})
afterAll(async () => {
  await server?.close()
  rmSync(dataDir, { recursive: true, force: true })
})
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

// Review: the server refuses a handshake from an address at its cap of unauthenticated sessions before any Socket.IO
// packet, with an HTTP 429 RATE_LIMITED and its wait (`retryAfterMs`), as /api says it; socket.io-client gives that as a
// TransportError ("xhr poll error", the status in its `description`), which the layer took for the network: its
// connection said NETWORK, and it tried again on its own backoff, from a few hundred ms, within the wait the server
// asked for (and at once on `online` or the tab shown), each try refused again. The page's transports end on
// long-polling, whose answer the client can read (a browser says nothing of a refused WebSocket's status).
test.each([
  { name: "the page's transports (a WebSocket, then long-polling)", transports: undefined, perAttempt: 2 },
  { name: 'long-polling', transports: ['polling'], perAttempt: 1 },
])(
  'a handshake refused at the per-address cap is RATE_LIMITED with its wait: $name',
  async ({ transports, perAttempt }) => {
    const handshakes: string[] = []
    const countHandshake = (req: IncomingMessage) => {
      const url = new URL(req.url ?? '/', 'http://socket.invalid')
      if (url.pathname.startsWith('/socket.io/') && !url.searchParams.get('sid')) handshakes.push(req.url ?? '')
    }
    server.io.httpServer.prependListener('request', countHandshake)
    server.io.httpServer.prependListener('upgrade', countHandshake)
    cleanups.push(() => {
      server.io.httpServer.off('request', countHandshake)
      server.io.httpServer.off('upgrade', countHandshake)
    })

    // The address's one slot, held by a session that never authenticates.
    const held = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`)
    const { sid } = JSON.parse((await held.text()).slice(1)) as { sid: string }
    // Its close packet: the session leaves, giving the slot back (again after the test: a no-op once closed).
    const release = () =>
      fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '1' })
    cleanups.push(release)
    handshakes.length = 0

    // The page's store and socket.io-client (`browserStore` keeps to WebSockets), recording its actions and how many
    // handshakes the server had seen as each came.
    const actions: Array<UnknownAction & { handshakes: number }> = []
    const store = makeStore({
      apiUrl: server.url,
      storage: createMemoryStorage(),
      ...(transports ? { realtime: { socketOptions: { transports } } } : {}),
      extraMiddleware: [
        () => (next) => (action) => {
          actions.push({ ...(action as UnknownAction), handshakes: handshakes.length })
          return next(action)
        },
      ],
    })
    cleanups.push(() => {
      store.dispatch({ type: 'socket/disconnect' })
      store.dispatch({ type: 'socket/shutdown' })
    })
    const until = (predicate: () => boolean) =>
      vi.waitFor(() => expect(predicate()).toBe(true), { timeout: hangBound(), interval: 20 })
    await store.dispatch(api.endpoints.login.initiate({ email: 'alice@talemy.test', password: PASSWORD }))
    const failures = () => actions.filter((a) => a.type === connectFailed.type)
    await until(() => failures().length >= 1)
    const [first] = failures()
    expect(first?.payload).toEqual({ code: 'RATE_LIMITED', message: 'RATE_LIMITED', retryAfterMs: 1_000 })
    expect(selectConnection(store.getState())).toMatchObject({
      status: 'connecting',
      error: { code: 'RATE_LIMITED', message: 'RATE_LIMITED' },
    })
    // One handshake per transport and attempt, no more: no loop of its own.
    expect(first?.handshakes).toBe(perAttempt)

    // The slot given back (the held session leaves), the layer comes online.
    await release()
    await until(() => selectConnection(store.getState()).status === 'connected')
    // Each refused attempt tried every transport once; the one that passed needed its first.
    const online = actions.find((a) => a.type === 'socket/connected')
    expect(online?.handshakes).toBe(failures().length * perAttempt + 1)
  },
)
