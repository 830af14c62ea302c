import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A database host that has stopped answering without closing anything (a partition, a black-holed address, a frozen
 * server): connections are accepted and whatever is sent is read and dropped. With `greet`, each connection is first
 * told that it is authenticated and ready (`AuthenticationOk`, `ReadyForQuery`), so a client gets past its connect
 * and then waits on its first statement.
 *
 * @example const hole = await startBlackHole({ greet: true }); …; await hole.close()
 */
export async function startBlackHole({ greet = false }: { greet?: boolean } = {}): Promise<SilentHost> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    track(sockets, socket)
    let greeted = !greet
    socket.on('data', () => {
      if (greeted) return
      greeted = true
      // The startup message came (pg sends no SSLRequest unless asked): 'R' AuthenticationOk, 'Z' ReadyForQuery idle.
      socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]))
    })
  })
  return listening(server, sockets)
}

/**
 * A TCP proxy to `port` on 127.0.0.1 that can fall silent: `silence()` stops it forwarding anything either way on
 * the connections it carries and on new ones (each accepted, then dropped into silence), as a partition would;
 * `heal()` lets new connections through again. Those carried while silent stay silent: what was dropped is gone, and
 * their two ends no longer agree on where they are.
 */
export interface SilentProxy extends SilentHost {
  silence(): void
  heal(): void
}

export interface SilentHost {
  port: number
  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  urlFor(database: string): string
  close(): Promise<void>
}

export async function startSilentProxy(port: number): Promise<SilentProxy> {
  const sockets = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  let silent = false
  const server = createServer((client) => {
    track(sockets, client)
    if (silent) return void client.on('data', () => undefined)
    const upstream = track(sockets, connect(port, '127.0.0.1'))
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.once('close', end)
    upstream.once('close', end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  const host = await listening(server, sockets)
  return {
    ...host,
    silence() {
      silent = true
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.on('data', () => undefined)
        upstream.on('data', () => undefined)
      }
      pairs.clear()
    },
    heal() {
      silent = false
    },
  }
}

function track(sockets: Set<Socket>, socket: Socket): Socket {
  sockets.add(socket)
  // The other end going away (a client destroying a connection it gave up on) is expected here.
  socket.on('error', () => undefined)
  socket.once('close', () => sockets.delete(socket))
  return socket
}

async function listening(server: Server, sockets: Set<Socket>): Promise<SilentHost> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    port,
    urlFor: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
