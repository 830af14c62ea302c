import { describe, expect, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { disconnect } from '../../src/realtime'
import { fakeSockets } from './support/fakeSocket'
import { alice } from './support/fixtures'

// The page's sockets start on a WebSocket and fall back to long-polling (`makeStore`'s transports, tryAllTransports).
// A WebSocket a proxy holds open without answering fails only at the manager's connect timeout: from then on the
// manager's attempts start on long-polling, or each would wait out the timeout again (tests/e2e/transports.test.ts
// shows it in Chromium). The listener that does it goes with the socket.

function storeWith(socketOptions?: { transports: string[] }) {
  const sockets = fakeSockets()
  const store = trackedStore({
    apiUrl: 'http://api.test',
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    preloadedState: { auth: { token: 'token-1', user: alice } },
    ...(socketOptions ? { realtime: { socketOptions } } : {}),
  })
  const socket = sockets.last
  // The manager's options as socket.io-client keeps them (the fake has none of its own).
  const opts = { transports: [...((socket.options as { transports?: string[] }).transports ?? [])] }
  Object.assign(socket.io, { opts })
  return { store, socket, opts }
}

describe("the page's transports after a connect timeout", () => {
  test('WebSocket first, long-polling allowed (makeStore): long-polling first from then on', () => {
    const { store, socket, opts } = storeWith()
    expect(opts.transports).toEqual(['websocket', 'polling'])
    socket.io.fire('error', new Error('websocket error'))
    expect(opts.transports).toEqual(['websocket', 'polling'])
    socket.io.fire('error', new Error('timeout'))
    expect(opts.transports).toEqual(['polling', 'websocket'])
    store.dispatch(disconnect())
    expect(socket.io.listenerCount('error')).toBe(0)
    store.dispose()
  })

  test.each([
    ['WebSocket only, as asked', ['websocket']],
    ['long-polling first, as asked', ['polling', 'websocket']],
  ])('%s: unchanged', (_name, transports) => {
    const { store, socket, opts } = storeWith({ transports })
    socket.io.fire('error', new Error('timeout'))
    expect(opts.transports).toEqual(transports)
    store.dispose()
  })
})
