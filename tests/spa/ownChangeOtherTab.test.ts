import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage, makeStore } from '../../src/app/store'
import { createToaster, type ToastChannel } from '../../src/features/notifications/toaster'
import { serverEventActions } from '../../src/realtime'
import { fakeSockets } from '../unit/support/fakeSocket'
import { alice, bob, lesson, toastedStore } from './support/lessons'
import { heldPatchApi } from './support/page'

// Alice has two tabs: the lessons page in one, the messages page in the other. She cancels her lesson in the first;
// the server's event reaches both, and the second said "Lesson “Algebra” (Bob) was cancelled", as if Bob had: a
// cancellation either side may make was told apart only in the tab that asked for it. The tabs now tell each other of
// the changes they ask for.

/** Channels of one browser: a post reaches the others, later (as a BroadcastChannel's does), never its own. */
function channels() {
  const open: Array<Set<(message: unknown) => void>> = []
  return (): ToastChannel => {
    const listeners = new Set<(message: unknown) => void>()
    open.push(listeners)
    return {
      post(message) {
        const copy = structuredClone(message)
        for (const other of open)
          if (other !== listeners) queueMicrotask(() => other.forEach((listener) => listener(copy)))
      },
      subscribe(listener) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    }
  }
}

const cancelled = lesson({ status: 'cancelled', updatedAt: '2026-11-24T09:00:00.000Z' })

/** Alice's two tabs: the first on the lessons page, whose PATCH is answered with `answer`; the second elsewhere. */
function twoTabs(answer: unknown, status = 200) {
  const channel = channels()
  const first = createToaster({ openPage: () => 'lessons', channel: channel() })
  const { fetchFn, release } = heldPatchApi('/api/lessons', [lesson()], answer, status)
  const tab1 = makeStore({
    apiUrl: 'http://api.invalid',
    createSocket: fakeSockets().createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    extraMiddleware: [first.middleware],
    fetchFn,
    preloadedState: { auth: { token: 't-alice', user: alice } },
  })
  const second = createToaster({ openPage: () => 'messages', ttlMs: 3_600_000, channel: channel() })
  const tab2 = toastedStore(alice, second)
  return { tab1, tab2, second, release }
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

describe('a cancellation asked for in another tab of the same user', () => {
  test('is no toast in the other tab, its event before the answer', async () => {
    const { tab1, tab2, second, release } = twoTabs(cancelled)
    const change = tab1.dispatch(api.endpoints.updateLessonStatus.initiate({ id: 'l1', status: 'cancelled' }))
    await settle()
    tab2.dispatch(serverEventActions['lesson:statusUpdated'](cancelled))
    release()
    await change
    expect(second.getSnapshot()).toEqual([])
    tab1.dispose()
    tab2.dispose()
  })

  test('is no toast in the other tab, its event after the answer', async () => {
    const { tab1, tab2, second, release } = twoTabs(cancelled)
    const change = tab1.dispatch(api.endpoints.updateLessonStatus.initiate({ id: 'l1', status: 'cancelled' }))
    release()
    await change
    await settle()
    tab2.dispatch(serverEventActions['lesson:statusUpdated'](cancelled))
    expect(second.getSnapshot()).toEqual([])
    tab1.dispose()
    tab2.dispose()
  })

  test('refused (Bob cancelled first): his cancellation is news in the other tab too', async () => {
    const refusal = { error: { code: 'INVALID', message: 'status: cannot go from cancelled to cancelled' } }
    const { tab1, tab2, second, release } = twoTabs(refusal, 400)
    const change = tab1.dispatch(api.endpoints.updateLessonStatus.initiate({ id: 'l1', status: 'cancelled' }))
    await settle()
    tab2.dispatch(serverEventActions['lesson:statusUpdated'](cancelled))
    release()
    await change
    await settle()
    expect(second.getSnapshot().map((t) => t.message.values?.status)).toEqual(['cancelled'])
    tab1.dispose()
    tab2.dispose()
  })

  test('refused unmade (too many at once): Bob’s cancellation later is news in the other tab', async () => {
    const slow = { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 1000 } }
    const { tab1, tab2, second, release } = twoTabs(slow, 429)
    const change = tab1.dispatch(api.endpoints.updateLessonStatus.initiate({ id: 'l1', status: 'cancelled' }))
    release()
    await change
    await settle()
    tab2.dispatch(serverEventActions['lesson:statusUpdated'](cancelled))
    expect(second.getSnapshot().map((t) => t.message.values?.status)).toEqual(['cancelled'])
    tab1.dispose()
    tab2.dispose()
  })

  test('another user’s tab in the same browser takes nothing from it', async () => {
    const channel = channels()
    const first = createToaster({ openPage: () => 'lessons', channel: channel() })
    const { fetchFn, release } = heldPatchApi('/api/lessons', [lesson()], cancelled)
    const tab1 = makeStore({
      apiUrl: 'http://api.invalid',
      createSocket: fakeSockets().createSocket,
      storage: createMemoryStorage(),
      shareSocket: false,
      extraMiddleware: [first.middleware],
      fetchFn,
      preloadedState: { auth: { token: 't-alice', user: alice } },
    })
    const second = createToaster({ openPage: () => 'messages', ttlMs: 3_600_000, channel: channel() })
    const tab2 = toastedStore(bob, second)
    const change = tab1.dispatch(api.endpoints.updateLessonStatus.initiate({ id: 'l1', status: 'cancelled' }))
    await settle()
    tab2.dispatch(serverEventActions['lesson:statusUpdated'](cancelled))
    release()
    await change
    expect(second.getSnapshot().map((t) => t.message.values?.status)).toEqual(['cancelled'])
    tab1.dispose()
    tab2.dispose()
  })
})
