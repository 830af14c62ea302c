import { randomUUID } from 'node:crypto'
import type { Socket } from 'socket.io'
import { describe, expect, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { outboxStorageKey, selectConnection, sendMessage } from '../../src/realtime'
import { storedThread } from '../reliability/support'
import { browserStore, conversationBetween, serverPerFile, type BrowserStore } from './support'
import { hangBound } from '../support/hangBound'

// The durable outbox's promise across a reload: a send the server committed whose answer never reached the page (the
// page reloaded first) is sent again from storage by the next page, and that page shows it once, as sent.

const file = serverPerFile()

const caughtUp = (s: BrowserStore) => {
  const connection = selectConnection(s.store.getState())
  return connection.status === 'connected' && !connection.syncing && connection.offset !== null
}

describe('a reload while a committed send awaits its answer', () => {
  test('the next page sends it again from storage: stored once, shown once as sent, and storage forgets it', async () => {
    const clientId = `reload-lost-ack-${randomUUID()}`
    const storage = createMemoryStorage()
    let withheld = 0
    // Nothing the server writes to the first page about this send arrives (its ack, its echo): the page reloads first.
    const sockets: Socket[] = []
    const onConnection = (socket: Socket) => {
      if (socket.data.userId !== 'user-alice') return
      sockets.push(socket)
      const client = socket.client as unknown as { writeToEngine(encoded: unknown[], opts: unknown): void }
      const write = client.writeToEngine.bind(client)
      const first = sockets.length === 1
      client.writeToEngine = (encoded, opts) => {
        if (first && encoded.some((e) => typeof e === 'string' && e.includes(clientId))) return void withheld++
        write(encoded, opts)
      }
    }
    file.server.io.on('connection', onConnection)
    try {
      const page1 = file.track(browserStore(file.server.url, { storage }))
      const aliceUser = await page1.login('alice@talemy.test')
      await page1.until(() => page1.status() === 'connected')
      const bob = await file.loggedIn('bob@talemy.test')
      const id = await conversationBetween(page1, bob.user)
      await page1.openThread(id)
      await page1.until(() => caughtUp(page1))
      const before = (await storedThread(file.server.url, page1.store.getState().auth.token!, id)).length

      page1.store.dispatch(sendMessage({ conversationId: id, content: 'committed, then a reload', clientId }))
      // Committed: the server has it and has tried to answer.
      await page1.until(() => withheld > 0)
      await expect
        .poll(
          async () =>
            (await storedThread(file.server.url, page1.store.getState().auth.token!, id)).filter(
              (m) => m.clientId === clientId,
            ).length,
          // A bound for a loaded machine: the send is committed before the server answers, so the first read finds it.
          { timeout: hangBound() },
        )
        .toBe(1)
      expect(page1.store.getState().socket.outbox.map((m) => m.clientId)).toEqual([clientId])
      page1.close()

      const page2 = file.track(browserStore(file.server.url, { storage }))
      let most = 0
      const copies = () => page2.thread(id).filter((m) => m.clientId === clientId).length
      const unwatch = page2.store.subscribe(() => (most = Math.max(most, copies())))
      expect(page2.store.getState().socket.outbox.map((m) => m.clientId)).toEqual([clientId])
      await page2.until(() => page2.status() === 'connected')
      await page2.openThread(id)
      await page2.until(() => page2.store.getState().socket.outbox.length === 0 && caughtUp(page2))

      const db = (await storedThread(file.server.url, page2.store.getState().auth.token!, id)).slice(before)
      expect(db.filter((m) => m.clientId === clientId)).toHaveLength(1)
      const [original] = db.filter((m) => m.clientId === clientId)
      expect(page2.thread(id).filter((m) => m.clientId === clientId)).toEqual([
        expect.objectContaining({ id: original!.id, senderId: aliceUser.id }),
      ])
      expect(storage.getItem(outboxStorageKey(aliceUser.id))).toBeNull()
      unwatch()
      expect(most).toBe(1)
    } finally {
      file.server.io.off('connection', onConnection)
    }
  })
})
