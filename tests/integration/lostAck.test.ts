import { randomUUID } from 'node:crypto'
import type { Socket } from 'socket.io'
import { describe, expect, test } from 'vitest'
import type { Id, Message } from '../../src/contract'
import { selectConnection, sendConfirmed, sendMessage } from '../../src/realtime'
import { storedThread } from '../reliability/support'
import { browserStore, conversationBetween, serverPerFile, type BrowserStore } from './support'

// The send path's promise, through the real server: an accepted message is never lost nor shown twice, whether its
// ack is lost with the socket after the commit (the server stays up; R6 covers the process killed instead), or
// another user happens to send with the same clientId (clientIds are per sender).

const file = serverPerFile()
/** Socket.IO's packet type of an ack (socket.io-parser's PacketType.ACK, not a dependency of its own here). */
const ACK = 3

/** What the server acknowledged to `s` for `clientId`, from its sendConfirmed actions. */
const confirmed = (s: BrowserStore, clientId: string): Message[] =>
  s.actions
    .filter((a) => sendConfirmed.match(a) && a.payload.message.clientId === clientId)
    .map((a) => (a as ReturnType<typeof sendConfirmed>).payload.message)

const caughtUp = (s: BrowserStore) => {
  const connection = selectConnection(s.store.getState())
  return connection.status === 'connected' && !connection.syncing && connection.offset !== null
}

/** The thread as the server has it, read beside the store (a refetch through it would replace its cache). */
const stored = (s: BrowserStore, id: Id) => storedThread(file.server.url, s.store.getState().auth.token!, id)

describe('the ack of a committed send is lost with its socket (the server stays up)', () => {
  // With HTTP up the outbox sends again over it while the socket is down; with HTTP's sends failing, on the socket.
  test.each([
    ['HTTP', true],
    ['the socket', false],
  ])(
    'retried (over %s) with the same clientId: stored once, shown once in the sender’s thread and once at the recipient',
    async (_way, httpUp) => {
      const clientId = `lost-ack-${randomUUID()}`
      let dropped = false
      let answeredAfter = 0
      // Between the commit and the ack: the first bytes after the commit that would tell Alice's socket of it (her echo,
      // message:sent, or the ack, whichever goes first) are not written and her transport closes instead, so her store
      // hears nothing of the commit and reconnects by itself. Caught where every packet to a connection is written, room
      // broadcasts included.
      const onConnection = (socket: Socket) => {
        if (socket.data.userId !== 'user-alice') return
        const client = socket.client as unknown as { writeToEngine(encoded: unknown[], opts: unknown): void }
        const write = client.writeToEngine.bind(client)
        client.writeToEngine = (encoded, opts) => {
          if (encoded.some((e) => typeof e === 'string' && e.includes(clientId))) {
            if (!dropped) {
              dropped = true
              socket.conn.close()
              return
            }
            if (encoded.some((e) => typeof e === 'string' && e.startsWith(String(ACK)))) answeredAfter++
          }
          write(encoded, opts)
        }
      }
      file.server.io.on('connection', onConnection)
      try {
        // Her sends over HTTP (the outbox's way while the socket is down) are counted: a retry may go either way.
        let postedAfter = 0
        const fetchFn: typeof fetch = async (input, init) => {
          const request = input instanceof Request ? input : new Request(input, init)
          if (request.method === 'POST' && (await request.clone().text()).includes(clientId)) {
            if (!httpUp) throw new TypeError('Failed to fetch')
            postedAfter++
          }
          return fetch(request)
        }
        const alice = file.track(browserStore(file.server.url, { fetchFn }))
        const aliceUser = await alice.login('alice@talemy.test')
        const bob = await file.loggedIn('bob@talemy.test')
        const id = await conversationBetween(alice, bob.user)
        await alice.openThread(id)
        await bob.openThread(id)
        await alice.until(() => caughtUp(alice) && caughtUp(bob))

        // Never shown twice, not even for a moment (the replayed echo and the retry's answer arrive apart).
        const most = { alice: 0, bob: 0 }
        const copies = (s: BrowserStore) => s.thread(id).filter((m) => m.clientId === clientId).length
        const unwatch = [
          alice.store.subscribe(() => (most.alice = Math.max(most.alice, copies(alice)))),
          bob.store.subscribe(() => (most.bob = Math.max(most.bob, copies(bob)))),
        ]
        const sentAt = alice.actions.length
        alice.store.dispatch(sendMessage({ conversationId: id, content: 'acked into the void', clientId }))
        await alice.until(() => dropped && alice.actions.slice(sentAt).some((a) => a.type === 'socket/disconnected'))
        // Nothing of the commit reached her before her socket went: no answer, no echo.
        const beforeDrop = alice.actions.slice(
          sentAt,
          alice.actions.findIndex((a, i) => i > sentAt && a.type === 'socket/disconnected'),
        )
        expect(
          beforeDrop.filter((a) => ['socket/sendConfirmed', 'socket/message:sent'].includes(a.type)).map((a) => a.type),
        ).toEqual([])
        await alice.until(() => confirmed(alice, clientId).length > 0 && caughtUp(alice))
        await bob.until(() => bob.thread(id).some((m) => m.clientId === clientId))
        await bob.until(() => caughtUp(bob))

        const kept = (await stored(alice, id)).filter((m) => m.clientId === clientId)
        expect(kept).toHaveLength(1)
        const [original] = kept as [Message]
        // Every answer the sender got is the one stored message, and it is shown once, as sent.
        expect(new Set(confirmed(alice, clientId).map((m) => m.id))).toEqual(new Set([original.id]))
        expect(alice.thread(id).filter((m) => m.clientId === clientId)).toEqual([
          expect.objectContaining({ id: original.id, seq: original.seq, status: 'sent' }),
        ])
        expect(bob.thread(id).filter((m) => m.clientId === clientId)).toEqual([
          expect.objectContaining({ id: original.id, seq: original.seq, senderId: aliceUser.id }),
        ])
        expect(alice.store.getState().socket.outbox).toEqual([])
        for (const stop of unwatch) stop()
        expect(most).toEqual({ alice: 1, bob: 1 })
        // It was sent again (over HTTP while the socket was down, or on the socket once back), and answered.
        expect(postedAfter + answeredAfter).toBeGreaterThanOrEqual(1)
      } finally {
        file.server.io.off('connection', onConnection)
      }
    },
  )
})

