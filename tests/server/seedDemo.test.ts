import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase, seedIfNew, shouldSeedDemo } from '../../server/db'
import { isLoopbackHost } from '../../server/db/seed'
import { parseDatabaseUrl, parsePort, parseSeedDemo, parseRedisPingMs, parseTrustProxy } from '../../server/envConfig'
import { PasswordHasher } from '../../server/passwords'
import { startServer } from '../../server/index'
import { ALICE, freshDataDir, http } from './support/server'

// Finding 8: demo accounts with a known password were seeded on every deployment.

describe('shouldSeedDemo', () => {
  it.each([
    [undefined, undefined, '127.0.0.1', true],
    [undefined, undefined, 'localhost', true],
    [undefined, undefined, '::1', true],
    [undefined, undefined, '[::1]', true],
    [undefined, undefined, '127.0.0.2', true],
    [undefined, undefined, '0.0.0.0', false],
    [undefined, undefined, '::', false],
    [undefined, undefined, '192.168.1.10', false],
    [undefined, undefined, 'talemy.example', false],
    [undefined, 'postgres://db/talemy', '127.0.0.1', false],
    [true, 'postgres://db/talemy', '0.0.0.0', true],
    [false, undefined, '127.0.0.1', false],
  ] as const)('seedDemo %s, databaseUrl %s, host %s: %s', (seedDemo, databaseUrl, host, expected) => {
    expect(shouldSeedDemo({ seedDemo, databaseUrl, host })).toBe(expected)
  })

  it.each([
    ['localhost', true],
    ['app.localhost', true],
    ['127.1.2.3', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['localhost.evil.test', false],
    // An IPv6 zone names the interface, not the address: ::1 is loopback whichever, fe80:: is not.
    ['::1%lo', true],
    ['[::1%lo]', true],
    ['fe80::1%eth0', false],
  ])('isLoopbackHost(%s) is %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected)
  })

  it.each([
    [undefined, undefined],
    ['', undefined],
    ['1', true],
    ['0', false],
    ['true', true],
    ['false', false],
  ])('SEED_DEMO=%s is %s', (value, expected) => {
    expect(parseSeedDemo(value)).toBe(expected)
  })

  it('refuses another SEED_DEMO value', () => {
    expect(() => parseSeedDemo('yes please')).toThrow('SEED_DEMO must be 1 or 0')
  })

  it.each([
    [undefined, undefined],
    ['0', undefined],
    ['1', 1],
    ['2', 2],
    ['10.0.0.1, 10.0.0.0/8', ['10.0.0.1', '10.0.0.0/8']],
  ])('TRUST_PROXY=%s is %o', (value, expected) => {
    expect(parseTrustProxy(value)).toEqual(expected)
  })

  it('refuses TRUST_PROXY=true (every hop, which a client can write), saying what to give instead', () => {
    expect(() => parseTrustProxy('true')).toThrow('give the number of proxies in front (e.g. 1) or their addresses')
  })

  // Each was taken as a proxy address: ' 1' and '100' as 0.0.0.1 and 0.0.0.100 (no proxy trusted: every client counted
  // as the proxy's one address), 'abc' refused only after the database was opened and seeded, as "invalid IP address".
  it.each([
    [' 1 ', 1],
    ['loopback, 10.0.0.0/8', ['loopback', '10.0.0.0/8']],
    ['::1', ['::1']],
  ])('TRUST_PROXY=%j is %o', (value, expected) => {
    expect(parseTrustProxy(value)).toEqual(expected)
  })

  it.each([
    ['100', 'TRUST_PROXY must be the number of proxies in front (1 to 99) or their addresses, got "100"'],
    ['abc', 'TRUST_PROXY: "abc" is not an IP address, a CIDR range or loopback/linklocal/uniquelocal'],
    ['10.0.0.1, 2', 'TRUST_PROXY: "2" is not an IP address, a CIDR range or loopback/linklocal/uniquelocal'],
    ['10.0.0.1/33', 'TRUST_PROXY: "10.0.0.1/33" is not an IP address, a CIDR range or loopback/linklocal/uniquelocal'],
  ])('refuses TRUST_PROXY=%j, naming it', (value, sentence) => {
    expect(() => parseTrustProxy(value)).toThrow(sentence)
  })

  it.each([
    [undefined, undefined],
    ['', undefined],
    ['2000', 2000],
  ])('REDIS_PING_MS=%s is %s', (value, expected) => {
    expect(parseRedisPingMs(value)).toBe(expected)
  })

  it.each(['0', '-5', '1.5', '5s'])('refuses REDIS_PING_MS=%s', (value) => {
    expect(() => parseRedisPingMs(value)).toThrow('REDIS_PING_MS must be a whole number of ms')
  })

  it.each([
    [undefined, 3000],
    ['', 3000],
    ['0', 0],
    ['8080', 8080],
    ['65535', 65535],
  ])('PORT=%s is %s', (value, expected) => {
    expect(parsePort(value)).toBe(expected)
  })

  // Number() reads ' ' as 0 (a random port, the app then not where the operator looks), '1e3' as 1000, '0x50' as 80.
  it.each([' ', '1e3', '0x50', '80.0', '-1', '65536', '3000abc', ' 3000'])('refuses PORT=%j, naming it', (value) => {
    expect(() => parsePort(value)).toThrow('PORT must be a whole number from 0 to 65535')
  })
})

