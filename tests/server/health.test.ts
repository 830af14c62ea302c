import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { http, startTestServer, type TestServer } from './support/server'

// `GET /api/health`: for load balancers and orchestrators, without a token, and telling nothing else. (Its 503 with
// Redis stalled: tests/cluster/redisStalled.test.ts.)

describe('GET /api/health', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server?.dispose())

  it('answers 200 ok without a token, uncached, when the database answers', async () => {
    const answer = await http(server.url, 'GET', '/api/health')
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({ status: 'ok' })
    expect(answer.headers.get('cache-control')).toBe('no-store')
  })
})
