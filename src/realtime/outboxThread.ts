import type { ThreadMessage } from '../api'
import type { Id } from '../contract'
import {
  addPendingPatches,
  foldCacheWork,
  removePendingPatches,
  setPendingStatusPatches,
  threadWork,
} from './cacheWork'
import type { Context } from './context'
import type { ThreadChange } from './outboxMachine'
import type { PendingMessage } from './socketSlice'

/** The copy of an outbox entry a thread shows (sent by `senderId`) until the server confirms it. */
export const pendingCopy = (entry: PendingMessage, senderId: Id | null): ThreadMessage => ({
  id: entry.clientId,
  conversationId: entry.conversationId,
  // Not numbered yet: pending copies sort after every stored message whatever their seq.
  seq: 0,
  senderId: senderId ?? '',
  content: entry.content,
  createdAt: entry.createdAt,
  clientId: entry.clientId,
  status: entry.status,
  ...(entry.error ? { error: entry.error } : {}),
})

/**
 * The outbox machine's `patchThread`: the cached thread of `conversationId` (if cached) takes the change to its pending
 * copies; `userId` is the sender an added copy shows.
 *
 * @example patchThread(ctx, userId, 'c1', { kind: 'remove', clientId }) // the pending copy leaves the thread
 */
export function patchThread(
  ctx: Pick<Context, 'view' | 'applyCacheWork'>,
  userId: () => Id | null,
  conversationId: Id,
  change: ThreadChange,
  /** The outbox, oldest first: pending copies show in the order it sends them. */
  outbox: readonly PendingMessage[] = [],
) {
  const current = ctx.view()
  const rank = (clientId: string | null) => outbox.findIndex((m) => m.clientId === clientId)
  const work = threadWork(current, conversationId, (thread) => {
    if (change.kind === 'add') return addPendingPatches(thread, pendingCopy(change.entry, userId()), rank)
    if (change.kind === 'remove') return removePendingPatches(thread, change.clientId)
    return setPendingStatusPatches(thread, change.clientId, change.status, change.error)
  })
  ctx.applyCacheWork(foldCacheWork(work, current))
}
