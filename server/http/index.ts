// Why Fastify: schema-free but fast JSON routing with a proper error-handler/not-found-handler pair (so every failure,
// including malformed JSON and oversize bodies, becomes our `{ error: { code, message } }`), encapsulated plugins
// for the `/api` prefix, first-party static files (@fastify/static) and CORS, pino as its built-in logger, and an
// `inject()` for fast in-process tests. It leaves the Node `http.Server` to us, so Socket.IO attaches to the same port.
import { existsSync } from 'node:fs'
import { maxHeaderSize, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { join, posix, relative, resolve, sep } from 'node:path'
import cors from '@fastify/cors'
import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { type ApiError, HTTP_STATUS, MAX_PACKET_BYTES } from '../../src/contract'
import { bearerToken } from '../auth'
import { trustProxyOf, type TrustProxy } from '../clientAddress'
import { AppError, isRedisFailure, toApiError } from '../errors'
import type { Logger } from '../logger'
import type { OriginPolicy } from '../origins'
import type { Services } from '../services'
import type { SessionStore } from '../sessions'
import { registerApiRoutes, type ApiDeps } from './api'
import { parseJsonBody } from './jsonBody'
import { errorAnswer, rawErrorResponse, registerSecurityHeaders } from './securityHeaders'

export interface HttpDeps {
  services: Services
  sessions: SessionStore
  origins: OriginPolicy
  /** The built SPA (`dist/`); served with a fallback to index.html for client-side routes. */
  staticDir?: string
  readLimiter: ApiDeps['readLimiter']
  refreshLimiter: ApiDeps['refreshLimiter']
  loginLimiter: ApiDeps['loginLimiter']
  presenceFor?: ApiDeps['presenceFor']
  health?: ApiDeps['health']
}

export interface HttpAppOptions {
  /** Fastify's `trustProxy`: take the client address from `X-Forwarded-For`. Default false (the socket's address). */
  trustProxy?: TrustProxy
  /** The whole request (headers and body) must arrive within this. Default 30 s. */
  requestTimeoutMs?: number
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** An idle connection (no byte either way) is closed after this; above Socket.IO's long-polling wait (one ping). */
export const CONNECTION_TIMEOUT_MS = 60_000

/** The Fastify app, not yet configured: its Node server exists at once, so Socket.IO can attach before routes. */
export function createHttpApp(logger: Logger, options: HttpAppOptions = {}): FastifyInstance {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: MAX_PACKET_BYTES,
    // On shutdown, close the idle keep-alive connections and answer the requests under way (then close theirs):
    // cutting those would leave their clients unable to tell whether a write was kept. A request still arriving after
    // 3 s has its connection closed (`startServer`'s close); otherwise a trickle is bounded by `requestTimeout`.
    forceCloseConnections: 'idle',
    trustProxy: trustProxyOf(options.trustProxy),
    // A client trickling its request (slowloris) is answered 408 and cut; Node checks every connectionsCheckingInterval.
    requestTimeout,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    // Node's own refusal of an HTTP/1.1 request without Host is a bare 400: `lacksHost` is refused in our shape instead.
    http: {
      connectionsCheckingInterval: Math.min(5_000, Math.max(250, Math.floor(requestTimeout / 4))),
      requireHostHeader: false,
    },
    // The router would answer these itself, before every hook, in its own shape (414, `FST_ERR_BAD_URL`): a long id
    // goes to its route (an unknown id: NOT_FOUND), a path that cannot be decoded to the not-found handler (INVALID),
    // both with the Origin check and the headers of every answer. (Node refuses a request line over 16 KB.)
    routerOptions: { maxParamLength: 16 * 1024 },
    rewriteUrl: (req) => undecodableAs(originForm(req.url ?? '/')),
    clientErrorHandler: answerClientError,
  }) as unknown as FastifyInstance
  app.server.headersTimeout = Math.min(10_000, requestTimeout)
  // A request under way when the server starts closing is answered with `connection: close`: kept alive, its idle
  // connection would hold the close until the client dropped it (Node closes the idle ones only as the close begins).
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  // Node would close a CONNECT unanswered (no one listens for it): this is no proxy, and says so.
  app.server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined)
    socket.end(rawErrorResponse(400, 'CONNECT: this server is not a proxy'))
  })
  // Node would answer an Expect it cannot meet with a bare 417 (no body, no security headers) and keep the connection.
  app.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const { headers, body } = errorAnswer('Expect: only 100-continue is supported')
    res.writeHead(417, headers).end(body)
  })
  return app
}

