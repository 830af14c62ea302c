import { rmSync } from 'node:fs'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { MemoryPresenceStore, PresenceTracker, type PresenceTrackerOptions } from '../../server/realtime/presence'
import { capturedLog } from '../support/capturedLog'
import {
  ALICE,
  BOB,
  connect,
  connectLive,
  exited,
  freshDatabase,
  freshDataDir,
  http,
  killSpawned,
  login,
  manualClock,
  spawnMain,
} from './support/server'

// The one server (embedded database) SIGKILLed: its close, which keeps when each online user went, never runs. Someone
// online then whose tab closed while it was away must not be told "last seen" at an earlier going (or never) by the
// next server: it knows them at least as late as it last noted them.
const dataDir = freshDataDir()
afterAll(async () => {
  await killSpawned()
  rmSync(dataDir, { recursive: true, force: true })
})

it('tells the users online at a SIGKILL "last seen" no earlier than when that server knew them online', async () => {
  const env = { DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', SEED_DEMO: '1' }
  const first = await spawnMain(env)
  const [alice, bob] = await Promise.all([login(first.url, ALICE), login(first.url, BOB)])
  // Past her handshake's replay: presence notices reach a socket only from then on, and Bob's "online" may come first.
  const aliceSocket = await connectLive(first.url, alice.token)
  const told: { userId: string; online: boolean }[] = []
  aliceSocket.on('presence:changed', (state) => told.push(state))
  const onlineFrom = Date.now()
  const bobSocket = await connect(first.url, bob.token)
  try {
    await vi.waitFor(
      () => expect(told).toContainEqual(expect.objectContaining({ userId: bob.user.id, online: true })),
      {
        timeout: 20_000,
      },
    )
    first.child.kill('SIGKILL')
    await exited(first.child)
  } finally {
    // Bob's tab closes while the server is away: he never comes back.
    bobSocket.close()
    aliceSocket.close()
  }

  const second = await spawnMain(env)
  const { token } = await login(second.url, ALICE)
  const view = await http<{ id: string; online: boolean; lastSeenAt: string | null }[]>(
    second.url,
    'GET',
    '/api/users',
    {
      token,
    },
  )
  const seen = view.body.find((user) => user.id === bob.user.id)
  expect(seen).toMatchObject({ online: false, lastSeenAt: expect.any(String) })
  expect(Date.parse(seen!.lastSeenAt!)).toBeGreaterThanOrEqual(onlineFrom)
}, 180_000)

// Its parts on the real database: what a run notes while a user stays online, and what the next start keeps of it.
describe('the notes of the one server (its parts)', () => {
  const database = freshDatabase()
  const lastSeen = async (userId: string) =>
    (
      await database.db.query<{ last_seen_at: Date | string | null }>('select last_seen_at from users where id = $1', [
        userId,
      ])
    )[0]?.last_seen_at
  function tracker(now: () => number, socketCount: (userId: string) => number) {
    const store = new MemoryPresenceStore()
    const options: PresenceTrackerOptions = {
      notices: { toUsers: () => undefined, toSocket: () => undefined } as unknown as PresenceTrackerOptions['notices'],
      db: database.db,
      members: { contactsOf: async () => [], contactsOnConnect: async () => [] },
      store,
      socketCount,
      graceSeconds: 5,
      now,
      logger: capturedLog('warn').logger,
      notesSeen: true,
      noteEveryMs: 0,
    }
    return { store, presence: new PresenceTracker(options) }
  }

  it('keeps the latest time a run knew a user online, not the time he came online', async () => {
    const clock = manualClock()
    const { store, presence } = tracker(clock.now, () => 1)
    await store.markOnline('user-bob')
    await presence.sweep()
    clock.advance(3_600_000)
    const lastKnown = clock.now()
    await presence.sweep()
    // Killed here: no close. The next start:
    await tracker(clock.now, () => 0).presence.recoverSeen()
    expect(new Date((await lastSeen('user-bob'))!).toISOString()).toBe(new Date(lastKnown).toISOString())
  })

  it('leaves a later going where it was recorded (a sweep, a close), and notes nothing twice', async () => {
    const clock = manualClock()
    const { store, presence } = tracker(clock.now, () => 1)
    await store.markOnline('user-carol')
    await presence.sweep()
    const wentAt = new Date(clock.now() + 10_000).toISOString()
    await database.db.query('update users set last_seen_at = $2 where id = $1', ['user-carol', wentAt])
    await tracker(clock.now, () => 0).presence.recoverSeen()
    expect(new Date((await lastSeen('user-carol'))!).toISOString()).toBe(wentAt)
    expect(await database.db.query('select * from presence_seen')).toEqual([])
  })
})
