import { minLength, nullable, number, object, parse, picklist, string, type Id } from '../contract'
import type { PendingMessage } from './socketSlice'

/** The Web Storage shape (`localStorage`, `sessionStorage`, or a memory stand-in). */
export interface StorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/**
 * Where a user's unconfirmed sends are kept: one key per user id.
 *
 * @example outboxStorageKey('u1') // 'talemy.outbox.u1'
 */
export const outboxStorageKey = (userId: Id) => `talemy.outbox.${userId}`

const nonEmpty = string(minLength(1, 'must not be empty'))
/** An entry as a tab wrote it (an error's code is kept as written: it is only shown). */
const entrySchema = object<Omit<PendingMessage, 'error'> & { error: { code: string; message: string } | null }>({
  clientId: nonEmpty,
  conversationId: nonEmpty,
  content: string(),
  createdAt: string(),
  status: picklist(['pending', 'failed']),
  attempts: number(),
  error: nullable(object({ code: string(), message: string() })),
})

/**
 * The durable copy of a user's outbox. Several tabs of one user share the key, so a save merges: it applies what
 * changed in this tab's outbox since its last save (added, updated, removed) to what storage holds now, and leaves
 * other tabs' entries alone. Everything is guarded: a full, disabled or corrupt storage never throws.
 *
 * @example const durable = createOutboxStorage(localStorage); durable.save('u1', before, after); durable.load('u1')
 */
export function createOutboxStorage(storage: StorageLike) {
  function load(userId: Id): PendingMessage[] {
    try {
      const entries: PendingMessage[] = []
      const seen = new Set<string>()
      for (const item of readRaw(userId)) {
        const parsed = parse(entrySchema, item)
        if (!parsed.ok || seen.has(parsed.value.clientId)) continue
        seen.add(parsed.value.clientId)
        entries.push(parsed.value as PendingMessage)
      }
      return entries
    } catch {
      return []
    }
  }

  function write(userId: Id, entries: readonly PendingMessage[]): boolean {
    try {
      if (entries.length === 0) storage.removeItem(outboxStorageKey(userId))
      else storage.setItem(outboxStorageKey(userId), JSON.stringify(entries))
      return true
    } catch {
      return false
    }
  }

  /** The stored list as written (no per-entry validation: `load` validates what it hands out). */
  function readRaw(userId: Id): PendingMessage[] {
    try {
      const raw = storage.getItem(outboxStorageKey(userId))
      const list = raw ? (JSON.parse(raw) as unknown) : []
      return Array.isArray(list) ? (list as PendingMessage[]) : []
    } catch {
      return []
    }
  }

  /**
   * Applies the change `before → after` of this tab's outbox to the stored list: only the entries that changed (an
   * outbox from the reducers shares every untouched entry with the one before, so usually one entry), plus removals.
   * False when storage refused it.
   */
  function save(userId: Id, before: readonly PendingMessage[], after: readonly PendingMessage[]): boolean {
    const unchanged = new Set(before)
    const changed = new Map<string, PendingMessage>()
    for (const entry of after) if (!unchanged.has(entry)) changed.set(entry.clientId, entry)
    const kept = new Set(after.map((m) => m.clientId))
    const removed = new Set(before.filter((m) => !kept.has(m.clientId)).map((m) => m.clientId))
    if (changed.size === 0 && removed.size === 0) return true
    const merged: PendingMessage[] = []
    for (const entry of readRaw(userId)) {
      const id = (entry as { clientId?: unknown } | null)?.clientId
      if (typeof id === 'string' && removed.has(id)) continue
      const next = typeof id === 'string' ? changed.get(id) : undefined
      merged.push(next ?? entry)
      if (next) changed.delete(id as string)
    }
    for (const entry of changed.values()) merged.push(entry)
    return write(userId, merged)
  }

  function clear(userId: Id): void {
    try {
      storage.removeItem(outboxStorageKey(userId))
    } catch {
      // nothing to do
    }
  }

  return { load, save, clear }
}

export type OutboxStorage = ReturnType<typeof createOutboxStorage>

/** No send to keep from adoption (storage took every write). */
const NONE: ReadonlySet<string> = new Set()

/**
 * One tab's outbox mirrored into storage: each write applies what changed since the last write storage took (usually
 * one entry); after a refused write, the next change writes what was refused too.
 *
 * @example const mirror = outboxMirror(durable); if (mirror.write('u1', outbox) === 'refused') warn()
 */
export function outboxMirror(durable: OutboxStorage) {
  /** The outbox as storage last took it, the one last tried, and whether the last write failed. */
  let saved: readonly PendingMessage[] = []
  let tried: readonly PendingMessage[] = []
  let failing = false
  return {
    /** A new mirror (another user, or the same one read back again) starts from nothing written. */
    restart() {
      saved = []
      tried = []
    },
    /**
     * The sends this tab has let go of (confirmed, discarded) that storage may still hold: it took them from this tab
     * and has refused every write since. Never another tab's to adopt.
     */
    unforgotten(outbox: readonly PendingMessage[]): ReadonlySet<string> {
      if (!failing) return NONE
      const kept = new Set(outbox.map((m) => m.clientId))
      return new Set(saved.filter((m) => !kept.has(m.clientId)).map((m) => m.clientId))
    },
    /**
     * Writes `outbox` for `userId`. `refused`: storage refused it, the first time in a streak (a full or disabled
     * storage: the sends still go, but would not survive a reload; say so once).
     */
    write(userId: Id, outbox: readonly PendingMessage[]): 'written' | 'unchanged' | 'refused' | 'stillRefused' {
      if (outbox === saved || outbox === tried) return 'unchanged'
      tried = outbox
      const ok = durable.save(userId, saved, outbox)
      if (ok) saved = outbox
      const wasFailing = failing
      failing = !ok
      return ok ? 'written' : wasFailing ? 'stillRefused' : 'refused'
    },
  }
}
