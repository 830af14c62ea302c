import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server, type Socket as ServerSocket } from 'socket.io'
import { io, type Socket } from 'socket.io-client'
import { afterEach, describe, expect, test } from 'vitest'
import { firstRead, listenerCounts, nextConnect, rawSocket, total } from '../../bench/lib/clients'
import { nowNs } from '../../bench/lib/stats'

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

describe('firstRead (bench/lib/clients, P1)', () => {
  test('a read holding only the server’s ping is not the message’s first read; the message’s own read is', async () => {
    const http = createServer()
    // A short ping interval, so a ping reaches the client between the arm and the message.
    const server = new Server(http, { pingInterval: 50, pingTimeout: 5_000 })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const { port } = http.address() as AddressInfo
    const connected = new Promise<ServerSocket>((resolve) => server.once('connection', resolve))
    const socket = await rawSocket(`http://127.0.0.1:${port}`, null, { transports: ['websocket'] })
    sockets.push(socket)
    try {
      const peer = await connected
      const read = firstRead(socket)
      read.arm()
      await new Promise<void>((resolve) => socket.io.once('ping', () => resolve()))
      expect(read.at()).toBe(0)
      const sent = nowNs()
      const received = new Promise<number>((resolve) => socket.once('hello', () => resolve(nowNs())))
      peer.emit('hello', 'there')
      const at = await received
      expect(read.at()).toBeGreaterThan(sent)
      expect(read.at()).toBeLessThanOrEqual(at)
      read.off()
    } finally {
      socket.close()
      await server.close()
    }
  })
})
