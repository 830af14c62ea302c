import {
  ackSchema,
  ephemeralEventSchemas,
  isRefusal,
  MAX_PRESENCE_SNAPSHOT,
  parse,
  EPHEMERAL_EVENTS,
  SYNC_EVENTS,
  syncPayloadSchema,
  type Ack,
  type ClientEventName,
  type Id,
  type PresenceState,
} from '../../contract'
import { DEFAULT_BACKOFF, keyedRetries, type BackoffOptions } from '../backoff'
import { connectErrorOf } from '../bindSocket'
import type { TimerHandle, Timers } from '../timers'
import {
  HIDDEN_SILENCE_MS,
  ranLate,
  type BeatHead,
  type RawEvent,
  type ResumePoint,
  type TabChannel,
  type TabMessage,
  type Visibility,
} from './protocol'
import { answerResume, HANDSHAKE_LOWERS_AT_MOST, handshakeResume, ReplayBuffer, type StreamHead } from './replayBuffer'
import { roomChanges, roomUnion, type TabWants } from './roomUnion'

type Listener = (...args: unknown[]) => void

/**
 * The part of socket.io-client's `Socket` the hub uses (and the holder's middleware uses through `localSocket`).
 * An `AppSocket` is passed as `socket as unknown as HubSocket` (its methods are typed by event name).
 */
export interface HubSocket {
  readonly connected: boolean
  readonly id: string | undefined
  readonly recovered?: boolean
  on(event: string, listener: Listener): unknown
  off(event: string, listener: Listener): unknown
  onAny(listener: Listener): unknown
  offAny(listener: Listener): unknown
  emit(event: string, ...args: unknown[]): unknown
  timeout(ms: number): { emit(event: string, ...args: unknown[]): unknown }
  connect(): unknown
  disconnect(): unknown
}

/** What the holder's own middleware uses instead of the real socket: the same surface, rooms through the union. */
export interface LocalSocket {
  readonly connected: boolean
  readonly id: string | undefined
  readonly recovered: boolean
  on(event: string, listener: Listener): LocalSocket
  off(event: string, listener: Listener): LocalSocket
  onAny(listener: Listener): LocalSocket
  offAny(listener: Listener): LocalSocket
  emit(event: string, ...args: unknown[]): LocalSocket
  timeout(ms: number): { emit(event: string, ...args: unknown[]): void }
  connect(): LocalSocket
  disconnect(): LocalSocket
}

export interface TabHubOptions {
  /** This (the holder's) tab id: the `from` of everything the hub posts. */
  tabId: string
  /** The user whose socket this is: only that user's tabs are served, and every event is posted for them. */
  userId: Id
  channel: TabChannel
  /** The holder's real socket. Create the hub before it connects: the hub is up once it saw this connection's sync. */
  socket: HubSocket
  /** The holder tab's own visibility (its open threads count in the union only while it is visible). */
  visibility: Visibility
  timers: Timers
  /** The clock (ms) the wait a refusal asked for is counted on: a tab that starts asking is told what is left of it. */
  now?: () => number
  /**
   * Calls `fn` once this tab surely holds the browser's lock (`Election.whenHeld`; default: at once). `up` is said only
   * then: a holder robbed while its page hung, that has not heard of it yet, would draw the followers off the tab that
   * holds the lock now (it never says it: it steps down at its check). A hidden holder, whose beats the browser runs
   * about once a minute, says it once its lock has answered.
   */
  whenHeld?: (fn: () => void) => void
  /** A follower's `alive` interval; a follower silent for `missedBeats` of them is dropped. */
  heartbeatMs?: number
  missedBeats?: number
  /** How many logged events the hub keeps to replay to a follower that attaches from an older offset. */
  bufferSize?: number
  /** The timeout of a join the hub makes for a tab becoming visible (a tab's own join uses that emit's timeout). */
  joinTimeoutMs?: number
  /** The wait before a failed join nobody else will retry goes again (full jitter), and its random source. */
  backoff?: BackoffOptions
  random?: () => number
  /**
   * A tab left (it said goodbye, attached or not, or went silent, or did not come back after a drop): what it left
   * unsent in storage is the holder's to send. `silent`: it went without a word while its page lock is held (hung, or
   * asleep), so its page still holds whatever locks it held, until it runs again.
   */
  onFollowerGone?: (silent: boolean) => void
  /**
   * A follower's page gave the signal the holder's own page would (`retryNow`'s reason): the holder acts as on it.
   * `'asked'`: while the socket waits to try again, a visible tab asks for it (its page shown or opened, or its own
   * wait over), and the holder tries now, not at its backoff's end. `'visible'`: one asking is shown, likewise; an
   * attached tab shown, and the holder checks its live socket (one silent past the heartbeat is replaced). `'wake'`: a
   * tab of this user (attached, asking, or away since a drop) woke from a sleep with its page shown, and the holder
   * checks its socket as on its own wake.
   */
  onFollowerRetry?: (reason: 'visible' | 'wake' | 'asked') => void
  /**
   * Watches the lock `tab` holds for as long as its page lives (`tabLockName`): `onFree` once the browser frees it (the
   * tab closed or crashed, with no goodbye), `onUnheld` when it holds none (asked again at its next word). A tab gone so
   * is gone at once, not after its silence (150 s when hidden): what it left unsent goes now. The returned function
   * stops watching. Without it, a tab that goes without a goodbye counts as gone after its silence alone.
   */
  watchTab?: (tab: string, handlers: { onFree(): void; onUnheld(): void }) => () => void
}

