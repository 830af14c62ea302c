import { STATUS_CODES, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import type { ErrorCode } from '../../src/contract'

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

/**
 * What every answer of the Socket.IO endpoint carries. Engine.IO answers its path itself, ahead of Fastify (it takes
 * over the server's `request` listeners), so helmet never sees those answers: a polling handshake, a poll carrying
 * the user's events, and Engine.IO's own refusals. None of them is a page: nothing may be loaded, framed or kept.
 */
export const SOCKET_ENDPOINT_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // As helmet sends it on every other answer: no other site loads a poll (the user's events) as a no-cors resource
  // (`<script>`, `<img>`) into its own process. CORS requests (an allowed origin's polls) are not affected.
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  // As helmet sends it on every other answer (browsers take it only over HTTPS).
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
}

/**
 * Sets `SOCKET_ENDPOINT_HEADERS` on every request for Socket.IO's `path` (as Engine.IO matches it: a prefix of the raw
 * URL), before Engine.IO or anyone else answers it; its own headers (content type, CORS) are added to these.
 *
 * Call it after `new Server(httpServer)`: Engine.IO's `attach` takes the listeners there are and calls them only for
 * other paths, so a listener added before would never see a Socket.IO request.
 *
 * @example const io = new Server(httpServer); registerSocketEndpointHeaders(httpServer)
 */
export function registerSocketEndpointHeaders(httpServer: HttpServer, path = '/socket.io/'): void {
  httpServer.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!(req.url ?? '').startsWith(path)) return
    for (const [name, value] of Object.entries(SOCKET_ENDPOINT_HEADERS)) res.setHeader(name, value)
  })
}

/** A refusal in the contract's terms: its status, its code and message, and the wait a 429 asks for. */
export interface Refusal {
  status: number
  code: ErrorCode
  message: string
  retryAfterMs?: number
}

/**
 * Engine.IO, and ws under it, refuse a WebSocket upgrade by writing their own answer straight to the socket: text/html
 * without a charset, and none of `SOCKET_ENDPOINT_HEADERS` (no response object reaches the listener above). On
 * Socket.IO's `path`, such a refusal (the first bytes written to the socket, a 4xx or 5xx status) goes out as
 * `rawErrorResponse` instead: the one `refusalOf` gives for the request (Engine.IO writes a 400 whatever its reason,
 * and a middleware's reason not at all), else with Engine.IO's status and message; an accepted upgrade's 101 and the
 * frames after it pass as they are.
 *
 * @example const io = new Server(httpServer); registerSocketUpgradeRefusals(httpServer)
 */
export function registerSocketUpgradeRefusals(
  httpServer: HttpServer,
  path = '/socket.io/',
  refusalOf: (req: IncomingMessage) => Refusal | undefined = () => undefined,
): void {
  httpServer.prependListener('upgrade', (req: IncomingMessage, socket: Duplex) => {
    if (!(req.url ?? '').startsWith(path)) return
    const { write, end } = socket
    /** The first chunk, as a refusal in the contract's shape when it is one; the socket's own methods back after it. */
    const reshaped = (chunk: unknown): unknown => {
      socket.write = write
      socket.end = end
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('latin1') : ''
      const refusal = /^HTTP\/1\.1 ([45]\d\d) [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*)$/.exec(text)
      if (!refusal) return chunk
      const known = refusalOf(req)
      return known
        ? rawErrorResponse(known.status, known.message, known.code, known.retryAfterMs)
        : rawErrorResponse(Number(refusal[1]), `WebSocket upgrade: ${refusal[2]?.slice(0, 200)}`)
    }
    socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
      return (write as (...args: unknown[]) => boolean).call(this, reshaped(chunk), ...rest)
    } as Duplex['write']
    socket.end = function (this: Duplex, chunk?: unknown, ...rest: unknown[]) {
      return (end as (...args: unknown[]) => Duplex).call(this, reshaped(chunk), ...rest)
    } as Duplex['end']
  })
}

/**
 * An error answer's headers and body (INVALID unless `code` says otherwise; with `retryAfterMs`, in the body and as
 * `Retry-After`), for what no route answers; the connection is closed after it.
 */
export function errorAnswer(
  message: string,
  code: ErrorCode = 'INVALID',
  retryAfterMs?: number,
): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify({
    error: retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs },
  })
  const headers = {
    ...SOCKET_ENDPOINT_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    ...(retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) }),
    connection: 'close',
  }
  return { headers, body }
}

/** `errorAnswer` as the bytes to write straight to a socket that has no response object. */
export function rawErrorResponse(
  status: number,
  message: string,
  code: ErrorCode = 'INVALID',
  retryAfterMs?: number,
): string {
  const { headers, body } = errorAnswer(message, code, retryAfterMs)
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines.join('\r\n')}\r\n\r\n${body}`
}