/**
 * What Node refuses before any route or hook runs (a malformed request, headers over its limit, a request too slow):
 * answered in the contract's shape with the headers every other answer carries (nothing may be sniffed, framed or
 * kept), then the connection is closed, as Fastify's default handler does (its answer had neither).
 *
 * @example clientErrorResponse('HPE_HEADER_OVERFLOW') // 'HTTP/1.1 431 Request Header Fields Too Large\r\n…'
 */
export function clientErrorResponse(code: string | undefined): string {
  // A request that did not all arrive in time is no refusal of what it asked (INVALID is final for a client, the
  // contract's `isRefusal`): sent again, it may well pass. INTERNAL is the contract's code a client retries.
  return code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? rawErrorResponse(408, 'request: not received in time', 'INTERNAL')
    : code === 'HPE_HEADER_OVERFLOW'
      ? rawErrorResponse(431, `request: URL and headers over ${maxHeaderSize} bytes`)
      : rawErrorResponse(400, 'request: malformed')
}

function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nothing left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  // Its code and message only: Node attaches the bytes it had read (`rawPacket`), an `Authorization` header included.
  this.log.trace({ code: error.code, reason: error.message }, 'client error')
  if (socket.writable) socket.write(clientErrorResponse(error.code))
  socket.destroy(error)
}

/**
 * A 401's `WWW-Authenticate`: the Bearer scheme, with `error="invalid_token"` when the request carried a Bearer token.
 *
 * @example bearerChallenge('Bearer eyJ…') // 'Bearer realm="talemy", error="invalid_token"'
 */
function bearerChallenge(authorization: string | undefined): string {
  return bearerToken(authorization) === undefined
    ? 'Bearer realm="talemy"'
    : 'Bearer realm="talemy", error="invalid_token"'
}