export interface TabHub {
  localSocket: LocalSocket
  /**
   * Where the socket's handshake resumes from, given the holder's own point: a lower one a tab waiting for the socket
   * asked for (its `attach` came while the socket was not up), so the server replays what that tab missed and the hub
   * gives it to it rather than a gap (`handshakeResume`).
   */
  handshakeFrom(own: ResumePoint): ResumePoint
  /**
   * While the socket is up: how far the stream relayed to the followers has gone without a hole (what an attach is
   * answered up to), said with the holder's heartbeat. Every relay up to it was posted before it is read.
   */
  head(): BeatHead | null
  /** Posts `down` with `reason`, removes every listener the hub added, cancels its timers. Idempotent. */
  stop(reason: string): void
}

/** How a tab's emit is answered: Socket.IO's ack arguments, or `error` when it timed out (or was never sent). */
type Answer = (error: boolean, args: unknown[]) => void

interface Waiter {
  tab: string
  timeoutMs: number | null
  answer: Answer
}

/** A room's join on the current connection: in flight (its waiters get its ack), or confirmed. */
interface RoomJoin {
  done: boolean
  waiters: Waiter[]
}

interface Follower extends TabWants {
  wants: Set<Id>
  silence: TimerHandle
}

type AttachMessage = Extract<TabMessage, { kind: 'attach' }>
type EmitMessage = Extract<TabMessage, { kind: 'emit' }>

const JOIN = 'conversation:join'
const LEAVE = 'conversation:leave'
const SUCCESS: Ack<null> = { ok: true, data: null }
const UNKNOWN_EVENT: Ack<null> = { ok: false, error: { code: 'INVALID', message: 'unknown event' } }

// Every event a tab may have the holder emit (a record, so a client event added to the contract is a type error here).
const CLIENT_EVENTS: Record<ClientEventName, true> = {
  'conversation:join': true,
  'conversation:leave': true,
  'message:send': true,
  'session:renew': true,
  typing: true,
}
const isClientEvent = (event: string): boolean => Object.hasOwn(CLIENT_EVENTS, event)
/**
 * The events never logged. Any other one with an offset is in the user's log: a contract event, or one this version does
 * not know (a newer server's, in a rolling deploy), whose place the stream keeps as the tabs' bindings do.
 */
const UNLOGGED = new Set<string>([...SYNC_EVENTS, ...EPHEMERAL_EVENTS])

