import type { Server as HttpServer } from 'node:http'
import { connect as connectTcp } from 'node:net'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isRefusal } from '../../src/contract'
import { parseRequest, createLessonBodySchema, startsAtProblem } from '../../src/contract/requests'
import { connectSources } from '../../server/http/securityHeaders'
import { routePath } from '../../server/http'
import { outcomeOfHttpError } from '../../src/realtime/sendOutcome'
import { checkJwtSecret } from '../../server/secrets'
import { startServer } from '../../server/index'
import viteConfig from '../../vite.config'
import { socketPathAnswer } from './support/socketPathAnswer'
import { ALICE, http, killSpawned, login, spawnMain, startTestServer, type TestServer } from './support/server'

// Findings 6, 7 and 8: security headers and timeouts, the Origin check on the decoded path, input that passed
// validation, weak secrets, what static serving gives away.

describe('security headers (helmet)', () => {
  let server: TestServer
  let dist: string
  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'talemy-dist-'))
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Talemy</title><div id="root"></div>')
    server = await startTestServer({ staticDir: dist })
  })
  afterAll(async () => {
    await server?.dispose()
    rmSync(dist, { recursive: true, force: true })
  })

  it.each([
    ['the page', '/'],
    ['a client route (the SPA fallback)', '/messages/conv-alice-bob'],
    ['an API answer', '/api/me'],
    ['an API 404', '/api/nope'],
    ['a missing file', '/assets/missing.js'],
  ])('are on %s', async (_name, path) => {
    const { headers } = await http(server.url, 'GET', path)
    const csp = headers.get('content-security-policy') ?? ''
    const directives = Object.fromEntries(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    )
    expect(directives['script-src']).toEqual(["'self'"])
    expect(directives['object-src']).toEqual(["'none'"])
    expect(directives['base-uri']).toEqual(["'self'"])
    expect(directives['frame-ancestors']).toEqual(["'none'"])
    expect(directives['connect-src']).toEqual(
      expect.arrayContaining(["'self'", server.url, server.url.replace('http:', 'ws:')]),
    )
    expect(directives).not.toHaveProperty('upgrade-insecure-requests')
    expect(headers.get('x-content-type-options')).toBe('nosniff')
    expect(headers.get('referrer-policy')).toBe('no-referrer')
    expect(headers.get('x-frame-options')).toBe('DENY')
  })

  // ASVS 14.4.2: an API answer is data, never a page. Opened as a document (a link, a new tab on /api/…), a JSON body
  // carrying a user's text was shown in the API's origin; `Content-Disposition: attachment` makes it a download.
  it.each([
    ['an answer', 'GET', '/api/me', { token: true }, 200],
    ['a login', 'POST', '/api/auth/login', { login: true }, 200],
    ['a 401', 'GET', '/api/me', {}, 401],
    ['a 404', 'GET', '/api/nope', {}, 404],
    ['a foreign Origin refused', 'GET', '/api/me', { headers: { origin: 'https://evil.example' } }, 403],
    ['an invalid body', 'POST', '/api/auth/login', { body: '[' }, 400],
  ] as const)('API answers are attachments: %s', async (_name, method, path, options, status) => {
    const token = 'token' in options ? (await login(server.url, ALICE)).token : undefined
    const body =
      'login' in options ? { email: ALICE, password: 'talemy' } : 'body' in options ? options.body : undefined
    const headers = 'headers' in options ? options.headers : undefined
    const result = await http(server.url, method, path, { token, body, headers })
    expect(result.status).toBe(status)
    expect(result.headers.get('content-disposition')).toBe('attachment; filename="api.json"')
  })

  it.each([
    ['the page', 'GET', '/'],
    ['a client route (the SPA fallback)', 'GET', '/messages/conv-alice-bob'],
    ['a missing file', 'GET', '/assets/missing.js'],
    ['a polling handshake', 'GET', '/socket.io/?EIO=4&transport=polling'],
  ])('%s is not an attachment', async (_name, method, path) => {
    const { headers } = await http(server.url, method, path)
    expect(headers.get('content-disposition')).toBeNull()
  })

  // Review (ASVS 14.4.3/14.4.4/14.4.5/14.4.7, V13): Engine.IO answers /socket.io/ itself, before Fastify and helmet, so
  // its answers (a polling handshake, a poll carrying the user's events, its own 400s) had no security header at all.
  it.each([
    ['a polling handshake', 'GET', '/socket.io/?EIO=4&transport=polling', 200],
    ['an unknown transport', 'GET', '/socket.io/?EIO=4&transport=nope', 400],
    ['an unsupported protocol', 'GET', '/socket.io/?EIO=9&transport=polling', 400],
    ['a poll of an unknown session', 'POST', '/socket.io/?EIO=4&transport=polling&sid=nope', 400],
  ])('are on the Socket.IO endpoint too: %s', async (_name, method, path, status) => {
    const result = await http(server.url, method, path, method === 'POST' ? { body: '1' } : {})
    expect(result.status).toBe(status)
    const { headers } = result
    const csp = headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(headers.get('x-content-type-options')).toBe('nosniff')
    expect(headers.get('referrer-policy')).toBe('no-referrer')
    expect(headers.get('x-frame-options')).toBe('DENY')
    expect(headers.get('cache-control')).toBe('no-store')
    expect(headers.get('strict-transport-security')).toMatch(/^max-age=\d+/)
    expect(headers.get('cross-origin-resource-policy')).toBe('same-origin')
  })

  // ASVS 14.4.5: one HSTS policy (a year, subdomains included) on the API, the SPA and Socket.IO's answers alike; the
  // engine's copy is written by hand (SOCKET_ENDPOINT_HEADERS) and must not drift from helmet's. The server speaks
  // plain HTTP only, over which browsers ignore the header (RFC 6797 §8.1), as they do for an IP host (§8.1.1).
  it('HSTS is the same on every kind of answer', async () => {
    const paths = ['/', '/api/me', '/api/nope', '/socket.io/?EIO=4&transport=polling', '/socket.io/?EIO=9']
    const sent = await Promise.all(
      paths.map(async (path) => (await http(server.url, 'GET', path)).headers.get('strict-transport-security')),
    )
    expect(sent).toEqual(paths.map(() => 'max-age=31536000; includeSubDomains'))
  })

  // Review (ASVS 14.4): helmet gives every other answer `Cross-Origin-Resource-Policy: same-origin`; Engine.IO's answers
  // had none, so another site could load a poll (the user's events) as a no-cors resource (`<script>`, `<img>`), and
  // have it in its process for a Spectre-style read. Every answer of the engine has it now: a session's polls, its
  // refusals (ours and Engine.IO's), an upgrade refused.
  it('Socket.IO: a poll of a live session, and the refusals, are same-origin resources', async () => {
    const handshake = await http<string>(server.url, 'GET', '/socket.io/?EIO=4&transport=polling')
    const sid = /"sid":"([^"]+)"/.exec(String(handshake.body))?.[1]
    expect(sid).toBeDefined()
    const answers = [
      handshake.headers,
      (await http(server.url, 'GET', `/socket.io/?EIO=4&transport=polling&sid=${sid}`)).headers,
      (await http(server.url, 'GET', '/socket.io/?EIO=4&transport=polling&j=0')).headers,
      (
        await http(server.url, 'GET', '/socket.io/?EIO=4&transport=polling', {
          headers: { origin: 'https://evil.example' },
        })
      ).headers,
    ].map((headers): unknown[] => [headers.get('cross-origin-resource-policy'), headers.get('x-content-type-options')])
    const upgrade = await socketPathAnswer(
      `${server.url}/socket.io/?EIO=4&transport=websocket`,
      { origin: 'https://evil.example' },
      { websocket: true },
    )
    answers.push([upgrade.headers['cross-origin-resource-policy'], upgrade.headers['x-content-type-options']])
    expect(answers).toEqual(Array(5).fill(['same-origin', 'nosniff']))
  })

  it.each([
    [['http://localhost:3000'], ["'self'", 'http://localhost:3000', 'ws://localhost:3000']],
    [['https://api.talemy.example/'], ["'self'", 'https://api.talemy.example', 'wss://api.talemy.example']],
    [['not a url', 'ftp://x.test'], ["'self'"]],
  ])('connect-src for %o', (origins, expected) => {
    expect(connectSources(origins)).toEqual(expected)
  })
})

