import { randomBytes } from 'node:crypto'
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose'
import type { Id } from '../src/contract'
import type { Db } from './db/types'
import { unauthorized } from './errors'

// Passwords live in ./passwords.ts.

// --- Tokens: HS256 JWTs with jose ----------------------------------------------------------------

export const DEFAULT_TOKEN_TTL_SECONDS = 3600
/** How long after expiry a token may still be exchanged at /api/auth/refresh. */
export const DEFAULT_REFRESH_GRACE_SECONDS = 7 * 24 * 3600
const ISSUER = 'talemy'

export interface TokenServiceOptions {
  ttlSeconds?: number
  refreshGraceSeconds?: number
}

export class TokenService {
  private readonly ttlSeconds: number
  private readonly graceSeconds: number

  constructor(
    private readonly key: Uint8Array,
    options: TokenServiceOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS
    this.graceSeconds = options.refreshGraceSeconds ?? DEFAULT_REFRESH_GRACE_SECONDS
  }

  issue(userId: Id): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + this.ttlSeconds)
      .sign(this.key)
  }

  /** The user id of a valid, unexpired token; throws UNAUTHORIZED otherwise. */
  verify(token: unknown): Promise<Id> {
    return this.check(token, 0)
  }

  /** Like `verify`, but accepts a token expired less than the grace period ago. */
  verifyForRefresh(token: unknown): Promise<Id> {
    return this.check(token, this.graceSeconds)
  }

  private async check(token: unknown, toleranceSeconds: number): Promise<Id> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw unauthorized()
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        clockTolerance: toleranceSeconds,
        requiredClaims: ['sub', 'exp'],
      })
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw unauthorized()
      return payload.sub
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthorized('token expired')
      throw unauthorized()
    }
  }
}

/** `JWT_SECRET` when given; otherwise a secret generated on first start and kept in the database (with the data). */
export async function loadSigningKey(db: Db, configured?: string): Promise<Uint8Array> {
  if (configured) return new TextEncoder().encode(configured)
  const existing = await db.query<{ value: string }>(`select value from settings where key = 'jwt_secret'`)
  if (existing[0]) return Buffer.from(existing[0].value, 'base64url')
  await db.query(`insert into settings (key, value) values ('jwt_secret', $1) on conflict (key) do nothing`, [
    randomBytes(32).toString('base64url'),
  ])
  const stored = await db.query<{ value: string }>(`select value from settings where key = 'jwt_secret'`)
  return Buffer.from(stored[0]!.value, 'base64url')
}

/** The token from an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}
