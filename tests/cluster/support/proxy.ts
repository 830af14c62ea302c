import { connect, createServer, type Socket } from 'node:net'

/** A TCP proxy in front of a local port, whose open connections a test can make go silent (`blackHole`). */
export interface BlackHoleProxy {
  /** `redis://127.0.0.1:<its port>`, for a node's `redisUrl`. */
  url: string
  /**
   * Every connection open now stops carrying anything, either way, for good, and stays open: no reset, no FIN (what a
   * NAT or a load balancer does when it forgets a connection; a SIGSTOPped Redis would stall every connection, and
   * `CLIENT KILL` closes it, which the client sees). Connections made afterwards go through.
   */
  blackHole(): void
  /** Every connection open now is closed, and new ones are refused until `admit` (Redis unreachable from here). */
  refuse(): void
  admit(): void
  close(): Promise<void>
}

/**
 * Starts a proxy to `127.0.0.1:targetPort`.
 *
 * @example const proxy = await startProxy(Number(new URL(redis.url).port)); …; proxy.blackHole()
 */
export async function startProxy(targetPort: number): Promise<BlackHoleProxy> {
  const links = new Set<{ client: Socket; upstream: Socket; silent: boolean }>()
  let refusing = false
  // Half-open allowed: a black-holed connection must not answer its client's FIN with its own.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    if (refusing) return void client.destroy()
    const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true })
    const link = { client, upstream, silent: false }
    links.add(link)
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('error', () => undefined)
      // Dropped once silent, not buffered: nothing gets through later either.
      from.on('data', (chunk) => link.silent || to.write(chunk))
      from.on('end', () => link.silent || to.end())
      from.on('close', () => {
        if (!link.silent) to.destroy()
        if (client.destroyed && upstream.destroyed) links.delete(link)
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    blackHole() {
      for (const link of links) link.silent = true
    },
    refuse() {
      refusing = true
      for (const { client, upstream } of links) {
        client.destroy()
        upstream.destroy()
      }
      links.clear()
    },
    admit() {
      refusing = false
    },
    close() {
      for (const { client, upstream } of links) {
        client.destroy()
        upstream.destroy()
      }
      links.clear()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
