import { randomBytes } from 'node:crypto'
import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose'
import type { Id } from '../src/contract'
import type { Db } from './db/types'
import { unauthorized } from './errors'

// Passwords live in ./passwords.ts.

// --- Access tokens: short HS256 JWTs with jose, each naming its session ----------------------------

export const DEFAULT_TOKEN_TTL_SECONDS = 900
const ISSUER = 'talemy'

/** What a valid access token says. */
export interface AccessClaims {
  userId: Id
  /** The session (`sessions.id`) the token belongs to: revoking it refuses the token at once. */
  sessionId: string
  /** When the token expires, in ms (its `exp` claim). */
  expiresAt: number
  /** Its `jti`, when it has one: derived from the refresh token issued with it (see `SessionStore`). */
  tokenId?: string
}

export interface TokenServiceOptions {
  ttlSeconds?: number
  /** The clock, in ms. Default `Date.now`. */
  now?: () => number
}

/**
 * Signs and checks access tokens. No clock tolerance: a token is refused from the second its `exp` names. Signing is
 * deterministic (HS256 over the same claims), so the same (user, session, issue time) always gives the same token —
 * what lets the refresh token's reuse window answer with the very pair it answered before.
 *
 * @example const token = await tokens.issue('user-alice', sessionId); (await tokens.verify(token)).sessionId
 */
export class TokenService {
  readonly ttlSeconds: number
  private readonly now: () => number

  constructor(
    private readonly key: Uint8Array,
    options: TokenServiceOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS
    this.now = options.now ?? Date.now
  }

  /**
   * A token issued at `issuedAtMs` (default now), living `ttlSeconds`, never past `notAfterMs` (the session's end).
   * `tokenId` (`jti`) tells apart two tokens of one session issued in the same second.
   */
  issue(
    userId: Id,
    sessionId: string,
    issuedAtMs = this.now(),
    notAfterMs = Number.POSITIVE_INFINITY,
    tokenId?: string,
  ): Promise<string> {
    const issuedAt = Math.floor(issuedAtMs / 1000)
    const expiresAt = Math.min(issuedAt + this.ttlSeconds, Math.floor(notAfterMs / 1000))
    return new SignJWT(tokenId ? { sid: sessionId, jti: tokenId } : { sid: sessionId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.key)
  }

  /** The claims of a well-signed, unexpired token; throws UNAUTHORIZED otherwise. Says nothing about revocation. */
  async verify(token: unknown): Promise<AccessClaims> {
    const { claims, expired } = await this.check(token)
    if (expired) throw unauthorized('token expired')
    return claims
  }

  /**
   * Whose a well-signed token is, expired or not (every other check holds): what tells "another session's token" from
   * "an old token of this session". Never a credential: `verify` is. Undefined for a token the server did not sign.
   */
  async owner(token: unknown): Promise<AccessClaims | undefined> {
    try {
      return (await this.check(token)).claims
    } catch {
      return undefined
    }
  }

  /** The claims of a token the server signed, as the server signs them, and whether it has expired; UNAUTHORIZED else. */
  private async check(token: unknown): Promise<{ claims: AccessClaims; expired: boolean }> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw unauthorized()
    let payload: JWTPayload
    let expired = false
    try {
      const verified = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        clockTolerance: 0,
        currentDate: new Date(this.now()),
        requiredClaims: ['sub', 'exp', 'sid'],
      })
      payload = verified.payload
    } catch (error) {
      // jose checks `exp` after the signature, the algorithm, the issuer and the required claims: only the time failed.
      if (!(error instanceof joseErrors.JWTExpired) || error.claim !== 'exp') throw unauthorized()
      payload = error.payload
      expired = true
    }
    const { sub, sid, exp, jti } = payload
    if (typeof sub !== 'string' || !sub || typeof sid !== 'string' || !sid || typeof exp !== 'number')
      throw unauthorized()
    const claims: AccessClaims = { userId: sub, sessionId: sid, expiresAt: exp * 1000 }
    if (typeof jti === 'string' && jti) claims.tokenId = jti
    return { claims, expired }
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