/** The `{ offset }` a logged event carries last, or null (an emitter that sends none is passed on all the same). */
function offsetOf(args: readonly unknown[]): number | null {
  if (args.length < 2) return null
  const offset = (args[args.length - 1] as { offset?: unknown } | null)?.offset
  return typeof offset === 'number' && Number.isInteger(offset) && offset >= 1 ? offset : null
}

/**
 * The holder's side of one socket per browser: bound to the real socket, it forwards every server event to the
 * attached followers (one broadcast post each), answers `attach` with a replay from the last `bufferSize` logged events
 * (or `sync:gap`), performs followers' emits and returns their acks, and keeps the socket's rooms equal to the union
 * of the visible tabs' open conversations (the holder's own included, through `localSocket`).
 *
 * @example
 * const hub = createTabHub({ tabId, userId, channel, socket: socket as unknown as HubSocket, visibility, timers })
 * bindSocket(hub.localSocket as unknown as AppSocket, dispatch, resume) // the holder's own middleware
 * hub.stop('lock lost')
 */
export function createTabHub(options: TabHubOptions): TabHub {
  const { tabId, userId, channel, socket, visibility, timers } = options
  const heartbeatMs = options.heartbeatMs ?? 500
  const silenceMs = heartbeatMs * (options.missedBeats ?? 3)
  const joinTimeoutMs = options.joinTimeoutMs ?? 10_000
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  const random = options.random ?? Math.random
  const now = options.now ?? Date.now
  const whenHeld = options.whenHeld ?? ((fn: () => void) => fn())

  const buffer = new ReplayBuffer(options.bufferSize ?? 1000)
  let head: StreamHead | null = null
  /** This connection's `sync:*` was seen: with `socket.connected`, the hub is up. */
  let synced = false
  let up = false
  /** How many times the hub has been up: an `up` said late (after the lock's answer) is for that connection only. */
  let ups = 0
  /** The socket dropped or was refused since it last connected (not a first handshake still under way). */
  let failed = false
  let stopped = false
  let presence: Map<Id, PresenceState> | null = null
  /**
   * Why the socket's last handshake failed, until it connects, and when: a tab that starts asking meanwhile is told too,
   * with what is left of the wait the server asked for.
   */
  let failure: { message: string; retryAfterMs: number | null; at: number } | null = null

  const followers = new Map<string, Follower>()
  /** Attaches that came while the hub was not up: answered once it is. */
  const pending = new Map<string, AttachMessage>()
  /** Followers when the socket dropped: each attaches again on `up`, or it closed or crashed meanwhile (`becomeUp`). */
  const away = new Map<string, Follower>()
  const holderWants = new Set<Id>()
  const rooms = new Map<Id, RoomJoin>()
  /**
   * Rooms whose join got no answer in time on this connection: only the answer may have been late, the server having
   * joined (a thread marked read as its messages come). Left once nobody visible wants them.
   */
  const unanswered = new Set<Id>()
  /** Joins asked for while the socket was down (the holder's own): they go out on connect, as Socket.IO buffers. */
  const queued = new Map<Id, Waiter[]>()
  /** Per room, on this connection: the retry of a failed join nobody else will retry (see `emitJoin`). */
  const retries = keyedRetries<Id>(timers, backoff, random)
  /** The tabs whose page lock is watched (`watchTab`), and how to stop each. */
  const watched = new Map<string, { stop: () => void }>()

  const post = (message: TabMessage) => channel.post(message)

  // --- The real socket ------------------------------------------------------------------------------------------

  function onConnect() {
    failed = false
    failure = null
    synced = false
    reconcile()
  }

  const onConnectError = (error: unknown) => {
    failed = true
    const { code, message, retryAfterMs } = connectErrorOf(error)
    // A refusal of the token is the holder's to renew (a refresh, then a handshake): no news for the followers, who
    // would each refresh too. A session that is over is said by `stop` (`down`).
    failure = code === 'UNAUTHORIZED' ? null : { message, retryAfterMs: retryAfterMs ?? null, at: now() }
    if (failure) post({ kind: 'failed', from: tabId, userId, message, retryAfterMs: failure.retryAfterMs })
  }

  /** The last failure's wait, less the time gone since (null once it is over: the holder's own retry is due). */
  function waitLeft({ retryAfterMs, at }: { retryAfterMs: number | null; at: number }): number | null {
    if (retryAfterMs === null) return null
    const left = retryAfterMs - Math.max(0, now() - at)
    return left > 0 ? left : null
  }

  function onDisconnect(reason: unknown) {
    failed = true
    up = false
    synced = false
    // The next connection's `presence:snapshot` tells anew: the old one must not reach a tab attaching meanwhile.
    presence = null
    for (const [tab, follower] of followers) away.set(tab, follower)
    for (const follower of away.values()) timers.clearTimeout(follower.silence)
    followers.clear()
    // A new connection is in no room: the holder's middleware joins its rooms again on connect, followers on attach.
    holderWants.clear()
    rooms.clear()
    unanswered.clear()
    retries.clear()
    post({ kind: 'down', from: tabId, reason: String(reason) })
  }

  function onAny(event: unknown, ...rest: unknown[]) {
    try {
      serverEvent(String(event), rest)
    } catch {
      // Never into Socket.IO's emitter: it would skip the holder's own listeners of this event.
    }
  }

  function serverEvent(event: string, received: unknown[]) {
    if (event === 'sync:caughtUp' || event === 'sync:gap') {
      // The connection's first sync is answered to each follower by its own (`answerAttach`); a later one (the server
      // resyncing a live socket) is the stream's: the followers adopt it as the holder does (a gap: they refetch).
      const live = up
      onSync(event, received[0])
      if (!live) return
    }
    // A server ack callback cannot cross the channel (and no contract event has one).
    const args = received.filter((arg) => typeof arg !== 'function')
    const raw: RawEvent = { event, args }
    if (!UNLOGGED.has(event)) logged(raw)
    else if (event === 'presence:snapshot' || event === 'presence:changed') remember(event, args[0])
    if (up && followers.size > 0) post({ kind: 'event', from: tabId, userId, raw })
  }

  function logged(raw: RawEvent) {
    const offset = offsetOf(raw.args)
    if (offset === null) return
    buffer.add(offset, raw)
    if (head !== null && synced && offset === head.offset + 1) head.offset = buffer.contiguousFrom(offset)
  }

  function onSync(event: 'sync:caughtUp' | 'sync:gap', payload: unknown) {
    const parsed = parse(syncPayloadSchema, payload)
    if (!parsed.ok) return
    const { offset, epoch } = parsed.value
    // A gap or another log: what the buffer holds is not a stretch anyone can resume through any more. (At the first
    // sync the buffer holds what the server replayed from the holder's offset on this connection: kept.)
    if (event === 'sync:gap' || (head !== null && head.epoch !== epoch)) buffer.clear()
    head = { offset: buffer.contiguousFrom(offset), epoch }
    synced = true
    if (socket.connected && !up) becomeUp()
  }

  function remember(event: 'presence:snapshot' | 'presence:changed', payload: unknown) {
    const parsed = parse<PresenceState | { users: PresenceState[] }>(ephemeralEventSchemas[event], payload)
    if (!parsed.ok) return
    const { value } = parsed
    if ('users' in value) presence = new Map(value.users.map((user) => [user.userId, user]))
    // Before this connection's snapshot a change says nothing of the others: given on its own to a tab attaching, it
    // would pass as the snapshot, and the tab would take what it knew of them from before the drop as told anew.
    else presence?.set(value.userId, value)
  }

  function becomeUp() {
    up = true
    // Answer the waiting attaches before `up`: a follower already attached need not attach again on hearing it.
    const waiting = [...pending.values()]
    pending.clear()
    for (const attach of waiting) answerAttach(attach)
    // One that does not attach again on hearing `up` went away while the socket was down, maybe without a word.
    for (const [tab, follower] of away)
      follower.silence = silenceTimer(tab, away, silenceOf(follower.visible), () => gone(tab, true))
    const connection = ++ups
    whenHeld(() => {
      if (!stopped && up && connection === ups) post({ kind: 'up', from: tabId, userId })
    })
  }

  // --- The followers ----------------------------------------------------------------------------------------------

  function onMessage(message: TabMessage) {
    if (stopped || message.from === tabId) return
    switch (message.kind) {
      case 'attach':
        if (message.userId !== userId) return
        watch(message.from)
        if (up) answerAttach(message)
        else {
          // A visible tab asking while the socket waits to try again (shown, opened, or its own wait over) would try now
          // with a socket of its own, so the holder does. It asks again each heartbeat until answered: once.
          const asked = pending.get(message.from)?.visible === true
          // A tab that starts asking after the last failure hears why the socket is not coming (once: it asks again
          // each heartbeat until answered), and what is left of a wait the server asked for (it runs from the failure).
          if (failure && !pending.has(message.from))
            post({
              kind: 'failed',
              from: tabId,
              userId,
              message: failure.message,
              retryAfterMs: waitLeft(failure),
              to: message.from,
            })
          pending.set(message.from, message)
          if (message.visible && !asked && failed) options.onFollowerRetry?.('asked')
        }
        return
      case 'detach':
        // Attached or not (it may close while the socket is down, or before its attach is answered).
        unwatch(message.from)
        pending.delete(message.from)
        drop(message.from)
        return gone(message.from, false)
      case 'alive':
        return alive(message.from, message.visible)
      case 'wake':
        // Only a tab this hub serves: another user's tab has a holder of its own.
        if (followers.has(message.from) || pending.has(message.from) || away.has(message.from))
          options.onFollowerRetry?.('wake')
        return
      case 'emit':
        // Addressed to the holder the follower is attached to: never acted on twice by two holders.
        if (message.to !== tabId) return
        return followerEmit(message)
    }
  }

  function answerAttach(attach: AttachMessage) {
    back(attach.from)
    const prior = followers.get(attach.from)
    if (prior) timers.clearTimeout(prior.silence)
    // An attach is a new connection for that tab: it is in no room until it joins again.
    followers.set(attach.from, {
      visible: attach.visible,
      wants: new Set(),
      silence: arm(attach.from, attach.visible),
    })
    const { replay, sync } = answerResume(attach.resume, head!, buffer.entries())
    post({
      kind: 'attached',
      from: tabId,
      to: attach.from,
      attachId: attach.attachId,
      socketId: socket.id ?? '',
      replay,
      sync,
      presence:
        presence === null
          ? null
          : { event: 'presence:snapshot', args: [{ users: [...presence.values()].slice(0, MAX_PRESENCE_SNAPSHOT) }] },
    })
    if (prior && prior.wants.size > 0) reconcile()
  }

  // A hidden tab's timers may run once a minute (Chrome's intensive throttling): it is given longer before it counts as
  // gone. Nothing rides on it meanwhile: a hidden tab's rooms are not in the union.
  const silenceOf = (visible: boolean) => (visible ? silenceMs : Math.max(silenceMs, HIDDEN_SILENCE_MS))
  const arm = (tab: string, visible: boolean): TimerHandle =>
    silenceTimer(tab, followers, silenceOf(visible), () => {
      drop(tab)
      // It may only be asleep: told, it attaches again from its offset when it wakes.
      tellGone(tab, 'silent')
      gone(tab, true)
    })

  /**
   * Runs `onSilent` after `ms`, unless `tab` (its `silence` in `among`) is heard meanwhile. A timer that ran more than
   * a tenth of a beat late while this page is shown: the page was busy or frozen, and what the tab said meanwhile may
   * be delivered after it (timers and messages are different task sources), so the channel gets one beat more (as a
   * follower's steal, `frozePast` in the election). A hidden page's timers run late anyway (throttled): no sign.
   */
  function silenceTimer(tab: string, among: Map<string, Follower>, ms: number, onSilent: () => void): TimerHandle {
    const dueAt = now() + ms
    return timers.setTimeout(() => {
      const follower = among.get(tab)
      if (follower && visibility.visible() && ranLate(dueAt, now(), heartbeatMs))
        follower.silence = timers.setTimeout(onSilent, heartbeatMs)
      else onSilent()
    }, ms)
  }

  /** A tab that was a follower before the drop attached again. */
  function back(tab: string) {
    const follower = away.get(tab)
    if (follower) timers.clearTimeout(follower.silence)
    away.delete(tab)
  }

  /** A tab left: what it left unsent in storage is the holder's to send now. */
  function gone(tab: string, silent: boolean) {
    back(tab)
    options.onFollowerGone?.(silent)
  }

  /** Watches `tab`'s page lock, if not yet: freed, the tab closed or crashed without a word. */
  function watch(tab: string) {
    if (!options.watchTab || stopped || watched.has(tab)) return
    const entry = { stop: () => {} }
    watched.set(tab, entry)
    entry.stop = options.watchTab(tab, {
      onFree() {
        if (watched.get(tab) !== entry) return
        watched.delete(tab)
        if (stopped) return
        // As its goodbye: attached or not, or away since the drop.
        pending.delete(tab)
        drop(tab)
        gone(tab, false)
      },
      onUnheld() {
        // It holds no lock yet (just opened), or none at all (another build): asked again at its next word.
        if (watched.get(tab) === entry) watched.delete(tab)
      },
    })
  }

  function unwatch(tab: string) {
    watched.get(tab)?.stop()
    watched.delete(tab)
  }

  /** A tab that thinks it is attached and is not (dropped, or it missed a `down`): it attaches again when told. */
  const tellGone = (tab: string, reason: string) => post({ kind: 'down', from: tabId, reason, to: tab })

  function renew(tab: string): Follower | undefined {
    const follower = followers.get(tab)
    if (follower) {
      timers.clearTimeout(follower.silence)
      follower.silence = arm(tab, follower.visible)
    }
    return follower
  }

  function alive(tab: string, visible: boolean) {
    if (followers.has(tab) || pending.has(tab) || away.has(tab)) watch(tab)
    const waiting = pending.get(tab)
    if (waiting) pending.set(tab, { ...waiting, visible })
    const follower = followers.get(tab)
    if (!follower) {
      if (up && !waiting) tellGone(tab, 'unknown')
      else if (waiting && visible && !waiting.visible) options.onFollowerRetry?.('visible')
      return
    }
    const was = follower.visible
    follower.visible = visible
    // Re-armed with its new visibility's window.
    renew(tab)
    if (was === visible) return
    reconcile()
    // Its page shown is the holder's page shown: a socket silent past the server's heartbeat (its ping timeout on a
    // timer a hidden page's browser runs once a minute) is replaced now, not shown "online" in that page until then.
    if (visible) options.onFollowerRetry?.('visible')
  }

  function drop(tab: string) {
    const follower = followers.get(tab)
    if (!follower) return
    timers.clearTimeout(follower.silence)
    followers.delete(tab)
    if (follower.wants.size > 0) reconcile()
  }

  function followerEmit(message: EmitMessage) {
    const { from, id, event, args, timeoutMs } = message
    const answer: Answer = (error, ackArgs) => {
      if (id !== null) post({ kind: 'ack', from: tabId, to: from, id, error, args: ackArgs })
    }
    // Not attached (never, dropped, or before a reconnect): as Socket.IO fails an ack it cannot send. Not a refusal,
    // so a send falls back to HTTP instead of being given up.
    if (!renew(from)) {
      if (up) tellGone(from, 'unknown')
      return answer(true, [])
    }
    if (!isClientEvent(event)) return answer(false, [UNKNOWN_EVENT])
    if (event === JOIN) return join(from, args[0], timeoutMs, answer)
    if (event === LEAVE) return leave(from, args[0], answer)
    if (id === null) socket.emit(event, ...args)
    else if (timeoutMs !== null)
      socket
        .timeout(timeoutMs)
        .emit(event, ...args, (err: unknown, ...res: unknown[]) => answer(Boolean(err), err ? [] : res))
    else socket.emit(event, ...args, (...res: unknown[]) => answer(false, res))
  }

  // --- Rooms: the union of the visible tabs' wants ---------------------------------------------------------------

  const wantsOf = (tab: string): Set<Id> | undefined => (tab === tabId ? holderWants : followers.get(tab)?.wants)
  const visibleOf = (tab: string): boolean =>
    tab === tabId ? visibility.visible() : (followers.get(tab)?.visible ?? false)

  function join(tab: string, room: unknown, timeoutMs: number | null, answer: Answer) {
    // The union holds conversation ids only: anything else is refused here as the server would refuse it.
    if (typeof room !== 'string')
      return answer(false, [{ ok: false, error: { code: 'INVALID', message: 'conversationId: expected string' } }])
    wantsOf(tab)?.add(room)
    // Hidden: recorded, and joined when the tab shows (a background tab must not mark anything read).
    if (!visibleOf(tab)) return answer(false, [SUCCESS])
    const current = rooms.get(room)
    if (current?.done) return answer(false, [SUCCESS])
    const waiter: Waiter = { tab, timeoutMs, answer }
    if (current) current.waiters.push(waiter)
    else {
      queued.set(room, [...(queued.get(room) ?? []), waiter])
      reconcile()
    }
  }

  function leave(tab: string, room: unknown, answer: Answer) {
    if (typeof room === 'string') wantsOf(tab)?.delete(room)
    answer(false, [SUCCESS])
    reconcile()
  }

  function reconcile() {
    if (stopped || !socket.connected) return
    const union = roomUnion([{ visible: visibility.visible(), wants: holderWants }, ...followers.values()])
    const { join: toJoin, leave: toLeave } = roomChanges(rooms.keys(), union)
    for (const room of toLeave) {
      rooms.delete(room)
      socket.emit(LEAVE, room, () => {})
    }
    for (const room of unanswered) {
      if (union.has(room)) continue
      unanswered.delete(room)
      socket.emit(LEAVE, room, () => {})
    }
    for (const room of toJoin) {
      // A room waiting for its retry goes when its wait ends (the server may have said how long), unless a tab asks now.
      if (retries.waiting(room) && !queued.has(room)) continue
      retries.cancel(room)
      unanswered.delete(room)
      const entry: RoomJoin = { done: false, waiters: queued.get(room) ?? [] }
      queued.delete(room)
      rooms.set(room, entry)
      emitJoin(room, entry)
    }
    // Asked for while visible, the tab hid before the socket came: its want is recorded.
    for (const [room, waiters] of queued) {
      queued.delete(room)
      for (const waiter of waiters) waiter.answer(false, [SUCCESS])
    }
  }

  function emitJoin(room: Id, entry: RoomJoin) {
    const ms = entry.waiters.find((w) => w.timeoutMs !== null)?.timeoutMs ?? joinTimeoutMs
    socket.timeout(ms).emit(JOIN, room, (err: unknown, res: unknown) => {
      const waiters = entry.waiters.splice(0)
      for (const waiter of waiters) waiter.answer(Boolean(err), err ? [] : [res])
      if (rooms.get(room) !== entry) return
      const ack = err ? null : parse(ackSchema, res)
      if (ack?.ok && ack.value.ok) {
        entry.done = true
        retries.forget(room)
        return
      }
      // Not in the room. A refusal is final for the tabs that were told so (their stores forget the room); after a
      // timeout or another error they keep it: the tabs that asked retry it themselves, and a join nobody asked for
      // (a tab showed) is retried here after a backoff, each room on its own wait (a tab asking for it goes at once).
      rooms.delete(room)
      if (err) unanswered.add(room)
      const error = ack?.ok && !ack.value.ok ? ack.value.error : null
      if (error && isRefusal(error.code)) {
        // Refused for the tabs told so; one nobody asked for (a tab showed) is refused for every tab that wants it,
        // or each change of the union would ask the server again.
        const refusedFor = waiters.length > 0 ? waiters.map((w) => w.tab) : [tabId, ...followers.keys()]
        for (const tab of refusedFor) wantsOf(tab)?.delete(room)
      } else if (waiters.length === 0) retries.later(room, error?.retryAfterMs ?? 0, reconcile)
    })
  }

  // --- The holder's own socket ------------------------------------------------------------------------------------

  /** The holder's emit of `event`: rooms through the union, anything else straight to the real socket. */
  function holderEmit(event: string, args: unknown[], timeoutMs: number | null) {
    if (stopped || (event !== JOIN && event !== LEAVE)) {
      if (timeoutMs === null) socket.emit(event, ...args)
      else socket.timeout(timeoutMs).emit(event, ...args)
      return
    }
    const last = args[args.length - 1]
    const callback = typeof last === 'function' ? (last as Listener) : null
    const answer: Answer = (error, ackArgs) => {
      if (!callback) return
      if (timeoutMs !== null) callback(error ? new Error('operation has timed out') : null, ...ackArgs)
      else if (!error) callback(...ackArgs)
    }
    if (event === JOIN) join(tabId, args[0], timeoutMs, answer)
    else leave(tabId, args[0], answer)
  }

  const localSocket: LocalSocket = {
    get connected() {
      return socket.connected
    },
    get id() {
      return socket.id
    },
    get recovered() {
      return socket.recovered === true
    },
    on(event, listener) {
      socket.on(event, listener)
      return localSocket
    },
    off(event, listener) {
      socket.off(event, listener)
      return localSocket
    },
    onAny(listener) {
      socket.onAny(listener)
      return localSocket
    },
    offAny(listener) {
      socket.offAny(listener)
      return localSocket
    },
    emit(event, ...args) {
      holderEmit(event, args, null)
      return localSocket
    },
    timeout(ms) {
      return { emit: (event, ...args) => holderEmit(event, args, ms) }
    },
    connect() {
      socket.connect()
      return localSocket
    },
    disconnect() {
      socket.disconnect()
      return localSocket
    },
  }

  // --- Wiring ---------------------------------------------------------------------------------------------------

  socket.on('connect', onConnect)
  socket.on('disconnect', onDisconnect)
  socket.on('connect_error', onConnectError)
  socket.onAny(onAny)
  const unsubscribeChannel = channel.subscribe(onMessage)
  const unsubscribeVisibility = visibility.subscribe(reconcile)
  // A new holder: the tabs attach now, still attached to the one before it (hung, or gone without a word) or waiting,
  // so their points are known before this socket's handshake reads where to resume from (`handshakeFrom`); answered
  // once it is up.
  whenHeld(() => {
    if (!stopped) post({ kind: 'up', from: tabId, userId })
  })

  function stop(reason: string) {
    if (stopped) return
    stopped = true
    up = false
    socket.off('connect', onConnect)
    socket.off('disconnect', onDisconnect)
    socket.off('connect_error', onConnectError)
    socket.offAny(onAny)
    unsubscribeChannel()
    unsubscribeVisibility()
    retries.clear()
    for (const entry of watched.values()) entry.stop()
    watched.clear()
    for (const follower of [...followers.values(), ...away.values()]) timers.clearTimeout(follower.silence)
    followers.clear()
    away.clear()
    pending.clear()
    post({ kind: 'down', from: tabId, reason, userId })
  }

  const handshakeFrom = (own: ResumePoint): ResumePoint =>
    handshakeResume(
      own,
      [...pending.values()].map((attach) => attach.resume),
      Math.min(buffer.size, HANDSHAKE_LOWERS_AT_MOST),
    )

  const headNow = (): BeatHead | null =>
    up && head !== null ? { userId, offset: head.offset, epoch: head.epoch } : null

  return { localSocket, stop, handshakeFrom, head: headNow }
}
