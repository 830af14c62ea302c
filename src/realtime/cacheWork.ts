import { defaultSerializeQueryArgs, type Patch } from '@reduxjs/toolkit/query'
import type {
  ContactRequest,
  Conversation,
  ConversationSeenPayload,
  Id,
  Lesson,
  Message,
  ServerEventName,
  ServerEventPayload,
} from '../contract'
import { LIST, type TagType, type ThreadMessage } from '../api'
import type { SendError } from './actions'

// Cache work is computed here as data — immer patches for `api.util.patchQueryData` and tags for
// `api.util.invalidateTags` — from the event and a read-only view of the cache. Pure: no dispatch, no clock, so it is
// tested as a table. The table says what changes with minimal patches (an append is one `add`); `cacheWorkForBurst`
// then folds them, for one event or a whole burst, into the next list of each entry, handed to the store as one root
// `replace` (see there why). The middleware applies the work (`applyCacheWork` in context.ts).

/** The endpoints events patch, with their argument. */
export type PatchableQuery =
  | { endpointName: 'getMessages'; arg: Id }
  | { endpointName: 'getConversations' | 'getLessons' | 'getContactRequests'; arg: undefined }

export type QueryPatch = PatchableQuery & { patches: Patch[] }

export interface CacheTag {
  type: TagType
  id: string
}

/**
 * What one event asks of the cache: patches where the data is cached, invalidations where it is not patchable, and
 * `awaitRead` when an entry it lands on is being read: the event is applied again once that read lands (patches are
 * idempotent), so an event never falls between a read and the stream.
 */
export interface CacheWork {
  patches: QueryPatch[]
  invalidate: CacheTag[]
  awaitRead?: true
}

/** A burst's work, with the events to run again when the reads they wait for land. */
export interface BurstWork extends CacheWork {
  parked?: QueuedEvent[]
}

/** The part of a cache entry the table reads (RTK Query's `QuerySubState`). */
export interface CacheEntryView {
  status: string
  data?: unknown
  /** The read the entry is waiting for (or last had) answered. */
  requestId?: string
}

/** A read-only view of what the table needs: RTK Query's `queries`, the current user and the joined rooms. */
export interface CacheView {
  queries: Readonly<Record<string, CacheEntryView | undefined>>
  userId: Id | null
  rooms: readonly Id[]
  /**
   * Per conversation, the offsets of the last `conversation:read` and of the last message applied over the list since
   * it was read (`[read, message]`; the cache handler keeps them until the list lands again). A message from someone
   * else that the list holds already, first applied after such a read (the list was read after both: events parked
   * during a read, a replay, an event later than the list's answer, each maybe a burst of its own), is unread again:
   * the read, applied over that list, took it back. Set by `cacheWorkForBurst`.
   */
  readMarks?: Map<Id, [read: number, message: number]>
  /** The message being applied is to be counted again when the list holds it (see `readMarks`). */
  recount?: boolean
  /**
   * Per conversation, the `seq` up to which the list's unread count accounts for the others' messages, where our own
   * message has since put its last message above that (the cache handler keeps them until the list lands again). Our
   * send confirmed before an earlier message of someone else arrives (sent over HTTP while the socket was down, the
   * replay bringing theirs): the list's last message is newer than theirs, yet their message was never counted.
   * Set by `cacheWorkForBurst`.
   */
  covered?: Map<Id, number>
  /**
   * The reads the event being applied waits for (`QueuedEvent.waitsFor`): a read of an entry asked since the event was
   * first applied holds it already, so the event waits for no other. Unset: every read in flight.
   */
  waitsFor?: ReadonlySet<string>
}

/** Endpoint → argument → cache key. */
const queryKeys = new Map<string, Map<Id | undefined, string>>()

/**
 * The cache key RTK Query uses for an endpoint and argument (our api keeps the default serializer). Remembered, by
 * endpoint then argument (no key is built to look one up): it is asked for twice per event of a burst, and
 * serializing costs more than the rest of a message's table work.
 */
export function queryKey(query: PatchableQuery): string {
  let byArg = queryKeys.get(query.endpointName)
  if (byArg === undefined) {
    byArg = new Map()
    queryKeys.set(query.endpointName, byArg)
  }
  let key = byArg.get(query.arg)
  if (key === undefined) {
    key = defaultSerializeQueryArgs({
      endpointName: query.endpointName,
      queryArgs: query.arg,
      endpointDefinition: undefined as never,
    })
    if (byArg.size >= 10_000) byArg.clear()
    byArg.set(query.arg, key)
  }
  return key
}

