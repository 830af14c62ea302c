import { rmSync } from 'node:fs'
import { expect, test } from 'vitest'
import { selectConnection, sendMessage } from '../../src/realtime'
import { exited, freshDataDir, spawnMain } from '../server/support/server'
import { polled } from '../support/polled'
import { holdingProxy } from './holdingProxy'
import { client, closedAfterFile, storedThread, type Client } from './support'

// R6: the server process is SIGKILLed after a send has committed and before either participant has read a byte of
// what followed the commit (the ack, the sender's echo, the recipient's message:new): a proxy between the clients and
// the server holds those bytes back, and the kill comes from the proxy the moment it sees them. Started again on the
// same data folder, the sender's store resends with the same clientId, and both stores resume by offset.

const CONVERSATION = 'conv-alice-bob'
const { open, cleanups } = closedAfterFile()

const portOf = (url: string) => Number(new URL(url).port)

test('R6: a kill between a send’s commit and its ack → after the restart the message is once in the database and once in each store, resumed without a gap', async () => {
  const dataDir = freshDataDir()
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', JWT_SECRET: '' }
  let server = await spawnMain(env)
  const proxy = await holdingProxy(portOf(server.url))
  cleanups.push(() => proxy.close())

  const realtime = { backoff: { baseMs: 100, capMs: 1_000 } }
  const alice = client(proxy.url, { realtime })
  const bob = client(proxy.url, { realtime })
  open.push(alice, bob)
  await alice.login('alice@talemy.test')
  await bob.login('bob@talemy.test')
  const live = (c: Client) => {
    const connection = selectConnection(c.store.getState())
    return connection.status === 'connected' && !connection.syncing && connection.offset !== null
  }
  await polled(
    () => live(alice) && live(bob),
    20,
    () => ({ alice: live(alice), bob: live(bob) }),
  )
  await alice.openThread(CONVERSATION)
  await bob.openThread(CONVERSATION)
  const epochBefore = selectConnection(alice.store.getState()).epoch
  const before = (await storedThread(proxy.url, alice.token(), CONVERSATION)).length

  const clientId = `r6-${Date.now()}`
  let killed: Promise<unknown> | undefined
  proxy.arm(clientId, () => {
    server.child.kill('SIGKILL')
    killed = exited(server.child)
  })
  alice.store.dispatch(sendMessage({ conversationId: CONVERSATION, content: 'committed, never acked', clientId }))
  await polled(
    () => killed !== undefined,
    20,
    () => ({ alicePending: alice.pending().length, proxySawCommit: false }),
  )
  await killed
  proxy.disarm()

  // Nothing of the commit reached either store: the send is still pending, Bob has not seen it.
  const mine = (c: Client) => c.thread(CONVERSATION).filter((m) => m.clientId === clientId)
  expect(mine(alice).map((m) => m.status)).toEqual(['pending'])
  expect(mine(bob)).toEqual([])
  const gapsBefore = [alice, bob].map((c) => c.actions.filter((a) => a.type === 'socket/sync:gap').length)

  server = await spawnMain(env)
  proxy.retarget(portOf(server.url))

  // No bounds of their own: the restart (tsx compiling and starting the server) and the resend are what a loaded machine
  // stretches. The test's timeout is the bound on a hang, which prints what was last seen.
  const seen = () => ({
    alicePending: alice.pending().length,
    bobHas: mine(bob).length,
    status: [alice.status(), bob.status()],
  })
  await polled(() => alice.pending().length === 0, 20, seen)
  await polled(() => mine(bob).length > 0, 20, seen)
  await polled(
    () => live(alice) && live(bob),
    20,
    () => ({ alice: live(alice), bob: live(bob) }),
  )

  const stored = (await storedThread(proxy.url, alice.token(), CONVERSATION)).slice(before)
  expect(stored.filter((m) => m.clientId === clientId)).toHaveLength(1)
  const original = stored.find((m) => m.clientId === clientId)!
  expect(mine(alice)).toEqual([expect.objectContaining({ id: original.id, seq: original.seq, status: 'sent' })])
  expect(mine(bob)).toEqual([expect.objectContaining({ id: original.id, seq: original.seq })])
  // The restart changed nothing in the log: the offsets the stores held still count, so neither was told of a gap.
  expect([alice, bob].map((c) => c.actions.filter((a) => a.type === 'socket/sync:gap').length)).toEqual(gapsBefore)
  expect(selectConnection(alice.store.getState()).epoch).toBe(epochBefore)
  // Bob got it by resuming from his offset (or live): either way as one message:new.
  const news = bob.actions.filter(
    (a) => a.type === 'socket/message:new' && (a.payload as { clientId?: string }).clientId === clientId,
  )
  expect(news).toHaveLength(1)
}, 600_000)
