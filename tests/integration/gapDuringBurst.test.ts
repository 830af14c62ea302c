import { afterEach, expect, test } from 'vitest'
import { connect, disconnect, selectConnection, sendMessage, syncGap } from '../../src/realtime'
import { startTestServer } from '../server/support/server'
import { polled } from '../support/polled'
import { client, storedThread, type Client } from '../reliability/support'

// Bob's store drops out during a burst from Alice and comes back past the server's maxReplay: sync:gap, a refetch of
// his open thread, while the burst's live events keep coming. His thread ends as a window of the stored thread: no
// duplicate, no hole, ending at its last message.

const CONV = 'conv-alice-bob'
const TOTAL = 120
// Sent while Bob is away: past maxReplay, and more than a page of the thread (50), so the refetch cannot simply
// overlap.
const AWAY = 60
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

test('a gap taken mid-burst: the refetch and the live events after it leave the thread once each, without a hole', async () => {
  const server = await startTestServer({ maxReplay: 5 })
  cleanups.push(() => server.dispose())
  const realtime = { backoff: { baseMs: 100, capMs: 1_000 }, invalidationWindowMs: 0 }
  const alice = client(server.url, { realtime })
  const bob = client(server.url, { realtime })
  cleanups.push(
    () => alice.close(),
    () => bob.close(),
  )
  await alice.login('alice@talemy.test')
  await bob.login('bob@talemy.test')
  const caughtUp = (c: Client) => {
    const connection = selectConnection(c.store.getState())
    return connection.status === 'connected' && !connection.syncing && connection.offset !== null
  }
  await polled(
    () => caughtUp(alice) && caughtUp(bob),
    20,
    () => ({ alice: caughtUp(alice), bob: caughtUp(bob) }),
  )
  await alice.openThread(CONV)
  await bob.openThread(CONV)

  const sent: string[] = []
  const send = (count: number) => {
    for (let i = 0; i < count; i++)
      sent.push(
        alice.store.dispatch(sendMessage({ conversationId: CONV, content: `burst ${sent.length}` })).payload.clientId,
      )
  }
  const confirmed = () => sent.length - alice.pending().length
  send(10)
  await polled(
    () => confirmed() === 10,
    20,
    () => ({ confirmed: confirmed() }),
  )
  bob.store.dispatch(disconnect())
  send(AWAY)
  await polled(
    () => confirmed() === 10 + AWAY,
    20,
    () => ({ confirmed: confirmed() }),
  )
  // The rest goes out while Bob's store reconnects, is told of the gap and rereads his thread.
  bob.store.dispatch(connect())
  send(TOTAL - 10 - AWAY)
  await polled(
    () => bob.actions.some((a) => syncGap.match(a)),
    20,
    () => ({ bob: bob.status(), toldOfGap: false }),
  )

  // No bound of its own: the burst is spread by the send limit, which a loaded machine stretches. The test's timeout is
  // the bound on a hang, which prints what was still pending.
  await polled(
    () => alice.pending().length === 0,
    20,
    () => ({ alicePending: alice.pending().length }),
  )
  const stored = await storedThread(server.url, alice.token(), CONV)
  const last = stored.at(-1)!
  const bySeq = new Map(stored.map((m) => [m.seq, m.id]))
  await polled(
    () => caughtUp(bob) && bob.thread(CONV).at(-1)?.id === last.id,
    20,
    () => ({ caughtUp: caughtUp(bob), lastId: bob.thread(CONV).at(-1)?.id, want: last.id }),
  )
  const thread = bob.thread(CONV)
  expect(thread.map((m) => m.id)).toEqual(thread.map((m) => bySeq.get(m.seq)))
  expect(new Set(thread.map((m) => m.id)).size).toBe(thread.length)
  expect(thread.filter((m, i) => i > 0 && m.seq !== thread[i - 1]!.seq + 1)).toEqual([])
}, 120_000)
