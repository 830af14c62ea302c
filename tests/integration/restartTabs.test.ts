import { rmSync } from 'node:fs'
import { afterEach, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { createMemoryStorage } from '../../src/app/store'
import { createOutboxStorage, selectConnection, sendMessage, type TabsOptions } from '../../src/realtime'
import { manualVisibility } from '../../src/realtime/tabs/visibility'
import { storedThread } from '../reliability/support'
import { freshDataDir, startTestServer, type TestServer } from '../server/support/server'
import { polled } from '../support/polled'
import { stablePort } from '../support/ports'
import { browser as tabsBrowser } from '../unit/tabs/support/browser'
import { browserStore, conversationBetween, type BrowserStore } from './support'

// Two tabs of Alice sharing one socket; the follower's send is committed, its answer never leaves the server, and the
// server restarts (same port, same data). The message must end stored once, and shown once as sent, in order, in
// both tabs and at Bob.

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const caughtUp = (s: BrowserStore) => {
  const c = selectConnection(s.store.getState())
  return c.status === 'connected' && !c.syncing && c.offset !== null
}

test('a follower’s committed send, its answer lost with a server restart: once everywhere, in order', async () => {
  const dataDir = freshDataDir()
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
  let server: TestServer = await startTestServer({ dataDir, port: await stablePort() })
  cleanups.push(() => server.close())
  const port = Number(new URL(server.url).port)
  const url = server.url
  const track = (s: BrowserStore) => (cleanups.push(() => s.close()), s)

  const bob = track(browserStore(url))
  const bobUser = await bob.login('bob@talemy.test')
  const storage = createMemoryStorage()
  const edges = tabsBrowser()
  const tab = (tabId: string) => {
    const options: TabsOptions = {
      channelName: 'rs',
      ...edges.tab(tabId),
      visibility: manualVisibility(true),
      tabId,
      heartbeatMs: 100,
    }
    return track(browserStore(url, { storage, realtime: { tabs: options } }))
  }
  const first = tab('tab-1')
  await first.login('alice@talemy.test')
  const second = tab('tab-2')
  second.store.dispatch({ type: 'socket/connect' })
  const tabs = [first, second]
  const role = (s: BrowserStore) => selectConnection(s.store.getState()).role
  await first.until(
    () => tabs.map(role).sort().join() === 'follower,leader' && tabs.every((t) => t.status() === 'connected'),
  )
  const alice = first.store.getState().auth.user as User
  const follower = tabs.find((t) => role(t) === 'follower')!
  const holder = tabs.find((t) => t !== follower)!
  const id = await conversationBetween(bob, alice)
  for (const s of [bob, ...tabs]) await s.openThread(id)
  await bob.until(() => [bob, ...tabs].every(caughtUp))

  const clientId = `restart-follower-${Date.now()}`
  let withheld = 0
  for (const s of await server.io.in(`user:${alice.id}`).fetchSockets()) {
    const socket = server.io.sockets.sockets.get(s.id)!
    const client = socket.client as unknown as { writeToEngine(encoded: unknown[], opts: unknown): void }
    const write = client.writeToEngine.bind(client)
    client.writeToEngine = (encoded, opts) => {
      if (encoded.some((e) => typeof e === 'string' && e.includes(clientId))) return void withheld++
      write(encoded, opts)
    }
  }
  follower.store.dispatch(sendMessage({ conversationId: id, content: 'committed, then a restart', clientId }))
  await follower.until(() => withheld > 0)
  await server.close()
  server = await startTestServer({ dataDir, port })
  const next = holder.store.dispatch(sendMessage({ conversationId: id, content: 'after the restart' })).payload
  const ids = [clientId, next.clientId]
  // Waited for with no bound of their own (the test's timeout is the bound on a hang): the tabs reconnect to the new
  // server and drain their outboxes, which a loaded machine stretches (the test took 50 s at a load of 19 here).
  for (const t of tabs)
    await polled(
      () =>
        t.store.getState().socket.outbox.length === 0 &&
        ids.every((c) => t.thread(id).some((m) => m.clientId === c && (m.status ?? 'sent') === 'sent')) &&
        caughtUp(t),
    )
  await polled(() => ids.every((c) => bob.thread(id).some((m) => m.clientId === c)))
  const db = (await storedThread(server.url, bob.store.getState().auth.token!, id)).filter((m) =>
    ids.includes(m.clientId ?? ''),
  )
  expect(db.map((m) => m.clientId)).toEqual(ids)
  for (const s of [...tabs, bob])
    expect(
      s
        .thread(id)
        .filter((m) => ids.includes(m.clientId ?? ''))
        .map((m) => m.id),
    ).toEqual(db.map((m) => m.id))
  expect(createOutboxStorage(storage).load(alice.id)).toEqual([])
  expect(bobUser.id).toBe('user-bob')
}, 120_000)