// The defaults were the port on localhost and 127.0.0.1 only: on another HOST (an address, a name), `npm start` said
// "open http://127.0.0.2:3000", and the page it served there was refused its own Origin (403 on login, the socket too).
describe('the origin the server names as its own', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ host: '127.0.0.2' })
  })
  afterAll(async () => {
    await server?.dispose()
  })

  it('is allowed without ALLOWED_ORIGINS', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.2:/)
    const result = await http(server.url, 'POST', '/api/auth/login', {
      body: { email: ALICE, password: 'talemy' },
      headers: { origin: server.url },
    })
    expect(result.status, JSON.stringify(result.body)).toBe(200)
    expect(server.allowedOrigins).toContain(server.url)
  })

  // A HOST with an IPv6 zone (a link-local address on one interface, `fe80::…%eth0`) is an address `HOST` takes, but
  // no URL: the start failed after listening, as "Invalid URL". The origin a browser sends for it has no zone.
  it.runIf(process.platform === 'linux')(
    'lets a HOST with an IPv6 zone start, its address allowed without the zone',
    async () => {
      const zoned = await startTestServer({ host: '::1%lo', seedDemo: true })
      try {
        expect(zoned.allowedOrigins).toContain(`http://[::1]:${zoned.port}`)
        const result = await http(zoned.url.replace('%lo', ''), 'POST', '/api/auth/login', {
          body: { email: ALICE, password: 'talemy' },
          headers: { origin: `http://[::1]:${zoned.port}` },
        })
        expect(result.status, JSON.stringify(result.body)).toBe(200)
      } finally {
        await zoned.dispose()
      }
    },
  )
})

