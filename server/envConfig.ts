// Environment variables of `npm start` (server/main.ts) that need more than a string; kept apart so tests can import them.
import { isIP } from 'node:net'
import proxyAddr from '@fastify/proxy-addr'
import { holdsRedisPattern, REDIS_PATTERN_REFUSAL, URL_SCHEME, withRedisScheme } from './cluster/redis'

/** A DNS name: dot-separated labels of letters, digits and inner hyphens (RFC 1123), 253 characters at most. */
const HOST_NAME = /^(?=.{1,253}$)[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?(?:\.[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?)*\.?$/i

/**
 * `HOST`: the address to listen on; unset or empty: 127.0.0.1. Checked before the start: anything else was tried as a
 * name only after the database had been opened and seeded, and failed as "getaddrinfo ENOTFOUND", never naming HOST.
 */
export function parseHost(value: string | undefined): string {
  if (value === undefined || value === '') return '127.0.0.1'
  if (isIP(value) === 0 && !HOST_NAME.test(value))
    throw new Error(`HOST must be an IP address or a host name, got ${JSON.stringify(value)}`)
  return value
}

/**
 * `PORT`: 0 (any free port) to 65535; unset or empty: 3000. Digits only: `Number()` would read ' ' as 0 (a random
 * port, the app then not where the operator looks for it), '1e3' as 1000 and '0x50' as 80.
 */
export function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN
  if (!(port <= 65535)) throw new Error(`PORT must be a whole number from 0 to 65535, got ${JSON.stringify(value)}`)
  return port
}

/** `SEED_DEMO=1` / `0`; unset or empty: the server's default. */
export function parseSeedDemo(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined
  if (value === '1' || value === 'true') return true
  if (value === '0' || value === 'false') return false
  throw new Error(`SEED_DEMO must be 1 or 0, got ${value}`)
}

/**
 * `SKIP_SPA_BUILD=1` / `0` (or true / false, as SEED_DEMO); unset or empty: build when needed. Anything else was read
 * as "build", so `SKIP_SPA_BUILD=yes` ran the build the operator had asked to skip.
 */
export function parseSkipSpaBuild(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false
  if (value === '1' || value === 'true') return true
  throw new Error(`SKIP_SPA_BUILD must be 1 or 0, got ${value}`)
}

/**
 * `TRUST_PROXY=N`: that many proxies in front (the client is the Nth address from the right of `X-Forwarded-For`), or
 * a comma-separated list of proxy addresses / CIDRs (or proxy-addr's names `loopback`, `linklocal`, `uniquelocal`);
 * unset or 0: the socket's address. `true` (every hop) is refused: a client could then name its own address in front of
 * what the proxy appends, and walk past the per-address limits. Every entry is checked here, naming the variable: one
 * that is no address was refused only after the database had been opened ("invalid IP address: abc"), and a number
 * other than 1 to 99 (`100`, ` 1` once split) was taken as an IPv4 address (0.0.0.100), trusting no proxy at all.
 */
export function parseTrustProxy(value: string | undefined): number | string[] | undefined {
  const text = value?.trim()
  if (text === undefined || text === '' || text === '0' || text === 'false') return undefined
  if (/^[1-9]\d?$/.test(text)) return Number(text)
  if (text === 'true')
    throw new Error(
      'TRUST_PROXY=true would trust every X-Forwarded-For entry, which a client can write: give the number of proxies in front (e.g. 1) or their addresses',
    )
  if (/^\d+$/.test(text))
    throw new Error(
      `TRUST_PROXY must be the number of proxies in front (1 to 99) or their addresses, got ${JSON.stringify(value)}`,
    )
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
  for (const item of items) {
    let valid = !/^\d+$/.test(item)
    try {
      if (valid) proxyAddr.compile([item])
    } catch {
      valid = false
    }
    if (!valid)
      throw new Error(
        `TRUST_PROXY: ${JSON.stringify(item)} is not an IP address, a CIDR range or loopback/linklocal/uniquelocal; ` +
          'give the number of proxies in front (e.g. 1) or their addresses, comma-separated',
      )
  }
  return items
}

/** `REDIS_PING_MS`: how often a node PINGs each of its Redis connections, in ms; unset or empty: the server's default. */
export function parseRedisPingMs(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  if (!/^[1-9]\d{0,8}$/.test(value))
    throw new Error(`REDIS_PING_MS must be a whole number of ms (1 or more), got ${value}`)
  return Number(value)
}

/** What `pg` connects through: a PostgreSQL URL, or its Unix-socket form. */
const POSTGRES_SCHEMES = new Set(['postgres:', 'postgresql:', 'socket:'])

/**
 * `DATABASE_URL`: unset or empty, the embedded database. Anything else must be a URL `pg` reads, checked before the
 * start: `pg` makes something of any string (`notaurl` became a host named `base`), and the start then failed on a
 * host that was never given. The value itself is not repeated: it may hold a password.
 */
export function parseDatabaseUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  let scheme: string
  try {
    scheme = new URL(value).protocol
  } catch {
    throw new Error('DATABASE_URL must be a postgres:// URL (postgres://user:password@host:5432/database), got no URL')
  }
  if (!POSTGRES_SCHEMES.has(scheme))
    throw new Error(
      `DATABASE_URL must be a postgres:// URL (postgres://user:password@host:5432/database), got a ${JSON.stringify(scheme)} one`,
    )
  return value
}

/** `REDIS_PREFIX`: unset or empty, the server's default; never one Redis reads as a pattern (`holdsRedisPattern`). */
export function parseRedisPrefix(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  if (holdsRedisPattern(value)) throw new Error(`REDIS_PREFIX ${REDIS_PATTERN_REFUSAL}, got ${JSON.stringify(value)}`)
  return value
}

/** What a refusal of `REDIS_URL` asks for. */
const REDIS_FORM = 'redis://[user:password@]host[:port][/db] (rediss:// for TLS) or host[:port]'

/**
 * `REDIS_URL`: unset or empty, one node without Redis. Anything else must be what ioredis reads as a Redis address,
 * checked before the start (the SPA build first): ioredis takes another scheme's URL, or a path after a bare host:port,
 * for a Unix socket's path, so `http://host:6379` failed only after the build, as "connect ENOENT //host:6379". It
 * turns TLS on for a lowercase `rediss://` only: `REDISS://` went in clear. Its Unix socket path (`/…`) and a bare
 * host:port work as they did. The value itself is not repeated: it may hold a password.
 */
export function parseRedisUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  if (value.startsWith('/') && !value.startsWith('//')) return value
  const scheme = URL_SCHEME.exec(value)?.[1]
  const lower = scheme?.toLowerCase()
  if (lower !== undefined && lower !== 'redis' && lower !== 'rediss')
    throw new Error(`REDIS_URL must be ${REDIS_FORM}, got a ${JSON.stringify(`${scheme}:`)} URL`)
  if (lower === 'rediss' && scheme !== lower)
    throw new Error(`REDIS_URL must be ${REDIS_FORM}, got a "${scheme}:" URL (only a lowercase rediss:// turns on TLS)`)
  let path: string
  try {
    path = new URL(withRedisScheme(value)).pathname
  } catch {
    throw new Error(`REDIS_URL must be ${REDIS_FORM}, got no URL`)
  }
  if (!scheme && !value.startsWith('//') && path !== '' && path !== '/')
    throw new Error(`REDIS_URL must be ${REDIS_FORM}, got a host followed by a path: write redis:// in front`)
  return value
}
