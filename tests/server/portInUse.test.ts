import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pgliteDir } from '../../server/db'
import { startServer } from '../../server/index'
import { explainListenError, portInUseMessage, runningMessage } from '../../server/port'
import { startTestServer } from './support/server'

// A second `npm start` beside a running one (or any program on the port) is told at once which port is taken and what
// to do, before it opens (and migrates, and waits for the lock of) any database.

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function occupy(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer()
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => {
      cleanups.push(() => new Promise<void>((done) => server.close(() => done())))
      resolve({ server, port: (server.address() as { port: number }).port })
    })
  })
}

describe('a port already in use', () => {
  it('is refused by name before any database is opened', async () => {
    const { port } = await occupy('127.0.0.1')
    const dataDir = join(mkdtempSync(join(tmpdir(), 'talemy-port-')), 'data')
    cleanups.push(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }))
    await expect(startServer({ port, host: '127.0.0.1', dataDir })).rejects.toThrow(
      `port ${port} on 127.0.0.1 is in use (another Talemy, or another program): stop it, or set PORT to another port`,
    )
    expect(existsSync(pgliteDir(dataDir))).toBe(false)
  })

  it('is refused by name when taken by a running Talemy server', async () => {
    const first = await startTestServer()
    cleanups.push(() => first.dispose())
    await expect(startTestServer({ port: first.port })).rejects.toThrow(`port ${first.port} on 127.0.0.1 is in use`)
    // The first one still serves.
    expect((await fetch(`${first.url}/api/users`)).status).toBe(401)
  })
})

describe('explainListenError', () => {
  it('says a port taken between the check and the listen the same way, and leaves other errors as they are', () => {
    const taken = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })
    expect((explainListenError(taken, 3000, '0.0.0.0') as Error).message).toBe(portInUseMessage(3000, '0.0.0.0'))
    const other = Object.assign(new Error('listen EMFILE'), { code: 'EMFILE' })
    expect(explainListenError(other, 3000, '0.0.0.0')).toBe(other)
  })

  // A port below 1024 without root, or a HOST that is no address of this machine, failed as Node's own words
  // ("listen EACCES: permission denied 0.0.0.0:80"), never naming PORT or HOST nor what to do.
  it.each([
    [
      'EACCES',
      80,
      '0.0.0.0',
      'port 80 on 0.0.0.0 is not allowed to this process (a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability): set PORT to 1024 or above, with a proxy in front for port 80',
    ],
    [
      'EADDRNOTAVAIL',
      3000,
      '192.0.2.1',
      'HOST=192.0.2.1 is not an address of this machine: set HOST to one of its addresses (127.0.0.1 for this machine alone, 0.0.0.0 for every interface)',
    ],
    [
      'ENOTFOUND',
      3000,
      'nowhere.invalid',
      'HOST=nowhere.invalid does not resolve to an address: set HOST to an address of this machine, or a name that resolves to one',
    ],
  ])('says %s naming PORT or HOST and what to do', (code, port, host, sentence) => {
    const error = Object.assign(new Error(`listen ${code}`), { code })
    expect((explainListenError(error, port, host) as Error).message).toBe(sentence)
  })
})

// Said before any database is opened, PORT=0 too: it listened on HOST only after the database was made, migrated and
// seeded, then failed there with a stack trace in the log.
describe('a HOST that is no address of this machine', () => {
  it('is refused by name before any database is opened, PORT=0 too', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'talemy-host-')), 'data')
    cleanups.push(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }))
    // 192.0.2.0/24 is TEST-NET-1, documentation only: no machine has it.
    await expect(startServer({ port: 0, host: '192.0.2.1', dataDir })).rejects.toThrow(
      'HOST=192.0.2.1 is not an address of this machine',
    )
    expect(existsSync(pgliteDir(dataDir))).toBe(false)
  })
})

// HOST=fe80::1%eth0 (a link-local address, which needs its zone): `npm start` printed "open http://[fe80::1%eth0]:3000",
// which no browser (nor `new URL`) takes.
describe('the line npm start prints once listening', () => {
  it('names the URL to open', () => {
    expect(runningMessage('http://127.0.0.1:3000')).toBe('Talemy is running: open http://127.0.0.1:3000')
    expect(runningMessage('http://[::1]:3000')).toBe('Talemy is running: open http://[::1]:3000')
  })

  it('says plainly that no browser opens an address with a zone, and what does', () => {
    const line = runningMessage('http://[fe80::1%eth0]:3000')
    expect(line).not.toContain('open http://[fe80::1%eth0]')
    expect(line).toBe(
      "Talemy is running on [fe80::1%eth0]:3000, a link-local address: no browser opens an address with a zone (%eth0), curl does (curl 'http://[fe80::1%25eth0]:3000/api/health'); for browsers, set HOST to an address without one (0.0.0.0 for every interface)",
    )
  })
})
