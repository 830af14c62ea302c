import type { Dispatch, MiddlewareAPI, UnknownAction } from '@reduxjs/toolkit'
import type { Id } from '../contract'
import { internalError, outboxKept, outboxRestored, outboxSaved } from './actions'
import { goesBeforeOwn } from './outboxMachine'
import { createOutboxStorage, droppedStorageKey, outboxMirror, type StorageLike } from './outboxStorage'
import type { PendingMessage, SocketRootState } from './socketSlice'

/**
 * The outbox runner's storage effects: this tab's outbox mirrored into the user's stored one, and what the other
 * tabs left there read back. `userId`: the logged-in user; `mirroring`: the user whose stored outbox the one in state
 * mirrors (the machine's), or null.
 *
 * @example const durable = durableOutbox(localStorage, mwApi, userId, () => state.mirroring); durable.persist()
 */
export function durableOutbox(
  storage: StorageLike,
  { dispatch, getState }: MiddlewareAPI<Dispatch<UnknownAction>, SocketRootState>,
  userId: () => Id | null,
  mirroring: () => Id | null,
) {
  const stored = createOutboxStorage(storage)
  const mirror = outboxMirror(stored)
  /**
   * Where this tab's reads of storage stood when the current run began (one task): read again since (a write of its
   * own merges), storage as this tab knows it is as of this task (see the `leftBehind` effect).
   */
  let runMark = 0

  /** The last write storage was asked to take was refused: the next one it takes ends that (`outboxSaved`). */
  let refusing = false

  /**
   * Per user, the unsent sends a logout nobody asked for here left that storage did not hold (`keepUnstored`): the page
   * told the user to keep it open until they are sent, and the user's next session in it sends them.
   */
  const unstored = new Map<Id, PendingMessage[]>()

  /** A "Log out" of `user` dropped their sends, and no session of theirs has read back since (the mark is there). */
  function markedDropped(user: Id): boolean {
    try {
      return storage.getItem(droppedStorageKey(user)) !== null
    } catch {
      return false
    }
  }

  /** `unstored` for `user` becomes `kept`, told in the socket slice (`outboxKept`) when its count changes. */
  function keep(user: Id, kept: PendingMessage[]) {
    const before = unstored.get(user)?.length ?? 0
    if (kept.length > 0) unstored.set(user, kept)
    else unstored.delete(user)
    if (kept.length !== before) dispatch(outboxKept({ userId: user, count: kept.length }))
  }

  /** Mirrors what changed in the outbox since the last write storage took into the user's stored outbox. */
  function persist() {
    const user = mirroring()
    if (user === null || user !== userId()) return
    const result = mirror.write(user, getState().socket.outbox)
    if (result === 'unchanged') return
    const wasRefusing = refusing
    refusing = result === 'refused' || result === 'stillRefused'
    if (result === 'refused')
      dispatch(internalError({ where: 'outboxStorage', message: 'The unsent messages could not be saved in storage' }))
    // A write that merges what was refused with this change stores every unsent send: the page, told they would be
    // lost with it, is told they are not any more.
    else if (wasRefusing && !refusing) dispatch(outboxSaved())
  }

  return {
    persist,
    /** A new mirror starts from nothing written. */
    restart: mirror.restart,
    /** A run of the runner begins (see `runMark`). */
    markRun() {
      runMark = mirror.mark()
    },
    /** Another tab wrote the logged-in user's stored outbox since this tab last gathered it. */
    othersWrote() {
      const user = userId()
      return user !== null && mirror.othersWrote(user)
    },
    /** `othersWrote` for `user`, read from storage only when this run has not read it yet (see `runMark`). */
    othersWroteThisRun: (user: Id) => mirror.othersWroteSince(user, runMark),
    load(user: Id) {
      const kept = [...(unstored.get(user) ?? [])]
      // A logout that dropped the user's sends ("Log out" in another tab) drops what this page kept too.
      if (stored.forgetDropped(user)) kept.length = 0
      // Everything stored comes in (the reducer skips what it has): a gather, so the holder's next reads nothing
      // until another tab writes.
      const fromStorage = mirror.gather(user)
      const known = new Set(fromStorage.map((m) => m.clientId))
      const entries = withoutDiscarded(user, [...fromStorage, ...kept.filter((m) => !known.has(m.clientId))])
      if (entries.length > 0) dispatch(outboxRestored({ entries, storedOrder: fromStorage.map((m) => m.clientId) }))
      // Told once they are in the outbox: at no moment are they neither there nor kept.
      keep(user, [])
    },
    keepUnstored(user: Id, entries: readonly PendingMessage[]) {
      const inStorage = new Set(stored.load(user).map((m) => m.clientId))
      keep(
        user,
        entries.filter((m) => !inStorage.has(m.clientId)),
      )
    },
    /**
     * The pending sends other tabs left in storage that this tab does not have become this tab's (`adopt`). `onlyNews`:
     * nothing is read when no other tab wrote since the last gather (the holder gathers before each send it starts,
     * and a parse there would cost every send of a lone tab).
     */
    adopt(user: Id, onlyNews: boolean, onlyBeforeOwn: boolean) {
      // Storage first takes this tab's own changes of this action (a confirmed send gone): read before it, a send this
      // tab has just seen confirmed would be taken for another tab's and go again.
      persist()
      if (onlyNews && !mirror.othersWrote(user)) return
      const { outbox } = getState().socket
      const known = new Set(outbox.map((m) => m.clientId))
      // A send this tab let go of that a refusing storage still holds is not another tab's.
      const gone = mirror.unforgotten(outbox)
      const fromStorage = mirror.gather(user)
      const storedOrder = fromStorage.map((m) => m.clientId)
      const others = withoutDiscarded(user, fromStorage).filter(
        (m) => m.status === 'pending' && !known.has(m.clientId) && !gone.has(m.clientId),
      )
      const entries = onlyBeforeOwn ? others.filter((m) => goesBeforeOwn(m, outbox, storedOrder)) : others
      if (entries.length < others.length) mirror.leftOthers()
      if (entries.length > 0) dispatch(outboxRestored({ entries, storedOrder }))
    },
    /** The user's "Log out" is marked ahead of its reducers (`logoutAhead`); `clear` follows. */
    markDropped: stored.mark,
    /** "Log out": the user's sends go, the stored ones and those this page kept. */
    clear(user: Id) {
      keep(user, [])
      stored.clear(user)
    },
    clearIfDropped(user: Id) {
      if (stored.clearIfDropped(user)) keep(user, [])
      // What this page kept of other users goes too when their "Log out" elsewhere dropped it: a tab back from the
      // back/forward cache follows only what is stored now, and never hears of their sessions in between.
      for (const other of [...unstored.keys()]) if (other !== user && markedDropped(other)) keep(other, [])
    },
    /** Names a send the user discarded in this tab, so that no other tab sends it. */
    recordDiscard: stored.recordDiscard,
    /** Whether the user discarded `clientId` in some tab: a tab still holding it must not send it. */
    discarded: (user: Id, clientId: string) => stored.discarded(user).has(clientId),
  }

  /** What was read back, but the sends the user discarded in some tab (a write that did not know put them back). */
  function withoutDiscarded(user: Id, entries: PendingMessage[]): PendingMessage[] {
    if (entries.length === 0) return entries
    const discards = stored.discarded(user)
    return discards.size === 0 ? entries : entries.filter((m) => !discards.has(m.clientId))
  }
}
