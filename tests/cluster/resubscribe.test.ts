import { randomUUID } from 'node:crypto'
import { Server as NetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startServer } from '../../server/index'
import { EventLog } from '../../server/services/eventLog'
import { SessionStore } from '../../server/sessions'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { BOB, login, type ClientSocket } from '../server/support/server'
import { openStream } from '../server/support/stream'
import { redisRunnable, requireParts, startRedis, whileSubscriberAway, type RedisServer } from './support/redis'

// ioredis says `ready` once it has sent its SUBSCRIBEs, not once Redis has confirmed them. A node that reads its
// sockets' logs (or its sockets' sessions) before then can miss what another node publishes in between, until its
// log-tail check. So a node listens only once its subscriptions hold, and after its subscriber comes back it reads
// only once they hold again. Watched here through ioredis's own commands: every (p)subscribe sent has been answered.
const ready = requireParts('tests/cluster/resubscribe.test.ts', [postgresRunnable(), redisRunnable()])

type Subscribe = (...args: unknown[]) => Promise<unknown>

/** Counts the (p)subscribe commands `target` (an ioredis client, or its prototype) sends, and those not answered yet. */
function watchSubscribes(target: object) {
  let sent = 0
  let unanswered = 0
  const spies = (['subscribe', 'psubscribe'] as const).map((name) => {
    const original = (target as Record<string, Subscribe>)[name]!
    return vi.spyOn(target as Record<string, Subscribe>, name).mockImplementation(function (this: unknown, ...args) {
      sent++
      unanswered++
      const answer = original.apply(this, args)
      answer.then(
        () => unanswered--,
        () => unanswered--,
      )
      return answer
    })
  })
  return {
    sent: () => sent,
    unanswered: () => unanswered,
    restore: () => {
      for (const spy of spies) spy.mockRestore()
    },
  }
}

/** Runs `watch` at each call of `target[name]`, then the method itself. */
function before(target: object, name: string, watch: (...args: unknown[]) => void) {
  const methods = target as Record<string, (...args: unknown[]) => unknown>
  const original = methods[name]!
  return vi.spyOn(methods, name).mockImplementation(function (this: unknown, ...args: unknown[]) {
    watch(...args)
    return original.apply(this, args)
  })
}

describe.runIf(ready)("a node's reads after its Redis subscriptions hold", () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let node: Awaited<ReturnType<typeof startServer>>
  let databaseUrl: string
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    databaseUrl = postgres.createDatabase('talemy_resubscribe')
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await node?.close()
    await redis?.stop()
    postgres?.stop()
  })

  const options = () => ({
    port: 0,
    databaseUrl,
    redisUrl: redis.url,
    redisPrefix: `s${randomUUID().slice(0, 8)}:`,
    dataDir: tmpdir(),
    seedDemo: true,
    logTailCheckMs: 3_600_000,
    sessionRecheckMs: 3_600_000,
  })

  it('listens only once Redis has answered every subscription the adapter asked for', async () => {
    const subscribes = watchSubscribes(Redis.prototype)
    const unansweredAtListen: number[] = []
    const listen = before(NetServer.prototype, 'listen', () => unansweredAtListen.push(subscribes.unanswered()))
    try {
      node = await startServer(options())
    } finally {
      listen.mockRestore()
      subscribes.restore()
    }
    expect(subscribes.sent()).toBeGreaterThan(0)
    expect(unansweredAtListen).toEqual([0])
  })

  it("reads a live socket's log and its sessions again only once its subscriptions hold again", async () => {
    const bob = (await login(node.url, BOB)).token
    const stream = await openStream(node.url, bob)
    sockets.push(stream.socket)
    await stream.synced()

    const subscriber = (node.io.of('/').adapter as unknown as { subClient: Redis }).subClient
    const subscribes = watchSubscribes(subscriber)
    const unansweredAtRead = { log: [] as number[], sessions: [] as number[] }
    const resume = before(EventLog.prototype, 'resume', (userId) => {
      if (userId === 'user-bob') unansweredAtRead.log.push(subscribes.unanswered())
    })
    const endedAmong = before(SessionStore.prototype, 'endedAmong', () =>
      unansweredAtRead.sessions.push(subscribes.unanswered()),
    )
    try {
      await whileSubscriberAway(node.io, redis.url, 100, async () => undefined)
      await vi.waitFor(
        () => {
          expect(unansweredAtRead.log).toHaveLength(1)
          expect(unansweredAtRead.sessions).toHaveLength(1)
        },
        { timeout: 20_000, interval: 10 },
      )
    } finally {
      resume.mockRestore()
      endedAmong.mockRestore()
      subscribes.restore()
    }
    // ioredis sent them again itself (`autoResubscribe`), through the watched methods.
    expect(subscribes.sent()).toBeGreaterThan(0)
    expect(unansweredAtRead).toEqual({ log: [0], sessions: [0] })
  })
})
