import { minLength, nullable, number, object, parse, picklist, string, type Id } from '../contract'
import type { PendingMessage } from './socketSlice'

/** The Web Storage shape (`localStorage`, `sessionStorage`, or a memory stand-in). */
export interface StorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/**
 * Where a user's unconfirmed sends are kept: one key per user id, a JSON list of entries (`entrySchema`). Tabs of two
 * versions share it during a deploy: a version that changes the list's shape uses another key, and one that adds a
 * field to the entries still reads entries without it (an older version leaves entries with more fields alone).
 *
 * @example outboxStorageKey('u1') // 'talemy.outbox.u1'
 */
export const outboxStorageKey = (userId: Id) => `talemy.outbox.${userId}`

/**
 * Where the sends a user discarded are named, for the user's other tabs: one key per user id.
 *
 * @example discardedStorageKey('u1') // 'talemy.outbox.discarded.u1'
 */
export const discardedStorageKey = (userId: Id) => `talemy.outbox.discarded.${userId}`

/**
 * Where a logout that dropped a user's unsent sends is marked, for the user's tabs that have not heard of it yet: one
 * key per user id, until the user's next session reads its stored outbox back.
 *
 * @example droppedStorageKey('u1') // 'talemy.outbox.dropped.u1'
 */
export const droppedStorageKey = (userId: Id) => `talemy.outbox.dropped.${userId}`

