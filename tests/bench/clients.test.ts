import { io, type Socket } from 'socket.io-client'
import { afterEach, describe, expect, test } from 'vitest'
import { listenerCounts, nextConnect, total } from '../../bench/lib/clients'

// P6's baseline reconnects one bare socket hundreds of times and waits for each connect with `nextConnect`: a
// listener left behind per wait would be the bench's own leak, counted against socket.io-client.

const sockets: Socket[] = []
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close()
})

/** A socket that never connects by itself; the test fires its reserved events. */
function idleSocket(): Socket & { emitReserved(event: string, ...args: unknown[]): void } {
  const socket = io('http://127.0.0.1:9', { autoConnect: false, reconnection: false, forceNew: true })
  sockets.push(socket)
  return socket as Socket & { emitReserved(event: string, ...args: unknown[]): void }
}

describe('nextConnect (bench/lib/clients)', () => {
  test('resolves on connect and leaves no listener behind, however often it waits', async () => {
    const socket = idleSocket()
    const before = total(listenerCounts(socket))
    for (let i = 0; i < 20; i++) {
      const connected = nextConnect(socket)
      socket.emitReserved('connect')
      await connected
    }
    expect(total(listenerCounts(socket))).toBe(before)
  })

  test('rejects on connect_error and leaves no listener behind', async () => {
    const socket = idleSocket()
    const before = total(listenerCounts(socket))
    const connected = nextConnect(socket)
    socket.emitReserved('connect_error', new Error('refused'))
    await expect(connected).rejects.toThrow('refused')
    expect(total(listenerCounts(socket))).toBe(before)
  })
})
