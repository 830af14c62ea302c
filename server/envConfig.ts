// Environment variables of `npm start` (server/main.ts) that need more than a string; kept apart so tests can import them.

/** `SEED_DEMO=1` / `0`; unset or empty: the server's default. */
export function parseSeedDemo(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined
  if (value === '1' || value === 'true') return true
  if (value === '0' || value === 'false') return false
  throw new Error(`SEED_DEMO must be 1 or 0, got ${value}`)
}

/** `TRUST_PROXY=1` (any proxy), or a comma-separated list of proxy addresses / CIDRs; unset: the socket's address. */
export function parseTrustProxy(value: string | undefined): boolean | string[] | undefined {
  if (value === undefined || value === '' || value === '0' || value === 'false') return undefined
  if (value === '1' || value === 'true') return true
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}