/** How many discarded sends are named (the latest): one a tab still holds is far more recent than that. */
export const DISCARDS_KEPT = 100

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
  /** The user's stored outbox, and the text it was read from (see `text`). */
  function read(userId: Id): { entries: PendingMessage[]; text: StoredText } {
    const text = textOf(userId)
    try {
      const entries: PendingMessage[] = []
      const seen = new Set<string>()
      for (const item of listOf(text)) {
        const parsed = parse(entrySchema, item)
        // More fields than `entrySchema`'s seven: another version's entry (a deploy), which this one would send (and
        // write back) without them. Left to that version.
        if (!parsed.ok || Object.keys(item).length > 7 || seen.has(parsed.value.clientId)) continue
        seen.add(parsed.value.clientId)
        entries.push(parsed.value as PendingMessage)
      }
      return { entries, text }
    } catch {
      return { entries: [], text }
    }
  }

  function load(userId: Id): PendingMessage[] {
    return read(userId).entries
  }

  /** The text written, or undefined when storage refused it. */
  function write(userId: Id, entries: readonly PendingMessage[]): StoredText {
    wrote(storage)
    try {
      if (entries.length === 0) {
        storage.removeItem(outboxStorageKey(userId))
        return null
      }
      const text = JSON.stringify(entries)
      storage.setItem(outboxStorageKey(userId), text)
      return text
    } catch {
      return undefined
    }
  }

  /**
   * The stored outbox's text as storage holds it: null when there is none, undefined when storage cannot be read.
   * Every write of any tab changes it, so comparing it with the text last seen tells whether another tab wrote,
   * without parsing anything.
   */
  function textOf(userId: Id): StoredText {
    try {
      return storage.getItem(outboxStorageKey(userId))
    } catch {
      return undefined
    }
  }

  /**
   * The text the last `look` read, until this task's microtasks run or a write to the stored outboxes of this realm: a
   * send going ahead of its reducer looks (has another tab written?) before its emit, and its merge write in the same
   * task, with no await in between, merges into that text rather than reading again (the hot path reads storage once
   * per write). Another tab's write reaches a page between its tasks (browsers deliver it by message), never inside one.
   */
  let looked: { userId: Id; text: StoredText; writes: number } | null = null

  /** `textOf`, kept for the merge write that follows in this task (see `looked`). */
  function look(userId: Id): StoredText {
    const mark = { userId, text: textOf(userId), writes: writesTo.get(storage) ?? 0 }
    looked = mark
    queueMicrotask(() => {
      if (looked === mark) looked = null
    })
    return mark.text
  }

  /** The stored list as written (no per-entry validation: `read` validates what it hands out). */
  function listOf(text: StoredText): PendingMessage[] {
    try {
      const list = text ? (JSON.parse(text) as unknown) : []
      return Array.isArray(list) ? (list as PendingMessage[]) : []
    } catch {
      return []
    }
  }

  /**
   * Applies the change `before → after` of this tab's outbox to the stored list: only the entries that changed (an
   * outbox from the reducers shares every untouched entry with the one before, so usually one entry), plus removals.
   * `found`: the text it merged into (what the other tabs may have changed); `written`: the text it left, undefined
   * when storage refused it. Nothing changed: nothing read or written.
   */
  function saveOver(
    userId: Id,
    before: readonly PendingMessage[],
    after: readonly PendingMessage[],
    /** Look every send missing from storage up in the discards (a mirror's first write: `before` knows nothing). */
    lookUpAll = false,
  ):
    | { ok: true; nothingChanged: true }
    | { ok: boolean; nothingChanged: false; found: StoredText; written: StoredText } {
    const unchanged = new Set(before)
    const changed = new Map<string, PendingMessage>()
    for (const entry of after) if (!unchanged.has(entry)) changed.set(entry.clientId, entry)
    const kept = new Set(after.map((m) => m.clientId))
    const removed = new Set(before.filter((m) => !kept.has(m.clientId)).map((m) => m.clientId))
    if (changed.size === 0 && removed.size === 0) return { ok: true, nothingChanged: true }
    const found =
      looked?.userId === userId && looked.writes === (writesTo.get(storage) ?? 0) ? looked.text : textOf(userId)
    // Unreadable: there is no list to merge into, and one written from this change alone would drop every send
    // already stored (this tab's and the others'). Refused instead: the next change tries this one again.
    if (found === undefined) return { ok: false, nothingChanged: false, found, written: undefined }
    const merged: PendingMessage[] = []
    for (const entry of listOf(found)) {
      const id = (entry as { clientId?: unknown } | null)?.clientId
      if (typeof id === 'string' && removed.has(id)) continue
      const next = typeof id === 'string' ? changed.get(id) : undefined
      merged.push(next ?? entry)
      if (next) changed.delete(id as string)
    }
    // A send this tab had stored that is gone from storage now: another tab took it out (the user discarded it there,
    // or the server confirmed it) or wrote over it without it (a stale write). Only a discard says it must not come
    // back: a send that storage lost otherwise is written again, so that no tab loses it.
    const discards = [...changed.values()].some((m) => lookUpAll || mayBeDiscarded(m, before))
      ? discarded(userId)
      : NONE
    for (const entry of changed.values()) if (!discards.has(entry.clientId)) merged.push(entry)
    const written = write(userId, merged)
    return { ok: written !== undefined, nothingChanged: false, found, written }
  }

  /** `saveOver`, told only whether storage took it. */
  function save(userId: Id, before: readonly PendingMessage[], after: readonly PendingMessage[]): boolean {
    return saveOver(userId, before, after).ok
  }

  /**
   * A logout that drops the user's unsent sends. Another tab of the user hears of it only later (a storage event, a
   * later task), and a try settling there meanwhile writes its send back (the merge write): marked, so that it drops
   * them again when it hears (`clearIfDropped`), and the user's next session does not read them back (`forgetDropped`).
   * The dropped sends are named discarded too (with the user's earlier discards, kept): the user may log in again before
   * that tab hears (its write back is then after the next session's read back, the mark gone), and no tab writes back,
   * adopts or sends a discarded send. Nothing stored, it is marked all the same (no discards kept): a tab whose sends
   * storage refused holds them in its memory alone (`keepUnstored`), and the user's "Log out" drops those too.
   */
  function clear(userId: Id): void {
    wrote(storage)
    let text: StoredText
    try {
      text = storage.getItem(outboxStorageKey(userId))
      storage.removeItem(outboxStorageKey(userId))
    } catch {
      return
    }
    if (text === null) {
      forget(discardedStorageKey(userId))
      mark(userId)
      return
    }
    const dropped = new Set<string>()
    for (const entry of listOf(text)) {
      const id = (entry as { clientId?: unknown } | null)?.clientId
      if (typeof id === 'string') dropped.add(id)
    }
    // Every dropped send is named, past `DISCARDS_KEPT` if need be: the later discards trim the list.
    const earlier = [...(readDiscards(userId) ?? NONE)].filter((id) => !dropped.has(id))
    const ids = [...earlier, ...dropped].slice(-Math.max(DISCARDS_KEPT, dropped.size))
    try {
      storage.setItem(discardedStorageKey(userId), JSON.stringify(ids))
    } catch {
      // nothing to do: the mark still covers the tabs that hear of the logout before the user's next session
    }
    mark(userId)
  }

  /** Marks the user's "Log out" as one that drops their sends (see `clear`), ahead of it (`logoutAhead`). */
  function mark(userId: Id): void {
    try {
      storage.setItem(droppedStorageKey(userId), '1')
    } catch {
      // nothing to do
    }
  }

  /**
   * A logout another tab made, heard here: if it dropped the sends, what this tab wrote back meanwhile goes too (the
   * discards stay: they name the dropped sends for the tabs yet to hear). True when it had dropped them.
   */
  function clearIfDropped(userId: Id): boolean {
    wrote(storage)
    try {
      if (storage.getItem(droppedStorageKey(userId)) === null) return false
      storage.removeItem(outboxStorageKey(userId))
      return true
    } catch {
      return false
    }
  }

  /**
   * A session of the user is about to read its stored outbox back. Marked, what storage holds was written back by tabs
   * that had not heard of the logout (a page closed before it did): a session writes only once it has read back. It
   * goes, and the mark with it: from now on the stored sends are this session's. The discards stay: a tab yet to hear
   * of the logout may still write a dropped send back, and no tab adopts or sends one named there. True when marked.
   */
  function forgetDropped(userId: Id): boolean {
    wrote(storage)
    try {
      if (storage.getItem(droppedStorageKey(userId)) === null) return false
      storage.removeItem(outboxStorageKey(userId))
      storage.removeItem(droppedStorageKey(userId))
      return true
    } catch {
      return false
    }
  }

  function forget(key: string): void {
    try {
      storage.removeItem(key)
    } catch {
      // nothing to do
    }
  }

  /** The discards last read, by the text they were read from: each retry looks, and most find it unchanged. */
  let lastDiscards: { text: string | null; ids: ReadonlySet<string> } = { text: null, ids: NONE }

  /** The sends the user discarded in any tab (the latest `DISCARDS_KEPT`); undefined when storage cannot be read. */
  function readDiscards(userId: Id): ReadonlySet<string> | undefined {
    let text: string | null
    try {
      text = storage.getItem(discardedStorageKey(userId))
    } catch {
      return undefined
    }
    if (text === lastDiscards.text) return lastDiscards.ids
    let list: unknown = null
    try {
      list = text ? JSON.parse(text) : null
    } catch {
      // not ours: names nothing
    }
    const ids = Array.isArray(list) ? new Set(list.filter((id): id is string => typeof id === 'string')) : NONE
    lastDiscards = { text, ids }
    return ids
  }

  /** The sends the user discarded in any tab (the latest `DISCARDS_KEPT`); none when storage cannot be read. */
  function discarded(userId: Id): ReadonlySet<string> {
    return readDiscards(userId) ?? NONE
  }

  /**
   * Names `clientId` as discarded by the user, for the other tabs; best effort (a full storage keeps the rest). Named
   * already, nothing is written: a tab dropping it on hearing of the discard (`syncDiscards`) tells the tabs nothing.
   */
  function recordDiscard(userId: Id, clientId: string): void {
    const named = readDiscards(userId)
    // Unreadable: a list written from this discard alone would drop the others.
    if (named === undefined || named.has(clientId)) return
    const ids = [...named, clientId]
    try {
      storage.setItem(discardedStorageKey(userId), JSON.stringify(ids.slice(-DISCARDS_KEPT)))
    } catch {
      // nothing to do: the other tabs may still send it, as they would without this
    }
  }

  return {
    read,
    load,
    textOf,
    look,
    save,
    saveOver,
    clear,
    mark,
    clearIfDropped,
    forgetDropped,
    discarded,
    recordDiscard,
  }
}

