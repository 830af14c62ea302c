import { hash as argon2Hash } from '@node-rs/argon2'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { openDatabase, type Db } from '../../server/db'
import {
  FAST_HASHING_ENV,
  OWASP_ARGON2ID,
  PasswordHasher,
  TEST_ONLY_ARGON2ID,
  legacyScryptHash,
  passwordHashingFromEnv,
} from '../../server/passwords'
import { ALICE, http, login, startTestServer, type TestServer } from './support/server'

// Finding 9: scrypt at N = 2^14 is below OWASP's current minimum. Argon2id at m = 19 MiB, t = 2, p = 1 now.

describe('PasswordHasher', () => {
  it("hashes with Argon2id at OWASP's minimum cost by default, and verifies", async () => {
    const passwords = new PasswordHasher(OWASP_ARGON2ID)
    const stored = await passwords.hash('correct horse')
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(await passwords.verify('correct horse', stored)).toEqual({ ok: true, needsRehash: false })
    expect(await passwords.verify('wrong horse', stored)).toEqual({ ok: false, needsRehash: false })
  })

  it('verifies the earlier scrypt hashes and asks for a rehash only when the password matched', async () => {
    const passwords = new PasswordHasher(TEST_ONLY_ARGON2ID)
    const legacy = await legacyScryptHash('talemy')
    expect(legacy).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect(await passwords.verify('talemy', legacy)).toEqual({ ok: true, needsRehash: true })
    expect(await passwords.verify('nope', legacy)).toEqual({ ok: false, needsRehash: false })
  })

  // NIST SP 800-63B §5.1.1.2: one "é" typed as U+00E9 on one keyboard and as "e" + U+0301 on another (or pasted) is
  // one password. Hashed as typed, the second was refused.
  it('takes a password however its accents are encoded (NFKC), and the same refusal for a wrong one', async () => {
    const passwords = new PasswordHasher(TEST_ONLY_ARGON2ID)
    const composed = 'caf\u00e9 cr\u00e8me'
    const decomposed = 'cafe\u0301 cre\u0300me'
    expect(await passwords.verify(decomposed, await passwords.hash(composed))).toEqual({ ok: true, needsRehash: false })
    expect(await passwords.verify(composed, await passwords.hash(decomposed))).toEqual({ ok: true, needsRehash: false })
    expect(await passwords.verify('cafe creme', await passwords.hash(composed))).toEqual({
      ok: false,
      needsRehash: false,
    })
  })

  it('still takes a hash made, before the normalisation, of a password as typed, and asks for its rehash', async () => {
    const passwords = new PasswordHasher(TEST_ONLY_ARGON2ID)
    const asTyped = 'cafe\u0301'
    // At the current cost: only the normalisation asks for the rehash.
    const before = await argon2Hash(asTyped, { algorithm: 2, memoryCost: 64, timeCost: 1, parallelism: 1 })
    expect(await passwords.verify(asTyped, before)).toEqual({ ok: true, needsRehash: true })
    expect(await passwords.verify('cafe', before)).toEqual({ ok: false, needsRehash: false })
  })

  it('asks for a rehash of an Argon2id hash made at another cost', async () => {
    const cheap = await new PasswordHasher(TEST_ONLY_ARGON2ID).hash('pw')
    expect(await new PasswordHasher(OWASP_ARGON2ID).verify('pw', cheap)).toEqual({ ok: true, needsRehash: true })
  })

  it.each([
    ['garbage', 'not-a-hash'],
    ['a truncated scrypt hash', 'scrypt$16384$8$1$'],
    ['scrypt with absurd parameters', 'scrypt$999999999999$8$1$c2FsdA==$aGFzaA=='],
    ['a broken argon2 string', '$argon2id$v=19$m=x'],
  ])('refuses %s without throwing', async (_name, stored) => {
    expect(await new PasswordHasher(TEST_ONLY_ARGON2ID).verify('pw', stored)).toEqual({ ok: false, needsRehash: false })
  })

  it.each([
    [{ NODE_ENV: 'test', [FAST_HASHING_ENV]: '1' }, TEST_ONLY_ARGON2ID],
    [{ NODE_ENV: 'production', [FAST_HASHING_ENV]: '1' }, OWASP_ARGON2ID],
    [{ [FAST_HASHING_ENV]: '1' }, OWASP_ARGON2ID],
    [{ NODE_ENV: 'test' }, OWASP_ARGON2ID],
  ])('the cost for %o: only a test run may lower it', (env, expected) => {
    expect(passwordHashingFromEnv(env)).toEqual(expected)
  })

  it('this suite runs with the cheap cost (the global setup asked for it)', () => {
    expect(passwordHashingFromEnv()).toEqual(TEST_ONLY_ARGON2ID)
  })

  // Review: the hash an unknown email is verified against was made at the first such login, which then took a hash and a
  // verification (twice a wrong password's time at OWASP's cost): after each start, the first probe told that its email
  // does not exist.
  it("costs an unknown email's check one verification, as a wrong password's, the first time too: no hash then", async () => {
    const hasher = new PasswordHasher(TEST_ONLY_ARGON2ID)
    const hash = vi.spyOn(hasher, 'hash')
    await hasher.verifyDummy('a guess')
    await hasher.verifyDummy('another guess')
    expect(hash).not.toHaveBeenCalled()
  })
})

describe('upgrading stored hashes at login', () => {
  let server: TestServer
  let db: Db | undefined
  beforeAll(async () => {
    server = await startTestServer({ passwordHashing: OWASP_ARGON2ID })
  })
  afterAll(async () => {
    await db?.close()
    await server?.dispose()
  })

  // Three server starts and several hashes at OWASP's cost: the bound only catches a hang, and a busy machine (a CI
  // run beside other suites) took 35 s.
  it('turns a scrypt hash into Argon2id at the next successful login, and the password keeps working', {
    timeout: 120_000,
  }, async () => {
    const before = await legacyScryptHash('talemy')
    const { token } = await login(server.url, ALICE) // seeded at the test cost: upgraded to OWASP's cost as well
    await server.close()
    db = await openDatabase({ dataDir: server.dataDir })
    await db.query(`update users set password_hash = $1 where id = 'user-alice'`, [before])
    await db.close()
    db = undefined
    expect(token).toEqual(expect.any(String))

    const again = await startTestServer({ dataDir: server.dataDir, passwordHashing: OWASP_ARGON2ID })
    try {
      expect(
        (await http(again.url, 'POST', '/api/auth/login', { body: { email: ALICE, password: 'wrong' } })).status,
      ).toBe(401)
      await again.close()
      db = await openDatabase({ dataDir: server.dataDir })
      // A failed login changes nothing.
      expect(
        (await db.query<{ password_hash: string }>(`select password_hash from users where id = 'user-alice'`))[0]!
          .password_hash,
      ).toBe(before)
      await db.close()
      db = undefined
    } finally {
      await again.close()
    }

    const third = await startTestServer({ dataDir: server.dataDir, passwordHashing: OWASP_ARGON2ID })
    try {
      await login(third.url, ALICE)
      await login(third.url, ALICE) // the upgraded hash verifies
    } finally {
      await third.close()
    }
    db = await openDatabase({ dataDir: server.dataDir })
    const [row] = await db.query<{ password_hash: string }>(`select password_hash from users where id = 'user-alice'`)
    expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  })
})
