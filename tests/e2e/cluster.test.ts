import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startBalancer, type Balancer } from '../../server/cluster/balancer'
import { startServer } from '../../server/index'
import { redisRunnable, requireParts, startRedis, type RedisServer } from '../cluster/support/redis'
import { postgresRunnable, startPostgres, type PostgresCluster } from '../server/support/postgres'
import { createSocketBlocks } from '../support/socketBlocks'
import { loginAs, messagesWithText, openConversationWith, send, unique, type E2EApp } from './support/app'
import { launchBrowser } from './support/browser'
import { hangBound } from '../support/hangBound'

// The built SPA as `npm run cluster` serves it: two nodes on one PostgreSQL and one Redis, behind the repo's TCP
// balancer, which has no sticky sessions (each TCP connection to the next node). A page's Socket.IO connection must
// then be one WebSocket: HTTP long-polling sends each request of a session on a connection of its own, which the
// balancer hands to either node, and the node that did not open the session refuses it (400, unknown sid).
const ready = requireParts('tests/e2e/cluster.test.ts', [postgresRunnable(), redisRunnable()])

describe.runIf(ready)('the SPA behind a load balancer without sticky sessions', { timeout: 120_000 }, () => {
  let postgres: PostgresCluster
  let redis: RedisServer
  let balancer: Balancer
  let browser: Browser
  const nodes: Awaited<ReturnType<typeof startServer>>[] = []

  beforeAll(async () => {
    ;[postgres, redis, balancer, browser] = await Promise.all([
      startPostgres(),
      startRedis(),
      startBalancer([]),
      launchBrowser(),
    ])
    const options = {
      port: 0,
      databaseUrl: postgres.createDatabase('talemy_e2e_cluster'),
      redisUrl: redis.url,
      redisPrefix: `e2e${randomUUID().slice(0, 8)}:`,
      dataDir: tmpdir(),
      seedDemo: true,
      staticDir: inject('e2eSpaDir'),
      // The page's origin is the balancer's, as `npm run cluster` sets it.
      allowedOrigins: [balancer.url],
    }
    // One after the other: the first migrates and seeds.
    nodes.push(await startServer(options))
    nodes.push(await startServer(options))
    balancer.backends.push(...nodes.map((node) => `127.0.0.1:${node.port}`))
  })
  afterAll(async () => {
    await browser?.close()
    await balancer?.close()
    for (const node of nodes) await node.close()
    await redis?.stop()
    postgres?.stop()
  })

  it('comes online through the balancer, and a message from Alice reaches Bob live', async () => {
    const app: E2EApp = { url: balancer.url, server: nodes[0]!, blocks: createSocketBlocks(), browser }
    // Every Socket.IO request over HTTP (long-polling) the pages make: behind this balancer, each is a coin toss.
    const polled: string[] = []
    const context = async () => {
      const made = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      made.on('request', (request) => {
        if (request.url().includes('/socket.io/')) polled.push(`${request.method()} ${new URL(request.url()).search}`)
      })
      return made
    }
    // `loginAs` waits for the connection badge to say "connected".
    const alice = await loginAs(app, 'alice', { context: await context() })
    const bob = await loginAs(app, 'bob', { context: await context() })
    try {
      await openConversationWith(bob.page, 'Alice')
      await openConversationWith(alice.page, 'Bob')
      const text = unique('Through the balancer')
      await send(alice.page, text)
      await messagesWithText(bob.page, text).waitFor({ timeout: hangBound() })
      // Each page's connection is one WebSocket from its first request: nothing was left to where a request lands.
      expect(polled).toEqual([])
    } finally {
      await alice.context.close()
      await bob.context.close()
    }
  })
})
