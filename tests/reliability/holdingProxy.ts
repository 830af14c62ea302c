import { createServer, connect, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a server whose port changes across restarts: clients keep one URL while the process behind
 * it is killed and started again. Armed with a marker, it stops passing the server's bytes on a connection from the
 * chunk that carries the marker on, and tells `onMarker` once: the server wrote something that proves a commit (the
 * ack of a send, or its events, all carry the message's clientId), and no client has read it.
 *
 * Socket.IO frames from the server are unmasked and (perMessageDeflate off by default) uncompressed, so the marker's
 * text is in the bytes as sent.
 */
export async function holdingProxy(upstreamPort: number) {
  let port = upstreamPort
  let armed: { marker: string; onMarker: () => void; seen: boolean } | undefined
  const pairs = new Set<[Socket, Socket]>()
  const server = createServer((downstream) => {
    const upstream = connect(port, '127.0.0.1')
    const pair: [Socket, Socket] = [downstream, upstream]
    pairs.add(pair)
    let holding = false
    // The previous chunk's tail, so a marker split between two chunks is still seen.
    let tail = ''
    const end = () => {
      pairs.delete(pair)
      downstream.destroy()
      upstream.destroy()
    }
    downstream.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    downstream.on('data', (chunk: Buffer) => upstream.write(chunk))
    upstream.on('data', (chunk: Buffer) => {
      if (holding) return
      const text = chunk.toString('latin1')
      if (armed && (tail + text).includes(armed.marker)) {
        holding = true
        if (!armed.seen) {
          armed.seen = true
          armed.onMarker()
        }
        return
      }
      tail = text.slice(-256)
      downstream.write(chunk)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: own } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${own}`,
    /** Where new connections go from now on (a restarted server's port). */
    retarget(next: number) {
      port = next
    },
    arm(marker: string, onMarker: () => void) {
      armed = { marker, onMarker, seen: false }
    },
    disarm() {
      armed = undefined
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy()
        b.destroy()
      }
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
