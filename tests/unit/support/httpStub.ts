import { createServer, type IncomingMessage } from 'node:http'
import { afterEach, beforeEach } from 'vitest'
import type { AddressInfo } from 'node:net'

export interface StubRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: unknown
}

/**
 * `body` is sent as JSON; `text` as it is (a proxy's HTML page). `drop`: the connection is closed without an answer (a
 * server going away mid-request: `fetch` rejects).
 */
export type StubReply =
  | { status: number; body?: unknown; text?: string; headers?: Record<string, string> }
  | { drop: true }

/**
 * A real HTTP server on loopback port 0 answering with `reply` (swappable per test), recording every request.
 * Real rather than a `fetch` stub: the api's base query, headers and JSON parsing run as in the browser.
 */
export async function startHttpStub(reply: (req: StubRequest) => StubReply | Promise<StubReply>) {
  const requests: StubRequest[] = []
  const stub = { reply, requests, url: '', close: async () => {} }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const request: StubRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      }
      requests.push(request)
      const answer = await stub.reply(request)
      if ('drop' in answer) {
        res.socket?.destroy()
        return
      }
      if (answer.text !== undefined) {
        res.writeHead(answer.status, { 'content-type': 'text/html', ...answer.headers })
        res.end(answer.text)
        return
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  stub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return stub
}

/** A URL where nothing listens: fetch fails at once (ECONNREFUSED), like an unreachable API. */
export async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return url
}

/**
 * A fresh `startHttpStub` for every test of the enclosing file or `describe` (started before each, closed after),
 * answering with whatever `reply` returns at the time of the request.
 *
 * @example let reply: (req: StubRequest) => StubReply; const stub = httpStubPerTest((req) => reply(req)); … stub.url
 */
export function httpStubPerTest(reply: (req: StubRequest) => StubReply | Promise<StubReply>) {
  let stub: Awaited<ReturnType<typeof startHttpStub>> | null = null
  beforeEach(async () => {
    stub = await startHttpStub(reply)
  })
  afterEach(async () => {
    await stub?.close()
    stub = null
  })
  const current = () => {
    if (!stub) throw new Error('the HTTP stub runs only inside a test')
    return stub
  }
  return {
    get url() {
      return current().url
    },
    get requests() {
      return current().requests
    },
  }
}
