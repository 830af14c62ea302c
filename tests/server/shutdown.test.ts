import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { expect, it, vi } from 'vitest'
import { PresenceTracker } from '../../server/realtime/presence'
import { capturedLog } from '../support/capturedLog'
import { ALICE, connect, login, startTestServer } from './support/server'

// A deploy stops the server (SIGTERM → `close()`) while requests are on their way: it stops taking new ones and
// answers those it has, rather than cutting their connections (the client could not tell whether its write was kept).

it('answers a request under way when it is closed, and stops taking new connections', async () => {
  const server = await startTestServer()
  const httpServer = server.io.httpServer
  const { token } = await login(server.url, ALICE)
  const body = JSON.stringify({ content: 'sent as the deploy begins', clientId: randomUUID() })
  const cut = body.length >> 1
  const received = new Promise<void>((resolve) => httpServer.once('request', () => resolve()))
  const answer = new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
    const req = request(`${server.url}/api/conversations/conv-alice-bob/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    })
    req.on('response', (response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => (text += chunk.toString()))
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body: text }),
      )
    })
    req.on('error', reject)
    req.write(body.slice(0, cut))
    // Its headers are in: the request is under way when the server starts closing, the rest of its body comes after.
    void received.then(async () => {
      const closing = server.close()
      await vi.waitFor(() => expect(httpServer.listening).toBe(false))
      req.end(body.slice(cut))
      await closing
    })
  })
  const { status, connection, body: text } = await answer
  expect(status).toBe(201)
  // Not kept alive: an idle connection would hold the close until the client let it go.
  expect(connection).toBe('close')
  expect(JSON.parse(text)).toMatchObject({ content: 'sent as the deploy begins' })
  await server.dispose()
})

it('closes alone within its bound when recording who was online gets no answer from the database, saying so', async () => {
  const log = capturedLog('warn')
  const server = await startTestServer({ logger: log.logger })
  const { token } = await login(server.url, ALICE)
  const socket = await connect(server.url, token)
  // The database never answers the close's write of who went (a partition, a lock that is never let go).
  const hung = vi.spyOn(PresenceTracker.prototype, 'closing').mockReturnValue(new Promise<void>(() => undefined))
  try {
    await server.dispose()
    expect(hung).toHaveBeenCalledTimes(1)
    expect(log.lines().map((line) => line.msg)).toContain(
      'recording who went at the close took over 2 s: closing without it',
    )
    expect(server.io.httpServer.listening).toBe(false)
  } finally {
    hung.mockRestore()
    socket.close()
  }
})
