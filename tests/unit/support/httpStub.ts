import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StubRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: unknown
}

export type StubReply = { status: number; body?: unknown; headers?: Record<string, string> }

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
