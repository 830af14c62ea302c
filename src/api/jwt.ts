/** When an access token was issued and expires, in ms, as its payload says (`iat`, `exp`). */
export interface TokenLifetime {
  issuedAt: number
  expiresAt: number
}

function base64UrlDecode(part: string): string {
  const base64 = part
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(part.length / 4) * 4, '=')
  const binary = atob(base64)
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
  return new TextDecoder().decode(bytes)
}

/** A JWT's payload, unchecked; `null` for anything that is not one. */
function jwtClaims(token: string | null | undefined): Record<string, unknown> | null {
  const payload = token?.split('.')[1]
  if (!payload) return null
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(payload))
    return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/**
 * Reads `iat` and `exp` of a JWT without checking its signature (the browser only schedules with them; the server
 * decides). `null` for anything that is not a JWT with both.
 *
 * @example tokenLifetime(token) // { issuedAt: 1764428400000, expiresAt: 1764429300000 }
 */
export function tokenLifetime(token: string | null | undefined): TokenLifetime | null {
  const { iat, exp } = jwtClaims(token) ?? {}
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return null
  const issuedAt = typeof iat === 'number' && Number.isFinite(iat) && iat <= exp ? iat : exp
  return { issuedAt: issuedAt * 1000, expiresAt: exp * 1000 }
}

/**
 * The server session a token belongs to (its `sid`), unchecked; `null` when it carries none.
 *
 * @example tokenSessionId(token) // 'f3c1…'
 */
export function tokenSessionId(token: string | null | undefined): string | null {
  const sid = jwtClaims(token)?.sid
  return typeof sid === 'string' && sid ? sid : null
}

/**
 * Whether two tokens belong to one server session (by their `sid`); a token that names none is taken for the same.
 *
 * @example sameSession(refreshedToken, token) // true: a refresh keeps the session
 */
export function sameSession(a: string | null | undefined, b: string | null | undefined): boolean {
  const first = tokenSessionId(a)
  const second = tokenSessionId(b)
  return first === null || second === null || first === second
}

/** The share of a token's life after which the browser refreshes it. */
export const REFRESH_AT_SHARE = 0.8

/**
 * When to refresh a token: at 80% of its life (never before now). `null` when it carries no lifetime.
 *
 * @example refreshDueAt(token) // iat + 0.8 × (exp − iat), in ms
 */
export function refreshDueAt(token: string | null | undefined): number | null {
  const life = tokenLifetime(token)
  if (!life) return null
  return life.issuedAt + REFRESH_AT_SHARE * (life.expiresAt - life.issuedAt)
}