/** Error and not-found handlers, the `/api` routes behind the Origin check and CORS, and the SPA. */
export function configureHttpApp(
  app: FastifyInstance,
  { services, sessions, origins, staticDir, readLimiter, refreshLimiter, loginLimiter, presenceFor, health }: HttpDeps,
): FastifyInstance {
  const apiUrl = process.env.VITE_API_URL || process.env.NEXT_PUBLIC_API_URL
  void registerSecurityHeaders(app, () => (apiUrl ? [...origins.list(), apiUrl] : origins.list()))

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const [status, apiError] =
      error instanceof AppError ? [HTTP_STATUS[error.code], toApiError(error)] : fromFrameworkError(error)
    // Redis's failures are said once per outage (`watchCommands`), not once per request that met one.
    if (apiError.code === 'INTERNAL' && !isRedisFailure(error)) request.log.error({ err: error }, 'request failed')
    if (apiError.retryAfterMs !== undefined) reply.header('retry-after', Math.ceil(apiError.retryAfterMs / 1000))
    // A 401 names its scheme (RFC 7235), and says when the Bearer sent was refused (expired, revoked, not ours: RFC 6750)
    // rather than missing, so that a client knows to refresh it.
    if (status === 401) reply.header('www-authenticate', bearerChallenge(request.headers.authorization))
    // A Range refused says what there is (`bytes */<size>`), which `send` hands over on its error.
    const range = (error as { headers?: Record<string, string> }).headers?.['Content-Range']
    if (status === 416 && range) reply.header('content-range', range)
    return reply.status(status).send({ error: apiError })
  })

  // Relative to the working directory, as the contract allows; @fastify/static takes only an absolute root.
  const root = staticDir ? resolve(staticDir) : undefined
  const index = root && existsSync(join(root, 'index.html')) ? root : undefined
  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const path = routePath(request.url)
    if (index && (request.method === 'GET' || request.method === 'HEAD') && isClientRoute(path)) {
      return reply.type('text/html').header('cache-control', 'no-cache').sendFile('index.html', index)
    }
    if (path === UNDECODABLE || path === `/api${UNDECODABLE}`) {
      return reply
        .status(400)
        .send({ error: { code: 'INVALID', message: 'path: not a valid URL (a malformed %-escape)' } })
    }
    // An unknown /api path, and a missing file (a stale chunk after a deploy, a typo): 404, never the SPA's HTML. Never
    // kept either: a 404 is cacheable by default, and a CDN would go on answering it for a file there by then.
    return reply
      .status(404)
      .header('cache-control', 'no-store')
      .send({ error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${path.slice(0, 200)}` } })
  }
  app.setNotFoundHandler(notFound)

  // API answers carry tokens and personal data: no browser or proxy cache keeps them (set first, so refusals have it too).
  // Each is JSON data, never a page (ASVS 14.4.2): one opened as a document (a link, a new tab) is a download, not a
  // body shown in this origin.
  app.addHook('onRequest', async (request, reply) => {
    if (!isApiPath(routePath(request.url))) return
    reply.header('cache-control', 'no-store')
    reply.header('content-disposition', API_CONTENT_DISPOSITION)
  })

  // Closed after, as Node does: what else the client sends on this connection is no more to be trusted.
  app.addHook('onRequest', async (request, reply) => {
    if (!lacksHost(request.raw)) return
    reply.header('connection', 'close')
    throw new AppError('INVALID', 'Host: required in an HTTP/1.1 request')
  })

  // A browser request to /api from a foreign origin is refused before anything else (CORS headers alone do not stop
  // it), on every /api path: known routes, unknown ones (404s) and preflights alike.
  app.addHook('onRequest', async (request) => {
    if (isApiPath(routePath(request.url)) && !origins.isAllowed(request.headers.origin)) {
      throw new AppError('FORBIDDEN', 'origin not allowed')
    }
  })

  // `content-type: application/json` with an empty body (some clients send it with POST /auth/refresh) is no body.
  app.addHook('onRequest', async (request) => {
    const length = request.headers['content-length']
    const hasBody = length !== undefined ? length !== '0' : request.headers['transfer-encoding'] !== undefined
    if (!hasBody) delete request.headers['content-type']
  })

  void app.register(
    async (api) => {
      // Fastify reads text/plain as a string, which the check below would call "expected an object" when the body is
      // one: JSON sent as text/plain (fetch's type for a string body) is told its content type, like any other type.
      api.removeContentTypeParser('text/plain')
      api.removeContentTypeParser('application/json')
      api.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
        try {
          done(null, parseJsonBody(body as string))
        } catch (error) {
          done(error as Error, undefined)
        }
      })
      // Every body this API takes is a JSON object: say so, rather than "field: is required" for `[]` or `"x"`.
      api.addHook('preValidation', async (request) => {
        const { body } = request
        // A path no route has is NOT_FOUND, whatever its body.
        if (request.is404) return
        if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
          throw new AppError('INVALID', 'body: expected an object')
        }
      })
      // Answered here, in our shape: CORS's strict preflight check would send a text/plain 400 without an error code.
      api.addHook('onRequest', async (request) => {
        if (
          request.method === 'OPTIONS' &&
          (!request.headers.origin || !request.headers['access-control-request-method'])
        )
          throw new AppError(
            'INVALID',
            'OPTIONS: not a CORS preflight (Origin and Access-Control-Request-Method needed)',
          )
      })
      // Before the checks below: a page on another allowed origin reads their refusals too.
      await api.register(cors, {
        origin: (origin, callback) => callback(null, origins.isAllowed(origin)),
        methods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
        // Idempotency-Key: a page on another origin books once however often it retries (see server/http/idempotency.ts).
        allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
        // A page on another origin reads a 429's wait from these (the browser's base query; `Date` for a dated wait),
        // and a refresh answered again from the reuse window's `Age` (how old its token is).
        exposedHeaders: ['retry-after', 'date', 'age'],
        maxAge: 600,
      })
      // Node keeps the first of two and drops the other: which one a proxy in front checked is anyone's guess.
      api.addHook('onRequest', async (request) => {
        if ((request.raw.headersDistinct.authorization?.length ?? 0) > 1)
          throw new AppError('INVALID', 'Authorization: given twice')
      })
      // Bodies are read as they come: a compressed one was "not valid JSON", a plain one labelled so was taken. (The
      // onRequest hook of the app has dropped the type of an empty body: a type means a body.) This and the charset's
      // check are about the body: they run as it is about to be read, after the endpoints' check of the Bearer
      // (a route's onRequest), as its parsing does.
      api.addHook('preParsing', async (request, _reply, payload) => {
        const encoding = request.headers['content-encoding']
        if (
          request.headers['content-type'] !== undefined &&
          encoding !== undefined &&
          !/^\s*identity\s*$/i.test(encoding)
        )
          throw new AppError('INVALID', 'body: send it uncompressed (no Content-Encoding)')
        return payload
      })
      // JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset was read as UTF-8 anyway, its text garbled.
      api.addHook('preParsing', async (request, _reply, payload) => {
        const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(request.headers['content-type'] ?? '')?.[1]
        if (charset !== undefined && !/^utf-?8$/i.test(charset))
          throw new AppError('INVALID', `body: send JSON in UTF-8 (charset=${charset.slice(0, 40)} given)`)
        return payload
      })
      registerApiRoutes(api, { services, sessions, readLimiter, refreshLimiter, loginLimiter, presenceFor, health })
      // The /api paths no route has are answered here, where the hooks above run (the root's handler is outside them):
      // a page on another allowed origin reads its 404 (CORS headers), rather than the network error a browser makes it.
      api.setNotFoundHandler(notFound)
    },
    { prefix: '/api' },
  )

  if (index) {
    void app.register(fastifyStatic, {
      root: index,
      prefix: '/',
      wildcard: true,
      index: ['index.html'],
      // Dotfiles (.env, .git/…) and source maps are never served, even when a build leaves them in the folder. `.MAP`
      // too: a case-insensitive filesystem (macOS, Windows) answers `/assets/app.js.MAP` with app.js.map.
      dotfiles: 'ignore',
      allowedPath: (pathName) => !hasDotSegment(pathName) && !pathName.toLowerCase().endsWith('.map'),
      // Vite names what it writes in assets/ by its content: kept a year. The rest (index.html above all, which names
      // them) is asked again each time: a page kept from before a deploy would ask for chunks that are gone.
      cacheControl: false,
      setHeaders: (res, filePath) =>
        res.setHeader(
          'cache-control',
          relative(index, filePath).startsWith(`assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        ),
    })
  }
  return app
}

