import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { User } from '../../src/contract'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, http, login, type ClientSocket } from '../server/support/server'
import { seededDatabase } from './support/database'
import { spawnNode, type NodeProcess } from './support/node'
import { lastWordAbout, openLive, openWatching } from './support/presence'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// Every node of a cluster killed at once (CONTRACT.md, "Presence": `lastSeenAt`): the node that comes back later is the
// first to see the users who were online then go, and must not give its own start as the time they were last seen.
const ready = requireParts('tests/cluster/lastSeenAfterCrash.test.ts', [postgresRunnable(), redisRunnable()])
const HOUR = 3_600_000

describe.runIf(ready)('lastSeenAt after every node was killed', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let databaseUrl: string
  const prefix = `s${randomUUID().slice(0, 8)}:`
  const sockets: ClientSocket[] = []
  const spawned: NodeProcess[] = []
  let restarted: Awaited<ReturnType<typeof startServer>> | undefined

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    databaseUrl = await seededDatabase(postgres, 'talemy_last_seen')
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    for (const node of spawned) await node.kill()
    await restarted?.close()
    await redis?.stop()
    postgres?.stop()
  })

  it('keeps when Bob was last seen before the crash, not when the cluster came back an hour later', async () => {
    const node = await spawnNode({ DATABASE_URL: databaseUrl, REDIS_URL: redis.url, REDIS_PREFIX: prefix })
    spawned.push(node)
    const [alice, bob] = await Promise.all([login(node.url, ALICE), login(node.url, BOB)])
    const aliceOnNode = await openLive(node.url, alice.token, sockets)
    const connectedAt = Date.now()
    await openWatching(node.url, bob.token, sockets)
    await vi.waitFor(() => expect(lastWordAbout(aliceOnNode.items, bob.user.id)).toMatchObject({ online: true }), {
      timeout: hangBound(),
    })
    await node.kill()
    const killedAt = Date.now()
    for (const socket of sockets) socket.close()

    // The cluster comes back an hour later (its clock says so): Bob is still online in Redis, with no socket.
    restarted = await startServer({
      port: 0,
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: prefix,
      dataDir: tmpdir(),
      seedDemo: false,
      presenceGraceSeconds: 1,
      logLevel: 'silent',
      now: () => Date.now() + HOUR,
    })
    const { url } = restarted
    const aliceAgain = await login(url, ALICE)
    const bobSeen = await vi.waitFor(
      async () => {
        const users = (
          await http<(User & { online: boolean | null; lastSeenAt: string | null })[]>(url, 'GET', '/api/users', {
            token: aliceAgain.token,
          })
        ).body
        const found = users.find((user) => user.id === bob.user.id)
        // The sweep marks him offline in Redis, then writes when he was last seen: a read between the two finds him
        // offline with the time not written yet (his contacts are told after the write, with it).
        expect(found).toMatchObject({ online: false, lastSeenAt: expect.any(String) })
        return found!
      },
      { timeout: hangBound(), interval: 250 },
    )
    const lastSeen = Date.parse(bobSeen.lastSeenAt ?? '')
    // Seen from his connect until the kill; a node notes its users every few seconds, so the note is near the kill.
    expect(lastSeen).toBeGreaterThanOrEqual(connectedAt - 1_000)
    expect(lastSeen).toBeLessThanOrEqual(killedAt + 1_000)
  })
})