const noWork = (): CacheWork => ({ patches: [], invalidate: [] })

type Read<T> =
  | { kind: 'absent' }
  | { kind: 'inFlight' }
  | { kind: 'unpatchable' }
  | { kind: 'data'; data: T; refetching: boolean }

const ABSENT = { kind: 'absent' } as const
const IN_FLIGHT = { kind: 'inFlight' } as const
const UNPATCHABLE = { kind: 'unpatchable' } as const

function read<T>(view: CacheView, query: PatchableQuery): Read<T> {
  const entry = view.queries[queryKey(query)]
  if (!entry || entry.status === 'uninitialized') return ABSENT
  // A read asked after the event was first applied answers with it: nothing to wait for.
  const awaited =
    entry.status === 'pending' &&
    (view.waitsFor === undefined || entry.requestId === undefined || view.waitsFor.has(entry.requestId))
  // A first read asked since then brings the change itself.
  if (!Array.isArray(entry.data)) return entry.status === 'pending' ? (awaited ? IN_FLIGHT : ABSENT) : UNPATCHABLE
  // A refetch in flight may answer without this change and overwrite the patch: patch now, and again once it lands.
  return { kind: 'data', data: entry.data as T, refetching: awaited }
}

const awaitsRead = (entry: Read<unknown>) => entry.kind === 'inFlight' || (entry.kind === 'data' && entry.refetching)

// --- Threads ------------------------------------------------------------------------------------------------------

/**
 * Whether two messages are by one sender, as far as this store can tell: a pending copy made without a user id
 * (`selectUserId` not given) has sender `''` and counts as anyone's, as every `clientId` match did before senders.
 */
const sameSender = (a: ThreadMessage | Message, b: ThreadMessage | Message) =>
  a.senderId === b.senderId || a.senderId === '' || b.senderId === ''

/** Our own messages the server has not confirmed; they sit after the confirmed ones, in the order they were sent. */
export const isUnconfirmed = (m: ThreadMessage) => m.status === 'pending' || m.status === 'failed'

const time = (iso: string) => {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? 0 : t
}

/**
 * A new object with `base`'s fields and `changes`: what `{ ...base, ...changes }` would be, in the form measured to
 * freeze best, since the fold freezes what it puts in a list (bench/README.md,
 * "Measurements behind choices in the source").
 */
function copy<T extends object>(base: T, changes: Partial<T> | null): T {
  return Object.assign({}, base, changes)
}

/**
 * The thread's copy of a server message: its fields named one by one (a `Message` has no others) and frozen here, at
 * once: the form measured best for a burst's every event (bench/README.md,
 * "Measurements behind choices in the source").
 */
function threadMessageOf(message: Message, status: 'sent' | undefined): ThreadMessage {
  const { id, conversationId, seq, senderId, content, createdAt, clientId } = message
  return Object.freeze(
    status === undefined
      ? { id, conversationId, seq, senderId, content, createdAt, clientId }
      : { id, conversationId, seq, senderId, content, createdAt, clientId, status },
  )
}

function lastIndexWhere<T>(list: readonly T[], test: (item: T) => boolean): number {
  for (let i = list.length - 1; i >= 0; i--) if (test(list[i]!)) return i
  return -1
}

/** Patches moving the item at `from` to final index `to` with a new value (one `replace` when it stays put). */
function move(from: number, to: number, value: unknown): Patch[] {
  if (from === to) return [{ op: 'replace', path: [from], value }]
  return [
    { op: 'remove', path: [from] },
    { op: 'add', path: [to], value },
  ]
}

/**
 * Whether `message`, going first in `thread`, would not join its first stored message (its `seq` is more than one
 * below): it would sit above a hole, and "Load earlier" asks only for what comes before the first message, so the hole
 * would show nothing ever. It is left to "Load earlier" instead. A message comes so after the thread was read again
 * once more than a page had come: our send confirmed only then (its answer was lost), an event that waited for that
 * read.
 *
 * @example leavesHole([m112, m113], m101) // true; leavesHole([m112, m113], m111) // false
 */
export function leavesHole(thread: readonly ThreadMessage[], message: Message): boolean {
  const first = thread[0]
  return first !== undefined && !isUnconfirmed(first) && first.seq > message.seq + 1
}

