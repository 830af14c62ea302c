import { rmSync } from 'node:fs'
import { expect, test } from 'vitest'
import { selectConnection, sendMessage } from '../../src/realtime'
import { exited, freshDataDir, spawnMain } from '../server/support/server'
import { stablePort, startedAgain } from '../support/ports'
import { polled } from '../support/polled'
import { client, closedAfterFile, storedThread, type Client } from './support'

// The receiver stays connected while the server is SIGKILLed in the middle of a burst another user's outbox is sending
// (the default send limit spreads it over seconds), and comes back on the same port and data: afterwards the
// receiver's cache holds every stored message of the burst exactly once, by id, in seq order, and so do the sender's
// (its unacked sends went again with the same clientId) and her other browser's (her messages come to it as
// message:sent). R2 checks the database alone.

const CONVERSATION = 'conv-alice-bob'
const TOTAL = 60
const { open, cleanups } = closedAfterFile()

const realtime = { backoff: { baseMs: 100, capMs: 1_000 } }
const caughtUp = (c: Client) => {
  const connection = selectConnection(c.store.getState())
  return connection.status === 'connected' && !connection.syncing && connection.offset !== null
}

async function burstAcross(url: string, restart: (bob: Client) => Promise<string>) {
  const alice = client(url, { realtime })
  const bob = client(url, { realtime })
  // Alice in another browser: her own messages reach it as message:sent.
  const elsewhere = client(url, { realtime })
  open.push(alice, bob, elsewhere)
  await alice.login('alice@talemy.test')
  await bob.login('bob@talemy.test')
  await elsewhere.login('alice@talemy.test')
  await polled(
    () => [alice, bob, elsewhere].every(caughtUp),
    20,
    () => [alice, bob, elsewhere].map(caughtUp),
  )
  for (const c of [alice, bob, elsewhere]) await c.openThread(CONVERSATION)
  const before = new Set((await storedThread(url, alice.token(), CONVERSATION)).map((m) => m.id))

  const sent: string[] = []
  for (let i = 0; i < TOTAL; i++)
    sent.push(
      alice.store.dispatch(sendMessage({ conversationId: CONVERSATION, content: `burst ${i}` })).payload.clientId,
    )
  const after = await restart(bob)

  // No bounds of their own: the restart and the resends are what a loaded machine stretches. The test's timeout is the
  // bound on a hang, which prints what was last seen.
  await polled(
    () => alice.pending().length === 0,
    20,
    () => ({ alicePending: alice.pending().length }),
  )
  const stored = (await storedThread(after, alice.token(), CONVERSATION)).filter((m) => !before.has(m.id))
  // Stored once each, every one of them.
  expect(stored.map((m) => m.clientId).sort()).toEqual([...sent].sort())
  const ids = stored.map((m) => m.id)
  const burstOf = (c: Client) => c.thread(CONVERSATION).filter((m) => !before.has(m.id))
  for (const c of [alice, bob, elsewhere]) {
    const seen = () => ({ caughtUp: caughtUp(c), status: c.status(), burst: burstOf(c).length, of: ids.length })
    await polled(() => caughtUp(c) && burstOf(c).length >= ids.length, 20, seen)
    const thread = c.thread(CONVERSATION)
    // Exactly the stored burst, once each, in seq order; nothing else new, nothing pending.
    expect(burstOf(c).map((m) => m.id)).toEqual(ids)
    expect(new Set(thread.map((m) => m.id)).size).toBe(thread.length)
    expect(new Set(thread.map((m) => m.clientId).filter(Boolean)).size).toBe(thread.filter((m) => m.clientId).length)
    const seqs = thread.map((m) => m.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(thread.filter((m) => m.status === 'pending')).toEqual([])
  }
}

// SIGKILL only: a graceful close (SIGTERM) ends the same way with less left to chance, and each case costs the suite
// a restart and a burst.
test.each(['SIGKILL'] as const)(
  'a %s mid-burst: the connected receiver and the sender each hold the burst once, in seq order',
  async (signal) => {
    const dataDir = freshDataDir()
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = { DATA_DIR: dataDir, PORT: String(await stablePort()), SKIP_SPA_BUILD: '1' }
    let server = await spawnMain(env)
    await burstAcross(server.url, async (bob) => {
      // Mid-burst: half of it has reached Bob.
      const news = () => bob.actions.filter((a) => a.type === 'socket/message:new').length
      await polled(
        () => news() >= TOTAL / 2,
        20,
        () => ({ bobGot: news(), of: TOTAL }),
      )
      server.child.kill(signal)
      await exited(server.child)
      server = await startedAgain(() => spawnMain(env))
      return server.url
    })
  },
  600_000,
)
