import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorBody, Message } from './support/types'
import {
  ALICE,
  BOB,
  connect,
  emitAck,
  http,
  login,
  startTestServer,
  type ClientSocket,
  type TestServer,
} from './support/server'

// A message of only characters nobody sees arrives as an empty bubble, and is the conversation list's empty last line:
// the composer never sends one, and the server refuses it from any other client, as it does a blank lesson subject.
const CONV = 'conv-alice-bob'
const PATH = `/api/conversations/${CONV}/messages`
let server: TestServer
let token: string
let alice: ClientSocket

beforeAll(async () => {
  server = await startTestServer()
  token = (await login(server.url, ALICE)).token
  alice = await connect(server.url, token)
})
afterAll(async () => {
  alice?.close()
  await server?.dispose()
})

const blanks: [string, string][] = [
  ['spaces', '   '],
  ['a tab and line breaks', '\t\r\n'],
  ['no-break spaces', '\u00a0\u202f'],
  ['an ideographic space', '\u3000'],
  ['zero-width characters', '\u200b\u200d\u2060'],
]

async function thread(): Promise<Message[]> {
  return (await http<Message[]>(server.url, 'GET', PATH, { token: (await login(server.url, BOB)).token })).body
}

describe('content of only invisible characters is INVALID and nothing is stored', () => {
  it.each(blanks)('over the socket: %s', async (_name, content) => {
    const before = await thread()
    const ack = await emitAck(alice, 'message:send', { conversationId: CONV, content, clientId: randomUUID() })
    expect(ack).toEqual({ ok: false, error: { code: 'INVALID', message: 'content: must not be empty' } })
    expect(await thread()).toEqual(before)
  })

  it.each(blanks)('over HTTP: %s', async (_name, content) => {
    const before = await thread()
    const result = await http<ErrorBody>(server.url, 'POST', PATH, { token, body: { content, clientId: randomUUID() } })
    expect(result.status).toBe(400)
    expect(result.body).toEqual({ error: { code: 'INVALID', message: 'content: must not be empty' } })
    expect(await thread()).toEqual(before)
  })

  it('takes a message with spaces around visible text as written', async () => {
    const ack = await emitAck<Message>(alice, 'message:send', {
      conversationId: CONV,
      content: ' hi\u00a0',
      clientId: randomUUID(),
    })
    expect(ack.ok && ack.data.content).toBe(' hi\u00a0')
  })
})
