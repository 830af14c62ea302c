import type { Id } from '../../contract'

/** Who holds the socket in this tab: the leader holds the one socket, followers ride along, solo tabs share nothing. */
export type TabRole = 'leader' | 'follower' | 'solo'

/** A server event as it came off the socket: its name and every argument (a logged event's `{ offset }` included). */
export interface RawEvent {
  event: string
  args: unknown[]
}

/**
 * How long a tab whose page may be hidden can be silent before it counts as gone: the browser runs a hidden page's
 * timers about once a minute (Chrome's intensive throttling), so a shorter silence is no sign of a hang.
 */
export const HIDDEN_SILENCE_MS = 150_000

/**
 * Whether a timer due at `dueAt` ran at `now` more than a tenth of a beat late: the page was busy or frozen, and what
 * the other tabs said meanwhile may be delivered after it (timers and messages are different task sources), so the
 * channel gets one beat more before a tab is taken for silent. Only said of a shown page (a hidden one's timers run
 * late anyway, throttled).
 *
 * @example ranLate(3000, 3060, 500) // true
 */
export const ranLate = (dueAt: number, now: number, heartbeatMs: number): boolean => now - dueAt > heartbeatMs / 10

/** `down`'s reason when the holder's session is over: the contract's code, as a refused handshake says it. */
export const SESSION_EXPIRED_REASON = 'UNAUTHORIZED'

/** The offset a store has applied, as its handshake would send it. */
export interface ResumePoint {
  offset: number | null
  epoch: string | null
}

/**
 * Where the holder's stream stands for `userId` (its hub's head: every logged event up to `offset` of the log `epoch`
 * seen, and relayed to the attached tabs before it says so).
 */
export interface BeatHead {
  userId: Id
  offset: number
  epoch: string
}

/**
 * The number of the tabs' protocol (`TabMessage`), part of the channel's and the lock's names (`browserTabs`): bumped
 * whenever a message's shape or meaning changes. During a deploy, tabs of both versions stay open in one browser; a tab
 * that cannot read the holder's heartbeats would take the lock from it every few beats, and it back, for as long as
 * both are open. With their own names each version elects its own holder: the browser holds a socket per version.
 */
export const TAB_PROTOCOL = 1

/**
 * Everything the tabs of one browser say to each other on their channel (a `BroadcastChannel`: one post reaches every
 * other tab). `from` is the sender's tab id; a message with `to` is for that tab only (the others ignore it).
 */
export type TabMessage =
  // --- The election (`election.ts`): who holds the socket. ---------------------------------------------------------
  /**
   * The holder is alive; sent every heartbeat interval while it holds the lock. `term` grows with each new holder.
   * `head`, while its socket is up: a follower whose store stands below it (or in another epoch) missed a relay, posted
   * before this beat on the same channel, and attaches again from its offset. Added as optional: a tab of this protocol
   * without it (an older build) is heard as before, and checks nothing.
   */
  | { kind: 'heartbeat'; from: string; term: number; head?: BeatHead }
  /** The holder lets go (its page is going away, or it lost the lock): the next tab need not wait for missed beats. */
  | { kind: 'resign'; from: string; term: number }
  // --- Follower → holder (`tabSocket.ts` → `hub.ts`). ----------------------------------------------------------------
  /** A follower's `connect()`: it wants the stream from its own offset, as a handshake would. */
  | {
      kind: 'attach'
      from: string
      /** Unique in the page: the answer names it, so a later proxy of the same tab (another user) never takes it. */
      attachId: number
      userId: Id
      resume: ResumePoint
      visible: boolean
    }
  /** A follower's `disconnect()`, or its page going away. */
  | { kind: 'detach'; from: string }
  /** A follower is still there (every heartbeat interval while attached), and whether its page is visible. */
  | { kind: 'alive'; from: string; visible: boolean }
  /**
   * A follower's page woke from a sleep (its wake watch, `browserRetryTriggers`): the holder's socket, its own page
   * hidden, may have died meanwhile with nothing to tell it so. A kind of its own, added: a tab of an older version
   * drops it (`isTabMessage`), as it would have heard nothing.
   */
  | { kind: 'wake'; from: string }
  /**
   * An emit to be made on the real socket by the holder `to` (the one this follower is attached to: an old holder
   * that has not noticed its loss yet must not act on it too); `id` pairs it with its `ack` (null: no ack wanted).
   */
  | {
      kind: 'emit'
      from: string
      to: string
      id: number | null
      event: string
      args: unknown[]
      timeoutMs: number | null
    }
  // --- Holder → followers. --------------------------------------------------------------------------------------------
  /**
   * Followers that want the stream attach (again) now: posted by a new holder as it starts (so their offsets are known
   * before its handshake), and whenever its socket is connected and caught up. An attach that comes while the socket
   * is not up is answered once it is.
   */
  | { kind: 'up'; from: string; userId: Id }
  /** The answer to `attach`: what the follower missed since its offset (or a gap), then live events follow. */
  | {
      kind: 'attached'
      from: string
      to: string
      /** The `attach` this answers. */
      attachId: number
      socketId: string
      replay: RawEvent[]
      /** `sync:caughtUp` or `sync:gap`, as the server would send it after a handshake from `resume`. */
      sync: RawEvent
      /** The presence the holder knows, as a `presence:snapshot` (the server sends one after every connect). */
      presence: RawEvent | null
    }
  /** An ack for a follower's `emit`: Socket.IO's callback arguments (`error` true: it timed out at the holder). */
  | { kind: 'ack'; from: string; to: string; id: number; error: boolean; args: unknown[] }
  /** A server event for every attached follower of `userId`. */
  | { kind: 'event'; from: string; userId: Id; raw: RawEvent }
  /**
   * The holder's socket dropped (or the holder is going away): every attached follower is disconnected. With `to`,
   * only that follower: it was silent too long (a hidden tab's timers are throttled) and must attach again. With
   * `SESSION_EXPIRED_REASON`, `userId`'s session is over (its refresh was refused): every follower of that user is
   * told, attached or still waiting for a holder.
   */
  | { kind: 'down'; from: string; reason: string; to?: string; userId?: Id }
  /**
   * The holder's handshake failed (its `connect_error`: the server unreachable, or refusing it for another reason than
   * the token), with its message (the contract's code for a refusal) and the wait a refusal asked for: the followers
   * of `userId` asking for the socket say why it is not coming, as the holder does. Posted at each failure; with `to`,
   * the last one, to a tab that starts asking meanwhile.
   */
  | { kind: 'failed'; from: string; userId: Id; message: string; retryAfterMs: number | null; to?: string }
  // --- Any tab → the others (`src/app/unsentTabs.ts`). Kinds of their own, added: an older tab drops them. ----------
  /**
   * The unsent sends of `userId` this tab holds while storage refuses them (full, or writes refused): its memory alone
   * holds them, so the other tabs count them before a "Log out", which drops them too. Said at each change; `[]` once
   * they are stored or sent, or the tab goes.
   */
  | { kind: 'unsaved'; from: string; userId: Id; clientIds: string[] }
  /** A tab opening asks what the others hold so: each that holds some says it again (`unsaved`). */
  | { kind: 'unsavedAsk'; from: string }

