import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { MemoryPresenceStore, PresenceTracker } from '../../server/realtime/presence'
import { ephemeralEventSchemas, MAX_PRESENCE_SNAPSHOT, parse } from '../../src/contract'
import { ephemeralEventActions, presenceSlice, selectPresence } from '../../src/realtime'
import {
  ALICE,
  BOB,
  CAROL,
  delivered,
  freshDataDir,
  http,
  login,
  manualClock,
  recordingFromHandshake,
  startTestServer,
  type ClientSocket,
  type TestServer,
} from './support/server'
import { requireParts } from '../cluster/support/redis'
import { postgresRunnable, startPostgres, type PostgresCluster } from './support/postgres'

/** Who shares a conversation with whom, as presence asks it (at a connect and otherwise alike). */
const fakeMembers = (contactsOf: (userId: string) => Promise<string[]>) => ({
  contactsOf,
  contactsOnConnect: contactsOf,
})

// Presence (CONTRACT.md, "Presence, typing, read receipts"). Seeded conversations: Alice–Bob and Alice–Carol, so Bob
// and Carol share none. The grace period is measured on the server's injected clock; a sweep (real time, every
// 500 ms) notices it has passed, so the tests wait for the event, never for a time window.

const servers: TestServer[] = []
const sockets: ClientSocket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close()
  for (const server of servers.splice(0)) await server.dispose()
})

type Item = { event: string; payload: Record<string, unknown> }

/** How the tracker's words go out, faked: changes to `toUsers`, snapshots straight to a (fake) socket still there. */
function fakeNotices(
  toUsers: (userIds: readonly string[], event: string, payload: unknown) => unknown = () => undefined,
): ConstructorParameters<typeof PresenceTracker>[0]['notices'] {
  return {
    toUsers: (userIds, event, payload) => void toUsers(userIds, event, payload),
    toSocket: (socket, event, payload) => {
      if (socket.connected) (socket.emit as (event: string, payload: unknown) => boolean)(event, payload)
    },
  }
}

/**
 * A tracker on faked parts, for what happens when one of them fails: a 5 s grace, a still clock, and the
 * words "online"/"offline" told to `told` (who was told, and the state).
 */
function trackerFailing(
  parts: Pick<ConstructorParameters<typeof PresenceTracker>[0], 'db' | 'members' | 'socketCount'> &
    Partial<ConstructorParameters<typeof PresenceTracker>[0]>,
) {
  const told: { users: readonly string[]; state: { online: boolean } }[] = []
  const tracker = new PresenceTracker({
    notices: fakeNotices((users, _event, state) => told.push({ users, state: state as { online: boolean } })),
    store: new MemoryPresenceStore(),
    graceSeconds: 5,
    now: () => 1_000_000,
    logger: { warn() {}, info() {} } as never,
    ...parts,
  })
  return { tracker, told, onlineTold: () => told.map(({ users, state }) => ({ users, online: state.online })) }
}

/** Contacts whose read fails ('Query read timeout', the database timing out) until `up()`; Bob's is Alice then. */
function membersDownUntilUp() {
  let down = true
  const members = fakeMembers(async () => {
    if (down) throw new Error('Query read timeout')
    return ['alice']
  })
  return { members, up: () => void (down = false) }
}

/** A live socket of Bob's (its parts faked), and every event it is sent. */
function bobsSocket() {
  const received: { event: string; payload: unknown }[] = []
  const socket = {
    data: { userId: 'bob' },
    connected: true,
    emit: (event: string, payload: unknown) => received.push({ event, payload }),
  }
  return { socket, received }
}

/**
 * A socket whose listener is in place before the handshake (the snapshot follows it at once), with every event it
 * receives: the tests pick the presence ones by name. Resolved at `connect`, before its replay: presence changes told
 * meanwhile do not reach it (`openLive` for a socket that must hear them).
 */
async function openFresh(server: TestServer, token: string, readyOn: 'connect' | 'sync:caughtUp' = 'connect') {
  const { socket, events, connect } = recordingFromHandshake(server.url, token, readyOn)
  sockets.push(socket)
  await connect()
  return { socket, items: events }
}

/**
 * `openFresh`, resolved once past its handshake's replay (`sync:caughtUp`): presence changes reach a socket only from
 * then on, so one told later (a contact coming or going) reaches it, and one told before is in its snapshot.
 */
const openLive = (server: TestServer, token: string) => openFresh(server, token, 'sync:caughtUp')

const changesAbout = (items: Item[], userId: string) =>
  items
    .filter((item) => item.event === 'presence:changed' && item.payload.userId === userId)
    .map((item) => item.payload)

