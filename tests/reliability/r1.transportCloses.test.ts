import { rmSync } from 'node:fs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { sendMessage } from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir } from '../server/support/server'
import { polled } from '../support/polled'
import { client, conversationBetween, inOrder, sleep, storedThread, tally, type Client } from './support'

// R1: forced transport closes, from both ends, interleaved with a stream of messages between two users.
// Sped up from the 10 messages/s to 20/s (one every 50 ms, alternating senders) with a close every ~200 ms,
// so 50 closes fit in ~10 s; each close lands between or during sends either way. Backoff base 100 ms (the option)
// instead of 500 so each reconnect is quick; the ack timeout stays the default 5 s (a close fails pending acks at once).

let server: RunningServer
let dataDir: string
const open: Client[] = []

beforeAll(async () => {
  dataDir = freshDataDir()
  server = await startServer({ port: 0, dataDir, rateLimit: { perSecond: 1000, burst: 1000 } })
})
afterAll(async () => {
  for (const c of open.splice(0)) c.close()
  await server?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

test('R1: 50 forced transport closes during a message stream → 0 lost, 0 duplicated, order kept (database and both caches)', async () => {
  const realtime = { backoff: { baseMs: 100, capMs: 2_000 } }
  const alice = client(server.url, { realtime })
  const bob = client(server.url, { realtime })
  open.push(alice, bob)
  await alice.login('alice@talemy.test')
  const bobUser = await bob.login('bob@talemy.test')
  await polled(
    () => alice.status() === 'connected' && bob.status() === 'connected',
    20,
    () => [alice.status(), bob.status()],
  )
  const id = await conversationBetween(alice, bobUser)
  await alice.openThread(id)
  await bob.openThread(id)
  const before = alice.thread(id).length

  const PER_SENDER = 100
  const CLOSES = 50
  const sent = { alice: [] as string[], bob: [] as string[] }
  let closes = 0
  let clientSide = 0
  const t0 = Date.now()

  const stream = (async () => {
    for (let i = 0; i < PER_SENDER * 2; i++) {
      const who = i % 2 === 0 ? 'alice' : 'bob'
      const c = who === 'alice' ? alice : bob
      const { payload } = c.store.dispatch(sendMessage({ conversationId: id, content: `${who} #${i >> 1}` }))
      sent[who].push(payload.clientId)
      await sleep(50)
    }
  })()
  const chaos = (async () => {
    while (closes < CLOSES) {
      await sleep(150 + Math.floor(Math.random() * 100))
      const victim = closes % 2 === 0 ? alice : bob
      const socket = victim.socket()
      if (!socket?.connected) continue
      if (closes % 4 < 2) {
        // Client side: the engine's transport goes away under the socket.
        ;(socket.io as unknown as { engine: { close(): void } }).engine.close()
        clientSide++
      } else {
        server.io.sockets.sockets.get(socket.id!)?.conn.close()
      }
      closes++
    }
  })()
  await Promise.all([stream, chaos])
  const streamMs = Date.now() - t0

  // No bound of its own: the drain after the chaos is what a loaded machine stretches; the test's timeout is the bound on
  // a hang, and a hang prints what was still pending.
  const pendingNow = () => ({
    alice: alice.pending().length,
    bob: bob.pending().length,
    status: [alice.status(), bob.status()],
  })
  await polled(() => alice.pending().length === 0 && bob.pending().length === 0, 20, pendingNow)
  await polled(
    () => alice.status() === 'connected' && bob.status() === 'connected',
    20,
    () => [alice.status(), bob.status()],
  )
  const all = [...sent.alice, ...sent.bob]
  const db = await storedThread(server.url, alice.token(), id)
  const last = db.at(-1)!.seq
  // A cache holds the thread's latest page (a refetch after a gap or catch-up keeps the latest 50), so it is checked
  // as a window: ends at the database's last message, no hole, no duplicate, each the database's message at that seq.
  const windowOk = (c: Client) => {
    const t = c.thread(id)
    return (
      t.length > 0 &&
      t.at(-1)!.seq === last &&
      t.every((m, i) => m.status !== 'pending' && (i === 0 || m.seq === t[i - 1]!.seq + 1))
    )
  }
  await polled(
    () => windowOk(alice) && windowOk(bob),
    20,
    () => ({ alice: alice.thread(id).at(-1)?.seq, bob: bob.thread(id).at(-1)?.seq, last }),
  )

  const cacheFigures = (c: Client) => {
    const t = c.thread(id)
    return {
      window: t.length,
      holes: t.filter((m, i) => i > 0 && m.seq !== t[i - 1]!.seq + 1).length,
      duplicated: tally(t, []).duplicated,
      notAsStored: t.filter((m) => bySeqAll.get(m.seq)?.clientId !== m.clientId).length,
    }
  }
  const bySeqAll = new Map(db.map((m) => [m.seq, m]))
  const figures = {
    messages: all.length,
    closes,
    clientSideCloses: clientSide,
    serverSideCloses: closes - clientSide,
    streamSeconds: +(streamMs / 1000).toFixed(1),
    reconnects:
      alice.actions.filter((a) => a.type === 'socket/connected').length -
      1 +
      bob.actions.filter((a) => a.type === 'socket/connected').length -
      1,
    httpFallbacks: [...alice.actions, ...bob.actions].filter(
      (a) =>
        a.type === 'api/executeMutation/fulfilled' &&
        (a.meta as { arg?: { endpointName?: string } }).arg?.endpointName === 'postMessage',
    ).length,
    db: tally(db, all),
    aliceCache: cacheFigures(alice),
    bobCache: cacheFigures(bob),
    threadRefetches:
      [...alice.actions, ...bob.actions].filter(
        (a) =>
          a.type === 'api/executeQuery/fulfilled' &&
          (a.meta as { arg?: { endpointName?: string } }).arg?.endpointName === 'getMessages',
      ).length - 2,
  }
  console.log('R1', JSON.stringify(figures))

  expect(db.length - before).toBe(all.length)
  expect(figures.db).toEqual({ lost: 0, duplicated: 0 })
  expect(inOrder(db, sent.alice)).toBe(true)
  expect(inOrder(db, sent.bob)).toBe(true)
  const bySeq = new Map(db.map((m) => [m.seq, m]))
  for (const c of [alice, bob]) {
    const t = c.thread(id)
    expect(tally(t, []).duplicated).toBe(0)
    expect(t.map((m) => m.clientId)).toEqual(t.map((m) => bySeq.get(m.seq)!.clientId))
    const mine = c === alice ? sent.alice : sent.bob
    expect(
      inOrder(
        t,
        mine.filter((cid) => t.some((m) => m.clientId === cid)),
      ),
    ).toBe(true)
  }
  const seqs = alice.thread(id).map((m) => m.seq)
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  expect(closes).toBe(CLOSES)
}, 120_000)
