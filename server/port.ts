import { createServer } from 'node:net'
import { isLoopbackHost, withoutZone } from './db/seed'
import { startRefusal } from './errors'

/** What a taken port is told as: which one, and what to do. */
export function portInUseMessage(port: number, host: string): string {
  return `port ${port} on ${host} is in use (another Talemy, or another program): stop it, or set PORT to another port`
}

/**
 * `error` as one sentence naming PORT or HOST and what to do when the operator can fix it (a port taken, a port below
 * 1024 without the right to it, a HOST that is no address of this machine or does not resolve), else as it is.
 */
export function explainListenError(error: unknown, port: number, host: string): unknown {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return startRefusal(new Error(portInUseMessage(port, host)))
    case 'EACCES':
      return startRefusal(
        new Error(
          `port ${port} on ${host} is not allowed to this process (a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability): ` +
            `set PORT to 1024 or above, with a proxy in front for port ${port}`,
        ),
      )
    case 'EADDRNOTAVAIL':
      return startRefusal(
        new Error(
          `HOST=${host} is not an address of this machine: set HOST to one of its addresses (127.0.0.1 for this machine alone, 0.0.0.0 for every interface)`,
        ),
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return startRefusal(
        new Error(
          `HOST=${host} does not resolve to an address: set HOST to an address of this machine, or a name that resolves to one`,
        ),
      )
    default:
      return error
  }
}

/**
 * Binds `port` on `host` for a moment and lets it go: a taken port (or one not allowed, or a HOST that is no address of
 * this machine) is then said before the database is opened (a second start would otherwise wait for the data folder's
 * lock, or migrate its own, before it learns). Another program may still take the port in between: the real listen
 * says it the same way. Port 0 is always free, but is bound too: HOST is checked all the same.
 *
 * @example await checkPortFree(3000, '127.0.0.1') // rejects with portInUseMessage(3000, '127.0.0.1') when taken
 */
export function checkPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.once('error', (error) => reject(explainListenError(error, port, host)))
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()))
  })
}

/**
 * The URL of a server listening on `host`: `0.0.0.0` and `::` (every interface) as 127.0.0.1, an IPv6 address in
 * brackets; a zone on a loopback address (`::1%lo`) changes nothing where it leads, and no browser takes one: left out.
 *
 * @example urlFor('::1%lo', 3000) // 'http://[::1]:3000'
 */
export function urlFor(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '::') return `http://127.0.0.1:${port}`
  const address = isLoopbackHost(host) ? withoutZone(host) : host
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`
}

/**
 * What `npm start` prints once listening: the URL to open. An IPv6 zone (HOST=fe80::1%eth0, a link-local address)
 * cannot be in a URL a browser takes, and printed as it was (`http://[fe80::1%eth0]:3000`) it opened nowhere: said
 * plainly then, with what does reach it.
 *
 * @example runningMessage('http://127.0.0.1:3000') // 'Talemy is running: open http://127.0.0.1:3000'
 */
export function runningMessage(url: string): string {
  const zoned = /^http:\/\/\[([^\]%]+)%([^\]]+)\]:(\d+)$/.exec(url)
  if (!zoned) return `Talemy is running: open ${url}`
  const [, address, zone, port] = zoned
  return (
    `Talemy is running on [${address}%${zone}]:${port}, a link-local address: no browser opens an address with a zone ` +
    `(%${zone}), curl does (curl 'http://[${address}%25${zone}]:${port}/api/health'); for browsers, set HOST to an ` +
    'address without one (0.0.0.0 for every interface)'
  )
}
