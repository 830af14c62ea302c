import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type StartServerOptions } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, connect, connectLive, emitAck, login, type ClientSocket } from '../server/support/server'
import { capturedLog } from '../support/capturedLog'
import { startProxy, type BlackHoleProxy } from './support/proxy'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'

// A NAT or a load balancer that forgets a connection sends no reset: the node's subscriber connection stays open and
// hears nothing more, and no error ever comes. Logged events come back through the log-tail check; typing and presence
// notices are not logged, so only a subscriber that notices, and reconnects, hears them again.
const ready = requireParts('tests/cluster/connectionProbe.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'

describe.runIf(ready)('a node whose Redis connections go silently dead', () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let proxy: BlackHoleProxy
  let a: Awaited<ReturnType<typeof startServer>>
  let b: Awaited<ReturnType<typeof startServer>>
  let options: StartServerOptions
  const log = capturedLog('info')
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
    proxy = await startProxy(Number(new URL(redis.url).port))
    options = {
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_subscriber_probe'),
      redisUrl: redis.url,
      redisPrefix: `sp${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
    }
    // Only node A's connections go through the proxy.
    a = await startServer({ ...options, redisUrl: proxy.url, redisPingMs: 500, logger: log.logger })
    b = await startServer(options)
  })
  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await a?.close()
    await b?.close()
    await proxy?.close()
    await redis?.stop()
    postgres?.stop()
  })

  /** What the log said about `connection`'s silences since line `since`. */
  const streakSaid = (connection: string, since: number) =>
    log
      .lines()
      .slice(since)
      .filter((line) => line.msg.includes(`${connection} connection`))
  /**
   * The line that says `connection` answers again (its streak's last), the first from line `since` on, once it comes.
   */
  const recovered = (connection: string, since: number) =>
    log.logged((line) => line.msg === `Redis ${connection} connection answers again`, since)
  /** Bob's typing pace: his budget is 2 a second. */
  const pace = () => new Promise((resolve) => setTimeout(resolve, 600))
  /** One warning for the streak, one line at its recovery. */
  const streakLines = (connection: string) => [
    expect.objectContaining({
      level: 40,
      msg: expect.stringContaining(`${connection} connection answered 2 PINGs in a row with nothing`),
    }),
    expect.objectContaining({ level: 30, msg: `Redis ${connection} connection answers again` }),
  ]

  it("reconnects it, so another node's typing reaches its sockets again, and says so once, and its recovery once", async () => {
    const [alice, bob] = await Promise.all([login(a.url, ALICE), login(b.url, BOB)])
    // Past her replay: typing goes to a socket only from then on, and Bob's first notice is waited for alone.
    const aliceOnA = await connectLive(a.url, alice.token)
    const bobOnB = await connect(b.url, bob.token)
    sockets.push(aliceOnA, bobOnB)
    const typing: unknown[] = []
    aliceOnA.on('typing', (notice) => typing.push(notice))
    const bobTypes = () => emitAck(bobOnB, 'typing', { conversationId: CONV })

    const first = new Promise((resolve) => aliceOnA.once('typing', resolve))
    expect(await bobTypes()).toEqual({ ok: true, data: null })
    await first
    expect(typing).toEqual([{ conversationId: CONV, userId: bob.user.id }])

    proxy.blackHole()
    // What B publishes before A's subscriber is back is lost for good: Bob keeps typing until a notice gets through.
    // Waited for with no bound of its own (the test's catches a hang): two silent PINGs (5 s each), ioredis's
    // disconnect (2 s) and the reconnect are 12 s quiet, and a loaded machine stretches each.
    while (typing.length <= 1) {
      await bobTypes()
      await pace()
    }
    await recovered('subscriber', 0)
    expect(streakSaid('subscriber', 0)).toEqual(streakLines('subscriber'))
  })

  it('reconnects its command connection too, so sends through it are taken again (each bounded meanwhile)', async () => {
    const alice = await login(a.url, ALICE)
    const aliceOnA = await connect(a.url, alice.token)
    sockets.push(aliceOnA)
    const send = () =>
      emitAck(aliceOnA, 'message:send', { conversationId: CONV, content: 'hi', clientId: randomUUID() })
    expect(await send()).toMatchObject({ ok: true })

    // The first test's black hole silenced this connection too: its streak ends (its recovery said, which on a busy
    // machine may come after that test's end) before this one's begins.
    if (streakSaid('commands', 0).length % 2 === 1) await recovered('commands', 0)
    const before = log.lines().length
    proxy.blackHole()
    // Each try is answered (INTERNAL past the command bound) until the connection is replaced: a try that is not
    // hangs the test. As above, the replacement is waited for with no bound of its own.
    while (!(await send()).ok) await pace()
    await recovered('commands', before)
    expect(streakSaid('commands', before)).toEqual(streakLines('commands'))
  })

  it('closes even when its connections answer nothing (QUIT is not waited for past its bound)', async () => {
    // Not probed during the test: its connections are still the silent ones when it closes.
    const c = await startServer({ ...options, redisUrl: proxy.url, redisPingMs: 600_000 })
    proxy.blackHole()
    await expect(c.close()).resolves.toBeUndefined()
  })
})