/**
 * Upserts a stored message into a thread: a no-op when it is already there, replaces our pending or failed copy
 * with the same `clientId`, else inserts it by `seq` (after the last confirmed message with a lower `seq`, before
 * the unconfirmed ones), unless it would go first above a hole (`leavesHole`): then only our copy goes. `status` is
 * `'sent'` for our own confirmed messages.
 *
 * A thread keeps two invariants (this module and the thread page maintain them): confirmed messages ordered by `seq`,
 * unconfirmed ones after them. So the scan starts at the end and stops at the message's place: an append, the usual
 * case, costs O(pending), not O(thread), whatever the thread's length.
 *
 * @example upsertMessagePatches([pending], stored, 'sent') // [{ op: 'replace', path: [0], value: { ...stored, status: 'sent' } }]
 */
export function upsertMessagePatches(thread: readonly ThreadMessage[], message: Message, status?: 'sent'): Patch[] {
  let i = thread.length - 1
  let mine = -1
  // Only the sender's own message takes over their copy (`sent` is ours by definition): a `clientId` is the sender's,
  // another's may be the same string.
  for (; i >= 0 && isUnconfirmed(thread[i]!); i--) {
    const m = thread[i]!
    if (message.clientId !== null && m.clientId === message.clientId && (status === 'sent' || sameSender(m, message)))
      mine = i
  }
  for (; i >= 0 && thread[i]!.seq >= message.seq; i--) {
    if (thread[i]!.id === message.id) return []
  }
  const pos = i + 1
  if (pos === 0 && leavesHole(thread, message)) return mine === -1 ? [] : [{ op: 'remove', path: [mine] }]
  const value = threadMessageOf(message, status)
  if (mine === -1) return [{ op: 'add', path: [pos], value }]
  return move(mine, mine < pos ? pos - 1 : pos, value)
}

/**
 * Adds our pending copy among the unconfirmed ones at the end of its thread, in the order they were written (once per
 * `clientId` of ours: another sender's may be the same): a send restored after a reload goes before this page's newer
 * one, as the outbox sends them.
 */
export function addPendingPatches(
  thread: readonly ThreadMessage[],
  pending: ThreadMessage,
  /** The place of a `clientId` in the outbox (the order it sends in), -1 when not there. */
  rank?: (clientId: string | null) => number,
): Patch[] {
  if (
    pending.clientId !== null &&
    thread.some((m) => m.clientId === pending.clientId && (isUnconfirmed(m) || sameSender(m, pending)))
  )
    return []
  // The outbox's order when both are in it: `createdAt` is the browser's clock, which may have been set back between
  // two sends, and the later one would show before the one sent first.
  const own = rank?.(pending.clientId) ?? -1
  const after = (m: ThreadMessage) => {
    const other = own === -1 ? -1 : rank!(m.clientId)
    return other === -1 ? m.createdAt > pending.createdAt : other > own
  }
  let pos = thread.length
  while (pos > 0 && isUnconfirmed(thread[pos - 1]!) && after(thread[pos - 1]!)) pos--
  return [{ op: 'add', path: [pos], value: pending }]
}

/** Sets the status (and error) of our unconfirmed copy. */
export function setPendingStatusPatches(
  thread: readonly ThreadMessage[],
  clientId: string,
  status: 'pending' | 'failed',
  error?: SendError,
): Patch[] {
  const i = lastIndexWhere(thread, (m) => isUnconfirmed(m) && m.clientId === clientId)
  if (i === -1) return []
  const current = thread[i]!
  // Our own copy (see `pendingCopy`): its fields are known, and `error` goes with `failed` only.
  const { id, conversationId, seq, senderId, content, createdAt } = current
  const value: ThreadMessage = {
    id,
    conversationId,
    seq,
    senderId,
    content,
    createdAt,
    clientId: current.clientId,
    status,
    ...(error ? { error } : {}),
  }
  return [{ op: 'replace', path: [i], value }]
}

/** Removes our unconfirmed copy. */
export function removePendingPatches(thread: readonly ThreadMessage[], clientId: string): Patch[] {
  const i = lastIndexWhere(thread, (m) => isUnconfirmed(m) && m.clientId === clientId)
  return i === -1 ? [] : [{ op: 'remove', path: [i] }]
}

// --- Conversations ------------------------------------------------------------------------------------------------

