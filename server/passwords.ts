import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { hash as argon2Hash, parseOptions, verify as argon2Verify, type Algorithm } from '@node-rs/argon2'

// The package's `Algorithm` is an ambient const enum, which isolated modules cannot read: its Argon2id member is 2.
const ARGON2ID = 2 as Algorithm

/** Argon2id cost: memory in KiB, passes, lanes. */
export interface PasswordHashing {
  memoryKib: number
  passes: number
  parallelism: number
}

/** OWASP's Password Storage Cheat Sheet minimum for Argon2id: m = 19 MiB, t = 2, p = 1. */
export const OWASP_ARGON2ID: PasswordHashing = { memoryKib: 19_456, passes: 2, parallelism: 1 }

/**
 * A deliberately cheap cost for the test suite's thousands of logins. Only `passwordHashingFromEnv` hands it out, and
 * only under `NODE_ENV=test`; production never sees it.
 */
export const TEST_ONLY_ARGON2ID: PasswordHashing = { memoryKib: 64, passes: 1, parallelism: 1 }

/** The variable the test suites' global setup sets to get `TEST_ONLY_ARGON2ID`. */
export const FAST_HASHING_ENV = 'TALEMY_TEST_FAST_PASSWORD_HASHING'

/**
 * The cost to use when none is given: OWASP's, unless a test run (`NODE_ENV=test`) asked for the cheap one.
 *
 * @example passwordHashingFromEnv({ NODE_ENV: 'production', TALEMY_TEST_FAST_PASSWORD_HASHING: '1' }) // OWASP_ARGON2ID
 */
export function passwordHashingFromEnv(env: NodeJS.ProcessEnv = process.env): PasswordHashing {
  return env.NODE_ENV === 'test' && env[FAST_HASHING_ENV] === '1' ? TEST_ONLY_ARGON2ID : OWASP_ARGON2ID
}

export interface PasswordCheck {
  ok: boolean
  /** The stored hash is not Argon2id at the current cost: store `hash(password)` instead once `ok`. */
  needsRehash: boolean
}

/**
 * Hashes and verifies passwords with Argon2id (PHC strings, `$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Hashes of the
 * earlier scheme (`scrypt$N$r$p$salt$hash`) still verify and report `needsRehash`, so they are upgraded at the next
 * successful login.
 *
 * @example
 * const passwords = new PasswordHasher()
 * const stored = await passwords.hash('s3cret')
 * await passwords.verify('s3cret', stored) // { ok: true, needsRehash: false }
 */
export class PasswordHasher {
  /**
   * A hash of a random password at the current cost, made at once: made at the first unknown email instead, that login
   * would take a hash longer than a wrong password's and tell that its email does not exist.
   */
  private readonly dummy: Promise<string>

  constructor(readonly cost: PasswordHashing = passwordHashingFromEnv()) {
    this.dummy = this.hash(randomBytes(16).toString('hex'))
    // A failure is the first unknown email's to meet (awaited in verifyDummy), never an unhandled rejection before it.
    this.dummy.catch(() => undefined)
  }

  hash(password: string): Promise<string> {
    return argon2Hash(normalized(password), {
      algorithm: ARGON2ID,
      memoryCost: this.cost.memoryKib,
      timeCost: this.cost.passes,
      parallelism: this.cost.parallelism,
    })
  }

  async verify(password: string, stored: string): Promise<PasswordCheck> {
    if (stored.startsWith('$argon2')) {
      const check = (typed: string) => argon2Verify(stored, typed).catch(() => false)
      const form = normalized(password)
      if (await check(form)) return { ok: true, needsRehash: !this.isCurrent(stored) }
      // A hash made before passwords were normalised, of one typed in another form: taken, and made again normalised.
      const ok = form !== password && (await check(password))
      return { ok, needsRehash: ok }
    }
    if (stored.startsWith('scrypt$')) {
      const ok = await verifyScrypt(password, stored)
      return { ok, needsRehash: ok }
    }
    return { ok: false, needsRehash: false }
  }

  /**
   * Verifies against a hash of a random password at the current cost: an unknown email costs the same time as a
   * wrong password, so response times do not tell which emails exist.
   */
  async verifyDummy(password: string): Promise<void> {
    await this.verify(password, await this.dummy)
  }

  private isCurrent(stored: string): boolean {
    try {
      const used = parseOptions(stored)
      return (
        used.algorithm === ARGON2ID &&
        used.memoryCost === this.cost.memoryKib &&
        used.timeCost === this.cost.passes &&
        used.parallelism === this.cost.parallelism
      )
    } catch {
      return false
    }
  }
}

/**
 * One password however its characters are encoded (NIST SP 800-63B §5.1.1.2: NFKC): an "é" typed as one code point on
 * one keyboard and as "e" + a combining accent on another (or pasted) is the same "é".
 */
function normalized(password: string): string {
  return password.normalize('NFKC')
}

// --- The earlier scheme, verify-only: node:crypto scrypt, "scrypt$N$r$p$salt$hash" ----------------------------------

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key))),
  )
}

async function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = stored.split('$')
  if (!salt || !hash) return false
  const expected = Buffer.from(hash, 'base64')
  // The parameters come from our own database, but keep a corrupted row from asking for gigabytes.
  const params = { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 }
  if (![params.N, params.r, params.p].every(Number.isSafeInteger) || expected.length === 0) return false
  try {
    return timingSafeEqual(await scrypt(password, Buffer.from(salt, 'base64'), expected.length, params), expected)
  } catch {
    return false
  }
}

/** A hash in the earlier scrypt scheme (N = 2^14), for tests of the upgrade path. */
export async function legacyScryptHash(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, 32, { N: 16384, r: 8, p: 1 })
  return ['scrypt', 16384, 8, 1, salt.toString('base64'), key.toString('base64')].join('$')
}