describe('one clientId, two senders', () => {
  test('both stored, each answered with their own message, each shown once in both threads under its sender', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(alice, bob.user)
    await alice.openThread(id)
    await bob.openThread(id)
    await alice.until(() => caughtUp(alice) && caughtUp(bob))

    const clientId = `shared-${randomUUID()}`
    // From the moment its user's own message is shown (pending, then sent), each thread keeps it and shows at most one
    // of the other's: the other's never stands in for one's own, nor is shown twice.
    const wrong: string[] = []
    const watch = (s: BrowserStore, own: string, other: string) => {
      let shown = false
      return s.store.subscribe(() => {
        const mine = s.thread(id).filter((m) => m.clientId === clientId)
        const count = (content: string) => mine.filter((m) => m.content === content).length
        shown ||= count(own) > 0
        if (shown && (count(own) !== 1 || count(other) > 1 || mine.length !== count(own) + count(other)))
          wrong.push(`${own}: ${JSON.stringify(mine)}`)
      })
    }
    // At once: each side's pending copy meets the other's message with the same clientId, before or after its ack.
    const unwatch = [watch(alice, 'from Alice', 'from Bob'), watch(bob, 'from Bob', 'from Alice')]
    alice.store.dispatch(sendMessage({ conversationId: id, content: 'from Alice', clientId }))
    bob.store.dispatch(sendMessage({ conversationId: id, content: 'from Bob', clientId }))
    const both = (s: BrowserStore) =>
      s.thread(id).filter((m) => m.clientId === clientId && (m.status === undefined || m.status === 'sent')).length ===
      2
    await alice.until(() => confirmed(alice, clientId).length > 0 && both(alice))
    await bob.until(() => confirmed(bob, clientId).length > 0 && both(bob))
    for (const stop of unwatch) stop()
    expect(wrong).toEqual([])

    const kept = (await stored(alice, id)).filter((m) => m.clientId === clientId)
    expect(kept.map((m) => [m.senderId, m.content]).sort()).toEqual(
      [
        [alice.user.id, 'from Alice'],
        [bob.user.id, 'from Bob'],
      ].sort(),
    )
    const of = (senderId: Id) => kept.find((m) => m.senderId === senderId)!
    expect(confirmed(alice, clientId)).toEqual([of(alice.user.id)])
    expect(confirmed(bob, clientId)).toEqual([of(bob.user.id)])
    for (const s of [alice, bob]) {
      const shown = s.thread(id).filter((m) => m.clientId === clientId)
      expect(
        shown
          .map((m) => ({ id: m.id, senderId: m.senderId, content: m.content }))
          .sort((a, b) => a.senderId.localeCompare(b.senderId)),
      ).toEqual(
        kept
          .map((m) => ({ id: m.id, senderId: m.senderId, content: m.content }))
          .sort((a, b) => a.senderId.localeCompare(b.senderId)),
      )
      expect(s.store.getState().socket.outbox).toEqual([])
    }
  })
})