describe('the Origin check reads the path the router reads', () => {
  let server: TestServer
  let token: string
  beforeAll(async () => {
    server = await startTestServer()
    token = (await login(server.url, ALICE)).token
  })
  afterAll(() => server?.dispose())

  it.each([
    ['GET', '/%61pi/me', undefined],
    ['GET', '/api/%6De', undefined],
    ['POST', '/%61pi/auth/login', { email: ALICE, password: 'talemy' }],
    ['POST', '/%61%70%69/auth/login', { email: ALICE, password: 'talemy' }],
  ])('refuses a foreign Origin on %s %s', async (method, path, body) => {
    const result = await http(server.url, method, path, { token, body, headers: { origin: 'http://evil.test' } })
    expect(result.status).toBe(403)
    expect(result.body).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } })
  })

  it('still serves the same encoded path to an allowed Origin', async () => {
    const result = await http(server.url, 'GET', '/%61pi/me', { token, headers: { origin: server.url } })
    expect(result.status).toBe(200)
  })

  // Review: a request target in absolute form (`POST http://host/api/auth/login`, what a client sends to a proxy, and
  // what a server must accept) was routed to the API (the router drops the scheme and host) while the hooks read it as
  // no /api path at all: no Origin check, and a login's tokens answered without `Cache-Control: no-store`, for a
  // proxy on the way to keep.
  describe('a request target in absolute form (http://host/path)', () => {
    /** The status line and headers of a raw request's answer. */
    const raw = (request: string) =>
      new Promise<{ status: number; head: string }>((resolve) => {
        const socket = connectTcp(Number(new URL(server.url).port), '127.0.0.1', () => socket.write(request))
        let received = ''
        socket.on('data', (chunk) => (received += chunk.toString()))
        socket.on('error', () => undefined)
        socket.on('close', () => {
          const head = received.split('\r\n\r\n')[0] ?? ''
          resolve({ status: Number(head.split(' ')[1]), head: head.toLowerCase() })
        })
      })
    const login = (target: string, origin: string) => {
      const body = JSON.stringify({ email: ALICE, password: 'talemy' })
      return raw(
        `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    }

    it.each([
      'http://127.0.0.1/api/auth/login',
      'HTTPS://evil.test/%61pi/auth/login',
      'http://x/api/../api/auth/login',
    ])('refuses a foreign Origin on %s, with no-store', async (target) => {
      const { status, head } = await login(target, 'http://evil.test')
      expect(status).toBe(403)
      expect(head).toContain('cache-control: no-store')
    })

    it('serves an allowed Origin, with no-store', async () => {
      const { status, head } = await login(`${server.url}/api/auth/login`, server.url)
      expect(status).toBe(200)
      expect(head).toContain('cache-control: no-store')
    })
  })

  it.each([
    ['/%61pi/me', '/api/me'],
    ['/api//me?x=1', '/api/me'],
    ['/x/../api/me', '/api/me'],
    ['/API/me', '/api/me'],
    ['/%E0%A4%A', '/%e0%a4%a'],
    ['/assets/app.js', '/assets/app.js'],
  ])('routePath(%s) is %s', (url, expected) => {
    expect(routePath(url)).toBe(expected)
  })
})

describe('request timeout', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ requestTimeoutMs: 1_000 })
  })
  afterAll(() => server?.dispose())

  it('cuts a client that trickles its body', async () => {
    const { port } = new URL(server.url)
    const socket = connectTcp(Number(port), '127.0.0.1')
    let received = ''
    socket.on('data', (chunk) => (received += chunk.toString()))
    // The server cutting the connection is the outcome: a trickle already on its way then meets a reset (ECONNRESET),
    // which would otherwise be thrown as uncaught (seen under `npm run test:load`).
    socket.on('error', () => undefined)
    socket.write(
      'POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{',
    )
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100)
    const started = Date.now()
    // The server must end it (past its 1 s bound): waited for as it comes, a connection never cut failing the test at
    // its timeout.
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    clearInterval(trickle)
    socket.destroy()
    expect(received).toMatch(/^HTTP\/1\.1 408/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  })

  // The server's 408 is in the contract's shape, whose code (INVALID) the browser's send path read first: a message
  // whose upload stalled past the timeout (a mobile link dropping out mid-request) was marked failed, with Retry and
  // Discard, though the server never received it, where a 408 without that body is retried.
  it("a send whose body stalls past it is answered 408, and the browser's send path retries it, not refuses it", async () => {
    const { token } = await login(server.url, ALICE)
    const clientId = `stalled-${Date.now()}`
    // Its first part only: the rest never comes.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"clientId":"${clientId}",`))
      },
    })
    const response = await fetch(`${server.url}/api/conversations/conv-alice-bob/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit)
    const data = (await response.json()) as unknown
    expect(response.status).toBe(408)
    // Nothing was stored: sending it again is what the user wants.
    const path = '/api/conversations/conv-alice-bob/messages'
    const stored = await http<{ clientId: string | null }[]>(server.url, 'GET', path, { token })
    expect(stored.body.some((message) => message.clientId === clientId)).toBe(false)
    expect(outcomeOfHttpError({ status: response.status, data }).kind).toBe('retry')
  })

  // Its body's code is what any client following the contract reads (the contract exports `isRefusal`): INVALID told
  // it the request was wrong and would be refused again, so a send that never reached the server was dropped.
  it('names a code a client retries, not a refusal, in its 408', async () => {
    const response = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"email":'))
        },
      }),
      duplex: 'half',
    } as RequestInit)
    const data = (await response.json()) as { error: { code: string; message: string } }
    expect(response.status).toBe(408)
    expect(data.error).toEqual({ code: 'INTERNAL', message: 'request: not received in time' })
    expect(isRefusal(data.error.code)).toBe(false)
  })

  it('defaults to 30 s for the request and 10 s for the headers', async () => {
    const plain = await startTestServer()
    try {
      const httpServer = plain.io.httpServer as HttpServer
      expect(httpServer.requestTimeout).toBe(30_000)
      expect(httpServer.headersTimeout).toBe(10_000)
    } finally {
      await plain.dispose()
    }
  })
})

// Review (ASVS 14.4.1/14.4.4/14.4.5, and the contract's `{ error: ApiError }`): a request Node itself refuses (a
// malformed request line or header, headers over its limit, a request too slow) never reaches Fastify's hooks. It was
// answered by Fastify's default clientError handler: `Content-Type: application/json` without a charset, no nosniff,
// no CSP, no no-store, and a body in Fastify's shape (`{"error":"Bad Request","statusCode":400}`), not the contract's.
describe('a request answered before any route (Node’s clientError, an Upgrade Socket.IO does not take)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ requestTimeoutMs: 1_000 })
  })
  afterAll(() => server?.dispose())

  /** Writes `request` raw and resolves with everything the server sent before closing. */
  const raw = (request: string, trickle = false) =>
    new Promise<string>((resolve) => {
      const socket = connectTcp(Number(new URL(server.url).port), '127.0.0.1', () => socket.write(request))
      let received = ''
      const timer = trickle ? setInterval(() => socket.writable && socket.write(' '), 100) : undefined
      socket.on('data', (chunk) => (received += chunk.toString()))
      socket.on('error', () => undefined)
      socket.on('close', () => {
        clearInterval(timer)
        resolve(received)
      })
    })

  const parse = (response: string) => {
    const [head = '', body = ''] = response.split('\r\n\r\n')
    const [statusLine = '', ...lines] = head.split('\r\n')
    const headers = new Map(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    )
    return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as unknown }
  }

  it.each([
    ['a malformed header', 'GET /api/me HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', false, 400],
    ['headers over the limit', `GET /api/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, false, 431],
    [
      'a body that trickles past the request timeout',
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{',
      true,
      408,
    ],
    // No byte more after the first chunk: the request timeout bounds the wait for the rest as it does a trickle.
    [
      'a chunked body that never finishes',
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{"\r\n',
      false,
      408,
    ],
    // Socket.IO listens for upgrades, so Node hands it every one: another path was closed a second later, unanswered
    // (`curl --http2 http://…` asks for h2c this way and saw "Empty reply from server").
    [
      'an Upgrade to a path that is not Socket.IO’s',
      'GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
      false,
      400,
    ],
    // A WebSocket upgrade Socket.IO's path refuses: Engine.IO (and ws under it) wrote its own text/html answer straight
    // to the socket, with none of the headers its other answers are given (no nosniff, no charset, no CSP).
    [
      'a WebSocket upgrade from a foreign Origin',
      'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      false,
      403,
    ],
    [
      'a WebSocket upgrade naming an unknown session',
      'GET /socket.io/?EIO=4&transport=websocket&sid=nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      false,
      400,
    ],
    [
      'a WebSocket upgrade without its key',
      'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
      false,
      400,
    ],
    // Node closed it unanswered: nobody listens for CONNECT (this is no proxy).
    ['a CONNECT', 'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n', false, 400],
    // Node answers these itself (417, an empty body) unless someone listens for them.
    [
      'an Expect other than 100-continue',
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      false,
      417,
    ],
  ])('%s is answered in the contract shape with the security headers', async (_name, request, trickle, status) => {
    const { status: got, headers, body } = parse(await raw(request, trickle))
    expect(got).toBe(status)
    // A 408 is no refusal of what was sent (it did not all arrive): named with a code a client retries.
    const code = status === 408 ? 'INTERNAL' : status === 403 ? 'FORBIDDEN' : 'INVALID'
    expect(body).toEqual({ error: { code, message: expect.any(String) } })
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(headers.get('x-content-type-options')).toBe('nosniff')
    expect(headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(headers.get('x-frame-options')).toBe('DENY')
    expect(headers.get('cache-control')).toBe('no-store')
    expect(headers.get('connection')).toBe('close')
    expect((await http(server.url, 'GET', '/api/me')).status).toBe(401)
  })

  // HTTP/1.1 requires Host; Node refused its absence with a bare 400 (no body, no security headers).
  it.each([
    ['an /api path', '/api/me', 'no-store'],
    ['the SPA', '/', null],
    // Engine.IO's own 400 { code: 3, message: 'Bad request' } before.
    ["Socket.IO's path", '/socket.io/?EIO=4&transport=polling', 'no-store'],
  ])(
    'an HTTP/1.1 request without Host to %s is 400 INVALID naming Host, with the security headers',
    async (_name, path, cache) => {
      const { status, headers, body } = parse(await raw(`GET ${path} HTTP/1.1\r\n\r\n`))
      expect(status).toBe(400)
      expect(body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining('Host') } })
      expect(headers.get('x-content-type-options')).toBe('nosniff')
      expect(headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
      expect(headers.get('cache-control') ?? null).toBe(cache)
      expect(headers.get('connection')).toBe('close')
      expect((await http(server.url, 'GET', '/api/me')).status).toBe(401)
    },
  )

  // Node keeps the first of two Authorization headers and drops the other: the request was served as the first's user,
  // whatever a proxy in front (reading the last) had checked.
  it('an /api request with two Authorization headers is 400 INVALID naming Authorization', async () => {
    const { token } = await login(server.url, ALICE)
    const { status, body } = parse(
      await raw(
        `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer other\r\nConnection: close\r\n\r\n`,
      ),
    )
    expect(status).toBe(400)
    expect(body).toEqual({ error: { code: 'INVALID', message: expect.stringContaining('Authorization') } })
    expect((await http(server.url, 'GET', '/api/me', { token })).status).toBe(200)
  })

  // Node's own check is off so that Fastify answers in the contract shape: Engine.IO must not serve what it let through.
  it('Socket.IO’s path refuses an HTTP/1.1 request without Host too', async () => {
    const response = await raw('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nConnection: close\r\n\r\n')
    expect(response).toMatch(/^HTTP\/1\.1 400 /)
  })
})