/**
 * The path as the router sees it: percent-decoded (`/%61pi/me` is `/api/me`), dot segments and repeated slashes
 * resolved, lower-cased (so `/API` is treated as API too: refusing more is safe). Undecodable input stays as it is.
 *
 * @example routePath('/%61pi//x/../me?q=1') // '/api/me'
 */
export function routePath(url: string): string {
  const raw = url.split('?')[0] ?? ''
  let decoded = raw
  try {
    decoded = decodeURIComponent(raw)
  } catch {
    // malformed escapes: the router answers 400 for them anyway
  }
  return posix.normalize(decoded.replaceAll('\\', '/')).toLowerCase()
}

/** What every `/api` answer carries (ASVS 14.4.2). */
export const API_CONTENT_DISPOSITION = 'attachment; filename="api.json"'

const isApiPath = (path: string): boolean => path === '/api' || path.startsWith('/api/')

/**
 * A request target in absolute form (`http://host/path?q`, as sent to a proxy, and which a server must accept) in its
 * origin form (`/path?q`). The router drops the scheme and host by itself, where the hooks (the Origin check,
 * `no-store`) would read no /api path at all: rewritten first, both read the one path. Anything else is left as it is.
 *
 * @example originForm('http://127.0.0.1/api/auth/login?x=1') // '/api/auth/login?x=1'
 */
