import { describe, expect, test } from 'vitest'
import { describeIssues, MAX_CLIENT_ID_LENGTH, MAX_CONTENT_LENGTH } from '../../src/contract'
import { parseRequest, sendMessageSchema } from '../../src/contract/requests'
import { sendMessageProblem } from '../../src/realtime/sendCheck'

const ok = { conversationId: 'c1', content: 'Hi!', clientId: 'k1' }

const payloads: [name: string, payload: Record<string, unknown>][] = [
  ['a plain message', ok],
  ['content at its limit', { ...ok, content: 'x'.repeat(MAX_CONTENT_LENGTH) }],
  ['content one over', { ...ok, content: 'x'.repeat(MAX_CONTENT_LENGTH + 1) }],
  ['empty content', { ...ok, content: '' }],
  ['content with NUL', { ...ok, content: 'a\u0000b' }],
  ['content of astral characters at its limit (UTF-16 units)', { ...ok, content: '😀'.repeat(MAX_CONTENT_LENGTH / 2) }],
  ['content of 4,000 characters, one an emoji (4,001 UTF-16 units)', { ...ok, content: `${'x'.repeat(3999)}😀` }],
  ['content of 4,000 emoji', { ...ok, content: '😀'.repeat(MAX_CONTENT_LENGTH) }],
  ['content of 4,001 emoji', { ...ok, content: '😀'.repeat(MAX_CONTENT_LENGTH + 1) }],
  ['clientId of 100 characters, one an emoji', { ...ok, clientId: `${'k'.repeat(99)}😀` }],
  ['content a number', { ...ok, content: 5 }],
  ['content missing', { conversationId: 'c1', clientId: 'k1' }],
  ['clientId at its limit', { ...ok, clientId: 'k'.repeat(MAX_CLIENT_ID_LENGTH) }],
  ['clientId one over', { ...ok, clientId: 'k'.repeat(MAX_CLIENT_ID_LENGTH + 1) }],
  ['clientId empty', { ...ok, clientId: '' }],
  ['clientId null', { ...ok, clientId: null }],
  ['clientId with NUL', { ...ok, clientId: 'k\u0000' }],
  ['conversationId at 100', { ...ok, conversationId: 'c'.repeat(100) }],
  ['conversationId at 101', { ...ok, conversationId: 'c'.repeat(101) }],
  // An id's limit is in UTF-16 units, as the server's (and the browser's own `id` check of what it reads) counts it.
  ['conversationId of 60 emoji (120 UTF-16 units)', { ...ok, conversationId: '😀'.repeat(60) }],
  ['conversationId of 50 emoji (100 UTF-16 units)', { ...ok, conversationId: '😀'.repeat(50) }],
  ['conversationId empty', { ...ok, conversationId: '' }],
  ['conversationId a number', { ...ok, conversationId: 1 }],
  ['conversationId with NUL', { ...ok, conversationId: '\u0000' }],
  ['content with a lone surrogate (half an emoji)', { ...ok, content: 'a\ud83d' }],
  ['content with a lone low surrogate', { ...ok, content: '\ude00b' }],
  ['clientId with a lone surrogate', { ...ok, clientId: 'k-\ud800' }],
  ['conversationId with a lone surrogate and NUL', { ...ok, conversationId: '\udbff\u0000' }],
  ['content over its limit and with NUL', { ...ok, content: `\u0000${'x'.repeat(MAX_CONTENT_LENGTH)}` }],
  ['every field wrong at once', { conversationId: '', content: null, clientId: 'k'.repeat(MAX_CLIENT_ID_LENGTH + 1) }],
  ['content of a lone U+FEFF', { ...ok, content: '\uFEFF' }],
  ['clientId starting with U+FEFF', { ...ok, clientId: '\uFEFFk1' }],
  ['U+FEFF inside content and clientId', { ...ok, content: 'a\uFEFF', clientId: 'k\uFEFF' }],
  ['conversationId starting with U+FEFF (an id, never given back)', { ...ok, conversationId: '\uFEFFc1' }],
  ['content of only spaces', { ...ok, content: '   ' }],
  ['content of no-break, ideographic and zero-width spaces', { ...ok, content: '\u00a0\u3000\u200b' }],
  ['content of a line break and a lone U+FEFF', { ...ok, content: '\n\uFEFF' }],
  ['content of spaces around a word (kept as written)', { ...ok, content: ' hi\u00a0' }],
  ['an extra key (dropped by the schema, not refused)', { ...ok, extra: true }],
]

describe("sendMessageProblem agrees with the server's sendMessageSchema, wording included", () => {
  test.each(payloads)('%s', (_name, payload) => {
    const schema = parseRequest(sendMessageSchema, payload)
    const problem = sendMessageProblem(payload as Parameters<typeof sendMessageProblem>[0])
    expect(problem).toBe(schema.ok ? null : describeIssues(schema.issues))
  })

  test('counts characters as the contract does: an emoji is one', () => {
    expect(sendMessageProblem({ ...ok, content: '😀'.repeat(MAX_CONTENT_LENGTH) })).toBeNull()
    expect(sendMessageProblem({ ...ok, content: '😀'.repeat(MAX_CONTENT_LENGTH + 1) })).toBe(
      `content: must be at most ${MAX_CONTENT_LENGTH} characters`,
    )
  })

  test('the wording names the field and the rule', () => {
    expect(sendMessageProblem({ ...ok, content: '' })).toBe('content: must not be empty')
    expect(sendMessageProblem({ ...ok, clientId: 5 })).toBe('clientId: must be a string')
    expect(sendMessageProblem({ conversationId: 'c1', content: 'hi', clientId: undefined })).toBe(
      'clientId: is required',
    )
  })
})