describe('static files', () => {
  let server: TestServer
  let dist: string
  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'talemy-dist-'))
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Talemy</title>')
    mkdirSync(join(dist, 'assets'))
    writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)')
    writeFileSync(join(dist, 'assets', 'app.js.map'), '{"version":3}')
    // What a case-insensitive filesystem (macOS, Windows) hands over for `/assets/app.js.MAP`: the map itself.
    writeFileSync(join(dist, 'assets', 'other.js.MAP'), '{"version":3}')
    writeFileSync(join(dist, '.env'), 'SECRET=1')
    mkdirSync(join(dist, '.git'))
    writeFileSync(join(dist, '.git', 'config'), '[core]')
    mkdirSync(join(dist, '.well-known'))
    writeFileSync(join(dist, '.well-known', 'thing'), 'x')
    server = await startTestServer({ staticDir: dist })
  })
  afterAll(async () => {
    await server?.dispose()
    rmSync(dist, { recursive: true, force: true })
  })

  it('serves the build', async () => {
    expect((await http(server.url, 'GET', '/assets/app.js')).status).toBe(200)
  })

  // Vite names what it puts in assets/ by its content: a year, never asked again. The page is what names them, so a
  // browser that kept it after a deploy would ask for chunks that are gone: it is asked again every time.
  it('keeps the hashed assets a year, immutable, and index.html (also as the SPA fallback) not without asking', async () => {
    expect((await http(server.url, 'GET', '/assets/app.js')).headers.get('cache-control')).toBe(
      'public, max-age=31536000, immutable',
    )
    for (const path of ['/', '/index.html', '/messages/conv-alice-bob'])
      expect((await http(server.url, 'GET', path)).headers.get('cache-control'), path).toBe('no-cache')
  })

  // A 404 is cacheable by default (RFC 9111 §4.2.2): without Cache-Control a CDN keeps it (Cloudflare 3 minutes, Cloud
  // CDN 2), so a chunk asked for before it was there (a rolling deploy: the new page from one node, its chunk from an
  // old one) stayed missing for every user behind that edge after it was.
  it.each(['/assets/app-new.js', '/logo.png'])('answers a missing file %s 404 with no-store', async (path) => {
    const result = await http(server.url, 'GET', path)
    expect(result.status).toBe(404)
    expect(result.headers.get('cache-control')).toBe('no-store')
  })

  it.each([
    '/.env',
    '/.git/config',
    '/.git',
    '/.well-known/thing',
    '/assets/app.js.map',
    '/%2Eenv',
    '/assets/other.js.MAP',
  ])('answers %s with a JSON 404, never the file nor the SPA', async (path) => {
    const result = await http(server.url, 'GET', path)
    expect(result.status).toBe(404)
    expect(result.headers.get('content-type')).toContain('application/json')
  })

  // @fastify/static's refusals went through the body's mapping: "body: Bad Request" for a NUL in the path, "body:
  // Forbidden" for a traversal, and a 416 made a 400 without its Content-Range.
  const rawGet = (path: string, headers = '') =>
    new Promise<{ status: number; headers: string; body: unknown }>((resolve) => {
      const socket = connectTcp(Number(new URL(server.url).port), '127.0.0.1', () =>
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`),
      )
      let received = ''
      socket.on('data', (chunk) => (received += chunk.toString()))
      socket.on('close', () => {
        const [head = '', body = ''] = received.split('\r\n\r\n')
        resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) })
      })
    })

  it.each([
    ['a NUL in the path', '/index.html%00', 400, 'INVALID'],
    ['a traversal with backslashes', '/assets\\..\\.env', 403, 'FORBIDDEN'],
  ])('answers %s in the contract shape naming the path', async (_name, path, status, code) => {
    const result = await rawGet(path)
    expect(result.status).toBe(status)
    expect(result.body).toEqual({ error: { code, message: expect.stringMatching(/^path: /) } })
  })

  it('answers a Range past the end 416 with its Content-Range, in the contract shape', async () => {
    const result = await rawGet('/assets/app.js', 'Range: bytes=999-1000\r\n')
    expect(result.status).toBe(416)
    expect(result.headers).toContain('content-range: bytes */14')
    expect(result.body).toEqual({ error: { code: 'INVALID', message: expect.stringMatching(/^Range: /) } })
    expect((await http(server.url, 'GET', '/assets/app.js')).status).toBe(200)
  })

  it('the production build makes no source maps', () => {
    expect(viteConfig).toMatchObject({ build: { sourcemap: false } })
  })
})

describe('lesson startsAt', () => {
  const body = (startsAt: unknown) => ({ tutorId: 'user-bob', subject: 'Algebra', startsAt, durationMinutes: 60 })

  it.each([
    ['2027-02-10T10:00:00Z', undefined],
    ['2027-02-10T10:00:00.123Z', undefined],
    ['2028-02-29T10:00:00Z', undefined],
    ['2027-02-10T10:00:00+02:00', undefined],
    ['2027-02-10T10:00:00+0200', undefined],
    ['2027-02-10T10:00:00+02', undefined],
    ['2027-02-10T10:00:00 +02:00', undefined],
    ['2027-02-10T10:00:00+99:00', 'must be a real date and time'],
    ['2100-12-31T23:59:59Z', undefined],
    ['2101-01-01T01:00:00+02:00', undefined],
    ['2000-01-01T00:00:00Z', undefined],
    ['2027-02-31T10:00:00Z', 'must be a real date and time'],
    ['2027-02-29T10:00:00Z', 'must be a real date and time'],
    ['2027-04-31T10:00:00Z', 'must be a real date and time'],
    ['2027-02-10T24:00:00Z', 'must be a real date and time'],
    ['2027-02-10T10:00:60Z', 'must be a real date and time'],
    ['0000-01-01T00:00:00Z', 'must be in the years 2000 to 2100'],
    ['1999-12-31T23:59:59Z', 'must be in the years 2000 to 2100'],
    ['2101-01-01T00:00:00Z', 'must be in the years 2000 to 2100'],
    ['9999-12-31T23:59:59Z', 'must be in the years 2000 to 2100'],
    ['2100-12-31T23:00:00-05:00', 'must be in the years 2000 to 2100'],
    ['2000-01-01T00:30:00+01:00', 'must be in the years 2000 to 2100'],
    ['2027-02-10', 'must be an ISO-8601 timestamp'],
    ['tomorrow', 'must be an ISO-8601 timestamp'],
    ['', 'must be an ISO-8601 timestamp'],
  ])('%s: %s', (value, problem) => {
    expect(startsAtProblem(value)).toBe(problem)
    const result = parseRequest(createLessonBodySchema, body(value))
    expect(result.ok).toBe(problem === undefined)
    if (!result.ok) expect(result.issues).toEqual([{ path: 'startsAt', message: problem }])
    if (result.ok) expect(result.value.startsAt).toBe(new Date(result.value.startsAt).toISOString())
  })

  describe('over HTTP, against the server clock', () => {
    const now = Date.parse('2030-06-01T12:00:00Z')
    let server: TestServer
    let token: string
    beforeAll(async () => {
      server = await startTestServer({ now: () => now })
      token = (await login(server.url, ALICE)).token
    })
    afterAll(() => server?.dispose())

    it.each([
      ['0000-01-01T00:00:00Z', 'startsAt: must be in the years 2000 to 2100'],
      ['2031-02-31T10:00:00Z', 'startsAt: must be a real date and time'],
      ['2030-06-01T12:00:00Z', 'startsAt: must be in the future'],
      ['2030-05-01T09:00:00Z', 'startsAt: must be in the future'],
      [12345, 'startsAt: must be a string'],
    ])('refuses %s: %s', async (startsAt, message) => {
      const result = await http(server.url, 'POST', '/api/lessons', { token, body: body(startsAt) })
      expect(result.status).toBe(400)
      expect(result.body).toEqual({ error: { code: 'INVALID', message } })
    })

    it.each([
      ['2030-06-01T12:00:01Z', '2030-06-01T12:00:01.000Z'],
      ['2031-03-03T10:00:00+02:00', '2031-03-03T08:00:00.000Z'],
      ['2031-03-03T10:00:00+02', '2031-03-03T08:00:00.000Z'],
      ['2031-03-03 10:00:00 -0130', '2031-03-03T11:30:00.000Z'],
    ])('stores %s as %s', async (startsAt, stored) => {
      const result = await http(server.url, 'POST', '/api/lessons', { token, body: body(startsAt) })
      expect(result.status).toBe(201)
      expect(result.body).toMatchObject({ startsAt: stored })
    })
  })
})

describe('JWT_SECRET', () => {
  it.each([
    ['unset', undefined, undefined],
    ['empty (unset)', '', undefined],
    ['32 bytes', 'x'.repeat(32), 'x'.repeat(32)],
    ['16 two-byte characters (32 bytes)', 'é'.repeat(16), 'é'.repeat(16)],
  ])('accepts %s', (_name, secret, expected) => {
    expect(checkJwtSecret(secret)).toBe(expected)
  })

  it.each([
    ['1 byte', 'x'],
    ['31 bytes', 'x'.repeat(31)],
  ])('refuses %s with a clear message', (_name, secret) => {
    expect(() => checkJwtSecret(secret)).toThrow(/JWT_SECRET is \d+ bytes; it must be at least 32/)
  })

  it('startServer refuses a short secret before opening anything', async () => {
    const dataDir = join(tmpdir(), `talemy-never-created-${process.pid}-${Date.now()}`)
    await expect(startServer({ port: 0, dataDir, jwtSecret: 'x' })).rejects.toThrow('JWT_SECRET is 1 bytes')
    expect(() => rmSync(dataDir)).toThrow() // nothing was created
  })
})

describe('JWT_SECRET through npm start (server/main.ts)', () => {
  afterAll(() => killSpawned())

  it('refuses to start with a short JWT_SECRET and says why', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'talemy-short-secret-'))
    try {
      const started = spawnMain({ DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', JWT_SECRET: 'too-short' })
      await expect(started).rejects.toThrow(
        /server exited with 1: [\s\S]*JWT_SECRET is 9 bytes; it must be at least 32/,
      )
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
