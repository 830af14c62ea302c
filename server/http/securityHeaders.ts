import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

/**
 * Where the SPA may connect: its own origin and the API's (`VITE_API_URL` / `NEXT_PUBLIC_API_URL`, the variables the
 * build reads), each also in its WebSocket form (`ws:` for `http:`, `wss:` for `https:`), which older browsers do not
 * count as 'self'. Origins that are not URLs are left out.
 *
 * @example connectSources(['http://localhost:3000']) // ["'self'", 'http://localhost:3000', 'ws://localhost:3000']
 */
export function connectSources(origins: readonly string[]): string[] {
  const sources = new Set(["'self'"])
  for (const origin of origins) {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      continue
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue
    sources.add(url.origin)
    sources.add(`${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}`)
  }
  return [...sources]
}

/**
 * Security headers on every response (helmet): a CSP for the built SPA (Vite emits no inline script, so
 * `script-src 'self'`), no framing, no MIME sniffing, no referrer. `upgrade-insecure-requests` is left out: the server
 * also runs on plain http://127.0.0.1, where it would break every asset.
 *
 * @example await registerSecurityHeaders(app, () => [...allowedOrigins, process.env.VITE_API_URL ?? ''])
 */
export async function registerSecurityHeaders(
  app: FastifyInstance,
  apiOrigins: () => readonly string[],
): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // React sets style properties through the CSSOM (not affected by CSP); the CSS itself comes from files.
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: [() => connectSources(apiOrigins()).join(' ')],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  })
}
