import { describe, expect, test } from 'vitest'
import { failedForWantOfServer, failedReadsToMakeAgain } from '../../src/realtime/failedReads'

describe('failedForWantOfServer', () => {
  test.each([
    [{ status: 'FETCH_ERROR', error: 'TypeError: fetch failed' }, true],
    [{ status: 'TIMEOUT_ERROR', error: 'AbortError' }, true],
    [{ status: 500, data: {} }, true],
    [{ status: 503, data: {} }, true],
    [{ status: 429, data: {} }, true],
    [{ status: 408, data: {} }, true],
    [{ status: 400, data: {} }, false],
    [{ status: 401, data: {} }, false],
    [{ status: 403, data: {} }, false],
    [{ status: 404, data: {} }, false],
    [{ status: 'PARSING_ERROR', originalStatus: 200, data: '<html>', error: 'SyntaxError' }, false],
    [{ status: 'PARSING_ERROR', originalStatus: 404, data: '<html>', error: 'SyntaxError' }, false],
    [{ status: 'PARSING_ERROR', originalStatus: 502, data: '<html>', error: 'SyntaxError' }, true],
    [{ status: 'PARSING_ERROR', originalStatus: 429, data: '<html>', error: 'SyntaxError' }, true],
    [{ status: 'CUSTOM_ERROR', error: 'the answer broke the contract' }, false],
    [undefined, false],
    [null, false],
  ])('%j → %s', (error, expected) => {
    expect(failedForWantOfServer(error)).toBe(expected)
  })
})

describe('failedReadsToMakeAgain', () => {
  const failed = (endpointName: string, originalArgs: unknown, status: unknown = 503) => ({
    status: 'rejected',
    endpointName,
    originalArgs,
    error: { status },
  })
  const everyone = () => true
  test('a failed read, with its argument; not one that succeeded or is pending', () => {
    const queries = {
      'getMessages("c1")': failed('getMessages', 'c1'),
      'getLessons(undefined)': { status: 'fulfilled', endpointName: 'getLessons', data: [] },
      'getUsers(undefined)': { status: 'pending', endpointName: 'getUsers' },
      'getMessages("c2")': failed('getMessages', 'c2'),
      'getContactRequests(undefined)': failed('getContactRequests', undefined, 'FETCH_ERROR'),
    }
    expect(failedReadsToMakeAgain(queries, () => false, everyone)).toEqual([
      { endpointName: 'getMessages', originalArgs: 'c1' },
      { endpointName: 'getMessages', originalArgs: 'c2' },
      { endpointName: 'getContactRequests', originalArgs: undefined },
    ])
  })

  test('not a read only its caller uses (an earlier page of a thread)', () => {
    const queries = {
      'getMessagesBefore({"before":51,"conversationId":"c1","limit":50})': failed('getMessagesBefore', {
        conversationId: 'c1',
        before: 51,
        limit: 50,
      }),
      'getMessages("c1")': failed('getMessages', 'c1'),
    }
    expect(failedReadsToMakeAgain(queries, () => false, everyone)).toEqual([
      { endpointName: 'getMessages', originalArgs: 'c1' },
    ])
  })

  test('not a read refused for what it asked, nor one a catch-up covers', () => {
    const queries = {
      'getMessages("gone")': failed('getMessages', 'gone', 404),
      'getLessons(undefined)': failed('getLessons', undefined),
      'getUsers(undefined)': failed('getUsers', undefined),
    }
    expect(failedReadsToMakeAgain(queries, (key) => key === 'getLessons(undefined)', everyone)).toEqual([
      { endpointName: 'getUsers', originalArgs: undefined },
    ])
  })

  test('not a read nobody watches any more', () => {
    const queries = {
      'getLessons(undefined)': failed('getLessons', undefined),
      'getUsers(undefined)': failed('getUsers', undefined),
    }
    expect(
      failedReadsToMakeAgain(
        queries,
        () => false,
        (key) => key === 'getUsers(undefined)',
      ),
    ).toEqual([{ endpointName: 'getUsers', originalArgs: undefined }])
  })
})
