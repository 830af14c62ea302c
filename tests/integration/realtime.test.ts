import { rmSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import {
  connect,
  connected,
  disconnected,
  joinConversation,
  joined,
  sendMessage,
  socketHolderRequested,
  type SocketHolder,
} from '../../src/realtime'
import { startServer, type RunningServer } from '../../server/index'
import { conversationRoom } from '../../server/realtime/rooms'
import { freshDataDir } from '../server/support/server'
import { stablePort, startedAgain } from '../support/ports'
import { browserStore, conversationBetween, serverPerFile } from './support'

// Against the reference server on loopback port 0, with its seeded demo data (a private copy per file).

const file = serverPerFile()

/** The socket's `message:sent` for this send has been dispatched in that store. */
const confirmedBySocket = (client: { actions: { type: string; payload?: unknown }[] }, clientId: string) =>
  client.actions.some(
    (a) => a.type === 'socket/message:sent' && (a.payload as { clientId?: string } | undefined)?.clientId === clientId,
  )

const contents = (thread: { content: string; status?: string }[]) =>
  thread.map((m) => `${m.content}${m.status ? ` (${m.status})` : ''}`)

describe('two users', () => {
  test('exchange messages: shown once on both sides, in order, with the conversation list following', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(alice, bob.user)
    await alice.openThread(id)
    await bob.openThread(id)
    await bob.openConversations()
    const unreadBefore = bob.conversations().find((c) => c.id === id)?.unreadCount ?? 0
    const before = alice.thread(id).length

    const { payload } = alice.store.dispatch(sendMessage({ conversationId: id, content: 'Hello Bob, from the test' }))
    expect(alice.thread(id).at(-1)).toMatchObject({ id: payload.clientId, status: 'pending' })
    await alice.until(() => alice.thread(id).at(-1)?.status === 'sent')
    // Both confirmations (the ack and message:sent) have reached Alice, whichever came first, so a duplicate the
    // later one could cause would show now (its cache patch runs in a microtask after the action).
    await alice.until(() => confirmedBySocket(alice, payload.clientId))
    await bob.until(() => bob.thread(id).some((m) => m.clientId === payload.clientId))
    await bob.until(() => bob.conversations().find((c) => c.id === id)?.lastMessage?.clientId === payload.clientId)

    expect(alice.thread(id)).toHaveLength(before + 1)
    expect(bob.thread(id).filter((m) => m.content === 'Hello Bob, from the test')).toHaveLength(1)
    const sent = alice.thread(id).at(-1)!
    const { status: _status, ...stored } = sent
    expect(bob.thread(id).at(-1)).toEqual(stored)
    expect(bob.conversations().find((c) => c.id === id)?.unreadCount).toBe(unreadBefore + 1)
    expect(bob.conversations()[0]?.id).toBe(id)

    bob.store.dispatch(sendMessage({ conversationId: id, content: 'Hi Alice!' }))
    await alice.until(() => alice.thread(id).at(-1)?.content === 'Hi Alice!')
    await bob.until(() => bob.thread(id).at(-1)?.status === 'sent')
    expect(contents(alice.thread(id)).slice(-2)).toEqual(['Hello Bob, from the test (sent)', 'Hi Alice!'])
    expect(contents(bob.thread(id)).slice(-2)).toEqual(['Hello Bob, from the test', 'Hi Alice! (sent)'])
    const seqs = alice.thread(id).map((m) => m.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  })

  test('a refused join (not a participant) dispatches socket/joinFailed', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    const carol = await file.loggedIn('carol@talemy.test')
    const id = await conversationBetween(alice, bob.user)
    carol.store.dispatch({ type: 'socket/joinConversation', payload: { conversationId: id } })
    await carol.until(() => carol.actions.some((a) => a.type === 'socket/joinFailed'))
    expect(carol.actions.find((a) => a.type === 'socket/joinFailed')?.payload).toEqual({
      conversationId: id,
      code: 'FORBIDDEN',
    })
    expect(carol.store.getState().socket.rooms).toEqual([])
  })

  test('a join the server could not do (INTERNAL) is tried again on the same connection until the socket is in the room', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(alice, bob.user)
    const aliceSockets = [...file.server.io.of('/').sockets.values()].filter((s) => s.data.userId === alice.user.id)
    expect(aliceSockets).toHaveLength(1)
    const socket = aliceSockets[0]!
    // The first join fails as a server hiccup would answer it; the ones after it go through.
    let failures = 0
    socket.use(([event, ...args], next) => {
      const ack = args.at(-1)
      if (event !== 'conversation:join' || failures > 0 || typeof ack !== 'function') return next()
      failures++
      ack({ ok: false, error: { code: 'INTERNAL', message: 'the conversation could not be joined; try again' } })
    })
    alice.store.dispatch(joinConversation({ conversationId: id }))
    await alice.until(() => alice.actions.some((a) => joined.match(a) && a.payload.conversationId === id))
    expect(alice.actions.filter((a) => a.type === 'socket/joinFailed').map((a) => a.payload)).toEqual([
      { conversationId: id, code: 'INTERNAL' },
    ])
    expect(alice.actions.filter((a) => connected.match(a))).toHaveLength(1)
    expect(socket.rooms.has(conversationRoom(id))).toBe(true)
  })
})