describe('presence', () => {
  it('tells exactly the people who share a conversation when someone comes online, and snapshots them for the newcomer', async () => {
    const clock = manualClock()
    const server = await startTestServer({ now: clock.now })
    servers.push(server)
    const [alice, bob, carol] = await Promise.all([
      login(server.url, ALICE),
      login(server.url, BOB),
      login(server.url, CAROL),
    ])
    const aliceSocket = await openLive(server, alice.token)
    const carolSocket = await openLive(server, carol.token)

    const bobSocket = await openFresh(server, bob.token)
    await vi.waitFor(
      () =>
        expect(changesAbout(aliceSocket.items, bob.user.id)).toEqual([
          { userId: bob.user.id, online: true, lastSeenAt: null },
        ]),
      {
        timeout: 10_000,
      },
    )
    // One emit to both rooms went out before Alice had it: once Carol's barrier is through, she never will.
    await delivered(carolSocket.socket)
    expect(changesAbout(carolSocket.items, bob.user.id)).toEqual([])

    // Bob's snapshot: Alice (online), not Carol (no shared conversation).
    await vi.waitFor(() => expect(bobSocket.items.some((item) => item.event === 'presence:snapshot')).toBe(true), {
      timeout: 10_000,
    })
    const snapshot = bobSocket.items.find((item) => item.event === 'presence:snapshot')!.payload
    expect(snapshot).toEqual({ users: [{ userId: alice.user.id, online: true, lastSeenAt: null }] })

    const bobsView = await http<{ id: string; online: boolean | null; lastSeenAt: string | null }[]>(
      server.url,
      'GET',
      '/api/users',
      { token: bob.token },
    )
    expect(bobsView.body.find((u) => u.id === alice.user.id)).toMatchObject({ online: true, lastSeenAt: null })
    expect(bobsView.body.find((u) => u.id === carol.user.id)).toMatchObject({ online: null, lastSeenAt: null })
  })

  it('keeps a user online through a reload within the grace period, and takes them offline once it has passed', async () => {
    const clock = manualClock()
    const server = await startTestServer({ now: clock.now, presenceGraceSeconds: 5 })
    servers.push(server)
    const [alice, bob] = await Promise.all([login(server.url, ALICE), login(server.url, BOB)])
    const aliceSocket = await openLive(server, alice.token)
    const first = await openFresh(server, bob.token)
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, bob.user.id)).toHaveLength(1), { timeout: 10_000 })

    // A reload: gone for 4 s of the server's clock, then back.
    first.socket.close()
    await waitForServerSockets(server, bob.user.id, 0)
    clock.advance(4_000)
    const second = await openFresh(server, bob.token)
    await vi.waitFor(() => expect(second.items.some((item) => item.event === 'presence:snapshot')).toBe(true), {
      timeout: 10_000,
    })

    // Now gone for good: offline after the grace, with lastSeenAt when the last socket went.
    const goneAt = clock.now()
    second.socket.close()
    // The server has seen the close before the clock moves (its disconnect notes the time on the clock).
    await waitForServerSockets(server, bob.user.id, 0)
    clock.advance(5_000)
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, bob.user.id)).toHaveLength(2), { timeout: 10_000 })
    expect(changesAbout(aliceSocket.items, bob.user.id)).toEqual([
      { userId: bob.user.id, online: true, lastSeenAt: null },
      { userId: bob.user.id, online: false, lastSeenAt: new Date(goneAt).toISOString() },
    ])
    const view = await http<{ id: string; online: boolean; lastSeenAt: string }[]>(server.url, 'GET', '/api/users', {
      token: alice.token,
    })
    expect(view.body.find((u) => u.id === bob.user.id)).toMatchObject({
      online: false,
      lastSeenAt: new Date(goneAt).toISOString(),
    })
  })

  it('does not go offline before the grace period has passed on the clock', async () => {
    const clock = manualClock()
    const server = await startTestServer({ now: clock.now, presenceGraceSeconds: 5 })
    servers.push(server)
    const [alice, bob, carol] = await Promise.all([
      login(server.url, ALICE),
      login(server.url, BOB),
      login(server.url, CAROL),
    ])
    const aliceSocket = await openLive(server, alice.token)
    const bobSocket = await openFresh(server, bob.token)
    const carolSocket = await openFresh(server, carol.token)
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, bob.user.id)).toHaveLength(1), { timeout: 10_000 })
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, carol.user.id)).toHaveLength(1), { timeout: 10_000 })
    // Carol, Alice's contact too, goes a second of the clock before Bob: her grace has passed when his is 1 ms short.
    carolSocket.socket.close()
    await waitForServerSockets(server, carol.user.id, 0)
    clock.advance(1_000)
    bobSocket.socket.close()
    await waitForServerSockets(server, bob.user.id, 0)
    clock.advance(4_999)
    // A sweep has run with the clock short of Bob's grace: it took Carol offline (waited for, not for a time, so a slow
    // machine cannot make the check below pass before any sweep ran)…
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, carol.user.id)).toHaveLength(2), { timeout: 10_000 })
    expect(changesAbout(aliceSocket.items, carol.user.id)[1]).toMatchObject({ online: false })
    expect(changesAbout(aliceSocket.items, bob.user.id)).toHaveLength(1)
    const view = await http<{ id: string; online: boolean }[]>(server.url, 'GET', '/api/users', { token: alice.token })
    expect(view.body.find((u) => u.id === bob.user.id)?.online).toBe(true)
    // …and one more millisecond takes him offline (the event Alice then gets proves the sweeps were running).
    clock.advance(1)
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, bob.user.id)).toHaveLength(2), { timeout: 10_000 })
    expect(changesAbout(aliceSocket.items, bob.user.id)[1]).toMatchObject({ online: false })
  })
})

