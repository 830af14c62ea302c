import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'

/**
 * The ports the kernel hands out by itself: to every `listen(0)` and every outgoing connection's local end. Linux says
 * which (`ip_local_port_range`, 32768–60999 by default); elsewhere IANA's dynamic range, macOS's and Windows' default.
 */
export function ephemeralRange(): { low: number; high: number } {
  try {
    const [low = Number.NaN, high = Number.NaN] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number)
    if (Number.isInteger(low) && Number.isInteger(high) && low >= 1 && high >= low && high <= 65535)
      return { low, high }
  } catch {
    // Not Linux: the default below.
  }
  return { low: 49152, high: 65535 }
}

/** How many ports to draw from: two callers in one run rarely draw the same one, and each checks. */
const SPAN = 8192

/** The ports `stablePort` draws from: just below the kernel's range, or just above it when there is no room below. */
export function stablePortSpan({ low, high }: { low: number; high: number }): { from: number; to: number } | null {
  if (low - 1024 >= SPAN / 2) return { from: Math.max(1024, low - SPAN), to: low - 1 }
  if (65535 - high >= SPAN / 2) return { from: high + 1, to: Math.min(65535, high + SPAN) }
  return null
}

function listensOn(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(null))
    probe.listen(port, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : null))
    })
  })
}

/**
 * A free loopback port for a server a test starts, stops and starts again on the same port (a restart, as a deploy
 * does), or hands to a child process to listen on. A port from `listen(0)` is in the kernel's own range: on a busy run
 * (test files in parallel, hundreds of loopback connections) an outgoing connection or another `listen(0)` took one in
 * the gap between close and listen again ("port 43879 on 127.0.0.1 is in use", P12's restart in CI). Outside that
 * range only another caller of this function can take it, drawing at random from thousands and checking.
 */
export async function stablePort(): Promise<number> {
  const span = stablePortSpan(ephemeralRange())
  if (span) {
    for (let attempt = 0; attempt < 64; attempt++) {
      const port = await listensOn(span.from + Math.floor(Math.random() * (span.to - span.from + 1)))
      if (port !== null) return port
    }
  }
  // A kernel range covering every port (or 64 taken draws): the kernel's choice, as before.
  const port = await listensOn(0)
  if (port === null) throw new Error('no free port on 127.0.0.1')
  return port
}

/**
 * Listens `server` on 127.0.0.1:`port`, and again while the port is taken (up to `tries` times, 20 ms apart): another
 * caller's `stablePort` probe holds a port it draws for an instant. Rejects with the listen's error after that, so a
 * port really taken fails the test with its reason, not with an uncaught error and a timeout.
 */
export async function listenOn(server: Server, port: number, tries = 50): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject)
          resolve()
        })
      })
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= tries) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/**
 * `start()` (a server started again on the port it had, from `stablePort`), again while that port is taken, up to
 * `tries` times 100 ms apart: another caller's `stablePort` probe holds a port it draws for an instant, and a restart
 * that met one failed a run of `npm run test:load` ("port 29850 on 127.0.0.1 is in use"). A port still taken after
 * that fails with the start's own refusal.
 *
 * @example second = await startedAgain(() => startServer({ port, dataDir }))
 */
export async function startedAgain<T>(start: () => Promise<T>, tries = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (error) {
      if (!/is in use/.test(String((error as Error | null)?.message)) || attempt >= tries) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