describe('the server sends a logged event twice', () => {
  test('the second copy (same offset) dispatches nothing and the message shows once', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(alice, bob.user)
    await bob.openThread(id)
    const newOf = (content: string) =>
      bob.actions.filter(
        (a) => a.type === 'socket/message:new' && (a.payload as { content?: string }).content === content,
      )
    alice.store.dispatch(sendMessage({ conversationId: id, content: 'once only' }))
    await bob.until(() => newOf('once only').length === 1)
    const [first] = newOf('once only')
    const { offset } = first!.meta as { offset: number }
    // The copy goes down Bob's own connection before the next real event: what his store does with it has been done
    // by the time that one is applied.
    for (const socket of file.server.io.of('/').sockets.values())
      if (socket.data.userId === bob.user.id) socket.emit('message:new', first!.payload as never, { offset })
    alice.store.dispatch(sendMessage({ conversationId: id, content: 'after the copy' }))
    await bob.until(() => newOf('after the copy').length === 1)
    expect(newOf('once only')).toHaveLength(1)
    expect(bob.thread(id).filter((m) => m.content === 'once only')).toHaveLength(1)
  })
})

describe('the same user in another tab', () => {
  test('gets message:sent and shows the message once', async () => {
    const tab1 = await file.loggedIn('alice@talemy.test')
    const tab2 = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(tab1, bob.user)
    await tab1.openThread(id)
    await tab2.openThread(id)
    const { payload } = tab1.store.dispatch(sendMessage({ conversationId: id, content: 'from tab 1' }))
    await tab2.until(() => tab2.thread(id).some((m) => m.clientId === payload.clientId))
    await tab1.until(() => tab1.thread(id).at(-1)?.status === 'sent')
    // The ack and message:sent have both reached tab 1, whichever came first.
    await tab1.until(() => confirmedBySocket(tab1, payload.clientId))
    expect(tab2.actions.some((a) => a.type === 'socket/message:sent')).toBe(true)
    expect(tab2.thread(id).filter((m) => m.clientId === payload.clientId)).toEqual([
      expect.objectContaining({ content: 'from tab 1', status: 'sent' }),
    ])
    expect(tab1.thread(id).filter((m) => m.clientId === payload.clientId)).toHaveLength(1)
  })
})

describe('the server restarts', () => {
  test('reconnecting → connected, with the wanted rooms joined again', async () => {
    const restartDir = freshDataDir()
    let first: RunningServer | null = await startServer({ port: await stablePort(), dataDir: restartDir })
    const port = first.port
    let second: RunningServer | null = null
    try {
      const alice = await file.loggedIn('alice@talemy.test', first.url)
      const bob = await file.loggedIn('bob@talemy.test', first.url)
      const id = await conversationBetween(alice, bob.user)
      alice.store.dispatch({ type: 'socket/joinConversation', payload: { conversationId: id } })
      await alice.until(() => alice.actions.some((a) => joined.match(a)))
      const joinsBefore = alice.actions.filter((a) => joined.match(a)).length

      await first.close()
      first = null
      await alice.until(() => alice.status() === 'reconnecting')

      second = await startedAgain(() => startServer({ port, dataDir: restartDir }))
      await alice.until(() => alice.status() === 'connected')
      await alice.until(() => alice.actions.filter((a) => joined.match(a)).length > joinsBefore)

      const statuses = alice.actions
        .map((a) => a.type)
        .filter((t) => ['socket/disconnected', 'socket/reconnecting', 'socket/connected'].includes(t))
      expect(statuses.slice(-1)).toEqual(['socket/connected'])
      expect(statuses).toContain('socket/reconnecting')
      expect(alice.actions.filter((a) => connected.match(a))).toHaveLength(2)
      const socketId = alice.store.getState().socket.connection.socketId
      const inRoom = await second.io.in(conversationRoom(id)).fetchSockets()
      expect(inRoom.map((s) => s.id)).toContain(socketId)
      expect(alice.sockets()).toBe(1)
    } finally {
      file.closeAll()
      await first?.close()
      await second?.close()
      rmSync(restartDir, { recursive: true, force: true })
    }
  })
})

