import type { MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { watchUnsavedOutbox } from '../../src/app/unsavedOutbox'
import { internalError, outboxKept, type PendingMessage } from '../../src/realtime'

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

test('closing the page asks first exactly while the layer says it keeps unsent messages in the page alone', () => {
  let kept: Record<string, number> = {}
  const listeners = new Set<(event: Event) => void>()
  const page = {
    addEventListener: (_type: string, listener: (event: Event) => void) => void listeners.add(listener),
    removeEventListener: (_type: string, listener: (event: Event) => void) => void listeners.delete(listener),
  } as unknown as Pick<Window, 'addEventListener' | 'removeEventListener'>
  const unsaved = watchUnsavedOutbox({ durable: true, noticeAfterMs: 0, page })
  const api = { getState: () => ({ socket: { outbox: [], kept } }), dispatch: (a: unknown) => a } as unknown
  const dispatch = unsaved.middleware(api as MiddlewareAPI)((action) => action)
  const asks = () => {
    // Node's `Event` has no settable `returnValue`: a stand-in with what the listener uses.
    let prevented = false
    const event = { returnValue: false, preventDefault: () => void (prevented = true) } as unknown as Event
    for (const listener of listeners) listener(event)
    return prevented
  }
  kept = { u1: 2 }
  dispatch(outboxKept({ userId: 'u1', count: 2 }))
  expect(asks()).toBe(true)
  // Nothing else is shown: they are not the outbox of the session on screen.
  expect(unsaved.getSnapshot()).toBe(0)
  kept = {}
  dispatch(outboxKept({ userId: 'u1', count: 0 }))
  expect(asks()).toBe(false)
  expect(listeners.size).toBe(0)
  unsaved.dispose()
})