/**
 * A new last message for a conversation: `lastMessage`, `updatedAt`, `unreadCount` (+1 when `countUnread`) and its
 * place in the list (most recent first). Idempotent: a message not newer (by `seq`) than `lastMessage` changes nothing.
 * `null` when the conversation is not in the list.
 */
export function conversationMessagePatches(
  list: readonly Conversation[],
  message: Message,
  countUnread: boolean,
  /** Count it even when the list holds it already: a read applied after the list's read zeroed it (`readMarks`). */
  recount = false,
  /** Up to where the count covers the others' messages, when our own message went above it (`CacheView.covered`). */
  covered?: number,
  /**
   * The message is the user's own: replying is reading (the server moves their read position to it), so, newer than
   * the list's last message, it leaves nothing unread. Sent over HTTP, no `conversation:read` comes to say so.
   */
  mine = false,
): Patch[] | null {
  const idx = list.findIndex((c) => c.id === message.conversationId)
  if (idx === -1) return null
  const current = list[idx]!
  if (current.lastMessage && current.lastMessage.seq >= message.seq)
    return recount || (countUnread && covered !== undefined && message.seq > covered)
      ? [{ op: 'replace', path: [idx], value: copy(current, { unreadCount: current.unreadCount + 1 }) }]
      : []
  // The message's own fields (a copy as the thread keeps it: the list holds no `status` either).
  const lastMessage: Message = threadMessageOf(message, undefined)
  const updatedAt = time(message.createdAt) > time(current.updatedAt) ? message.createdAt : current.updatedAt
  const next: Conversation = copy(current, {
    lastMessage,
    updatedAt,
    unreadCount: mine ? 0 : current.unreadCount + (countUnread ? 1 : 0),
  })
  // Most recent first: after the conversations updated later than this one (usually none), and, as GET
  // /api/conversations orders a tie (`order by updated_at desc, id`), after those updated at the same moment with a
  // lower id; else a refetch would swap the two rows.
  const at = time(updatedAt)
  let to = 0
  for (let k = 0; k < list.length; k++) {
    if (k === idx) continue
    const other = list[k]!
    const otherAt = time(other.updatedAt)
    if (otherAt > at || (otherAt === at && other.id < next.id)) to++
    else break
  }
  return move(idx, to, next)
}

/** `unreadCount: 0` for one conversation; `null` when it is not in the list. */
export function conversationReadPatches(list: readonly Conversation[], conversationId: Id): Patch[] | null {
  const idx = list.findIndex((c) => c.id === conversationId)
  if (idx === -1) return null
  const current = list[idx]!
  return current.unreadCount === 0 ? [] : [{ op: 'replace', path: [idx], value: copy(current, { unreadCount: 0 }) }]
}

/**
 * `readSeq[userId]` raised to `seq` for one conversation: monotonic (a lower or equal `seq`, a replay or a late
 * event, changes nothing). `null` when the conversation is not in the list.
 *
 * @example conversationSeenPatches([{ id: 'c1', readSeq: { bob: 3 }, … }], { conversationId: 'c1', userId: 'bob', seq: 5 })
 * // [{ op: 'replace', path: [0], value: { id: 'c1', readSeq: { bob: 5 }, … } }]
 */
export function conversationSeenPatches(list: readonly Conversation[], seen: ConversationSeenPayload): Patch[] | null {
  const idx = list.findIndex((c) => c.id === seen.conversationId)
  if (idx === -1) return null
  const current = list[idx]!
  const readSeq = current.readSeq ?? {}
  if ((readSeq[seen.userId] ?? 0) >= seen.seq) return []
  return [{ op: 'replace', path: [idx], value: copy(current, { readSeq: { ...readSeq, [seen.userId]: seen.seq } }) }]
}

// --- Lessons and contact requests ---------------------------------------------------------------------------------

type Versioned = { id: Id; updatedAt: string }

function sameEntity(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k])
}

/**
 * Puts a whole entity into a cached list by id, keeping the newer version (by `updatedAt`); a missing one is
 * appended when `insert`, else `null` (the caller invalidates the list).
 */
export function entityPatches<T extends Versioned>(list: readonly T[], item: T, insert: boolean): Patch[] | null {
  const idx = list.findIndex((x) => x.id === item.id)
  if (idx === -1) return insert ? [{ op: 'add', path: [list.length], value: item }] : null
  const current = list[idx]!
  if (time(item.updatedAt) < time(current.updatedAt)) return []
  if (sameEntity(current as unknown as Record<string, unknown>, item as unknown as Record<string, unknown>)) return []
  return [{ op: 'replace', path: [idx], value: item }]
}