describe('the app closes the socket it was given while the server cannot be reached', () => {
  test('Socket.IO fires no disconnect then; the store still says disconnected, and connect() opens it again', async () => {
    const dir = freshDataDir()
    let first: RunningServer | null = await startServer({ port: await stablePort(), dataDir: dir })
    const port = first.port
    let second: RunningServer | null = null
    try {
      const alice = await file.loggedIn('alice@talemy.test', first.url)
      await first.close()
      first = null
      await alice.until(() => alice.status() === 'reconnecting')

      // `useSocket().socket`, as an app holds it; `close()` is socket.io-client's alias of `disconnect()`.
      const socket = (alice.store.dispatch(socketHolderRequested()) as unknown as SocketHolder).get()!
      expect(socket.connected).toBe(false)
      socket.close()
      expect(alice.status()).toBe('disconnected')
      expect(alice.actions.filter(disconnected.match).at(-1)?.payload.reason).toBe('io client disconnect')

      second = await startedAgain(() => startServer({ port, dataDir: dir }))
      alice.store.dispatch(connect())
      await alice.until(() => alice.status() === 'connected')
      expect(alice.sockets()).toBe(1)
    } finally {
      file.closeAll()
      await first?.close()
      await second?.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('a refused handshake', () => {
  // An expired token at a reload: tests/integration/sessions.test.ts.
  test('a token that cannot be refreshed ends in unauthorized', async () => {
    const s = browserStore(file.server.url)
    file.track(s)
    s.store.dispatch({
      type: 'auth/loggedIn',
      payload: { token: 'not-a-token', user: { id: 'user-alice', name: 'Alice', role: 'student' } },
    })
    await s.until(() => s.status() === 'unauthorized')
    expect(s.store.getState().socket.connection.error).toEqual({ code: 'UNAUTHORIZED', message: expect.any(String) })
    expect(s.actions.filter((a) => a.type === 'socket/sessionExpired')).toHaveLength(1)
  })
})

describe('the app closes the socket it was given, and opens it again itself', () => {
  test('online again with it: what came meanwhile arrives, the open thread is read again ("Seen"), presence comes back', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const bob = await file.loggedIn('bob@talemy.test')
    const id = await conversationBetween(alice, bob.user)
    await alice.openThread(id)
    await alice.openConversations()
    alice.store.dispatch(joinConversation({ conversationId: id }))
    await alice.until(() => alice.actions.some((a) => joined.match(a) && a.payload.conversationId === id))
    await alice.until(() => alice.store.getState().presence.users[bob.user.id]?.online === true)

    // `useSocket().socket`, as an app holds it: Socket.IO's own way offline and back.
    const socket = (alice.store.dispatch(socketHolderRequested()) as unknown as SocketHolder).get()!
    socket.disconnect()
    expect(alice.status()).toBe('disconnected')
    const sent = bob.store.dispatch(sendMessage({ conversationId: id, content: 'while you were away' })).payload
    await bob.until(() => confirmedBySocket(bob, sent.clientId))

    socket.connect()
    await alice.until(() => alice.status() === 'connected')
    await alice.until(() => alice.thread(id).some((m) => m.content === 'while you were away'))
    // The thread is open: joined again once synced, so read, and Bob is told "Seen".
    const stored = alice.thread(id).find((m) => m.content === 'while you were away')!
    await bob.until(() =>
      bob.actions.some(
        (a) =>
          a.type === 'socket/conversation:seen' &&
          (a.payload as { userId?: string }).userId === alice.user.id &&
          (a.payload as { seq?: number }).seq === stored.seq,
      ),
    )
    await alice.until(() => alice.conversations().find((c) => c.id === id)?.unreadCount === 0)
    await alice.until(() => alice.store.getState().presence.stale === false)
    expect(alice.sockets()).toBe(1)
  })
})

describe('socket/disconnect, then connect() on the socket the app still holds', () => {
  test('a connect: the store connects a socket of its own, the old one stays closed', async () => {
    const alice = await file.loggedIn('alice@talemy.test')
    const socket = (alice.store.dispatch(socketHolderRequested()) as unknown as SocketHolder).get()!
    alice.store.dispatch({ type: 'socket/disconnect' })
    expect(alice.status()).toBe('disconnected')
    socket.connect()
    await alice.until(() => alice.status() === 'connected')
    expect(alice.sockets()).toBe(2)
    expect(socket.connected).toBe(false)
    expect((alice.store.dispatch(socketHolderRequested()) as unknown as SocketHolder).get()).not.toBe(socket)
  })
})
