/**
 * P13's server node: the reference server (`startServer`) in a process of its own with the options P13 gives it
 * (a short presence grace; PostgreSQL and Redis when the machine has them), telling its URL to the parent over IPC.
 * Closes when the parent says `close` or goes away.
 */
import { startServer } from '../../server/index'

const options = JSON.parse(process.env.P13_NODE_OPTIONS ?? '{}') as Parameters<typeof startServer>[0]

async function main(): Promise<void> {
  const server = await startServer({ ...options, port: 0, logLevel: 'silent' })
  const close = async () => {
    await server.close().catch(() => undefined)
    process.exit(0)
  }
  process.on('message', (message) => {
    if (message === 'close') void close()
  })
  process.on('disconnect', () => void close())
  process.send?.({ url: server.url })
}

main().catch((error: unknown) => {
  console.error('P13 node failed to start:', error)
  process.exit(1)
})
