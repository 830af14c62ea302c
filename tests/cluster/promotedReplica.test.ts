import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startBalancer, type Balancer } from '../../server/cluster/balancer'
import { openPostgres } from '../../server/db/postgres'
import { startServer } from '../../server/index'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { ALICE, BOB, http, login } from '../server/support/server'
import { openStream, type Stream } from '../server/support/stream'
import { seededDatabase } from './support/database'
import { requireParts } from './support/redis'
import { hangBound } from '../support/hangBound'

// A failover to a standby that lagged: the log's counters go back on it, so an (offset, epoch) a client kept from the
// old primary must not resume there (the offsets it holds name other events on the promoted one).
const ready = requireParts('tests/cluster/promotedReplica.test.ts', [postgresRunnable()])
const CONV = 'conv-alice-bob'
const DATABASE = 'talemy_promotion'

type Server = Awaited<ReturnType<typeof startServer>>

const servers: Server[] = []
const streams: Stream[] = []
afterEach(async () => {
  for (const stream of streams.splice(0)) stream.socket.close()
  for (const server of servers.splice(0)) await server.close()
})

async function serve(databaseUrl: string): Promise<Server> {
  const server = await startServer({
    port: 0,
    databaseUrl,
    dataDir: tmpdir(),
    logLevel: 'silent',
    rateLimit: { perSecond: 1000, burst: 1000 },
  })
  servers.push(server)
  return server
}

async function bobFrom(url: string, auth: { offset?: number; epoch?: string } = {}): Promise<Stream> {
  const stream = await openStream(url, (await vi.waitFor(() => login(url, BOB), retried())).token, auth)
  streams.push(stream)
  return stream
}

/** A request a client repeats until it goes through (see `aliceSends`). */
const retried = () => ({ timeout: hangBound(), interval: 50 })
/** An event on its way to a socket (an event sent, a drop): vi.waitFor's default second is short on a busy machine. */
const delivered = () => ({ timeout: hangBound() })

/**
 * Alice's messages, each sent until accepted, as her client does (the same clientId: stored once): the first requests
 * after a failover may meet a connection to the old primary, not yet seen closed, and get a 500.
 */
async function aliceSends(url: string, count: number): Promise<void> {
  const { token } = await vi.waitFor(() => login(url, ALICE), retried())
  for (let i = 0; i < count; i++) {
    const body = { content: `message ${i}`, clientId: randomUUID() }
    await vi.waitFor(async () => {
      const sent = await http(url, 'POST', `/api/conversations/${CONV}/messages`, { token, body })
      expect(sent.status).toBe(201)
    }, retried())
  }
}

/** `host:port` of a cluster. */
const addressOf = (cluster: PostgresCluster) => new URL(cluster.url).host