/** Waits until the server holds `count` sockets of `userId` (it has handled their disconnects). */
async function waitForServerSockets(server: TestServer, userId: string, count: number) {
  await vi.waitFor(
    async () => {
      const sockets = await server.io.in(`user:${userId}`).fetchSockets()
      expect(sockets).toHaveLength(count)
    },
    { timeout: 10_000 },
  )
}

// A restart (a deploy) takes every socket with it: those of a user who never comes back (their tab closed meanwhile)
// went at the close, and the next server must say so, not "last seen" at some earlier going, or never.
describe('across a restart of the one server', () => {
  it('records when the sockets of the users online went: the next server tells "last seen" at the close', async () => {
    const clock = manualClock()
    const dataDir = freshDataDir()
    const first = await startTestServer({ now: clock.now, dataDir })
    const [alice, bob] = await Promise.all([login(first.url, ALICE), login(first.url, BOB)])
    const aliceSocket = await openLive(first, alice.token)
    const bobSocket = await openFresh(first, bob.token)
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, bob.user.id)).toHaveLength(1), { timeout: 10_000 })

    clock.advance(60_000)
    const closedAt = clock.now()
    await first.close()
    // Bob's tab closes while the server is away: he never comes back.
    bobSocket.socket.close()
    aliceSocket.socket.close()
    clock.advance(60_000)

    const second = await startTestServer({ now: clock.now, dataDir })
    servers.push(second)
    try {
      const view = await http<{ id: string; online: boolean; lastSeenAt: string | null }[]>(
        second.url,
        'GET',
        '/api/users',
        { token: alice.token },
      )
      expect(view.body.find((u) => u.id === bob.user.id)).toMatchObject({
        online: false,
        lastSeenAt: new Date(closedAt).toISOString(),
      })
    } finally {
      servers.splice(servers.indexOf(second), 1)
      await second.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  // A restart is a reload of every tab at once: those back within the grace were never away to their contacts.
  it('keeps the users online at the close online for the grace after it: a contact back first is not told they went', async () => {
    const clock = manualClock()
    const dataDir = freshDataDir()
    const first = await startTestServer({ now: clock.now, dataDir, presenceGraceSeconds: 5 })
    const [alice, bob] = await Promise.all([login(first.url, ALICE), login(first.url, BOB)])
    const aliceSocket = await openLive(first, alice.token)
    const bobSocket = await openFresh(first, bob.token)
    await vi.waitFor(() => expect(changesAbout(aliceSocket.items, bob.user.id)).toHaveLength(1), { timeout: 10_000 })

    const closedAt = clock.now()
    await first.close()
    bobSocket.socket.close()
    aliceSocket.socket.close()
    // Back within the grace; Alice's browser reconnects before Bob's.
    clock.advance(1_000)
    const second = await startTestServer({ now: clock.now, dataDir, presenceGraceSeconds: 5 })
    servers.push(second)
    try {
      const again = await openLive(second, alice.token)
      await vi.waitFor(() => expect(again.items.some((item) => item.event === 'presence:snapshot')).toBe(true), {
        timeout: 10_000,
      })
      const snapshot = again.items.find((item) => item.event === 'presence:snapshot')!.payload
      expect(snapshot.users).toContainEqual(expect.objectContaining({ userId: bob.user.id, online: true }))
      const view = await http<{ id: string; online: boolean }[]>(second.url, 'GET', '/api/users', {
        token: alice.token,
      })
      expect(view.body.find((u) => u.id === bob.user.id)?.online).toBe(true)

      // Bob's tab closed while the server was away: offline once the grace from the close has passed, last seen then.
      clock.advance(4_000)
      await vi.waitFor(() => expect(changesAbout(again.items, bob.user.id)).toHaveLength(1), { timeout: 10_000 })
      expect(changesAbout(again.items, bob.user.id)).toEqual([
        { userId: bob.user.id, online: false, lastSeenAt: new Date(closedAt).toISOString() },
      ])
    } finally {
      servers.splice(servers.indexOf(second), 1)
      await second.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

// The server drops a socket whose session was revoked during its handshake, or a socket that closes while its replay
// runs; what follows the replay (presence) must not bring its user online for the grace period after it has gone.
describe('a socket gone before its replay ended (its parts faked)', () => {
  it('does not bring its user online, nor tell anyone: nobody is there', async () => {
    const store = new MemoryPresenceStore()
    const told: unknown[] = []
    const tracker = new PresenceTracker({
      notices: fakeNotices((_users, _event, state) => told.push(state)),
      db: {
        async query(_text: string, params: unknown[]) {
          return (params[0] as string[]).map((id) => ({ id, last_seen_at: null }))
        },
      } as never,
      members: fakeMembers(async () => ['bob']),
      store,
      socketCount: () => 0,
      graceSeconds: 5,
      now: () => 1_000_000,
      logger: { warn: () => undefined } as never,
    })
    const emitted: string[] = []
    const gone = { data: { userId: 'alice' }, connected: false, emit: (event: string) => emitted.push(event) }
    await tracker.connected(gone as never)
    expect(await store.isOnline(['alice'])).toEqual([false])
    expect(told).toEqual([])
    expect(emitted).toEqual([])
  })
})

describe('the sweep against a reconnect (its parts faked: the order of what it awaits)', () => {
  it('never tells "offline" after a reconnect has told "online": the last word is the user’s state', async () => {
    const store = new MemoryPresenceStore()
    await store.markOnline('bob')
    let sockets = 0
    let releaseUpdate: () => void = () => {}
    const updateHeld = new Promise<void>((resolve) => (releaseUpdate = resolve))
    let updateStarted: () => void = () => {}
    const updating = new Promise<void>((resolve) => (updateStarted = resolve))
    const db = {
      async query(sql: string) {
        if (sql.includes('update users set last_seen_at')) {
          updateStarted()
          await updateHeld
          return []
        }
        return [{ id: 'bob', last_seen_at: null }]
      },
    }
    const told: boolean[] = []
    const notices = fakeNotices((_users, _event, state) => told.push((state as { online: boolean }).online))
    const tracker = new PresenceTracker({
      notices,
      db: db as never,
      members: fakeMembers(async () => ['alice']),
      store,
      socketCount: () => sockets,
      graceSeconds: 0,
      now: () => 1_000_000,
      logger: { warn() {} } as never,
    })
    const sweeping = tracker.sweep()
    // The sweep has taken Bob offline and is writing when he was last seen: he comes back now.
    await updating
    sockets = 1
    await tracker.connected({ data: { userId: 'bob' }, connected: true, emit() {} } as never)
    releaseUpdate()
    await sweeping
    expect(told).toEqual([true])
    expect(await store.isOnline(['bob'])).toEqual([true])
  })
})

// A connect marks its user online before it reads their contacts and what to tell them. A read that fails there (the
// database timing out once) must not leave the store saying "online" with nobody told: no later connect, sweep or
// reassertion would ever tell them, and the contacts would see the user offline for as long as they stay connected.
describe('a connect whose reads fail (its parts faked)', () => {
  it('leaves the user to be told online by the next sweep, not online in the store with nobody told', async () => {
    const contacts = membersDownUntilUp()
    const { tracker, onlineTold } = trackerFailing({
      db: { query: async () => [{ id: 'bob', last_seen_at: null }] } as never,
      members: contacts.members,
      socketCount: () => 1,
      localUsers: () => ['bob'],
    })
    await expect(tracker.connected({ data: { userId: 'bob' }, connected: true, emit() {} } as never)).rejects.toThrow(
      'Query read timeout',
    )
    contacts.up()
    await tracker.sweep()
    expect(onlineTold()).toEqual([{ users: ['alice'], online: true }])
  })

  // Online is told only once it is noted as when the user was last seen (as a connect does): every node killed right
  // after the word, the node that comes back has that to give as their lastSeenAt, not null (npm run test:load,
  // tests/cluster/lastSeenAfterCrash.test.ts: 'expected NaN to be greater than or equal to …').
  it('the sweep that tells them online has noted them seen first', async () => {
    const contacts = membersDownUntilUp()
    const happened: string[] = []
    const { tracker } = trackerFailing({
      db: {
        query: async (sql: string, params?: unknown[]) => {
          if (sql.includes('insert into presence_seen')) happened.push(`noted ${(params![0] as string[]).join()}`)
          return [{ id: 'bob', last_seen_at: null }]
        },
      } as never,
      members: contacts.members,
      socketCount: () => 1,
      localUsers: () => ['bob'],
      notesSeen: true,
      notices: fakeNotices((_users, _event, state) => happened.push(`told ${(state as { online: boolean }).online}`)),
    })
    await expect(tracker.connected({ data: { userId: 'bob' }, connected: true, emit() {} } as never)).rejects.toThrow(
      'Query read timeout',
    )
    contacts.up()
    await tracker.sweep()
    expect(happened.slice(happened.indexOf('told true') - 1)).toEqual(['noted bob', 'told true'])
  })

  // A browser connected again shows nobody's presence until its socket's snapshot (what it knew may have changed while
  // it was away): without one, every presence label stayed hidden for as long as that socket lived.
  it('sends the socket its snapshot at a later sweep, once the reads work again', async () => {
    const contacts = membersDownUntilUp()
    const { tracker } = trackerFailing({
      db: { query: async () => [{ id: 'alice', last_seen_at: null }] } as never,
      members: contacts.members,
      socketCount: () => 1,
      localUsers: () => ['bob'],
    })
    const { socket, received } = bobsSocket()
    await expect(tracker.connected(socket as never)).rejects.toThrow('Query read timeout')
    await tracker.sweep()
    expect(received).toEqual([])
    contacts.up()
    await tracker.sweep()
    expect(received).toEqual([
      { event: 'presence:snapshot', payload: { users: [{ userId: 'alice', online: false, lastSeenAt: null }] } },
    ])
    // Once: the next sweep owes it nothing.
    await tracker.sweep()
    expect(received).toHaveLength(1)
  })

  it('owes nothing to a socket that has gone meanwhile', async () => {
    const contacts = membersDownUntilUp()
    const { tracker } = trackerFailing({
      db: { query: async () => [{ id: 'alice', last_seen_at: null }] } as never,
      members: contacts.members,
      socketCount: () => 0,
    })
    const { socket, received } = bobsSocket()
    await expect(tracker.connected(socket as never)).rejects.toThrow('Query read timeout')
    socket.connected = false
    contacts.up()
    await tracker.sweep()
    expect(received).toEqual([])
  })
})

// Snapshots sent again after notifications between nodes were lost: a change lost then (someone gone offline) would
// otherwise stay the browser's last word on them for as long as its socket lived.
describe('snapshots sent again whose reads fail (its parts faked)', () => {
  it('go at a later sweep, once the reads work again', async () => {
    const contacts = membersDownUntilUp()
    const { tracker } = trackerFailing({
      db: { query: async () => [{ id: 'alice', last_seen_at: '2026-12-05T10:00:00.000Z' }] } as never,
      members: contacts.members,
      socketCount: () => 1,
    })
    const { socket, received } = bobsSocket()
    await expect(tracker.resendSnapshots([socket as never])).rejects.toThrow('Query read timeout')
    contacts.up()
    await tracker.sweep()
    expect(received).toEqual([
      {
        event: 'presence:snapshot',
        payload: { users: [{ userId: 'alice', online: false, lastSeenAt: '2026-12-05T10:00:00.000Z' }] },
      },
    ])
  })
})

// The sweep marks a user offline in the store before it writes when they were last seen and reads whom to tell. A write
// or read that fails there (the database timing out once) must not leave them offline in the store with nobody told:
// no later sweep looks at a user the store has offline, and their contacts would see them online for good.
describe('a sweep whose writes fail after it took a user offline (its parts faked)', () => {
  it('tells their contacts at a later sweep, with when they went', async () => {
    const store = new MemoryPresenceStore()
    await store.markOnline('bob')
    await store.noteGone('bob', 1_000_000)
    let dbDown = true
    const { tracker, told } = trackerFailing({
      db: {
        query: async (sql: string) => {
          if (dbDown && sql.includes('update users set last_seen_at')) throw new Error('Query read timeout')
          return []
        },
      } as never,
      members: fakeMembers(async () => ['alice']),
      socketCount: () => 0,
      store,
      now: () => 1_006_000,
    })
    await tracker.sweep()
    dbDown = false
    await tracker.sweep()
    expect(told).toEqual([
      { users: ['alice'], state: { userId: 'bob', online: false, lastSeenAt: new Date(1_000_000).toISOString() } },
    ])
  })
})

// A user with a socket here whom the store has offline (a connect whose reads failed, a store that lost its data) is put
// back online by the sweep, then told to their contacts: a read that fails between the two must not leave them online
// in the store with nobody told, which no later sweep would put right.
describe('a sweep whose reads fail as it puts a user with a socket here back online (its parts faked)', () => {
  it('tells their contacts at a later sweep', async () => {
    let dbDown = true
    const { tracker, onlineTold } = trackerFailing({
      db: {
        query: async () => {
          if (dbDown) throw new Error('Query read timeout')
          return [{ id: 'bob', last_seen_at: null }]
        },
      } as never,
      members: fakeMembers(async () => ['alice']),
      socketCount: () => 1,
      localUsers: () => ['bob'],
    })
    await tracker.sweep()
    dbDown = false
    await tracker.sweep()
    expect(onlineTold()).toEqual([{ users: ['alice'], online: true }])
  })
})

// The sweep runs every 500 ms: a store that keeps failing (Redis away, the database down) is one outage, not a log line
// per pass.
describe('the sweep while its store keeps failing (its parts faked)', () => {
  it('warns once per streak of failures, and says when a sweep goes through again', async () => {
    const store = new MemoryPresenceStore()
    let down = true
    const onlineUsers = store.onlineUsers.bind(store)
    store.onlineUsers = async () => {
      if (down) throw new Error('Connection is closed.')
      return onlineUsers()
    }
    const logged: string[] = []
    const tracker = new PresenceTracker({
      notices: fakeNotices(),
      db: { query: async () => [] } as never,
      members: fakeMembers(async () => []),
      store,
      socketCount: () => 0,
      graceSeconds: 5,
      now: () => 1_000_000,
      logger: {
        warn: (_fields: unknown, message: string) => logged.push(`warn ${message}`),
        info: (message: string) => logged.push(`info ${message}`),
      } as never,
    })
    for (let pass = 0; pass < 5; pass++) await tracker.sweep()
    expect(logged).toEqual(['warn presence sweep failed'])
    down = false
    await tracker.sweep()
    await tracker.sweep()
    down = true
    await tracker.sweep()
    await tracker.sweep()
    expect(logged).toEqual([
      'warn presence sweep failed',
      'info presence sweep works again',
      'warn presence sweep failed',
    ])
  })
})

describe('the snapshot and the changes on one socket', () => {
  // A newcomer's snapshot waits for the database; a sweep can take a contact offline meanwhile. The snapshot reads the
  // online flags last and goes out at once: it can no longer arrive after the change with the older word.
  it("a newcomer's browser does not end up showing a contact online after being told they went offline", async () => {
    const store = new MemoryPresenceStore()
    const bobSockets = 0
    const toAlice: { event: string; payload: unknown }[] = []
    const notices = fakeNotices(
      (userIds, event, payload) => userIds.includes('alice') && toAlice.push({ event, payload }),
    )
    // The snapshot's read of last_seen_at (about Bob) answers when the test says (another pool connection, a busier
    // moment); every other query at once.
    let answerSnapshot!: () => void
    const snapshotGate = new Promise<void>((resolve) => (answerSnapshot = resolve))
    let snapshotRead!: () => void
    const snapshotReading = new Promise<void>((resolve) => (snapshotRead = resolve))
    const db = {
      async query(text: string, params: unknown[]) {
        if (text.startsWith('select id, last_seen_at')) {
          if ((params[0] as string[]).includes('bob')) {
            snapshotRead()
            await snapshotGate
          }
          return (params[0] as string[]).map((id) => ({ id, last_seen_at: null }))
        }
        return [] // the sweep's `update users set last_seen_at`
      },
    }
    let clock = 1_000_000
    const tracker = new PresenceTracker({
      notices,
      db: db as never,
      members: fakeMembers(async (userId) => [userId === 'alice' ? 'bob' : 'alice']),
      store,
      socketCount: (userId) => (userId === 'bob' ? bobSockets : 1),
      graceSeconds: 5,
      now: () => clock,
      logger: { warn: () => undefined } as never,
    })

    // Bob was online and his last socket went more than the grace period ago; the sweep has not run since.
    await store.markOnline('bob')
    await store.noteGone('bob', clock - 10_000)

    // Alice connects; her snapshot is under way when the sweep takes Bob offline.
    const aliceSocket = {
      data: { userId: 'alice' },
      connected: true,
      emit: (event: string, payload: unknown) => toAlice.push({ event, payload }),
    }
    const connecting = tracker.connected(aliceSocket as never)
    await snapshotReading // the snapshot has read the store (Bob online) and waits for the database
    await tracker.sweep()
    answerSnapshot()
    await connecting
    clock += 1

    expect(await store.isOnline(['bob'])).toEqual([false])

    // What Alice's browser makes of what arrived, in the order it arrived.
    let state = presenceSlice.reducer(undefined, { type: '@@init' })
    for (const { event, payload } of toAlice) {
      const action =
        event === 'presence:snapshot'
          ? ephemeralEventActions['presence:snapshot'](payload as never)
          : ephemeralEventActions['presence:changed'](payload as never)
      state = presenceSlice.reducer(state, action)
    }
    expect(toAlice.map((item) => item.event)).toContain('presence:changed')
    expect(selectPresence({ presence: state }, 'bob')?.online).toBe(false)
  })

  it('lists at most what the browser takes in a snapshot (it refuses a longer one whole)', async () => {
    const many = Array.from({ length: MAX_PRESENCE_SNAPSHOT + 5 }, (_, i) => ({
      user_id: `u${String(i).padStart(6, '0')}`,
    }))
    const db = {
      async query(_text: string, params: unknown[]) {
        return (params[0] as string[]).map((id) => ({ id, last_seen_at: null }))
      },
    }
    const tracker = new PresenceTracker({
      notices: fakeNotices(),
      db: db as never,
      members: fakeMembers(async () => many.map((row) => row.user_id)),
      store: new MemoryPresenceStore(),
      socketCount: () => 1,
      graceSeconds: 5,
      now: () => 0,
      logger: { warn: () => undefined } as never,
    })
    const sent: unknown[] = []
    await tracker.connected({
      data: { userId: 'alice' },
      connected: true,
      emit: (_event: string, payload: unknown) => sent.push(payload),
    } as never)
    expect(sent).toHaveLength(1)
    expect(parse(ephemeralEventSchemas['presence:snapshot'], sent[0]).ok).toBe(true)
    expect((sent[0] as { users: unknown[] }).users).toHaveLength(MAX_PRESENCE_SNAPSHOT)
  })
})

// The token is checked at the handshake; the socket's expiry timer is armed at 'connection'. A token that expires in
// between (it had milliseconds left; a shared socket cap's Redis round trip, a busy loop) is expired at once — and
// the socket was disconnected before its 'disconnect' handler was attached: its user stayed in this node's delivery
// (events held for it forever), and the presence sweep took that for a local socket and told the user's contacts
// they were online, again after every grace period, with no socket anywhere.
describe('a socket whose token expires between the handshake check and its connection', () => {
  it('is forgotten like any closed socket: its user is never shown online to their contacts', async () => {
    const clock = manualClock()
    const TTL_MS = 3_600_000
    let expireAliceInHandshake = false
    const server = await startTestServer({
      now: clock.now,
      tokenTtlSeconds: TTL_MS / 1000,
      presenceGraceSeconds: 5,
      // Runs after the token was checked, before the socket is connected: the clock moves to the end of Alice's token.
      handshakeGuard: (userId) => {
        if (userId === alice.user.id && expireAliceInHandshake) {
          expireAliceInHandshake = false
          clock.advance(TTL_MS / 2)
        }
        return null
      },
    })
    servers.push(server)
    const alice = await login(server.url, ALICE)
    // Bob's and Carol's tokens outlive Alice's by half a TTL.
    clock.advance(TTL_MS / 2)
    const [bob, carol] = await Promise.all([login(server.url, BOB), login(server.url, CAROL)])
    // Carol becomes Bob's contact too: her comings and goings are the barrier below.
    const created = await http(server.url, 'POST', '/api/conversations', {
      token: bob.token,
      body: { participantId: carol.user.id },
    })
    expect(created.status).toBe(201)
    const bobSocket = await openFresh(server, bob.token)
    await vi.waitFor(() => expect(bobSocket.items.some((item) => item.event === 'presence:snapshot')).toBe(true), {
      timeout: 10_000,
    })

    expireAliceInHandshake = true
    const aliceSocket = await openFresh(server, alice.token)
    if (aliceSocket.socket.connected)
      await new Promise<void>((resolve) => aliceSocket.socket.once('disconnect', () => resolve()))
    expect(expireAliceInHandshake).toBe(false)
    await waitForServerSockets(server, alice.user.id, 0)

    // Two sweeps that take Carol offline: the second began after the first had ended, so whatever a sweep tells
    // after Alice's socket went has reached Bob's socket (one connection, in order) before Carol's second "offline".
    for (let round = 1; round <= 2; round++) {
      const carolSocket = await openFresh(server, carol.token)
      await vi.waitFor(() => expect(changesAbout(bobSocket.items, carol.user.id)).toHaveLength(2 * round - 1), {
        timeout: 10_000,
      })
      carolSocket.socket.close()
      await waitForServerSockets(server, carol.user.id, 0)
      clock.advance(5_000)
      await vi.waitFor(() => expect(changesAbout(bobSocket.items, carol.user.id)).toHaveLength(2 * round), {
        timeout: 10_000,
      })
    }
    expect(changesAbout(bobSocket.items, alice.user.id)).toEqual([])
    const view = await http<{ id: string; online: boolean | null }[]>(server.url, 'GET', '/api/users', {
      token: bob.token,
    })
    expect(view.body.find((u) => u.id === alice.user.id)?.online).toBe(false)
  })
})

// Said when skipped, and why (a CI run without PostgreSQL fails instead).
const postgres = { ok: requireParts('tests/server/presence.test.ts', [postgresRunnable()]) }
describe.runIf(postgres.ok)('on PostgreSQL, whose locks hold the server’s reads', () => {
  let cluster: PostgresCluster | undefined
  let databases = 0
  beforeAll(async () => {
    cluster = await startPostgres()
  })
  afterEach(async () => {
    // The server first: it still holds connections to the cluster.
    for (const server of servers.splice(0)) await server.dispose()
  })
  afterAll(() => cluster?.stop())

  /** A server on a database of its own (5 s of grace, on a manual clock), with Carol made Bob's contact. */
  async function serverWithContacts() {
    const databaseUrl = cluster!.createDatabase(`talemy_presence_${++databases}`)
    const clock = manualClock()
    const server = await startTestServer({
      databaseUrl,
      dataDir: tmpdir(),
      seedDemo: true,
      now: clock.now,
      presenceGraceSeconds: 5,
    })
    servers.push(server)
    const [alice, bob, carol] = await Promise.all([
      login(server.url, ALICE),
      login(server.url, BOB),
      login(server.url, CAROL),
    ])
    const created = await http(server.url, 'POST', '/api/conversations', {
      token: bob.token,
      body: { participantId: carol.user.id },
    })
    expect(created.status).toBe(201)
    return { server, databaseUrl, clock, alice, bob, carol }
  }

  // A socket is live once its replay has ended and `sync:caughtUp` gone out: presence's `connected` runs only then, and
  // not at all for a socket gone before. The sweep puts back, from this node's sockets, the users the store has lost;
  // it must count only live sockets, or it brings online a user whose only socket is still catching up, and keeps them
  // online for the grace period once that socket has gone without ever being live. The replay is held here by a lock on
  // the event log's table (PostgreSQL), which nothing else that this test waits for reads.
  it('a socket still catching up (its replay held) does not bring its user online, nor does its going', async () => {
    // Carol is Bob's contact: her going offline is the barrier below.
    const { server, databaseUrl, clock, alice, bob, carol } = await serverWithContacts()
    const bobSocket = await openLive(server, bob.token)
    const carolSocket = await openFresh(server, carol.token)
    await vi.waitFor(() => expect(changesAbout(bobSocket.items, carol.user.id)).toHaveLength(1), { timeout: 10_000 })

    const holder = new pg.Client({ connectionString: databaseUrl })
    await holder.connect()
    try {
      await holder.query('begin')
      await holder.query('lock table user_events in access exclusive mode')
      // Alice's socket is connected (its CONNECT came) and replaying: its read of the log waits for the lock.
      const aliceSocket = await openFresh(server, alice.token)
      await waitForServerSockets(server, alice.user.id, 1)

      // Carol goes, after Alice's socket came: the sweep that takes her offline began after it.
      carolSocket.socket.close()
      await waitForServerSockets(server, carol.user.id, 0)
      clock.advance(5_000)
      await vi.waitFor(() => expect(changesAbout(bobSocket.items, carol.user.id)).toHaveLength(2), { timeout: 10_000 })
      expect(changesAbout(bobSocket.items, alice.user.id)).toEqual([])

      // Alice's socket goes before its replay ends: she was never there.
      aliceSocket.socket.close()
      await waitForServerSockets(server, alice.user.id, 0)
      const view = await http<{ id: string; online: boolean | null }[]>(server.url, 'GET', '/api/users', {
        token: bob.token,
      })
      expect(view.body.find((u) => u.id === alice.user.id)?.online).toBe(false)
      expect(changesAbout(bobSocket.items, alice.user.id)).toEqual([])
    } finally {
      await holder.query('rollback').catch(() => undefined)
      await holder.end()
    }
  })

  // `connected` marks the user online at once, then reads their contacts and their state before telling. When their
  // socket goes meanwhile and the grace passes before those reads end (a database that stalls longer than the grace),
  // the sweep takes them offline and says so; the "online" told after it would then be the last word: their contacts
  // would see them online with no socket anywhere, and no sweep would ever put that right. The reads are held here by
  // locks (PostgreSQL): on the conversations' members, which `connected` and the sweep both read, then on the users,
  // which `connected` reads for the state it tells and the sweep has written already.
  it('a socket that goes while its connect is being told (the database slow) leaves "offline" as the last word', async () => {
    const { server, databaseUrl, clock, alice, bob, carol } = await serverWithContacts()
    const bobSocket = await openLive(server, bob.token)

    const members = new pg.Client({ connectionString: databaseUrl })
    const users = new pg.Client({ connectionString: databaseUrl })
    await Promise.all([members.connect(), users.connect()])
    /** The server's queries waiting for `table`'s lock. */
    const waitingFor = async (table: string) =>
      Number(
        (
          await members.query<{ n: string }>(
            `select count(*) as n from pg_locks where relation = $1::regclass and not granted`,
            [table],
          )
        ).rows[0]?.n,
      )
    try {
      await members.query('begin')
      await members.query('lock table conversation_members in access exclusive mode')
      // Past its replay: `connected` has marked Alice online and waits for her contacts.
      const { socket: aliceSocket, events, connect } = recordingFromHandshake(server.url, alice.token, 'sync:caughtUp')
      sockets.push(aliceSocket)
      await connect()
      await vi.waitFor(async () => expect(await waitingFor('conversation_members')).toBe(1), { timeout: 10_000 })
      aliceSocket.close()
      await waitForServerSockets(server, alice.user.id, 0)
      clock.advance(5_000)
      // The sweep has taken her offline, written when she was last seen, and waits for her contacts too.
      await vi.waitFor(async () => expect(await waitingFor('conversation_members')).toBe(2), { timeout: 10_000 })
      await users.query('begin')
      await users.query('lock table users in access exclusive mode')
      await members.query('commit')
      // The sweep says "offline"; `connected` waits for Alice's state.
      await vi.waitFor(() => expect(changesAbout(bobSocket.items, alice.user.id)).toHaveLength(1), { timeout: 10_000 })
      expect(changesAbout(bobSocket.items, alice.user.id)[0]).toMatchObject({ online: false })
      await users.query('commit')

      // Carol comes online (reads of her own, begun after the locks went): whatever Alice's connect still told has
      // reached Bob's socket before that.
      const carolSocket = await openFresh(server, carol.token)
      await vi.waitFor(() => expect(changesAbout(bobSocket.items, carol.user.id)).toHaveLength(1), { timeout: 10_000 })
      carolSocket.socket.close()
      expect(events.some((item) => item.event === 'presence:snapshot')).toBe(false)
      expect(changesAbout(bobSocket.items, alice.user.id).map((state) => state.online)).toEqual([false])
      const view = await http<{ id: string; online: boolean | null }[]>(server.url, 'GET', '/api/users', {
        token: bob.token,
      })
      expect(view.body.find((u) => u.id === alice.user.id)?.online).toBe(false)
    } finally {
      await Promise.all([members.end(), users.end()])
    }
  })
})