// --- The table ----------------------------------------------------------------------------------------------------

function listWork(
  work: CacheWork,
  view: CacheView,
  query: PatchableQuery,
  tag: TagType,
  patchesFor: (list: never[]) => Patch[] | null,
): CacheWork {
  const entry = read<never[]>(view, query)
  if (entry.kind === 'absent') return work
  if (awaitsRead(entry)) work.awaitRead = true
  if (entry.kind === 'inFlight') return work
  const patches = entry.kind === 'data' ? patchesFor(entry.data) : null
  if (patches && patches.length > 0) work.patches.push({ ...query, patches })
  // Not in the list (or not a list): only a read can tell where it goes; a read in flight will.
  if (patches === null && !work.awaitRead) work.invalidate.push({ type: tag, id: LIST })
  return work
}

/**
 * Whether a stored message leaves a hole after the thread's last confirmed one (`seq` jumps by more than 1): an event
 * was missed (a drop the server could not recover, a delivery lost), so the thread is refetched.
 *
 * @example seqGap([m1, m2], m4) // true
 */
export function seqGap(thread: readonly ThreadMessage[], message: Message): boolean {
  let i = thread.length - 1
  while (i >= 0 && isUnconfirmed(thread[i]!)) i--
  const last = i >= 0 ? thread[i]!.seq : 0
  return message.seq > last + 1
}

function messageWork(message: Message, view: CacheView, own: boolean): CacheWork {
  const work = noWork()
  const thread = read<ThreadMessage[]>(view, { endpointName: 'getMessages', arg: message.conversationId })
  let gap = false
  if (thread.kind === 'data') {
    gap = seqGap(thread.data, message)
    const patches = upsertMessagePatches(thread.data, message, own ? 'sent' : undefined)
    if (patches.length > 0) work.patches.push({ endpointName: 'getMessages', arg: message.conversationId, patches })
  }
  if (awaitsRead(thread)) work.awaitRead = true
  else if (gap || thread.kind === 'unpatchable') work.invalidate.push({ type: 'Message', id: message.conversationId })
  // While the user has the conversation open (joined), the server marks new messages read for them.
  const countUnread = !own && message.senderId !== view.userId && !view.rooms.includes(message.conversationId)
  const recount = countUnread && view.recount === true
  const covered = view.covered?.get(message.conversationId)
  return listWork(work, view, { endpointName: 'getConversations', arg: undefined }, 'Conversation', (list) =>
    conversationMessagePatches(
      list as Conversation[],
      message,
      countUnread,
      recount,
      covered,
      own || message.senderId === view.userId,
    ),
  )
}

/** The cache work of each server event, keyed by the contract's event map (a missing event is a type error). */
export type CacheWorkTable = {
  [E in ServerEventName]: (payload: ServerEventPayload<E>, view: CacheView) => CacheWork
}

/**
 * Server event → cache work.
 *
 * @example cacheWorkTable['message:new'](message, view) // { patches: [{ endpointName: 'getMessages', arg: 'c1', patches: [...] }], invalidate: [] }
 */
export const cacheWorkTable: CacheWorkTable = {
  'message:new': (message, view) => messageWork(message, view, false),
  'message:sent': (message, view) => messageWork(message, view, true),
  'conversation:read': ({ conversationId }, view) =>
    listWork(noWork(), view, { endpointName: 'getConversations', arg: undefined }, 'Conversation', (list) =>
      conversationReadPatches(list as Conversation[], conversationId),
    ),
  'conversation:seen': (seen, view) =>
    listWork(noWork(), view, { endpointName: 'getConversations', arg: undefined }, 'Conversation', (list) =>
      conversationSeenPatches(list as Conversation[], seen),
    ),
  'lesson:created': (lesson, view) =>
    listWork(noWork(), view, { endpointName: 'getLessons', arg: undefined }, 'Lesson', (list) =>
      entityPatches<Lesson>(list, lesson, true),
    ),
  'lesson:statusUpdated': (lesson, view) =>
    listWork(noWork(), view, { endpointName: 'getLessons', arg: undefined }, 'Lesson', (list) =>
      entityPatches<Lesson>(list, lesson, false),
    ),
  'contactRequest:created': (request, view) =>
    listWork(noWork(), view, { endpointName: 'getContactRequests', arg: undefined }, 'ContactRequest', (list) =>
      entityPatches<ContactRequest>(list, request, true),
    ),
  'contactRequest:statusUpdated': (request, view) =>
    listWork(noWork(), view, { endpointName: 'getContactRequests', arg: undefined }, 'ContactRequest', (list) =>
      entityPatches<ContactRequest>(list, request, false),
    ),
}

