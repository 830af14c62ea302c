/**
 * Child process: one reference server node on a shared PostgreSQL and Redis (P8, P9), with the bench's raised
 * limits, started by `startClusterNode` in `./cluster.ts` (so the bench can SIGKILL it); not run by hand. It records
 * when each Socket.IO connection was accepted (the monotonic clock the bench shares) and tells the bench over IPC.
 */
import { startServer } from '../../server/index'

interface NodeOptions {
  databaseUrl: string
  redisUrl: string
  redisPrefix: string
  jwtSecret: string
}

const options = JSON.parse(process.env.BENCH_NODE_OPTIONS ?? '{}') as NodeOptions

async function main(): Promise<void> {
  const server = await startServer({
    port: 0,
    databaseUrl: options.databaseUrl,
    redisUrl: options.redisUrl,
    redisPrefix: options.redisPrefix,
    jwtSecret: options.jwtSecret,
    dataDir: process.cwd(),
    seedDemo: false,
    logLevel: 'silent',
    // Raised for the bench, as in host.ts (documented in bench/README.md).
    rateLimit: { perSecond: 1e9, burst: 1e9 },
    joinRateLimit: { perSecond: 1e9, burst: 1e9 },
    readRateLimit: { perSecond: 1e9, burst: 1e9 },
    handshakeRateLimit: { perSecond: 1e9, burst: 1e9 },
    loginRateLimit: { perSecond: 1e9, burst: 1e9 },
    socketEventRateLimit: { perSecond: 1e9, burst: 1e9 },
    maxUnauthenticatedPerAddress: 1e9,
    tokenTtlSeconds: 24 * 3600,
  })
  // Handshakes accepted, in ms on the monotonic clock (after authentication: Socket.IO's 'connection').
  const accepted: number[] = []
  server.io.on('connection', () => void accepted.push(Number(process.hrtime.bigint()) / 1e6))
  process.on('message', (raw) => {
    const { id, cmd } = raw as { id: number; cmd: 'accepted' | 'close' }
    if (cmd === 'accepted') process.send?.({ id, result: accepted })
    else if (cmd === 'close') void server.close().then(() => process.exit(0))
  })
  process.send?.({ id: 0, result: server.url })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
