/**
 * Which browser origins may call the API and open the socket. Requests without an Origin header (non-browser
 * clients) always pass; a browser request from any other origin is refused.
 */
export class OriginPolicy {
  private allowed: Set<string>
  private readonly configured: boolean

  constructor(configured?: readonly string[]) {
    this.allowed = new Set((configured ?? []).map(normalizeOrigin))
    this.configured = configured !== undefined && configured.length > 0
  }

  /**
   * The defaults, once the port is known (port 0 means "any", so only after listening), and `url`, the address the
   * server gives for itself: on another HOST (`127.0.0.2`, a name), the page it serves there was refused its own origin.
   */
  useDefaultsFor(port: number, url?: string): void {
    if (this.configured) return
    this.allowed = new Set([...defaultOrigins(port), ...(url ? [ownOrigin(url)] : [])])
  }

  isAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true
    return this.allowed.has(normalizeOrigin(origin))
  }

  list(): string[] {
    return [...this.allowed]
  }
}

/**
 * The origin a browser sends for the server's own `url`. An IPv6 zone (`http://[fe80::1%eth0]:3000`, HOST on a
 * link-local address) is no part of a URL (`new URL` threw, failing the start) nor of what a browser sends: left out.
 */
function ownOrigin(url: string): string {
  return new URL(url.replace(/%[^\]]*\]/, ']')).origin
}

export function defaultOrigins(port: number): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`, 'http://localhost:5173', 'http://127.0.0.1:5173']
}

/**
 * `ALLOWED_ORIGINS="http://a.test, http://b.test"` → list; empty or unset → undefined (the defaults). Each item is an
 * origin as a browser sends it (`https://host[:port]`, a default port left out); anything else (no scheme, a path, `*`)
 * no browser would match, so every browser would be refused without a word: it is refused here, naming it.
 */
export function parseOriginList(value: string | undefined): string[] | undefined {
  const list = (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map(originOf)
  return list.length > 0 ? list : undefined
}

function originOf(item: string): string {
  let url: URL | undefined
  try {
    url = new URL(item)
  } catch {
    // said below
  }
  const bare = url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password
  if (!url || !bare || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new Error(
      `ALLOWED_ORIGINS: ${JSON.stringify(item)} is not an origin; give scheme://host[:port] as browsers send it, e.g. https://app.example.com`,
    )
  return url.origin
}

function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase()
}