/**
 * Runs the table for one event (the generic keeps the event and its payload type together).
 *
 * @example
 * cacheWorkFor('conversation:read', { conversationId: 'c1', unreadCount: 0 }, view) // c1's unreadCount to 0, if listed
 */
export function cacheWorkFor<E extends ServerEventName>(
  event: E,
  payload: ServerEventPayload<E>,
  view: CacheView,
): CacheWork {
  return (cacheWorkTable[event] as (payload: ServerEventPayload<E>, view: CacheView) => CacheWork)(payload, view)
}

/** Cache work for one of our own threads (pending copy, status change, removal): patch where cached, nothing else. */
export function threadWork(
  view: CacheView,
  conversationId: Id,
  patchesFor: (thread: ThreadMessage[]) => Patch[],
): CacheWork {
  const work = noWork()
  const thread = read<ThreadMessage[]>(view, { endpointName: 'getMessages', arg: conversationId })
  if (thread.kind === 'data') {
    const patches = patchesFor(thread.data)
    if (patches.length > 0) work.patches.push({ endpointName: 'getMessages', arg: conversationId, patches })
  }
  return work
}

// --- Bursts -------------------------------------------------------------------------------------------------------

/** One server event waiting for its cache work. */
export interface QueuedEvent {
  event: ServerEventName
  payload: unknown
  /** Its place in the user's log, when logged: a parked event runs again after later ones. */
  offset?: number
  /**
   * Set when it first waits: the reads in flight then (their request ids). Those may answer without it; a read asked
   * later answers with it, and applied again over that answer a `conversation:read` would take back the messages
   * counted after it, whose events may never come again (lost to a gap).
   */
  waitsFor?: ReadonlySet<string>
}

/** Freezes a value put into a list and what it holds, down to what is frozen already (as immer's deep freeze would). */
function freezeDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value
  Object.freeze(value)
  for (const field in value) {
    const child: unknown = value[field]
    if (typeof child === 'object' && child !== null) freezeDeep(child)
  }
  return value
}

/** Applies one of the table's own patches (`add`/`remove`/`replace` at an array index) to a plain array. */
function applyArrayPatch(array: unknown[], patch: Patch): void {
  const index = patch.path[0] as number
  // The table makes no other patch: a check of this module's own output, for development.
  if (process.env.NODE_ENV !== 'production' && (patch.path.length !== 1 || typeof index !== 'number'))
    throw new Error(`unexpected patch path ${JSON.stringify(patch.path)}`)
  if (patch.op === 'remove') array.splice(index, 1)
  else if (patch.op === 'replace') array[index] = freezeDeep(patch.value)
  else if (index === array.length) array.push(freezeDeep(patch.value))
  else array.splice(index, 0, freezeDeep(patch.value))
}

/**
 * The cache work of a burst of events (or of one), as if each ran after the previous one's patches: each patched
 * entry's next list, once, and each tag once.
 *
 * The next list goes to the store as one root `replace` (`[{ op: 'replace', path: [], value }]`), built here in plain
 * JS — a native copy per entry per burst, the table's patches applied to it — and frozen with what was added. Immer
 * takes a root replace as is, and skips a frozen value when it freezes the new state, so a patch costs a native array
 * copy whatever the list's length. The table's own patches applied by immer would go through a Proxy draft of the
 * whole list and a finalize walking every element: O(length) per event.
 *
 * @example cacheWorkForBurst([{ event: 'message:new', payload: m3 }, { event: 'message:new', payload: m4 }], view)
 * // { patches: [{ endpointName: 'getMessages', arg: 'c1', patches: [{ op: 'replace', path: [], value: [m1, m2, m3, m4] }] }], invalidate: [] }
 */