// A DATABASE_URL that is no URL was tried all the same, and the start failed on what pg made of it ("cannot reach
// PostgreSQL at (unparseable URL): getaddrinfo ENOTFOUND base" for `notaurl`), never naming the variable.
describe('DATABASE_URL', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['postgres://talemy:secret@db.example:5432/talemy', 'postgres://talemy:secret@db.example:5432/talemy'],
    ['postgresql:///talemy?host=/var/run/postgresql', 'postgresql:///talemy?host=/var/run/postgresql'],
    ['socket:/var/run/postgresql?db=talemy', 'socket:/var/run/postgresql?db=talemy'],
  ])('DATABASE_URL=%j is taken as it is', (value, expected) => {
    expect(parseDatabaseUrl(value)).toBe(expected)
  })

  it.each(['notaurl', 'localhost:5432/talemy', 'mysql://root:secret@db.example/talemy', 'http://db.example/talemy'])(
    'refuses DATABASE_URL=%j, naming it, and never says its password',
    (value) => {
      expect(() => parseDatabaseUrl(value)).toThrow(/^DATABASE_URL must be a postgres:\/\/ URL/)
      expect(() => parseDatabaseUrl(value)).not.toThrow(/secret/)
    },
  )
})

describe('seeding a new database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'talemy-seed-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  const aliceLogin = (url: string) =>
    http(url, 'POST', '/api/auth/login', { body: { email: ALICE, password: 'talemy' } })

  it('seeds nothing on a public interface, once when asked, and twice at once is harmless', async () => {
    // A deployment on every interface: no demo accounts.
    const exposed = await startServer({ port: 0, host: '0.0.0.0', dataDir })
    try {
      expect((await aliceLogin(exposed.url)).status).toBe(401)
    } finally {
      await exposed.close()
    }

    // Two nodes seeding at the same moment: one seeds, the other finds it done.
    const db = await openDatabase({ dataDir })
    try {
      const passwords = new PasswordHasher()
      expect((await Promise.all([seedIfNew(db, passwords), seedIfNew(db, passwords)])).sort()).toEqual([false, true])
      expect(await seedIfNew(db, passwords)).toBe(false)
      const [counts] = await db.query<{ users: number; lessons: number }>(
        'select (select count(*) from users)::int as users, (select count(*) from lessons)::int as lessons',
      )
      expect(counts).toEqual({ users: 3, lessons: 3 })
    } finally {
      await db.close()
    }

    const asked = await startServer({ port: 0, dataDir, seedDemo: true })
    try {
      expect((await aliceLogin(asked.url)).status).toBe(200)
    } finally {
      await asked.close()
    }
  }, 120_000)
})

describe('the demo lessons', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'talemy-seed-times-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('start on the hour, at the times of day they were written for, whatever the minute of the first start', async () => {
    const db = await openDatabase({ dataDir })
    try {
      expect(await seedIfNew(db, new PasswordHasher(), new Date('2026-12-06T10:57:34.123Z'))).toBe(true)
      const rows = await db.query<{ id: string; starts_at: string | Date }>(
        'select id, starts_at from lessons order by id',
      )
      expect(rows.map((row) => [row.id, new Date(row.starts_at).toISOString()])).toEqual([
        ['lesson-1', '2026-12-08T16:00:00.000Z'],
        ['lesson-2', '2026-12-11T10:00:00.000Z'],
        ['lesson-3', '2026-11-29T15:00:00.000Z'],
      ])
    } finally {
      await db.close()
    }
  }, 120_000)
})

describe('demo accounts already in the data on a public interface', () => {
  // The README's path: a first `npm start` on this machine seeds `.data`, then the operator opens it to the network
  // (HOST=0.0.0.0). Seeding is off there, but the accounts seeded before would answer the published password.
  it('refuses to start, naming them and what to do, unless SEED_DEMO=1 asks for them', async () => {
    const dataDir = freshDataDir()
    try {
      await expect(startServer({ port: 0, host: '0.0.0.0', dataDir })).rejects.toThrow(
        /demo accounts .*"talemy".*SEED_DEMO=1/,
      )
      await expect(startServer({ port: 0, host: '0.0.0.0', dataDir, seedDemo: false })).rejects.toThrow(/demo accounts/)
      const asked = await startServer({ port: 0, host: '0.0.0.0', dataDir, seedDemo: true })
      await asked.close()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)

  // HOST=::1%lo (loopback, with the zone some tools print) was taken for an address reachable from the network: the
  // start was refused over the demo accounts unless SEED_DEMO=1, and the URL it printed (http://[::1%lo]:…) no browser
  // opens.
  it('takes ::1 with a zone for the loopback it is, and names a URL that opens', async () => {
    const dataDir = freshDataDir()
    try {
      const local = await startServer({ port: 0, host: '::1%lo', dataDir })
      try {
        expect(local.url).toBe(`http://[::1]:${local.port}`)
        expect(
          (await http(local.url, 'POST', '/api/auth/login', { body: { email: ALICE, password: 'talemy' } })).status,
        ).toBe(200)
      } finally {
        await local.close()
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)

  it('starts once their demo password no longer opens them', async () => {
    const dataDir = freshDataDir()
    try {
      const db = await openDatabase({ dataDir })
      try {
        const hash = await new PasswordHasher().hash('a password of their own')
        await db.query(`update users set password_hash = $1`, [hash])
      } finally {
        await db.close()
      }
      const exposed = await startServer({ port: 0, host: '0.0.0.0', dataDir })
      try {
        expect(
          (await http(exposed.url, 'POST', '/api/auth/login', { body: { email: ALICE, password: 'talemy' } })).status,
        ).toBe(401)
      } finally {
        await exposed.close()
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)
})
