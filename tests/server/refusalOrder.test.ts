import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorBody } from './support/types'
import { ALICE, BOB, CAROL, http, login, startTestServer, type ClientSocket, type TestServer } from './support/server'

// Who may act is said before what is wrong with the request (authentication, then authorization and existence, then
// validation): a caller outside a lesson, a request or a conversation is answered as such whatever its body, and
// fixing a 400 never only leads to the 403 or 404 behind it.
let server: TestServer
let url: string
const token = { alice: '', bob: '', carol: '' }

beforeAll(async () => {
  server = await startTestServer()
  url = server.url
  token.alice = (await login(url, ALICE)).token
  token.bob = (await login(url, BOB)).token
  token.carol = (await login(url, CAROL)).token
})
const sockets: ClientSocket[] = []
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server?.dispose()
})

/** Bodies that are each refused INVALID when a party sends them. */
const BAD_STATUS_BODIES: [name: string, body: unknown][] = [
  ['an unknown status', { status: 'done' }],
  ['no status', {}],
  ['a numeric status', { status: 3 }],
]

describe.each([
  // [what, path, a party's token, an outsider's token, a valid status for the outsider to ask]
  ['lesson', '/api/lessons', 'lesson-1', () => token.bob, () => token.carol, 'cancelled'],
  ['contact request', '/api/contact-requests', 'contact-1', () => token.bob, () => token.carol, 'declined'],
])('PATCH a %s', (_what, base, id, party, outsider, status) => {
  const patch = (who: string, itemId: string, body: unknown) =>
    http<ErrorBody>(url, 'PATCH', `${base}/${encodeURIComponent(itemId)}`, { token: who, body })

  it.each(BAD_STATUS_BODIES)(
    'by an outsider with %s is 403 FORBIDDEN, as with a valid one, not 400',
    async (_name, body) => {
      const valid = await patch(outsider(), id, { status })
      expect(valid.status).toBe(403)
      const refused = await patch(outsider(), id, body)
      expect(refused.body).toEqual(valid.body)
      expect(refused.status).toBe(403)
    },
  )

  it.each(BAD_STATUS_BODIES)('that does not exist, with %s, is 404 NOT_FOUND, not 400', async (_name, body) => {
    const refused = await patch(party(), `${id}-nope`, body)
    expect(refused.body.error.code).toBe('NOT_FOUND')
    expect(refused.status).toBe(404)
  })

  it('by a party with a bad status is still 400 naming status', async () => {
    const refused = await patch(party(), id, { status: 'done' })
    expect(refused.status).toBe(400)
    expect(refused.body.error).toEqual({ code: 'INVALID', message: expect.stringContaining('status') })
  })
})

describe('reading a conversation one is not in', () => {
  it.each(['limit=abc', 'limit=0', 'before=-3', 'limit=1&limit=2'])(
    'GET …/messages?%s is 403 for an outsider and 404 for a conversation that does not exist, not 400',
    async (query) => {
      const outsider = await http<ErrorBody>(url, 'GET', `/api/conversations/conv-alice-bob/messages?${query}`, {
        token: token.carol,
      })
      expect(outsider.body.error.code).toBe('FORBIDDEN')
      expect(outsider.status).toBe(403)
      const missing = await http<ErrorBody>(url, 'GET', `/api/conversations/conv-nope/messages?${query}`, {
        token: token.carol,
      })
      expect(missing.body.error.code).toBe('NOT_FOUND')
      expect(missing.status).toBe(404)
    },
  )
})
