import { randomUUID } from 'node:crypto'
import type { Socket } from 'socket.io'
import { describe, expect, test } from 'vitest'
import { loggedOut } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { selectConnection, sendMessage } from '../../src/realtime'
import { storedThread } from '../reliability/support'
import { http } from '../server/support/server'
import { browserStore, conversationBetween, serverPerFile, type BrowserStore } from './support'

// A send whose answer was lost when the session ended on the server, and a send written while logged out: "Log in
// again" keeps both for the next login of the same user, which sends them; each is stored once and shown once, in the
// order written, on both sides.

const file = serverPerFile()

const caughtUp = (s: BrowserStore) => {
  const connection = selectConnection(s.store.getState())
  return connection.status === 'connected' && !connection.syncing && connection.offset !== null
}

describe('the session ends between a committed send and its answer; the same user logs in again', () => {
  test('what was committed and what was written meanwhile: stored once, shown once in order, outbox empty', async () => {
    const lost = `relogin-lost-${randomUUID()}`
    const later = `relogin-later-${randomUUID()}`
    let withheld = 0
    const sockets: Socket[] = []
    const onConnection = (socket: Socket) => {
      if (socket.data.userId !== 'user-alice') return
      sockets.push(socket)
      const client = socket.client as unknown as { writeToEngine(encoded: unknown[], opts: unknown): void }
      const write = client.writeToEngine.bind(client)
      const first = sockets.length === 1
      client.writeToEngine = (encoded, opts) => {
        if (first && encoded.some((e) => typeof e === 'string' && e.includes(lost))) return void withheld++
        write(encoded, opts)
      }
    }
    file.server.io.on('connection', onConnection)
    try {
      const alice = file.track(browserStore(file.server.url, { storage: createMemoryStorage() }))
      await alice.login('alice@talemy.test')
      await alice.until(() => alice.status() === 'connected')
      const bob = await file.loggedIn('bob@talemy.test')
      const id = await conversationBetween(alice, bob.user)
      await alice.openThread(id)
      await bob.openThread(id)
      await alice.until(() => caughtUp(alice) && caughtUp(bob))

      alice.store.dispatch(sendMessage({ conversationId: id, content: 'committed, answer lost', clientId: lost }))
      await alice.until(() => withheld > 0)
      // The session is revoked (elsewhere): the socket goes, the refresh is refused.
      const revoked = await http(file.server.url, 'POST', '/api/auth/logout', {
        token: alice.store.getState().auth.token!,
      })
      expect(revoked.status).toBe(204)
      await alice.until(() => alice.status() === 'unauthorized')
      alice.store.dispatch(sendMessage({ conversationId: id, content: 'written while logged out', clientId: later }))
      expect(alice.store.getState().socket.outbox.map((m) => m.clientId)).toEqual([lost, later])

      // "Log in again": the unsent wait for the next login of the same user.
      alice.store.dispatch(loggedOut({ keepOutbox: true }))
      await alice.login('alice@talemy.test')
      await alice.until(() => alice.status() === 'connected')
      await alice.openThread(id)
      await alice.until(() => alice.store.getState().socket.outbox.length === 0 && caughtUp(alice))
      await bob.until(() => bob.thread(id).some((m) => m.clientId === later) && caughtUp(bob))

      const db = (await storedThread(file.server.url, alice.store.getState().auth.token!, id)).filter((m) =>
        [lost, later].includes(m.clientId ?? ''),
      )
      expect(db.map((m) => m.clientId)).toEqual([lost, later])
      const shown = (s: BrowserStore) =>
        s
          .thread(id)
          .filter((m) => [lost, later].includes(m.clientId ?? ''))
          .map((m) => ({ id: m.id, clientId: m.clientId, status: m.status ?? 'sent' }))
      const expected = db.map((m) => ({ id: m.id, clientId: m.clientId, status: 'sent' }))
      expect(shown(alice)).toEqual(expected)
      expect(shown(bob)).toEqual(expected)
    } finally {
      file.server.io.off('connection', onConnection)
    }
  })
})

describe('another user logs in on the page in between', () => {
  test('the kept send waits for its own user: never sent as the other, sent once at the next login of its user', async () => {
    const kept = `kept-for-alice-${randomUUID()}`
    const page = file.track(browserStore(file.server.url, { storage: createMemoryStorage() }))
    await page.login('alice@talemy.test')
    await page.until(() => page.status() === 'connected')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(page, bob.user)
    await page.openThread(id)
    await bob.openThread(id)
    await page.until(() => caughtUp(page) && caughtUp(bob))
    const revoked = await http(file.server.url, 'POST', '/api/auth/logout', {
      token: page.store.getState().auth.token!,
    })
    expect(revoked.status).toBe(204)
    await page.until(() => page.status() === 'unauthorized')
    page.store.dispatch(sendMessage({ conversationId: id, content: 'for Bob, from Alice', clientId: kept }))
    page.store.dispatch(loggedOut({ keepOutbox: true }))

    const carol = await page.login('carol@talemy.test')
    await page.until(() => page.status() === 'connected')
    const carolConv = await conversationBetween(page, bob.user)
    await page.openThread(carolConv)
    const carolSays = page.store.dispatch(sendMessage({ conversationId: carolConv, content: 'from Carol' })).payload
    await page.until(() => page.thread(carolConv).some((m) => m.clientId === carolSays.clientId && m.status === 'sent'))
    expect(page.store.getState().socket.outbox).toEqual([])
    page.store.dispatch(loggedOut())

    await page.login('alice@talemy.test')
    await page.until(() => page.status() === 'connected')
    await page.openThread(id)
    await page.until(() => page.store.getState().socket.outbox.length === 0 && caughtUp(page))
    await bob.until(() => bob.thread(id).some((m) => m.clientId === kept))
    const db = (await storedThread(file.server.url, page.store.getState().auth.token!, id)).filter(
      (m) => m.clientId === kept,
    )
    expect(db).toEqual([expect.objectContaining({ senderId: 'user-alice' })])
    for (const s of [page, bob])
      expect(s.thread(id).filter((m) => m.clientId === kept)).toEqual([
        expect.objectContaining({ id: db[0]!.id, senderId: 'user-alice' }),
      ])
    const carolThread = await storedThread(file.server.url, bob.store.getState().auth.token!, carolConv)
    expect(carolThread.filter((m) => m.clientId === kept || m.senderId === carol.id).map((m) => m.content)).toEqual([
      'from Carol',
    ])
  })
})
