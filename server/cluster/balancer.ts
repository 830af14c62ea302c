import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { urlFor } from '../port'

export interface Balancer {
  /** The backends (`host:port`), read at every connection: push one to add it. */
  backends: string[]
  /** e.g. `http://127.0.0.1:41234` */
  url: string
  port: number
  /** Connections handed to each backend so far, by its `host:port`. */
  handed: Map<string, number>
  close(): Promise<void>
}

/** How long a backend that refused a connection is left out before it is tried again. */
const DEAD_FOR_MS = 2000

/**
 * A TCP load balancer for tests, the benchmark and `npm run cluster`: round-robin over `backends` (`host:port`), no
 * stickiness (clients use `transports: ['websocket']`, one TCP connection per socket). A backend that refuses a
 * connection is skipped for a while and the connection goes to the next one, so a killed node drops out by itself.
 *
 * @example const lb = await startBalancer(['127.0.0.1:3001', '127.0.0.1:3002']); io(lb.url, { transports: ['websocket'] })
 */
export async function startBalancer(backends: string[], port = 0, host = '127.0.0.1'): Promise<Balancer> {
  const deadUntil = new Map<string, number>()
  const handed = new Map<string, number>()
  const open = new Set<Socket>()
  let next = 0

  function pick(tried: Set<string>): string | undefined {
    for (let i = 0; i < backends.length; i++) {
      const backend = backends[(next + i) % backends.length]!
      if (tried.has(backend) || (deadUntil.get(backend) ?? 0) > Date.now()) continue
      next = (next + i + 1) % backends.length
      return backend
    }
    // Every live one failed or all are marked dead: try those marked dead rather than refuse outright.
    return backends.find((backend) => !tried.has(backend))
  }

  function forward(client: Socket, tried = new Set<string>()): void {
    const backend = pick(tried)
    if (!backend) return void client.destroy()
    tried.add(backend)
    const [backendHost, backendPort] = splitHostPort(backend)
    const upstream = createConnection({ host: backendHost, port: backendPort })
    open.add(upstream)
    let connected = false
    upstream.once('connect', () => {
      connected = true
      handed.set(backend, (handed.get(backend) ?? 0) + 1)
      client.pipe(upstream).pipe(client)
      client.resume()
    })
    upstream.on('error', () => {
      if (connected) return client.destroy()
      deadUntil.set(backend, Date.now() + DEAD_FOR_MS)
      forward(client, tried)
    })
    upstream.on('close', () => {
      open.delete(upstream)
      if (connected) client.destroy()
    })
    client.on('close', () => upstream.destroy())
  }

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client)
    client.on('error', () => client.destroy())
    client.on('close', () => open.delete(client))
    forward(client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const bound = (server.address() as AddressInfo).port
  return {
    backends,
    url: urlFor(host, bound),
    port: bound,
    handed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

function splitHostPort(backend: string): [string, number] {
  const at = backend.lastIndexOf(':')
  return [backend.slice(0, at), Number(backend.slice(at + 1))]
}
