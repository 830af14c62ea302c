import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UNSENT_MARGIN } from '../../server/realtime'
import { DEFAULT_MAX_REPLAY } from '../../server/services/eventLog'
import { ALICE, connectLive, emitAck, login, startTestServer, type TestServer } from './support/server'

// Review: what waits unsent for a client was bounded only when that client sent an event ('data'). One that reads
// nothing and sends nothing but Engine.IO's pong (which keeps its heartbeat alive and is no 'data') kept its
// connection while every event for its user piled up in the server's memory, without end: one hostile user with a
// reading socket that sends and 19 that only answer heartbeats has each send kept 19 times, for as long as it likes.

describe('a client that reads nothing and sends only heartbeats', () => {
  let server: TestServer
  beforeAll(async () => {
    // No budget in the way: the test needs many events for one user, quickly, all sent on one socket.
    const none = { perSecond: 1_000_000, burst: 1_000_000 }
    server = await startTestServer({ rateLimit: none, socketEventRateLimit: none })
  })
  afterAll(() => server?.dispose())

  it('is closed once the events for it pile up, not kept growing', async () => {
    const bound = DEFAULT_MAX_REPLAY + UNSENT_MARGIN
    const { token } = await login(server.url, ALICE)
    const sender = await connectLive(server.url, token)
    const idle = await connectLive(server.url, token)
    const conn = server.io.of('/').sockets.get(idle.id!)!.conn as unknown as {
      writeBuffer: unknown[]
      on(event: 'packetCreate' | 'close', listener: () => void): void
    }
    let outcome: 'open' | 'closed' | 'piling up' = 'open'
    conn.on('close', () => {
      if (outcome === 'open') outcome = 'closed'
    })
    conn.on('packetCreate', () => {
      if (outcome === 'open' && conn.writeBuffer.length > bound + 500) outcome = 'piling up'
    })
    // From now on the client reads nothing, and answers the heartbeat blindly (a pong needs no ping read first).
    const ws = (idle.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws
    const raw = ws as unknown as { send(data: string): void }
    ws._socket.pause()
    const heartbeat = setInterval(() => raw.send('3'), 1000)
    try {
      // Each send is a `message:sent` for every socket of Alice's: the idle one's wait, first in the kernel's
      // buffers, then in the server's.
      while (outcome === 'open') {
        const acks = await Promise.all(
          Array.from({ length: 500 }, () =>
            emitAck(sender, 'message:send', {
              conversationId: 'conv-alice-bob',
              content: 'x'.repeat(200),
              clientId: randomUUID(),
            }),
          ),
        )
        expect(acks.every((ack) => ack.ok)).toBe(true)
      }
      expect(outcome).toBe('closed')
      // The user's other socket is served on.
      expect(sender.connected).toBe(true)
    } finally {
      clearInterval(heartbeat)
      ws._socket.resume()
      idle.close()
      sender.close()
    }
  }, 180_000)
})
