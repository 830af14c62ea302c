import type { UnknownAction } from '@reduxjs/toolkit'
import { outcomeOfAck, outcomeOfHttpError } from '../../src/realtime/sendOutcome'
import { describe, expect, test } from 'vitest'
import {
  backoffDelay,
  connect,
  emitFor,
  joinConversation,
  leaveConversation,
  newClientId,
  sendMessage,
  type Emit,
} from '../../src/realtime'

describe('action → emit', () => {
  test.each<[string, UnknownAction, Emit | null]>([
    ['joinConversation', joinConversation({ conversationId: 'c1' }), { event: 'conversation:join', payload: 'c1' }],
    ['leaveConversation', leaveConversation({ conversationId: 'c1' }), { event: 'conversation:leave', payload: 'c1' }],
    [
      'sendMessage',
      sendMessage({ conversationId: 'c1', content: 'hi', clientId: 'k1' }),
      { event: 'message:send', payload: { conversationId: 'c1', content: 'hi', clientId: 'k1' } },
    ],
    ['connect (nothing to emit)', connect(), null],
    ['a foreign action', { type: 'other/thing' }, null],
  ])('%s', (_name, action, expected) => {
    expect(emitFor(action)).toEqual(expected)
  })
})

describe('full-jitter backoff', () => {
  const options = { baseMs: 500, capMs: 30_000 }
  test.each([
    [1, 0.999, 499],
    [2, 0.999, 999],
    [3, 0.5, 1000],
    [7, 0.999, 29_970],
    [20, 0.999, 29_970],
    [4, 0, 0],
  ])('attempt %i with random %f → %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, options, () => random)).toBe(expected)
  })
})

describe('clientId', () => {
  test('falls back to getRandomValues where randomUUID is missing (not a secure context)', () => {
    const original = globalThis.crypto
    const partial = { getRandomValues: original.getRandomValues.bind(original) }
    Object.defineProperty(globalThis, 'crypto', { value: partial, configurable: true })
    try {
      const ids = new Set(Array.from({ length: 100 }, () => newClientId()))
      expect(ids.size).toBe(100)
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    } finally {
      Object.defineProperty(globalThis, 'crypto', { value: original, configurable: true })
    }
  })
})