export type OutboxStorage = ReturnType<typeof createOutboxStorage>

/** How many times this realm wrote stored outboxes, by storage (stores sharing one storage in a page, or tests). */
const writesTo = new WeakMap<StorageLike, number>()
const wrote = (storage: StorageLike) => void writesTo.set(storage, (writesTo.get(storage) ?? 0) + 1)

/** A stored outbox's text: null when there is none, undefined when storage could not be read or refused a write. */
type StoredText = string | null | undefined

/**
 * Whether a send this tab writes, that storage no longer holds, may be one the user discarded in another tab: one
 * tried (a count, a failure), or one this tab had stored already (Retry makes a failed copy pending and untried
 * again). A send new to this tab (the hot path: just written) looks nothing up.
 *
 * @example mayBeDiscarded(pendingMessage('b1'), [failedB1]) // true; mayBeDiscarded(pendingMessage('k1'), []) // false
 */
const mayBeDiscarded = (entry: PendingMessage, before: readonly PendingMessage[]): boolean =>
  entry.attempts > 0 || entry.status === 'failed' || before.some((m) => m.clientId === entry.clientId)

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
  /**
   * No write yet since the mirror began: what it writes is all new to it, a send a tab still shows but the user
   * discarded elsewhere too (a session of the same user begun again), so its first write looks each one up.
   */
  let first = true
  /**
   * The stored text as this tab last left it (its own write) or read it (a gather), and for which user; `news`: some
   * other tab's write was seen since the last gather (a write of ours merges it in, so the text alone would hide it).
   */
  let seen: { userId: Id | null; text: StoredText } = { userId: null, text: undefined }
  let news = true
  /** How many times this tab has read the stored text (a write's merge, a gather, a look): see `mark`. */
  let looks = 0
  function othersWrote(userId: Id): boolean {
    if (seen.userId !== userId) return true
    if (!news) {
      const text = durable.look(userId)
      looks++
      if (text !== undefined && text !== seen.text) news = true
    }
    return news
  }
  /**
   * `othersWrote` as last seen, without reading storage: right after a write of this tab that changed something (it
   * read storage to merge), as good as `othersWrote`; otherwise as of this tab's last write or gather.
   */
  function othersWroteKnown(userId: Id): boolean {
    return seen.userId !== userId || news
  }
  return {
    /** A new mirror (another user, or the same one read back again) starts from nothing written. */
    restart() {
      saved = []
      tried = []
      seen = { userId: null, text: undefined }
      news = true
      first = true
    },
    /**
     * Another tab wrote the user's stored outbox since this tab last gathered it: one read of storage's text and a
     * comparison, no parse (the lock holder asks before each send it starts while holding, see `outboxHandler`).
     * Storage that cannot be read has nothing to gather.
     */
    othersWrote,
    /** Where this tab's reads of storage stand now, for `othersWroteSince`. */
    mark(): number {
      return looks
    },
    /**
     * `othersWroteKnown` when this tab has read storage since `mark` (a write of its own that changed something, a
     * gather: as good as a look, no read), else `othersWrote` (one read): what it knew as of an earlier task's write may
     * be stale, another tab having written since.
     */
    othersWroteSince(userId: Id, mark: number): boolean {
      return looks > mark ? othersWroteKnown(userId) : othersWrote(userId)
    },
    /** The user's stored sends, read for a gather: what other tabs wrote until now is seen. */
    gather(userId: Id): PendingMessage[] {
      const { entries, text } = durable.read(userId)
      looks++
      seen = { userId, text }
      news = false
      return entries
    },
    /**
     * After a gather that left other tabs' sends where they are (`goesBeforeOwn`): they still count as news, so that a
     * tab letting the lock go sweeps them should their tab close meanwhile.
     */
    leftOthers(): void {
      news = true
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
     * storage: the sends still go, but would not survive a reload; say so once), or the first since the outbox was empty.
     */
    write(userId: Id, outbox: readonly PendingMessage[]): 'written' | 'unchanged' | 'refused' | 'stillRefused' {
      if (outbox === saved || outbox === tried) return 'unchanged'
      // A streak lasts while there are sends to lose: past an empty outbox the page has dropped its notice.
      const streak = failing && tried.length > 0
      tried = outbox
      const result = durable.saveOver(userId, saved, outbox, first)
      if (!result.nothingChanged) first = false
      const { ok } = result
      if (ok) saved = outbox
      if (!result.nothingChanged) {
        looks++
        // What this write merged into is what another tab left if it is not what this tab last saw.
        if (seen.userId !== userId || result.found !== seen.text) news = true
        seen = { userId, text: result.ok ? result.written : result.found }
      }
      failing = !ok
      return ok ? 'written' : streak ? 'stillRefused' : 'refused'
    },
  }
}
