import { rmSync } from 'node:fs'
import { afterAll, expect, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { outboxStorageKey, sendMessage } from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import { freshDataDir, login, BOB } from '../server/support/server'
import { stablePort, startedAgain } from '../support/ports'
import { polled } from '../support/polled'
import { client, conversationBetween, inOrder, storedThread, tally, until, type Client } from './support'

// R3: 100 sends while the server is unreachable, a reload (a new store over the same storage), then the server comes
// back on the same port. The server runs with a tight rate limit (50/s, bursts of 20) so the drain also meets
// RATE_LIMITED and has to honour retryAfterMs.

const open: Client[] = []
const servers: RunningServer[] = []
let dataDir = ''
afterAll(async () => {
  for (const c of open.splice(0)) c.close()
  for (const s of servers) await s.close()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

test('R3: 100 sends offline, a reload, the server back → exactly 100 stored, in order', async () => {
  dataDir = freshDataDir()
  const rateLimit = { perSecond: 50, burst: 20 }
  const first = await startServer({ port: await stablePort(), dataDir, rateLimit })
  servers.push(first)
  const { port, url } = first
  const storage = createMemoryStorage()
  const page1 = client(url, { storage, realtime: { backoff: { baseMs: 200, capMs: 2_000 } } })
  open.push(page1)
  const alice = await page1.login('alice@talemy.test')
  await until(() => page1.status() === 'connected')
  const bob = await login(url, BOB)
  const id = await conversationBetween(page1, bob.user)
  const before = (await storedThread(url, page1.token(), id)).length

  await first.close()
  await until(() => page1.status() !== 'connected')
  const sent: string[] = []
  for (let i = 0; i < 100; i++)
    sent.push(page1.store.dispatch(sendMessage({ conversationId: id, content: `R3 #${i}` })).payload.clientId)
  await until(() => page1.actions.filter((a) => a.type === 'socket/sendRetryScheduled').length > 0)
  const savedBeforeReload = (JSON.parse(storage.getItem(outboxStorageKey(alice.id)) ?? '[]') as unknown[]).length

  // The reload: the page goes away (its store stops), a new store starts over the same storage.
  page1.close()
  const page2 = client(url, { storage, realtime: { backoff: { baseMs: 200, capMs: 2_000 } } })
  open.push(page2)
  const restored = page2.pending().map((m) => m.clientId)
  expect(restored).toEqual(sent)

  const second = await startedAgain(() => startServer({ port, dataDir, rateLimit }))
  servers.push(second)
  const t0 = Date.now()
  // No bound of its own (the drain is spread by the rate limit and a loaded machine stretches it): the test's timeout
  // is the bound on a hang, which prints what was still pending.
  await polled(
    () => page2.pending().length === 0,
    20,
    () => ({ pending: page2.pending().length, status: page2.status() }),
  )
  const drainMs = Date.now() - t0
  const db = (await storedThread(url, page2.token(), id)).slice(before)
  const figures = {
    sentOffline: sent.length,
    savedBeforeReload,
    restoredAfterReload: restored.length,
    stored: db.length,
    ...tally(db, sent),
    inOrder: inOrder(db, sent),
    drainMs,
    rateLimitedRetries: page2.actions.filter(
      (a) =>
        a.type === 'socket/sendRetryScheduled' &&
        (a.payload as { error: { code: string } }).error.code === 'RATE_LIMITED',
    ).length,
    storageLeft: storage.getItem(outboxStorageKey(alice.id)),
  }
  console.log('R3', JSON.stringify(figures))
  expect(savedBeforeReload).toBe(100)
  expect(db.length).toBe(100)
  expect(db.map((m) => m.clientId)).toEqual(sent)
  expect(figures.storageLeft).toBeNull()
}, 120_000)
