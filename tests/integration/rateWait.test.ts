import { rmSync } from 'node:fs'
import { afterEach, expect, test } from 'vitest'
import { sendConfirmed, sendMessage, sendRetryScheduled } from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import type { TalemySocket } from '../../server/realtime'
import { freshDataDir } from '../server/support/server'
import { browserStore, type BrowserStore } from './support'

// A send the server refused for the user's rate (RATE_LIMITED with retryAfterMs) goes again no sooner than that wait,
// whatever comes meanwhile (README, "Sends"): a reconnect does not change the user's budget, which is the server's,
// across socket and HTTP.

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

test('a reconnect during the wait a RATE_LIMITED send was asked for does not send it again before that wait', async () => {
  const dataDir = freshDataDir()
  // One send, then one every 4 s: the second send is refused with a wait of about 4 s.
  const server: RunningServer = await startServer({ port: 0, dataDir, rateLimit: { perSecond: 0.25, burst: 1 } })
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
  cleanups.push(() => server.close())
  const alice: BrowserStore = browserStore(server.url, { realtime: { backoff: { baseMs: 20, capMs: 100 } } })
  cleanups.push(() => alice.close())
  const user = await alice.login('alice@talemy.test')
  await alice.until(() => alice.status() === 'connected')

  // Each try of a send as the server sees it (its arrival), and the wait it answered with.
  const tries = new Map<string, Array<{ at: number; retryAfterMs?: number }>>()
  const watch = (socket: TalemySocket) => {
    const handlers = socket.listenersAny()
    socket.offAny()
    socket.onAny((event: string, ...args: unknown[]) => {
      const payload = args[0] as { clientId?: string } | undefined
      const ack = args.at(-1)
      if (event === 'message:send' && payload?.clientId && typeof ack === 'function') {
        const entry: { at: number; retryAfterMs?: number } = { at: Date.now() }
        tries.set(payload.clientId, [...(tries.get(payload.clientId) ?? []), entry])
        args[args.length - 1] = (answer: { ok: boolean; error?: { retryAfterMs?: number } }) => {
          if (!answer.ok && answer.error?.retryAfterMs !== undefined) entry.retryAfterMs = answer.error.retryAfterMs
          ack(answer)
        }
      }
      for (const handler of handlers) handler(event, ...args)
    })
  }
  const aliceSockets = () => [...server.io.of('/').sockets.values()].filter((s) => s.data.userId === user.id)
  for (const socket of aliceSockets()) watch(socket)
  server.io.on('connection', (socket) => {
    if (socket.data.userId === user.id) watch(socket)
  })

  const first = alice.store.dispatch(sendMessage({ conversationId: 'conv-alice-bob', content: 'first' })).payload
  await alice.until(() =>
    alice.actions.some((a) => sendConfirmed.match(a) && a.payload.message.clientId === first.clientId),
  )
  const second = alice.store.dispatch(sendMessage({ conversationId: 'conv-alice-bob', content: 'second' })).payload
  await alice.until(() =>
    alice.actions.some((a) => sendRetryScheduled.match(a) && a.payload.clientId === second.clientId),
  )
  expect(tries.get(second.clientId)?.[0]?.retryAfterMs).toBeGreaterThan(1000)

  // The connection drops during that wait and comes back at once.
  const connections = alice.actions.filter((a) => a.type === 'socket/connected').length
  for (const socket of aliceSockets()) socket.conn.close()
  await alice.until(() => alice.actions.filter((a) => a.type === 'socket/connected').length > connections)

  await alice.until(() =>
    alice.actions.some((a) => sendConfirmed.match(a) && a.payload.message.clientId === second.clientId),
  )
  const seen = tries.get(second.clientId) ?? []
  // Each try after a refusal came no sooner than the wait that refusal asked for (a few ms for the clocks' rounding).
  const early = seen
    .slice(1)
    .map((t, i) => ({ after: t.at - seen[i]!.at, asked: seen[i]!.retryAfterMs ?? 0 }))
    .filter(({ after, asked }) => after < asked - 20)
  expect(early).toEqual([])
})
