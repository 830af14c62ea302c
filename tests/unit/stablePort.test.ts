import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { portInUseMessage } from '../../server/port'
import { ephemeralRange, listenOn, stablePort, stablePortSpan, startedAgain } from '../support/ports'

// A server restarted "on the same port" lost it in CI to whatever the kernel handed out meanwhile: its port had come
// from listen(0), in the range the kernel gives every outgoing connection and every listen(0).

describe('stablePort', () => {
  it('reads the kernel’s range where Linux says it', () => {
    const file = '/proc/sys/net/ipv4/ip_local_port_range'
    if (!existsSync(file)) return expect(ephemeralRange()).toEqual({ low: 49152, high: 65535 })
    const [low, high] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number)
    expect(ephemeralRange()).toEqual({ low, high })
  })

  it('draws below the kernel’s range, above it when there is no room below, and nowhere when it covers everything', () => {
    expect(stablePortSpan({ low: 32768, high: 60999 })).toEqual({ from: 24576, to: 32767 })
    expect(stablePortSpan({ low: 1024, high: 40000 })).toEqual({ from: 40001, to: 48192 })
    expect(stablePortSpan({ low: 1024, high: 65535 })).toBeNull()
  })

  it('gives free loopback ports outside the range listen(0) and outgoing connections take from', async () => {
    const { low, high } = ephemeralRange()
    for (let i = 0; i < 20; i++) {
      const port = await stablePort()
      expect(port < low || port > high, `port ${port} in ${low}–${high}`).toBe(true)
      const server = createServer()
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('listens once a port taken for an instant is free again, and says why when it stays taken', async () => {
    const port = await stablePort()
    const holder = createServer()
    await listenOn(holder, port)
    const server = createServer()
    // Freed once the second listen is refused: listenOn tries again.
    let refused = 0
    server.once('error', () => {
      refused++
      holder.close()
    })
    await listenOn(server, port)
    expect(refused).toBe(1)
    expect(server.listening).toBe(true)
    await expect(listenOn(createServer(), port, 3)).rejects.toMatchObject({ code: 'EADDRINUSE' })
    await new Promise((resolve) => server.close(resolve))
  })

  it('starts a server again once its port, taken for an instant, is free, and says why when it stays taken', async () => {
    const port = await stablePort()
    const holder = createServer()
    await listenOn(holder, port)
    let refused = 0
    // As `startServer` refuses a taken port: the listen's error told as one sentence.
    const start = async () => {
      const server = createServer()
      try {
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
      } catch {
        refused++
        holder.close()
        throw new Error(portInUseMessage(port, '127.0.0.1'))
      }
      return server
    }
    const server = await startedAgain(start)
    expect([refused, server.listening]).toEqual([1, true])
    await expect(startedAgain(start, 2)).rejects.toThrow(`port ${port} on 127.0.0.1 is in use`)
    await new Promise((resolve) => server.close(resolve))
  })
})
