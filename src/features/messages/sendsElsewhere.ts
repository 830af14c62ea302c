import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit'
import { useCallback, useMemo, useSyncExternalStore } from 'react'
import type { ApiExtra, ThreadMessage } from '../../api'
import { selectUser } from '../../app/authSlice'
import { useAppDispatch, useAppSelector } from '../../app/hooks'
import type { Id } from '../../contract'
import {
  createOutboxStorage,
  discardedStorageKey,
  outboxStorageKey,
  pendingCopy,
  selectPendingMessages,
  type StorageLike,
} from '../../realtime'

/** The storage the store keeps the outbox in (the api's thunk argument), if it has one. */
const storageOf = (): ThunkAction<StorageLike | undefined, unknown, unknown, UnknownAction> => (_d, _g, extra) =>
  (extra as ApiExtra | undefined)?.storage

/** Stored text of `key`, null when none or unreadable (a blocked storage throws). */
const textOf = (storage: StorageLike | undefined, key: string | null) => {
  if (!storage || key === null) return null
  try {
    return storage.getItem(key)
  } catch {
    return null
  }
}

/**
 * The user's sends written in their other tabs that wait there, in conversation `conversationId`: the tab holding the
 * drain lock alone takes the stored sends in, and the other tabs showed nothing of them (a user could write again what
 * they took for lost). Read-only copies, pending (`elsewhere`), and `listed`: `thread` with them among its messages not
 * confirmed yet (which come last), in the order written. This tab's own sends are shown by the thread (with Retry and
 * Discard), and one already in `thread` (confirmed: it carries its `clientId`) is shown there. A refused one waits for
 * the user's Retry or Discard in its tab, which says it. Followed through the `storage` event.
 *
 * @example const { listed, elsewhere } = useSendsElsewhere('c1', messages)
 */
export function useSendsElsewhere(
  conversationId: Id,
  thread: readonly ThreadMessage[],
): { listed: readonly ThreadMessage[]; elsewhere: readonly ThreadMessage[] } {
  const dispatch = useAppDispatch()
  const storage = useMemo(() => dispatch(storageOf()), [dispatch])
  const stored = useMemo(() => (storage ? createOutboxStorage(storage) : null), [storage])
  const userId = useAppSelector(selectUser)?.id ?? null
  const own = useAppSelector(selectPendingMessages)
  const subscribe = useCallback(
    (changed: () => void) => {
      if (userId === null || typeof window === 'undefined') return () => {}
      const onStorage = (event: StorageEvent) => {
        // null: the other tab cleared the whole storage.
        if (event.key === null || event.key === outboxStorageKey(userId) || event.key === discardedStorageKey(userId))
          changed()
      }
      // Back from the back/forward cache, the page heard no storage event meanwhile.
      const onPageShow = (event: PageTransitionEvent) => {
        if (event.persisted) changed()
      }
      window.addEventListener('storage', onStorage)
      window.addEventListener('pageshow', onPageShow)
      return () => {
        window.removeEventListener('storage', onStorage)
        window.removeEventListener('pageshow', onPageShow)
      }
    },
    [userId],
  )
  // The texts as snapshots (strings compare by value): this tab's own writes, which fire no event here, are read at
  // the render their outbox change brings.
  const outboxText = useSyncExternalStore(subscribe, () => textOf(storage, userId && outboxStorageKey(userId)))
  const discardsText = useSyncExternalStore(subscribe, () => textOf(storage, userId && discardedStorageKey(userId)))
  // biome-ignore lint/correctness/useExhaustiveDependencies: the texts are what `load` and `discarded` read.
  const entries = useMemo(() => (stored && userId ? stored.load(userId) : []), [stored, userId, outboxText])
  // biome-ignore lint/correctness/useExhaustiveDependencies: as above.
  const discarded = useMemo(() => (stored && userId ? stored.discarded(userId) : null), [stored, userId, discardsText])
  const elsewhere = useMemo(() => {
    const shown = new Set(own.map((m) => m.clientId))
    for (const m of thread) if (m.clientId !== null && m.senderId === userId) shown.add(m.clientId)
    return entries
      .filter(
        (m) =>
          m.conversationId === conversationId &&
          m.status === 'pending' &&
          !shown.has(m.clientId) &&
          !discarded?.has(m.clientId),
      )
      .map((m) => pendingCopy(m, userId))
  }, [entries, discarded, own, thread, conversationId, userId])
  const listed = useMemo(
    () =>
      withSendsElsewhere(
        thread,
        elsewhere,
        entries.map((m) => m.clientId),
      ),
    [thread, elsewhere, entries],
  )
  return { listed, elsewhere }
}

/**
 * `thread` with `elsewhere` among its messages not confirmed yet, which come last: each in the order written, as the
 * outbox sends them (`writtenBefore`: the browser's clock, then the order `storedOrder` holds them in).
 *
 * @example withSendsElsewhere([m1, ownPendingAt12h02], [otherAt12h01], []) // [m1, otherAt12h01, ownPendingAt12h02]
 */
function withSendsElsewhere(
  thread: readonly ThreadMessage[],
  elsewhere: readonly ThreadMessage[],
  storedOrder: readonly string[],
): readonly ThreadMessage[] {
  if (elsewhere.length === 0) return thread
  const at = (m: ThreadMessage) => {
    const i = m.clientId === null ? -1 : storedOrder.indexOf(m.clientId)
    return i === -1 ? storedOrder.length : i
  }
  const before = (a: ThreadMessage, b: ThreadMessage) =>
    a.createdAt !== b.createdAt ? a.createdAt < b.createdAt : at(a) < at(b)
  let start = thread.length
  while (start > 0 && (thread[start - 1]!.status ?? 'sent') !== 'sent') start--
  const merged = thread.slice(0, start)
  let i = start
  let j = 0
  while (i < thread.length || j < elsewhere.length) {
    if (j === elsewhere.length || (i < thread.length && !before(elsewhere[j]!, thread[i]!))) merged.push(thread[i++]!)
    else merged.push(elsewhere[j++]!)
  }
  return merged
}
