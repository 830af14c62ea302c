/**
 * The send path's cost per message, end to end over one socket on the embedded database (PGlite): one at a time
 * (each send waits for its ack: the latency of a lone send, committed alone) and 100 in flight (group commit), as
 * wall time and as this process's CPU time (client and server together; steadier than wall time on a busy machine).
 *
 * @example npx tsx scripts/measure-send.ts 2000
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { io } from 'socket.io-client'
import { startServer } from '../server/index'

const count = Number(process.argv[2] ?? 2000)
const dataDir = mkdtempSync(join(tmpdir(), 'talemy-measure-'))
const server = await startServer({
  port: 0,
  dataDir,
  seedDemo: true,
  logLevel: 'silent',
  rateLimit: { perSecond: 1e6, burst: 1e6 },
})
try {
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@talemy.test', password: 'talemy' }),
  }).then((response) => response.json() as Promise<{ token: string }>)
  const conversations = await fetch(`${server.url}/api/conversations`, {
    headers: { authorization: `Bearer ${login.token}` },
  }).then((response) => response.json() as Promise<{ id: string }[]>)
  const conversationId = conversations[0]!.id
  const socket = io(server.url, { auth: { token: login.token }, transports: ['websocket'], forceNew: true })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const send = (i: number, tag: string) =>
    socket.timeout(30_000).emitWithAck('message:send', { conversationId, content: `m${i}`, clientId: `${tag}-${i}` })

  for (let i = 0; i < 200; i++) await send(i, 'warm')
  const cpu = () => {
    const usage = process.cpuUsage()
    return usage.user + usage.system
  }
  let started = performance.now()
  let cpuStarted = cpu()
  for (let i = 0; i < count; i++) await send(i, 'serial')
  const serialUs = ((performance.now() - started) * 1000) / count
  const serialCpuUs = (cpu() - cpuStarted) / count

  started = performance.now()
  cpuStarted = cpu()
  const window = 100
  for (let i = 0; i < count; i += window) {
    await Promise.all(Array.from({ length: Math.min(window, count - i) }, (_, k) => send(i + k, 'window')))
  }
  const windowUs = ((performance.now() - started) * 1000) / count
  const windowCpuUs = (cpu() - cpuStarted) / count
  console.log(
    `${count} sends: one at a time ${serialUs.toFixed(0)} µs/message (CPU ${serialCpuUs.toFixed(0)} µs); ` +
      `100 in flight ${windowUs.toFixed(0)} µs/message (CPU ${windowCpuUs.toFixed(0)} µs)`,
  )
  socket.close()
} finally {
  await server.close()
  rmSync(dataDir, { recursive: true, force: true })
}