/** The channel between the tabs (`BroadcastChannel`'s shape, narrowed): a post reaches every other subscriber. */
export interface TabChannel {
  post(message: TabMessage): void
  /** Returns the unsubscribe. */
  subscribe(listener: (message: TabMessage) => void): () => void
  close(): void
}

/**
 * The election lock (Web Locks' shape, narrowed). `request` queues for `name` (or takes it from its holder with
 * `steal`); `onAcquired` runs once it is held, `onLost` if it is taken away while held (stolen). The returned function
 * gives up: it leaves the queue, or releases the lock when held. The browser releases it when the tab goes away.
 */
export interface TabLock {
  request(name: string, options: { steal: boolean }, handlers: { onAcquired(): void; onLost(): void }): () => void
  /**
   * Whether this tab still holds `name` (Web Locks' `query()`), where the mechanism can tell: a holder whose timers
   * slept (a hidden tab) asks before it gives the socket up for nothing.
   */
  held?(name: string): Promise<boolean>
  /**
   * Waits until `name`, held by another tab now, is free (that tab let it go, or closed or crashed: the browser frees
   * what it held), then `onFree`; `onUnheld` at once when nobody holds it (nothing to watch: ask again later). Never
   * holds it longer than a moment. The returned function stops watching.
   */
  watch?(name: string, handlers: { onFree(): void; onUnheld(): void }): () => void
}

/** Whether this tab's page is visible, and its changes (`document.visibilityState`; always visible outside a browser). */
export interface Visibility {
  visible(): boolean
  subscribe(listener: () => void): () => void
}

type Check = (value: unknown) => boolean
const text: Check = (v) => typeof v === 'string'
const finite: Check = (v) => typeof v === 'number' && Number.isFinite(v)
const flag: Check = (v) => typeof v === 'boolean'
const list: Check = Array.isArray
const orNull =
  (check: Check): Check =>
  (v) =>
    v === null || check(v)
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v)
const shaped =
  (fields: Record<string, Check>): Check =>
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    Object.entries(fields).every(([key, check]) => check((v as Record<string, unknown>)[key]))
const rawEvent = shaped({ event: text, args: list })

/** Each message's fields beyond `kind` and `from`. */
const SHAPES: { [K in TabMessage['kind']]: Record<string, Check> } = {
  heartbeat: { term: finite, head: optional(shaped({ userId: text, offset: finite, epoch: text })) },
  resign: { term: finite },
  attach: {
    attachId: finite,
    userId: text,
    resume: shaped({ offset: orNull(finite), epoch: orNull(text) }),
    visible: flag,
  },
  detach: {},
  alive: { visible: flag },
  wake: {},
  emit: { to: text, id: orNull(finite), event: text, args: list, timeoutMs: orNull(finite) },
  up: { userId: text },
  attached: {
    to: text,
    attachId: finite,
    socketId: text,
    replay: (v) => Array.isArray(v) && v.every(rawEvent),
    sync: rawEvent,
    presence: orNull(rawEvent),
  },
  ack: { to: text, id: finite, error: flag, args: list },
  event: { userId: text, raw: rawEvent },
  down: { reason: text, to: optional(text), userId: optional(text) },
  failed: { userId: text, message: text, retryAfterMs: orNull(finite), to: optional(text) },
  unsaved: { userId: text, clientIds: (v) => Array.isArray(v) && v.every(text) },
  unsavedAsk: {},
}

/**
 * Whether `data` is a tab message of a known kind, every field of its type. Any page of the origin, or a tab still
 * running another version of the app, can post on the channel: a message that is not one of ours (an ack whose
 * `args` is no list, a heartbeat whose `term` is `NaN`) would throw in the middle of a hand-over, or stall it.
 * Server events inside (`args`, `raw`) are checked where every server event is, by the socket's binding.
 */
export function isTabMessage(data: unknown): data is TabMessage {
  const kind = (data as { kind?: unknown } | null)?.kind
  if (typeof kind !== 'string' || !Object.hasOwn(SHAPES, kind)) return false
  return shaped({ from: text, ...SHAPES[kind as TabMessage['kind']] })(data)
}