export function originForm(url: string): string {
  if (url.startsWith('/') || !/^https?:\/\//i.test(url)) return url
  try {
    const parsed = new URL(url)
    return `${parsed.pathname}${parsed.search}`
  } catch {
    return url
  }
}

/** An HTTP/1.1 request without the Host header it must carry (RFC 9112 §3.2): refused with 400. */
export const lacksHost = (req: IncomingMessage): boolean =>
  req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && req.headers.host === undefined

/** Where a path that cannot be percent-decoded is routed (under /api for an /api path): no route has it. */
const UNDECODABLE = '/.undecodable'

/** `url` itself, or, when its path cannot be percent-decoded, the path no route has (see `createHttpApp`). */
function undecodableAs(url: string): string {
  try {
    decodeURIComponent(url.split('?')[0] ?? '')
    return url
  } catch {
    return isApiPath(routePath(url)) ? `/api${UNDECODABLE}` : UNDECODABLE
  }
}

const hasDotSegment = (path: string): boolean => path.split('/').some((segment) => segment.startsWith('.'))

/**
 * A path the SPA's router owns: not /api, not under /assets/ (Vite's hashed build output) and without a file extension
 * in its last segment. Anything else that is not a file is a missing file, answered 404.
 */
export function isClientRoute(path: string): boolean {
  if (isApiPath(path) || path === '/assets' || path.startsWith('/assets/') || hasDotSegment(path)) return false
  const last = path.slice(path.lastIndexOf('/') + 1)
  return !/\.[^.]+$/.test(last)
}

/** Fastify's own errors (bad JSON, body too large, wrong content type…) and @fastify/static's, in our wire shape. */
function fromFrameworkError(error: FastifyError): [status: number, error: ApiError] {
  const status = error.statusCode ?? 500
  if (status === 413) return [400, { code: 'INVALID', message: `body: larger than ${MAX_PACKET_BYTES} bytes` }]
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.name === 'SyntaxError') {
    return [400, { code: 'INVALID', message: 'body: not valid JSON' }]
  }
  if (status === 415) return [400, { code: 'INVALID', message: 'body: send JSON (content-type: application/json)' }]
  // Without a Fastify code, a refusal of @fastify/static's `send`: about the path, or a Range or condition it cannot
  // meet, whose status (and Content-Range, set from the error) the client acts on.
  if (status >= 400 && status < 500 && !error.code?.startsWith('FST_ERR')) {
    if (status === 403) return [403, { code: 'FORBIDDEN', message: 'path: not allowed' }]
    if (status === 412) return [412, { code: 'INVALID', message: 'If-Match / If-Unmodified-Since: not met' }]
    if (status === 416) return [416, { code: 'INVALID', message: 'Range: not satisfiable' }]
    return [400, { code: 'INVALID', message: 'path: not a valid file path' }]
  }
  if (status >= 400 && status < 500) return [400, { code: 'INVALID', message: `body: ${error.message}`.slice(0, 300) }]
  return [500, { code: 'INTERNAL', message: 'internal server error' }]
}