describe('send outcome → what happens next', () => {
  test.each<[string, Parameters<typeof outcomeOfHttpError>[0], string, string]>([
    [
      '403 with the server body',
      { status: 403, data: { error: { code: 'FORBIDDEN', message: 'no' } } },
      'refused',
      'FORBIDDEN',
    ],
    [
      '404 with the server body',
      { status: 404, data: { error: { code: 'NOT_FOUND', message: 'no' } } },
      'refused',
      'NOT_FOUND',
    ],
    [
      '400 with the server body',
      { status: 400, data: { error: { code: 'INVALID', message: 'content: must not be empty' } } },
      'refused',
      'INVALID',
    ],
    [
      '429 with the server body',
      { status: 429, data: { error: { code: 'RATE_LIMITED', message: 'slow', retryAfterMs: 120 } } },
      'retry',
      'RATE_LIMITED',
    ],
    [
      '401 (the token; a refresh may help)',
      { status: 401, data: { error: { code: 'UNAUTHORIZED', message: 'expired' } } },
      'retry',
      'UNAUTHORIZED',
    ],
    ['500 with no JSON body', { status: 500, data: 'Internal Server Error' }, 'retry', 'INTERNAL'],
    ['502 from a proxy', { status: 502, data: '<html>' }, 'retry', 'INTERNAL'],
    // A page that is no JSON (a gateway's, a proxy's): RTK Query's PARSING_ERROR, the answer's status beside it.
    [
      '403 page from a proxy',
      { status: 'PARSING_ERROR', originalStatus: 403, data: '<html>Forbidden', error: 'SyntaxError' },
      'refused',
      'FORBIDDEN',
    ],
    [
      '502 page from a gateway',
      { status: 'PARSING_ERROR', originalStatus: 502, data: '<html>Bad Gateway', error: 'SyntaxError' },
      'retry',
      'INTERNAL',
    ],
    [
      '429 page from a proxy',
      { status: 'PARSING_ERROR', originalStatus: 429, data: '<html>Too Many', error: 'SyntaxError' },
      'retry',
      'RATE_LIMITED',
    ],
    // No refusal of what was sent: a 408 says the request did not reach the server in time (as reads and the token
    // refresh take it), and a page answered 200 that is no JSON is a captive portal's or a proxy's, not the server's.
    ['408 from a proxy that waited too long', { status: 408, data: 'Request Timeout' }, 'retry', 'NETWORK'],
    // The reference server's own request timeout answers in the contract's shape, naming INTERNAL (INVALID before): the
    // status says the request never reached it whole (tests/server/hardening.test.ts).
    [
      '408 from the server (its request timeout), in the contract shape',
      { status: 408, data: { error: { code: 'INTERNAL', message: 'request: not received in time' } } },
      'retry',
      'NETWORK',
    ],
    [
      '408 from an earlier server, naming INVALID',
      { status: 408, data: { error: { code: 'INVALID', message: 'request: not received in time' } } },
      'retry',
      'NETWORK',
    ],
    [
      '408 page from a proxy',
      { status: 'PARSING_ERROR', originalStatus: 408, data: '<html>Request Timeout', error: 'SyntaxError' },
      'retry',
      'NETWORK',
    ],
    [
      '200 page that is no JSON (a captive portal)',
      { status: 'PARSING_ERROR', originalStatus: 200, data: '<html>Sign in', error: 'SyntaxError' },
      'retry',
      'NETWORK',
    ],
    ['413 from a proxy (payload too large)', { status: 413, data: 'Too Large' }, 'refused', 'INVALID'],
    ['no answer at all', { status: 'FETCH_ERROR', error: 'TypeError: fetch failed' }, 'retry', 'NETWORK'],
    ['a timeout', { status: 'TIMEOUT_ERROR', error: 'timeout' }, 'retry', 'NETWORK'],
  ])('HTTP: %s → %s %s', (_name, error, kind, code) => {
    const outcome = outcomeOfHttpError(error)
    expect(outcome.kind).toBe(kind)
    expect('error' in outcome && outcome.error.code).toBe(code)
  })

  // Review: a gateway's 5xx page was a failure of that send alone, each conversation trying on its own backoff while
  // the server behind it was down. Only the server's own 500 (in the contract's words) is one send's.
  test.each<[string, Parameters<typeof outcomeOfHttpError>[0], boolean]>([
    ['502 page from a gateway', { status: 'PARSING_ERROR', originalStatus: 502, data: '<html>', error: 'x' }, true],
    ['504 from a gateway', { status: 504, data: 'Gateway Timeout' }, true],
    ['500 with no JSON body (a proxy’s)', { status: 500, data: 'Internal Server Error' }, true],
    ['503 in the contract’s words', { status: 503, data: { error: { code: 'INTERNAL', message: 'later' } } }, true],
    ['500 in the server’s own words', { status: 500, data: { error: { code: 'INTERNAL', message: 'boom' } } }, false],
    [
      '429 from the server',
      { status: 429, data: { error: { code: 'RATE_LIMITED', message: 's', retryAfterMs: 9 } } },
      false,
    ],
    [
      '429 whose wait only a Retry-After gave (a proxy’s: every request waits it)',
      {
        status: 429,
        data: { error: { code: 'RATE_LIMITED', message: 'HTTP 429', retryAfterMs: 5000 }, waitForEveryRequest: true },
      },
      true,
    ],
  ])('HTTP: %s is every send’s failure (the server did not answer for itself): %s', (_name, error, everySend) => {
    expect(outcomeOfHttpError(error)).toMatchObject({ kind: 'retry' })
    expect((outcomeOfHttpError(error) as { everySend?: true }).everySend === true).toBe(everySend)
  })

  test('RATE_LIMITED carries retryAfterMs', () => {
    expect(
      outcomeOfHttpError({
        status: 429,
        data: { error: { code: 'RATE_LIMITED', message: 'slow', retryAfterMs: 120 } },
      }),
    ).toEqual({
      kind: 'retry',
      error: { code: 'RATE_LIMITED', message: 'slow' },
      retryAfterMs: 120,
    })
  })

  test.each<[string, Parameters<typeof outcomeOfAck>[0], string]>([
    [
      'an ok ack with a stored message',
      {
        kind: 'ok',
        data: {
          id: 'm1',
          conversationId: 'c1',
          seq: 1,
          senderId: 'u',
          content: 'x',
          createdAt: '2026-11-24T08:00:00.000Z',
          clientId: 'k',
        },
      },
      'sent',
    ],
    ['an ok ack with garbage', { kind: 'ok', data: { id: 1 } }, 'retry'],
    ['a refusal', { kind: 'error', error: { code: 'FORBIDDEN', message: 'no' } }, 'refused'],
    ['a server fault', { kind: 'error', error: { code: 'INTERNAL', message: 'oops' } }, 'retry'],
  ])('ack: %s → %s', (_name, ack, kind) => {
    expect(outcomeOfAck(ack).kind).toBe(kind)
  })
})