describe.runIf(ready)('the event log on PostgreSQL', () => {
  let primary: PostgresCluster
  let replica: PostgresCluster | undefined

  beforeAll(async () => {
    primary = await startPostgres()
    await seededDatabase(primary, DATABASE)
  })
  afterAll(() => {
    replica?.stop()
    primary?.stop()
  })

  it('keeps its epoch across a restart on the same database: Bob resumes by offset', async () => {
    const first = await serve(primary.urlFor(DATABASE))
    const { offset, epoch } = (await (await bobFrom(first.url)).synced()).payload
    await aliceSends(first.url, 2)
    await first.close()
    servers.splice(0)

    const again = await serve(primary.urlFor(DATABASE))
    const bob = await bobFrom(again.url, { offset, epoch })
    // Two messages and, after the first, the receipt of Alice's read (her reply passed Bob's last message, which the
    // seed leaves unread to her).
    expect(await bob.synced()).toEqual({ event: 'sync:caughtUp', payload: { offset: offset + 3, epoch } })
    expect(bob.logged().map((item) => item.offset)).toEqual([offset + 1, offset + 2, offset + 3])
  })

  it('reads the identity as a role that is no superuser; one denied it leaves it unset, and says so', async () => {
    const admin = await openPostgres(primary.urlFor(DATABASE))
    try {
      await admin.query('create role plain login')
      const plainUrl = primary.urlFor(DATABASE).replace('postgres@', 'plain@')
      const plain = await openPostgres(plainUrl, { onNoIdentity: () => expect.unreachable() })
      expect(plain.files).toBe(admin.files)
      expect(admin.files).toMatch(/^postgres \d+ timeline 1$/)
      await plain.close()

      await admin.query('revoke execute on function pg_control_system() from public')
      const unheard: unknown[] = []
      const denied = await openPostgres(plainUrl, { onNoIdentity: (error) => unheard.push(error) })
      expect(denied.files).toBeUndefined()
      expect(unheard).toEqual([expect.objectContaining({ code: '42501' })])
      await denied.close()
    } finally {
      await admin.query('grant execute on function pg_control_system() to public')
      await admin.close()
    }
  })

  it('refuses a new connection whose identity it can no longer read, and keeps the one it opened with', async () => {
    const admin = await openPostgres(primary.urlFor(DATABASE))
    await admin.query(`do $$ begin create role plain login; exception when duplicate_object then null; end $$`)
    const plainUrl = primary.urlFor(DATABASE).replace('postgres@', 'plain@')
    const plain = await openPostgres(plainUrl, { onNoIdentity: () => expect.unreachable() })
    try {
      const opened = plain.files
      expect(opened).toMatch(/^postgres \d+ timeline 1$/)
      await admin.query('revoke execute on function pg_control_system() from public')
      // Two statements at once: the pool's one idle connection takes the first, the second needs a new one.
      const [kept, fresh] = await Promise.allSettled([
        plain.query('select pg_sleep(0.2), 1 as one'),
        plain.query('select 2 as two'),
      ])
      expect(kept.status).toBe('fulfilled')
      expect(fresh).toMatchObject({
        status: 'rejected',
        reason: { message: expect.stringContaining('cannot tell this database from the one opened') },
      })
      expect(plain.files).toBe(opened)
    } finally {
      await admin.query('grant execute on function pg_control_system() to public')
      await plain.close()
      await admin.close()
    }
  })

  it('takes another epoch on a promoted standby that lagged: Bob, holding offsets of the old primary, gets sync:gap', async () => {
    replica = await primary.replicate()
    const onPrimary = await serve(primary.urlFor(DATABASE))
    const bob = await bobFrom(onPrimary.url)
    const { offset, epoch } = (await bob.synced()).payload
    // The standby falls behind (down while the primary takes two more of Bob's events), then the primary goes.
    replica.halt()
    await aliceSends(onPrimary.url, 2)
    await vi.waitFor(
      () => expect(bob.logged().map((item) => item.offset)).toEqual([offset + 1, offset + 2]),
      delivered(),
    )
    bob.socket.close()
    await onPrimary.close()
    servers.splice(0)
    primary.halt()

    replica.start()
    await replica.promote()
    const onPromoted = await serve(replica.urlFor(DATABASE))
    // Three events on the promoted standby: Bob's counter passes what he applied, reusing offset + 1 and + 2.
    await aliceSends(onPromoted.url, 3)
    const back = await bobFrom(onPromoted.url, { offset: offset + 2, epoch })
    const sync = await back.synced()
    expect(sync).toEqual({ event: 'sync:gap', payload: { offset: offset + 3, epoch: expect.any(String) } })
    expect(sync.payload.epoch).not.toBe(epoch)
    expect(back.logged()).toEqual([])

    // A restart on the promoted one keeps its new epoch: resume by offset works again.
    await onPromoted.close()
    servers.splice(0)
    const again = await serve(replica.urlFor(DATABASE))
    const resumed = await bobFrom(again.url, { offset: offset + 3, epoch: sync.payload.epoch })
    expect(await resumed.synced()).toEqual({ event: 'sync:caughtUp', payload: sync.payload })
  })
})

describe.runIf(ready)('a node running through a failover', () => {
  let primary: PostgresCluster
  let replica: PostgresCluster
  let proxy: Balancer

  beforeAll(async () => {
    primary = await startPostgres()
    await seededDatabase(primary, DATABASE)
    replica = await primary.replicate()
    // The node reaches PostgreSQL through a TCP proxy, switched to the standby once it is promoted (as a virtual IP or
    // a DNS name would move).
    proxy = await startBalancer([addressOf(primary)])
  })
  afterAll(async () => {
    await proxy?.close()
    replica?.stop()
    primary?.stop()
  })

  it('takes another epoch once its connections reach the promoted standby, and drops its sockets: Bob resumes and gets sync:gap, on every node', async () => {
    const databaseUrl = `postgres://postgres@127.0.0.1:${proxy.port}/${DATABASE}`
    const [node, other] = [await serve(databaseUrl), await serve(databaseUrl)]
    const bob = await bobFrom(node.url)
    const { offset, epoch } = (await bob.synced()).payload
    let dropped: string | undefined
    bob.socket.on('disconnect', (reason) => (dropped = reason))
    replica.halt()
    // Two messages and, after the first, the receipt of Alice's read (her reply passed Bob's last message, which the
    // seed leaves unread to her).
    await aliceSends(node.url, 2)
    await vi.waitFor(
      () => expect(bob.logged().map((item) => item.offset)).toEqual([offset + 1, offset + 2, offset + 3]),
      delivered(),
    )

    primary.halt()
    proxy.backends.splice(0, 1, addressOf(replica))
    replica.start()
    await replica.promote()
    // The same node, still running: its connections to the old primary are gone, its next ones reach the promoted
    // standby, where Bob's counter passes what he applied, reusing offset + 1 to + 3 (three messages and the receipt
    // again: the standby's Alice had not read his last message either).
    await aliceSends(node.url, 3)
    const back = await bobFrom(node.url, { offset: offset + 3, epoch })
    const sync = await back.synced()
    expect(sync).toEqual({ event: 'sync:gap', payload: { offset: offset + 4, epoch: expect.any(String) } })
    expect(sync.payload.epoch).not.toBe(epoch)
    // His socket from before was dropped as a network drop drops it (no kick: no token refresh), so it resumes too.
    await vi.waitFor(() => expect(dropped).toBe('transport close'), delivered())
    // Another node finds that epoch written for the promoted standby, and adopts it.
    const elsewhere = await bobFrom(other.url, { offset: offset + 3, epoch })
    expect(await elsewhere.synced()).toEqual(sync)
  })
})
