import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createToaster } from '../../src/features/notifications/toaster'
import { serverEventActions } from '../../src/realtime'
import { alice, lesson, toastedStore } from './support/lessons'

// Alice had the lessons page read while her socket was down (the fallback reads): Bob had confirmed, then cancelled,
// and her card said "cancelled". On the messages page, her socket back, the resume replayed Bob's two changes, and a
// toast told her the lesson "was confirmed", a lesson cancelled by then (and one "was cancelled", said already). An
// event no newer than the version her list holds is no news.

function alicesStore() {
  const toaster = createToaster({ openPage: () => 'messages', ttlMs: 3_600_000 })
  const store = toastedStore(alice, toaster)
  return { toaster, store }
}

const confirmed = lesson({ status: 'confirmed', updatedAt: '2026-11-24T09:00:00.000Z' })
const cancelled = lesson({ status: 'cancelled', updatedAt: '2026-11-24T10:00:00.000Z' })

describe('a status change the cached list already shows a later version of', () => {
  test('is no toast, replayed after the list was read', async () => {
    const { toaster, store } = alicesStore()
    await store.dispatch(api.util.upsertQueryData('getLessons', undefined, [cancelled]))
    store.dispatch(serverEventActions['lesson:statusUpdated'](confirmed))
    store.dispatch(serverEventActions['lesson:statusUpdated'](cancelled))
    expect(toaster.getSnapshot().map((t) => t.message.values?.status)).toEqual([])
    store.dispose()
  })

  test('is still a toast when the list holds an older version', async () => {
    const { toaster, store } = alicesStore()
    await store.dispatch(api.util.upsertQueryData('getLessons', undefined, [lesson({})]))
    store.dispatch(serverEventActions['lesson:statusUpdated'](confirmed))
    store.dispatch(serverEventActions['lesson:statusUpdated'](cancelled))
    expect(toaster.getSnapshot().map((t) => t.message.values?.status)).toEqual(['confirmed', 'cancelled'])
    store.dispose()
  })
})
