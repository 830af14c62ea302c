import type { Id } from '../../src/contract'
import type { RunningServer, StartServerOptions } from '../../server/index'

/**
 * "The server is unreachable for this user", for tests: a `handshakeGuard` to give `startServer`, and `block`, which
 * closes the user's transports (clients see a network drop and retry) and refuses their handshakes with
 * `connect_error` "UNAVAILABLE" (not a contract code: the browser reads it as the network's failure) for `ms`.
 * `ms <= 0` lifts a block at once and drops nothing, so a test can block for far longer than it needs and lift it
 * when done, instead of betting on how long a step takes.
 *
 * @example
 * const blocks = createSocketBlocks()
 * const server = await startServer({ …, handshakeGuard: blocks.handshakeGuard })
 * blocks.block(server, userId, 10 * 60_000); …; blocks.block(server, userId, 0)
 */
export function createSocketBlocks() {
  const until = new Map<Id, number>()

  const handshakeGuard: NonNullable<StartServerOptions['handshakeGuard']> = (userId) => {
    const end = until.get(userId)
    if (end === undefined) return null
    if (end > Date.now()) return new Error('UNAVAILABLE')
    until.delete(userId)
    return null
  }

  function block(server: Pick<RunningServer, 'io'>, userId: Id, ms: number): void {
    if (!(ms > 0)) {
      until.delete(userId)
      return
    }
    until.set(userId, Date.now() + ms)
    for (const socket of server.io.of('/').sockets.values()) {
      if (socket.data.userId === userId) socket.conn.close()
    }
  }

  return { handshakeGuard, block }
}
