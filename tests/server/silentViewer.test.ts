import { randomUUID } from 'node:crypto'
import { connect as connectTcp, createServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { StartServerOptions } from '../../server'
import {
  ALICE,
  BOB,
  connect,
  delivered,
  emitAck,
  http,
  login,
  startTestServer,
  type TestServer,
} from './support/server'
import { openStream } from './support/stream'

// Review: joining says "this user is looking at this conversation" (CONTRACT.md), and the server kept counting a
// reader whose connection had died silently (laptop lid closed, Wi-Fi gone: no FIN, no RST) until Engine.IO's
// heartbeat gave up on it. Nothing set that heartbeat, so Socket.IO's defaults ran it: a ping every 25 s and 20 s for
// its pong, up to 45 s during which every message sent to him was marked read and its sender shown "Seen".

const CONV = 'conv-alice-bob'
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(options: StartServerOptions = {}): Promise<TestServer> {
  const server = await startTestServer(options)
  cleanups.push(() => server.dispose())
  return server
}

/**
 * A TCP proxy whose connections can be cut silently: from `cut()` on, no byte passes either way and neither side is
 * told (the client closing its end is not passed on), as when a laptop sleeps or its network goes away.
 */
async function cuttingProxy(upstreamPort: number) {
  const pairs = new Set<[Socket, Socket]>()
  let cut = false
  const proxy = createServer((downstream) => {
    const upstream = connectTcp(upstreamPort, '127.0.0.1')
    const pair: [Socket, Socket] = [downstream, upstream]
    pairs.add(pair)
    const end = () => {
      if (cut) return
      downstream.destroy()
      upstream.destroy()
    }
    downstream.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    downstream.on('data', (chunk: Buffer) => cut || upstream.write(chunk))
    upstream.on('data', (chunk: Buffer) => cut || downstream.write(chunk))
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    for (const [a, b] of pairs) {
      a.destroy()
      b.destroy()
    }
    return new Promise<void>((resolve) => proxy.close(() => resolve()))
  })
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    cut() {
      cut = true
    },
  }
}

describe('a reader whose connection dies silently', () => {
  it('is given up within 20 s by default (ping interval and timeout), not 45 s', async () => {
    const server = await serve()
    const { pingInterval, pingTimeout } = server.io.engine.opts
    expect(pingInterval! + pingTimeout!).toBeLessThanOrEqual(20_000)
  })

  it('stops counting as looking once the heartbeat gives up: what is sent then stays unread, no "Seen"', async () => {
    // A short heartbeat for the test: Bob's silence is noticed within about a second. The timeout leaves a healthy
    // socket (Alice's) time to answer on a busy machine.
    const server = await serve({ socketPingIntervalMs: 200, socketPingTimeoutMs: 3_000 })
    const proxy = await cuttingProxy(server.port)
    const [alice, bob] = await Promise.all([login(server.url, ALICE), login(server.url, BOB)])
    const aliceStream = await openStream(server.url, alice.token)
    cleanups.push(() => aliceStream.socket.close())
    await aliceStream.synced()
    const bobSocket = await connect(proxy.url, bob.token)
    cleanups.push(() => bobSocket.close())
    expect(await emitAck(bobSocket, 'conversation:join', CONV)).toEqual({ ok: true, data: null })
    const onServer = server.io.of('/').sockets.get(bobSocket.id!)!
    expect([...onServer.rooms]).toContain(`conv:${CONV}`)
    const gone = new Promise<string>((resolve) => onServer.once('disconnect', (reason) => resolve(reason)))
    await delivered(aliceStream.socket)
    aliceStream.items.splice(0)
    const before = (await readSeqOf(server, bob.token))[bob.user.id]

    proxy.cut()
    // The server finds Bob gone by its heartbeat alone: nothing else reaches it. About 3 s are due, waited for as they
    // come: a socket never found gone fails the test at its timeout.
    expect(await gone).toBe('ping timeout')

    const sent = await http<{ seq: number }>(server.url, 'POST', `/api/conversations/${CONV}/messages`, {
      token: alice.token,
      body: { content: 'are you there?', clientId: randomUUID() },
    })
    expect(sent.status).toBe(201)
    await vi.waitFor(() => expect(aliceStream.logged().map((item) => item.event)).toContain('message:sent'))
    await delivered(aliceStream.socket)
    expect(aliceStream.logged().filter((item) => item.event === 'conversation:seen')).toEqual([])
    expect((await readSeqOf(server, bob.token))[bob.user.id]).toBe(before)
    expect(before).toBeLessThan(sent.body.seq)
  })
})

async function readSeqOf(server: TestServer, token: string): Promise<Record<string, number>> {
  const list = await http<{ id: string; readSeq: Record<string, number> }[]>(server.url, 'GET', '/api/conversations', {
    token,
  })
  return list.body.find((c) => c.id === CONV)!.readSeq
}
