import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startBalancer, type Balancer } from '../../server/cluster/balancer'
import { startServer, type StartServerOptions } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, http, login } from '../server/support/server'
import { openStream, type Stream } from '../server/support/stream'
import { capturedLog } from '../support/capturedLog'
import { seededDatabase } from './support/database'
import { redisRunnable, requireParts, startRedis, type RedisServer } from './support/redis'
import { hangBound } from '../support/hangBound'

// Logged events travel between nodes through Redis, and may come late (a publisher connection gone silent sends its
// unanswered commands again once it is back). Their offsets count in the epoch they were logged in: one logged on the
// old primary and heard after a failover must not reach a socket streaming the promoted standby's offsets.
const ready = requireParts('tests/cluster/lateAcrossFailover.test.ts', [postgresRunnable(), redisRunnable()])
const CONV = 'conv-alice-bob'
const DATABASE = 'talemy_late_failover'

type Server = Awaited<ReturnType<typeof startServer>>

/** A request a client repeats until it goes through: the first after a failover may meet a dead connection. */
const retried = () => ({ timeout: hangBound(), interval: 50 })
/** An event on its way to a socket: vi.waitFor's default second is short on a busy machine. */
const delivered = () => ({ timeout: hangBound() })

/** `host:port` of a cluster. */
const addressOf = (cluster: PostgresCluster) => new URL(cluster.url).host

describe.runIf(ready)('logged events heard from another node across a failover', () => {
  let primary: PostgresCluster
  let replica: PostgresCluster
  let redis: RedisServer
  let proxy: Balancer
  const servers: Server[] = []
  const streams: Stream[] = []

  beforeAll(async () => {
    ;[primary, redis] = await Promise.all([startPostgres(), startRedis()])
    await seededDatabase(primary, DATABASE)
    replica = await primary.replicate()
    // The nodes reach PostgreSQL through a TCP proxy, switched to the standby once it is promoted.
    proxy = await startBalancer([addressOf(primary)])
  })
  afterAll(async () => {
    for (const stream of streams) stream.socket.close()
    for (const server of servers) await server.close()
    await proxy?.close()
    replica?.stop()
    primary?.stop()
    await redis?.stop()
  })

  /** Alice's message, sent until accepted (the same clientId: stored once). */
  async function aliceSends(url: string, content: string): Promise<void> {
    const { token } = await vi.waitFor(() => login(url, ALICE), retried())
    const body = { content, clientId: randomUUID() }
    await vi.waitFor(async () => {
      const sent = await http(url, 'POST', `/api/conversations/${CONV}/messages`, { token, body })
      expect(sent.status).toBe(201)
    }, retried())
  }

  it("drops a batch from the old primary heard after the renewal: Bob gets the promoted standby's events", async () => {
    const options: StartServerOptions = {
      port: 0,
      databaseUrl: `postgres://postgres@127.0.0.1:${proxy.port}/${DATABASE}`,
      redisUrl: redis.url,
      redisPrefix: `lf${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      logLevel: 'silent',
      rateLimit: { perSecond: 1000, burst: 1000 },
      // A's silent publisher is dropped by the test, not by its probe.
      redisPingMs: 3_600_000,
    }
    const log = capturedLog('warn')
    const a = await startServer(options)
    servers.push(a)
    const b = await startServer({ ...options, logger: log.logger })
    servers.push(b)
    const bobToken = (await login(b.url, BOB)).token
    const before = await openStream(b.url, bobToken)
    streams.push(before)
    const { offset, epoch } = (await before.synced()).payload

    // Node A's publisher goes silent: what it publishes waits, unanswered, to be sent again.
    const pub = (a.io.of('/').adapter as unknown as { pubClient: Redis }).pubClient
    ;(pub as unknown as { stream: Socket }).stream.write = (() => true) as never
    // The standby lags: Alice's message (Bob's offset + 1) is on the old primary only.
    replica.halt()
    await aliceSends(a.url, 'before the failover')

    primary.halt()
    proxy.backends.splice(0, 1, addressOf(replica))
    replica.start()
    await replica.promote()
    // Node B reaches the promoted standby (a login), takes another epoch; Bob resumes there with a gap.
    await vi.waitFor(() => login(b.url, BOB), retried())
    const bob = await openStream(b.url, bobToken, { offset, epoch })
    streams.push(bob)
    const sync = await bob.synced()
    expect(sync).toEqual({ event: 'sync:gap', payload: { offset, epoch: expect.any(String) } })
    expect(sync.payload.epoch).not.toBe(epoch)

    // A's publisher is dropped and connected again: what it published into the silence reaches B now, late.
    const back = new Promise((resolve) => pub.once('ready', resolve))
    pub.disconnect(true)
    await back
    // On the promoted standby, Bob's offset + 1 is this message (A publishes it after the late one: in order).
    await aliceSends(a.url, 'after the failover')
    await vi.waitFor(() => expect(bob.logged().some((item) => item.offset === offset + 1)).toBe(true), delivered())
    const first = bob.logged().find((item) => item.offset === offset + 1)!
    expect({ event: first.event, content: first.payload.content }).toEqual({
      event: 'message:new',
      content: 'after the failover',
    })
    expect(bob.logged().some((item) => item.payload.content === 'before the failover')).toBe(false)
    expect(log.lines()).toContainEqual(
      expect.objectContaining({ msg: expect.stringContaining('another event log epoch'), epoch }),
    )
  })
})
