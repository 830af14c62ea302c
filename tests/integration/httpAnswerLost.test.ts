import { randomUUID } from 'node:crypto'
import type { Socket } from 'socket.io'
import { describe, expect, test } from 'vitest'
import { selectConnection, sendMessage } from '../../src/realtime'
import { storedThread } from '../reliability/support'
import { browserStore, conversationBetween, serverPerFile, type BrowserStore } from './support'

// A send over HTTP while the socket is down whose answer is lost after the server committed it; the socket then comes
// back and replays the missed events (the user's own message among them) while the outbox sends again.

const file = serverPerFile()

const caughtUp = (s: BrowserStore) => {
  const connection = selectConnection(s.store.getState())
  return connection.status === 'connected' && !connection.syncing && connection.offset !== null
}

describe('the answer to a send over HTTP is lost, then the socket comes back', () => {
  test('stored once, shown once as sent (never twice, not even for a moment), outbox empty, in order', async () => {
    const clientId = `http-lost-${randomUUID()}`
    let holding = false
    const held: Array<() => void> = []
    file.server.io.use((socket: Socket, next) => {
      if (holding && socket.data.userId === 'user-alice') return void held.push(() => next())
      next()
    })
    let lostAnswers = 0
    let posts = 0
    const fetchFn: typeof fetch = async (input, init) => {
      const request = input instanceof Request ? input : new Request(input, init)
      if (request.method === 'POST' && (await request.clone().text()).includes(clientId)) {
        posts++
        const response = await fetch(request)
        if (lostAnswers === 0) {
          lostAnswers++
          // Committed; the answer never arrives. The socket may come back now.
          holding = false
          for (const release of held.splice(0)) release()
          throw new TypeError('Failed to fetch')
        }
        return response
      }
      return fetch(request)
    }
    const alice = file.track(browserStore(file.server.url, { fetchFn }))
    await alice.login('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    await alice.until(() => alice.status() === 'connected')
    const id = await conversationBetween(alice, bob.user)
    await alice.openThread(id)
    await bob.openThread(id)
    await alice.until(() => caughtUp(alice) && caughtUp(bob))

    let most = 0
    const copies = () => alice.thread(id).filter((m) => m.clientId === clientId).length
    const unwatch = alice.store.subscribe(() => (most = Math.max(most, copies())))

    holding = true
    const [socket] = await file.server.io.in('user:user-alice').fetchSockets()
    socket!.disconnect(false)
    await alice.until(() => alice.status() !== 'connected')
    alice.store.dispatch(sendMessage({ conversationId: id, content: 'over HTTP, answer lost', clientId }))
    await alice.until(() => lostAnswers > 0)
    const after = bob.store.dispatch(sendMessage({ conversationId: id, content: 'Bob after' })).payload
    await alice.until(
      () =>
        alice.store.getState().socket.outbox.length === 0 &&
        caughtUp(alice) &&
        alice.thread(id).some((m) => m.clientId === after.clientId),
      30_000,
    )
    unwatch()
    const db = (await storedThread(file.server.url, alice.store.getState().auth.token!, id)).filter(
      (m) => m.clientId === clientId || m.clientId === after.clientId,
    )
    expect(db.map((m) => m.clientId)).toEqual([clientId, after.clientId])
    const shown = alice
      .thread(id)
      .filter((m) => m.clientId === clientId || m.clientId === after.clientId)
      .map((m) => ({ id: m.id, status: m.status ?? 'sent' }))
    expect(shown).toEqual(db.map((m) => ({ id: m.id, status: 'sent' })))
    expect(most).toBe(1)
    expect(posts).toBeGreaterThanOrEqual(1)
  })
})
