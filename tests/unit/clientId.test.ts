import { afterEach, describe, expect, test, vi } from 'vitest'
import { MAX_CLIENT_ID_LENGTH } from '../../src/contract'
import { newClientId, sendMessage } from '../../src/realtime'

/** Runs `newClientId` with `globalThis.crypto` replaced by `crypto` (undefined: no Web Crypto at all). */
function withCrypto(crypto: Partial<Crypto> | undefined, count: number): string[] {
  vi.stubGlobal('crypto', crypto)
  return Array.from({ length: count }, () => newClientId())
}

afterEach(() => {
  vi.unstubAllGlobals()
})

// The getRandomValues fallback (a v4 UUID) is tested in tables.test.ts.
describe('newClientId: an idempotency key the server accepts, unique per send', () => {
  const accepted = (id: string) => id.length >= 1 && id.length <= MAX_CLIENT_ID_LENGTH && !id.includes('\u0000')

  test('crypto.randomUUID where the page is a secure context', () => {
    const ids = withCrypto({ randomUUID: () => '123e4567-e89b-42d3-a456-426614174000' }, 1)
    expect(ids).toEqual(['123e4567-e89b-42d3-a456-426614174000'])
  })

  test('an engine without Web Crypto still gets distinct keys the server accepts', () => {
    const ids = withCrypto(undefined, 1000)
    for (const id of ids) expect(accepted(id)).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
  })

  test('sendMessage generates one when none is given, and keeps a given one', () => {
    expect(accepted(sendMessage({ conversationId: 'c1', content: 'hi' }).payload.clientId)).toBe(true)
    expect(sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }).payload.clientId).toBe('k1')
  })
})
