import { randomUUID } from 'node:crypto'
import type { Socket } from 'socket.io'
import { describe, expect, test } from 'vitest'
import { loggedOut } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { outboxStorageKey, selectConnection, sendMessage } from '../../src/realtime'
import { storedThread } from '../reliability/support'
import { browserStore, conversationBetween, serverPerFile, type BrowserStore } from './support'

// A send over HTTP (the socket is down) still on its way when the user chooses "Log in again" (the unsent wait for
// their next login), its answer arriving after the logout or after the next login: stored once, shown once as sent,
// and nothing left in the outbox or in storage.

const file = serverPerFile()

const caughtUp = (s: BrowserStore) => {
  const connection = selectConnection(s.store.getState())
  return connection.status === 'connected' && !connection.syncing && connection.offset !== null
}

describe('"Log in again" while a send over HTTP is on its way', () => {
  test.each([
    ['before the next login', false],
    ['after the next login', true],
  ])('its answer arrives %s: stored once, shown once as sent, outbox and storage empty', async (_when, late) => {
    const clientId = `relogin-http-${randomUUID()}`
    let holding = false
    const held: Array<() => void> = []
    const hold = (socket: Socket, next: (err?: Error) => void) => {
      if (holding && socket.data.userId === 'user-alice') return void held.push(() => next())
      next()
    }
    file.server.io.use(hold)
    let answer: (() => void) | null = null
    let committed = false
    const fetchFn: typeof fetch = async (input, init) => {
      const request = input instanceof Request ? input : new Request(input, init)
      if (request.method === 'POST' && (await request.clone().text()).includes(clientId) && !committed) {
        const response = await fetch(request)
        committed = true
        await new Promise<void>((resolve) => (answer = resolve))
        return response
      }
      return fetch(request)
    }
    const storage = createMemoryStorage()
    const alice = file.track(browserStore(file.server.url, { storage, fetchFn }))
    const aliceUser = await alice.login('alice@talemy.test')
    await alice.until(() => alice.status() === 'connected')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(alice, bob.user)
    await alice.openThread(id)
    await bob.openThread(id)
    await alice.until(() => caughtUp(alice) && caughtUp(bob))

    holding = true
    for (const s of await file.server.io.in('user:user-alice').fetchSockets()) s.disconnect(false)
    await alice.until(() => alice.status() !== 'connected')
    alice.store.dispatch(sendMessage({ conversationId: id, content: 'over HTTP, then log in again', clientId }))
    await alice.until(() => committed && answer !== null)

    alice.store.dispatch(loggedOut({ keepOutbox: true }))
    if (!late) answer!()
    holding = false
    for (const release of held.splice(0)) release()
    await alice.login('alice@talemy.test')
    if (late) answer!()
    await alice.until(() => alice.status() === 'connected')
    await alice.openThread(id)
    await alice.until(() => alice.store.getState().socket.outbox.length === 0 && caughtUp(alice))
    await bob.until(() => bob.thread(id).some((m) => m.clientId === clientId))

    const db = (await storedThread(file.server.url, alice.store.getState().auth.token!, id)).filter(
      (m) => m.clientId === clientId,
    )
    expect(db).toHaveLength(1)
    for (const s of [alice, bob])
      expect(s.thread(id).filter((m) => m.clientId === clientId)).toEqual([
        expect.objectContaining({ id: db[0]!.id, senderId: aliceUser.id }),
      ])
    expect(alice.thread(id).find((m) => m.clientId === clientId)?.status ?? 'sent').toBe('sent')
    expect(storage.getItem(outboxStorageKey(aliceUser.id))).toBeNull()
  })
})
