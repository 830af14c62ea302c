import type { MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { watchUnsavedOutbox } from '../../src/app/unsavedOutbox'
import { internalError, type PendingMessage } from '../../src/realtime'

// The grace of the unsaved-outbox notice on the fake clock: the SPA test waits in real time, so it can only give a
// grace longer than any wait (tests/spa/unsavedOutbox.test.tsx); here the clock goes past the grace exactly.

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }))
afterEach(() => vi.useRealTimers())

const entry = { clientId: 'k1', conversationId: 'c1', content: 'hello', status: 'pending' } as PendingMessage

/** The watcher's middleware over a store whose outbox the test sets. */
function watched(noticeAfterMs: number) {
  let outbox: PendingMessage[] = []
  const unsaved = watchUnsavedOutbox({ durable: true, noticeAfterMs })
  const api = { getState: () => ({ socket: { outbox } }), dispatch: (a: unknown) => a } as unknown as MiddlewareAPI
  const run = unsaved.middleware(api)((action) => action)
  const dispatch = (action: UnknownAction) => run(action)
  return {
    unsaved,
    queue: () => {
      outbox = [entry]
      dispatch(internalError({ where: 'outboxStorage', message: 'The unsent messages could not be saved in storage' }))
    },
    sent: () => {
      outbox = []
      dispatch({ type: 'socket/sendConfirmed' })
    },
  }
}

test('a message sent within the grace is never told about, even once the grace has passed', () => {
  const { unsaved, queue, sent } = watched(150)
  queue()
  vi.advanceTimersByTime(100)
  sent()
  vi.advanceTimersByTime(1_000)
  expect(unsaved.getSnapshot()).toBe(0)
})

test('a message still unsent past the grace is told about then, not before', () => {
  const { unsaved, queue } = watched(150)
  queue()
  vi.advanceTimersByTime(149)
  expect(unsaved.getSnapshot()).toBe(0)
  vi.advanceTimersByTime(1)
  expect(unsaved.getSnapshot()).toBe(1)
})
