import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { io } from 'socket.io-client'
import { afterEach, expect, test, vi } from 'vitest'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { disconnected, selectConnection, transportStalled } from '../../src/realtime'
import { BOB, login, startTestServer } from '../server/support/server'

// A socket on the browser's transports (long-polling first, then WebSocket) whose upgrade stalls: the WebSocket answers
// the probe, the client pauses polling for the switch and waits for its poll under way, and that poll never reaches
// the server (held here, as a proxy or a flaky network may). The server closes the WebSocket at its upgrade timeout;
// Engine.IO's client then resumes nothing, and without the layer's watch the socket would sit silent until its
// heartbeat gave up (20 s: a `disconnected` for "ping timeout"). An e2e run met this once after a block was lifted.

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

test('a socket whose upgrade to WebSocket stalls is made again at once, and connects without waiting for its heartbeat', async () => {
  const server = await startTestServer()
  cleanups.push(() => server.dispose())
  // The server's wait for the client's switch, shortened for the test (10 s by default): what the stall is measured by.
  const engine = server.io.engine as unknown as {
    opts: { upgradeTimeout: number }
    use(middleware: (req: { url?: string; method?: string }, res: unknown, next: () => void) => void): void
  }
  // 3 s, not less: the second socket's upgrade, not held, must complete within it on a busy machine too.
  engine.opts.upgradeTimeout = 3_000
  // The first polling GET after the first session's handshake (the poll the switch waits for) is held.
  const held: Array<() => void> = []
  let heldSession: string | null = null
  engine.use((req, _res, next) => {
    const params = new URL(req.url ?? '/', 'http://x').searchParams
    const sid = params.get('sid')
    if (req.method === 'GET' && params.get('transport') === 'polling' && sid && heldSession === null) {
      heldSession = sid
      held.push(next)
      return
    }
    next()
  })
  cleanups.push(() => {
    for (const release of held.splice(0)) release()
  })

  const actions: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    actions.push(action as UnknownAction)
    return next(action)
  }
  let sockets = 0
  const bob = await login(server.url, BOB)
  const store = makeStore({
    apiUrl: server.url,
    storage: createMemoryStorage(),
    shareSocket: false,
    preloadedState: { auth: { token: bob.token, user: bob.user } },
    extraMiddleware: [record],
    createSocket: (url, options) => {
      sockets++
      return io(url, { ...options, transports: ['polling', 'websocket'] })
    },
  })
  cleanups.push(() => store.dispose())

  await vi.waitFor(() => expect(selectConnection(store.getState()).status).toBe('connected'), { timeout: 90_000 })
  expect(heldSession).not.toBeNull()
  // Connected on a new socket made for the stall, not after the stalled one's heartbeat gave up.
  expect(actions.filter((a) => disconnected.match(a)).map((a) => a.payload.reason)).not.toContain('ping timeout')
  const stalledAt = actions.findIndex((a) => transportStalled.match(a))
  expect(stalledAt, 'the stall was seen').toBeGreaterThanOrEqual(0)
  expect(sockets).toBe(2)
  expect(actions.findIndex((a) => a.type === 'socket/connected')).toBeGreaterThan(stalledAt)
}, 120_000)