export function cacheWorkForBurst(
  events: readonly QueuedEvent[],
  view: CacheView,
  options: { appendInPlace?: boolean } = {},
): BurstWork {
  const fold = createFold(view)
  const parked: QueuedEvent[] = []
  const appendInPlace = options.appendInPlace ?? true
  const marks = (fold.view.readMarks ??= new Map())
  const covered = (fold.view.covered ??= new Map())
  let inFlight: ReadonlySet<string> | undefined
  const park = (queued: QueuedEvent) => {
    if (queued.waitsFor === undefined) inFlight ??= readsInFlight(view.queries)
    parked.push(queued.waitsFor === undefined ? { ...queued, waitsFor: inFlight } : queued)
  }
  for (const queued of events) {
    fold.view.waitsFor = queued.waitsFor
    if (appendInPlace && queued.event === 'message:new' && fold.append(queued.payload as Message)) continue
    const id = (queued.payload as { conversationId: Id }).conversationId
    const o = queued.offset ?? 0
    const mark = marks.get(id) ?? [0, 0]
    // A read applied over this list already (run again after a read of another entry landed, or after the list's own
    // read failed: the list as it was): applied again, it would take back a message counted after it. It still waits
    // for a read of the list under way, whose answer may not hold it.
    if (queued.event === 'conversation:read' && o > 0 && o <= mark[0]) {
      const list = read<Conversation[]>(fold.view, { endpointName: 'getConversations', arg: undefined })
      if (list.kind === 'data') {
        if (list.refetching) park(queued)
        continue
      }
    }
    // First applied over this list (not a parked event run again), after a read applied over it.
    fold.view.recount = o > mark[1] && mark[0] > 0 && mark[0] < o
    const message =
      queued.event === 'message:new' || queued.event === 'message:sent' ? (queued.payload as Message) : null
    const ours = message !== null && (queued.event === 'message:sent' || message.senderId === fold.view.userId)
    // Looked up for our own messages only, and only until one is recorded: a burst's messages are the others'.
    const lastBefore = ours && !covered.has(id) ? lastSeqInList(fold.view, id) : null
    const work = cacheWorkFor(queued.event, queued.payload as never, fold.view)
    if (work.awaitRead) park(queued)
    fold.add(work)
    if (queued.event === 'conversation:read') marks.set(id, [Math.max(mark[0], o), mark[1]])
    else if (queued.event === 'message:new') marks.set(id, [mark[0], Math.max(mark[1], o)])
    // The list's count covered the others' messages up to its last one; ours above it covers nothing of theirs.
    const upTo = covered.get(id)
    if (message && !ours && upTo !== undefined) covered.set(id, Math.max(upTo, message.seq))
    else if (message && lastBefore !== null && message.seq > lastBefore) covered.set(id, lastBefore)
  }
  const result: BurstWork = fold.result()
  if (parked.length > 0) result.parked = parked
  return result
}

/** The request ids of the reads in flight. */
function readsInFlight(queries: CacheView['queries']): ReadonlySet<string> {
  const ids = new Set<string>()
  for (const key in queries) {
    const entry = queries[key]
    if (entry?.status === 'pending' && entry.requestId !== undefined) ids.add(entry.requestId)
  }
  return ids
}

/** The `seq` of a conversation's last message in the cached list (0: none), or null: no list data, or not in it. */
function lastSeqInList(view: CacheView, conversationId: Id): number | null {
  const entry = read<Conversation[]>(view, { endpointName: 'getConversations', arg: undefined })
  if (entry.kind !== 'data') return null
  const conversation = entry.data.find((c) => c.id === conversationId)
  return conversation ? (conversation.lastMessage?.seq ?? 0) : null
}

/**
 * Folds table work into one root `replace` per entry (what `cacheWorkForBurst` does for events), for the layer's own
 * thread work: the pending copy, a status change, a removal.
 */
export function foldCacheWork(work: CacheWork, view: CacheView): CacheWork {
  const fold = createFold(view)
  fold.add(work)
  return fold.result()
}

/** Whether `message` is the next of `thread`: `seq` one above its last, which is confirmed (or the thread is empty). */
function follows(thread: readonly ThreadMessage[], message: Message): boolean {
  const last = thread[thread.length - 1]
  return last === undefined ? message.seq === 1 : !isUnconfirmed(last) && last.seq + 1 === message.seq
}

