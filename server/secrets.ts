/** HS256 wants a key at least as long as its output (RFC 7518 §3.2): 256 bits. */
export const MIN_JWT_SECRET_BYTES = 32

/**
 * A configured `JWT_SECRET`, refused when shorter than 32 bytes (a short secret can be brute-forced offline from any
 * token). Unset or empty means "generate one and keep it with the data": returns undefined.
 *
 * @example checkJwtSecret('short') // throws: JWT_SECRET is 5 bytes; it must be at least 32 …
 */
export function checkJwtSecret(secret: string | undefined): string | undefined {
  if (secret === undefined || secret === '') return undefined
  const bytes = Buffer.byteLength(secret, 'utf8')
  if (bytes < MIN_JWT_SECRET_BYTES) {
    throw new Error(
      `JWT_SECRET is ${bytes} bytes; it must be at least ${MIN_JWT_SECRET_BYTES} (for example \`openssl rand -base64 48\`), ` +
        'or leave it unset to have one generated and kept with the data',
    )
  }
  return secret
}