function createFold(view: CacheView) {
  // The entries patched so far, as working copies the next events read instead of the store's (still unpatched) data.
  const queries: Record<string, CacheEntryView | undefined> = { ...view.queries }
  const working = new Map<string, { query: PatchableQuery; data: unknown[] }>()
  const tags = new Map<string, CacheTag>()
  // Whether the conversation list is cached: fixed for the fold (it adds working copies of cached entries only).
  const listCached = view.queries[queryKey({ endpointName: 'getConversations', arg: undefined })] !== undefined
  /** The thread the last append went to, by its working list: a burst's next message for it skips the lookups. */
  let appending: { conversationId: Id; list: ThreadMessage[] } | null = null
  function workingList(key: string, query: PatchableQuery): unknown[] {
    let entry = working.get(key)
    if (!entry) {
      const cached = view.queries[key]!
      // A spread, not `slice()`, for this copy of a frozen array (what the store holds):
      // bench/README.md, "Measurements behind choices in the source".
      entry = { query, data: [...(cached.data as unknown[])] }
      working.set(key, entry)
      queries[key] = { status: cached.status, data: entry.data, requestId: cached.requestId }
    }
    return entry.data
  }
  return {
    view: { ...view, queries } as { -readonly [K in keyof CacheView]: CacheView[K] },
    /**
     * A burst's common case, done in place: another's message that follows the thread's last (seq + 1, nothing of
     * ours pending after it), into a thread that is cached and not being read again, with no conversation list
     * cached. The table's outcome for it is exactly one `add` at the end, no tag and no wait (`messageWork`); this
     * appends the same frozen copy without building that work. False for anything else: the table decides.
     */
    append(message: Message): boolean {
      if (appending === null || appending.conversationId !== message.conversationId) {
        if (listCached) return false
        const query = { endpointName: 'getMessages', arg: message.conversationId } as const
        const key = queryKey(query)
        const entry = queries[key]
        if (entry === undefined || entry.status !== 'fulfilled' || !Array.isArray(entry.data)) return false
        if (!follows(entry.data as readonly ThreadMessage[], message)) return false
        appending = { conversationId: message.conversationId, list: workingList(key, query) as ThreadMessage[] }
      } else if (!follows(appending.list, message)) return false
      appending.list.push(threadMessageOf(message, undefined))
      return true
    },
    add(work: CacheWork) {
      for (const patched of work.patches) {
        const key = queryKey(patched)
        const data = workingList(key, patched)
        for (const patch of patched.patches) applyArrayPatch(data, patch)
      }
      for (const tag of work.invalidate) tags.set(`${tag.type}\u0000${tag.id}`, tag)
    },
    result(): CacheWork {
      return {
        patches: [...working.values()].map(
          ({ query, data }) =>
            ({ ...query, patches: [{ op: 'replace', path: [], value: Object.freeze(data) }] }) as QueryPatch,
        ),
        invalidate: [...tags.values()],
      }
    },
  }
}

/**
 * What a sync's catch-up reads again, or null when it reads nothing. The server could not replay what was missed (a
 * gap), or this session's stream has just begun (its first sync: no offset applied before it) after the page has read
 * (what was read may miss what came between that read and the handshake): what events feed, the lists and every cached
 * thread. A resume from an offset costs nothing: the missed events were replayed.
 *
 * @example catchUpTagsAt(true, 10, {}) // [{ type: 'Conversation', id: 'LIST' }, { type: 'Lesson', id: 'LIST' }, { type: 'ContactRequest', id: 'LIST' }]
 */
export function catchUpTagsAt(
  gap: boolean,
  offsetBefore: number | null,
  queries: CacheView['queries'],
): CacheTag[] | null {
  const firstSyncAfterReads = offsetBefore === null && Object.keys(queries).length > 0
  return gap || firstSyncAfterReads ? catchUpTagsOf(queries) : null
}

function catchUpTagsOf(queries: CacheView['queries']): CacheTag[] {
  const tags: CacheTag[] = [
    { type: 'Conversation', id: LIST },
    { type: 'Lesson', id: LIST },
    { type: 'ContactRequest', id: LIST },
  ]
  for (const [key, entry] of Object.entries(queries)) {
    const arg = entry as { endpointName?: string; originalArgs?: unknown } | undefined
    if (
      arg?.endpointName === 'getMessages' &&
      typeof arg.originalArgs === 'string' &&
      key === queryKey({ endpointName: 'getMessages', arg: arg.originalArgs })
    ) {
      tags.push({ type: 'Message', id: arg.originalArgs })
    }
  }
  return tags
}
