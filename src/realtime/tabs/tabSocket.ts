import type { Id } from '../../contract'
import type { DisconnectReason } from '../actions'
import type { TimerHandle, Timers } from '../timers'
import {
  SESSION_EXPIRED_REASON,
  type BeatHead,
  type RawEvent,
  type ResumePoint,
  type TabChannel,
  type TabMessage,
  type Visibility,
} from './protocol'

type Listener = (...args: unknown[]) => void
type AnyListener = (event: string, ...args: unknown[]) => void
/** `cb(err, ...ackArgs)` for a `timeout(ms)` emit, `cb(...ackArgs)` for a plain ack emit. */
type AckCallback = (...args: unknown[]) => void

/** The emitter `timeout(ms)` returns: its `emit` calls the last argument as `cb(err)` or `cb(null, ...ackArgs)`. */
export interface TimedEmitter {
  emit(event: string, ...args: unknown[]): ProxySocket
}

/**
 * The part of socket.io-client's `Socket` the realtime layer uses, backed by the channel to the tab that holds the one
 * real socket. Hand it to the layer as its socket (`as unknown as AppSocket`): the layer runs unchanged.
 */
export interface ProxySocket {
  readonly connected: boolean
  /** The holder's socket id while attached; `undefined` otherwise (as socket.io-client clears it on disconnect). */
  readonly id: string | undefined
  /** Never: a follower's stream is resumed by the holder's replay, not by Socket.IO's connection-state recovery. */
  readonly recovered: false
  connect(): ProxySocket
  disconnect(): ProxySocket
  on(event: string, listener: Listener): ProxySocket
  off(event?: string, listener?: Listener): ProxySocket
  onAny(listener: AnyListener): ProxySocket
  offAny(listener?: AnyListener): ProxySocket
  emit(event: string, ...args: unknown[]): ProxySocket
  timeout(ms: number): TimedEmitter
}

export interface TabSocketOptions {
  /** This tab's id on the channel (`from` of what it posts, `to` of what is meant for it). */
  tabId: string
  /** The user this tab is logged in as: only the events of this user are delivered. */
  userId: Id
  channel: TabChannel
  /** The offset this tab's store has applied, read at each attach (as a handshake reads its `auth`). */
  resume: () => ResumePoint
  visibility: Visibility
  timers: Timers
  /** How often an attached follower says it is still there. Default 500 ms. */
  heartbeatMs?: number
}

export interface TabSocket {
  socket: ProxySocket
  /** The election's word that the holder is gone (closed, crashed, silent): as if its socket had dropped. */
  holderGone(holder?: string): void
  /**
   * The election hears `holder` beat as the tab holding the socket. A proxy attached to another tab is attached to one
   * that no longer holds it (it answered before this tab heard any beat, or it was robbed and answered too), which may
   * have gone without a word: as if its socket had dropped, and it attaches to `holder` at once. With the holder's
   * `head`: a proxy attached to it whose store stands below it, or in another epoch, lost a relay on the channel (its
   * page paused or being frozen); it attaches again from its offset, as when dropped for its silence, and is replayed.
   */
  holderIs(holder: string, head?: BeatHead | null): void
  /**
   * This tab's page woke from a sleep (its wake watch): the holder is told, while this tab wants the socket, so its
   * socket, perhaps dead with its page hidden, is checked as on a wake of its own.
   */
  wake(): void
  /** Disconnects, and lets go of the channel, the visibility subscription and every timer. */
  close(): void
}

/** The reason a follower sees when the holder's socket drops: a transport loss, so its machine retries (re-attaches). */
export const HOLDER_DOWN_REASON: DisconnectReason = 'transport close'
/** socket.io-client's reason for a `disconnect()` of its own. */
export const CLIENT_DISCONNECT_REASON: DisconnectReason = 'io client disconnect'
/** `session:renew`'s success ack (`Ack<null>`), answered by the proxy itself. */
export const RENEWED_ACK = { ok: true, data: null } as const

const TIMED_OUT = 'operation has timed out'
/** How many holders said gone a proxy keeps (tab ids are one per page load: a long-lived tab sees many). */
const GONE_KEPT = 8
const DISCONNECTED = 'socket has been disconnected'

interface PendingAck {
  callback: AckCallback
  /** `timeout(ms)` emits answer `cb(err, ...args)`; plain ack emits answer `cb(...args)`. */
  withError: boolean
  timer: TimerHandle | null
}

/** A copy of `list` without the first `item` (as component-emitter removes one registration), or `list` itself. */
function without<T>(list: T[], item: T): T[] {
  const i = list.indexOf(item)
  return i === -1 ? list : [...list.slice(0, i), ...list.slice(i + 1)]
}

/**
 * Attach and emit ids, counted for the whole page: a proxy made after another in the same tab (a new session, another
 * user) never takes an answer that was meant for the one before it.
 */
let pageCounter = 0
const nextPageId = () => ++pageCounter

/**
 * A follower tab's socket: an object with the surface of socket.io-client's `Socket`, backed by the tab channel to the
 * holder (`hub.ts`). `connect()` attaches (with this store's offset); the holder's answer becomes `connect`, the replay,
 * `sync:*` and `presence:snapshot`, in that order and in one task; then live events of this user follow. Emits go to the
 * holder and their acks come back with Socket.IO's callback shapes. The holder's socket dropping (`down`) or the holder
 * going away (`holderGone()`) is a `disconnect` ('transport close'): pending acks fail at once, and the proxy attaches
 * again when a holder says `up`.
 *
 * @example
 * const tab = createTabSocket({ tabId, userId, channel, resume: () => selectResumePoint(store.getState()), visibility, timers })
 * bindSocket(tab.socket as unknown as AppSocket, store.dispatch)
 * tab.socket.connect()
 */
export function createTabSocket(options: TabSocketOptions): TabSocket {
  const { tabId, userId, channel, resume, visibility, timers } = options
  const heartbeatMs = options.heartbeatMs ?? 500

  const listeners = new Map<string, Listener[]>()
  let anyListeners: AnyListener[] = []
  const pending = new Map<number, PendingAck>()
  /** The id of the last `attach` posted: only its answer is taken. */
  let attachId = 0

  /** `connect()` was called and neither `disconnect()` nor `close()` since. */
  let wanted = false
  /** An `attach` went out and no answer was taken since (the hub may have taken the tab in: its visibility is said). */
  let attaching = false
  /**
   * Holders the election said are gone, until one says `up` again or is heard beating as the holder: an answer of theirs
   * still on its way (the holder answered, then crashed, and the next holder's beat came first) is not taken, or the tab
   * would say connected through a tab that is gone, until the next holder's socket is up or its next (maybe throttled)
   * beat is heard. Kept across attaches: a holder robbed while frozen, declared gone while this tab was attached to it,
   * answers the tab's next attach when it wakes, before it hears of its loss. The last `GONE_KEPT` only.
   */
  const goneHolders = new Set<string>()
  /**
   * The holder heard beating since the last `attach` went out, if any: an answer from another is late news from a tab
   * that no longer holds the socket (it crashed; this tab, just opened, followed no one the election could say gone).
   */
  let heardSinceAttach: string | null = null
  /**
   * The tab this one last heard hold the socket (its `up`, its beat, its answer), across attaches: a `failed` or an
   * `attached` from another is from a holder robbed of the lock that has not heard of it yet, its socket going nowhere
   * (or about to close), while the next holder's may be connecting fine (its `up` came, its beat not yet).
   */
  let holderNow: string | null = null
  /** The hub this proxy is attached to (its tab, and its socket's id), while connected. */
  let link: { holder: string; socketId: string } | null = null
  let heartbeat: TimerHandle | null = null
  let closed = false

  const post = (message: TabMessage) => channel.post(message)

  function fire(event: string, ...args: unknown[]) {
    // Copies, as component-emitter does: a listener that unsubscribes must not skip the next one.
    for (const listener of [...(listeners.get(event) ?? [])]) listener(...args)
  }

  /** A server event, as socket.io-client delivers it: the catch-all listeners first, then the event's own. */
  function deliver(raw: RawEvent) {
    for (const listener of [...anyListeners]) listener(raw.event, ...raw.args)
    fire(raw.event, ...raw.args)
  }

  function attach() {
    attaching = true
    attachId = nextPageId()
    heardSinceAttach = null
    saidVisible = visibility.visible()
    post({ kind: 'attach', from: tabId, attachId, userId, resume: resume(), visible: saidVisible })
    // Asked again each heartbeat until answered: an attach may reach no holder (one is being elected, or the message
    // was lost), and a holder that is up posts no `up` again.
    startHeartbeat()
  }

  /** The visibility the holder was last told of (in `attach` or `alive`). */
  let saidVisible: boolean | null = null
  function sayAlive() {
    saidVisible = visibility.visible()
    post({ kind: 'alive', from: tabId, visible: saidVisible })
  }

  function startHeartbeat() {
    stopHeartbeat()
    const handle = timers.setTimeout(() => {
      if (heartbeat !== handle) return
      heartbeat = null
      if (link === null) {
        if (wanted) attach()
        return
      }
      sayAlive()
      startHeartbeat()
    }, heartbeatMs)
    heartbeat = handle
  }

  function stopHeartbeat() {
    if (heartbeat !== null) timers.clearTimeout(heartbeat)
    heartbeat = null
  }

  function settle(entry: PendingAck, error: Error | null, args: unknown[]) {
    if (entry.timer !== null) timers.clearTimeout(entry.timer)
    if (error) entry.callback(error)
    else if (entry.withError) entry.callback(null, ...args)
    else entry.callback(...args)
  }

  /**
   * Every pending ack fails now: the holder that would have answered is not ours any more. Unlike socket.io-client
   * (which drops plain acks silently), plain ack emits get the Error too, so no caller waits forever.
   */
  function failPending() {
    const entries = [...pending.values()]
    pending.clear()
    for (const entry of entries) settle(entry, new Error(DISCONNECTED), [])
  }

  /** Connected → not connected, as socket.io-client's `onclose`: state first, then `disconnect`, then the acks. */
  function drop(reason: DisconnectReason) {
    link = null
    stopHeartbeat()
    fire('disconnect', reason)
    failPending()
  }

  /**
   * Whether this asking tab takes `tab`'s word (an answer, a handshake failure) for the holder's: not a holder said
   * gone (and not back since), nor another than the one heard beating since, nor than the one heard hold the socket last
   * (`holderNow`: a holder robbed of the lock speaks while its socket is up, until it hears of its loss). A `holderNow`
   * said gone since binds no one: the next holder may be up already, hidden, its next beat a minute away.
   */
  function mayHold(tab: string): boolean {
    if (goneHolders.has(tab)) return false
    if (heardSinceAttach !== null && heardSinceAttach !== tab) return false
    return holderNow === null || holderNow === tab || goneHolders.has(holderNow)
  }

  function onAttached(message: Extract<TabMessage, { kind: 'attached' }>) {
    // An answer to an earlier attach of this proxy, or of a proxy this tab had before (another session, maybe another
    // user's): only the last attach's answer is taken.
    if (message.attachId !== attachId) return
    if (!wanted) {
      // An answer to an attach this tab has given up on: the hub must not keep it as a follower.
      post({ kind: 'detach', from: tabId })
      return
    }
    // A second answer (this tab attached again before the first came back) repeats what the live events already
    // brought since the first: ignored. So is one from a tab this one does not take for the holder: it asks again
    // each heartbeat.
    if (link !== null || !mayHold(message.from)) return
    attaching = false
    holderNow = message.from
    link = { holder: message.from, socketId: message.socketId }
    startHeartbeat()
    fire('connect')
    for (const raw of message.replay) deliver(raw)
    deliver(message.sync)
    if (message.presence) deliver(message.presence)
  }

  /**
   * The holder's session is over (its refresh was refused), and it is this tab's session too (the tabs share it): a
   * `connect_error` as a refused handshake gives, so this tab's connection refreshes once, is refused, and says
   * `unauthorized` as the holder does. Attached or still asking: no holder will come back for this session.
   */
  function sessionExpiredAtHolder(holder: string, of: Id | undefined) {
    if (of !== userId || (link !== null && holder !== link.holder)) return
    if (link !== null) drop(HOLDER_DOWN_REASON)
    if (!wanted) return
    attaching = false
    stopHeartbeat()
    fire('connect_error', new Error(SESSION_EXPIRED_REASON))
  }

  /**
   * The holder's handshake failed: this tab's connection is not coming either, and says why as the holder's does (a
   * `connect_error` as the holder got it, with the wait a refusal asked for). It goes on asking: once the holder's
   * socket is up, it is answered. Only while asking, and only from a tab this one takes for the holder.
   */
  function failedAtHolder(message: Extract<TabMessage, { kind: 'failed' }>) {
    if (message.userId !== userId || !wanted || link !== null || !mayHold(message.from)) return
    const error = new Error(message.message)
    const { retryAfterMs } = message
    fire('connect_error', retryAfterMs === null ? error : Object.assign(error, { data: { retryAfterMs } }))
  }

  function onAck(message: Extract<TabMessage, { kind: 'ack' }>) {
    if (message.from !== link?.holder) return
    const entry = pending.get(message.id)
    if (!entry) return
    pending.delete(message.id)
    settle(entry, message.error ? new Error(TIMED_OUT) : null, message.args)
  }

  function receive(message: TabMessage) {
    if (closed) return
    switch (message.kind) {
      case 'attached':
        if (message.to === tabId) onAttached(message)
        return
      case 'up':
        if (message.userId !== userId) return
        holderNow = message.from
        goneHolders.delete(message.from)
        // Another tab holds the socket now while this one is still attached to the old holder: that holder went away
        // without a word (a crash), perhaps before this tab's election ever heard it beat, so nothing else will say so.
        if (link !== null && message.from !== link.holder) drop(HOLDER_DOWN_REASON)
        // A new holder (or the old one back): attach again from this store's offset now.
        if (wanted && link === null) attach()
        return
      case 'down':
        if (message.to !== undefined && message.to !== tabId) return
        if (message.reason === SESSION_EXPIRED_REASON) return sessionExpiredAtHolder(message.from, message.userId)
        if (message.from !== link?.holder) return
        drop(HOLDER_DOWN_REASON)
        // Dropped as silent by a holder that is still up: no `up` will come, so ask again now.
        if (message.to === tabId && wanted) attach()
        return
      case 'failed':
        if (message.to === undefined || message.to === tabId) failedAtHolder(message)
        return
      case 'event':
        // Never another user's events, whatever a holder sends; and only from the hub this tab is attached to.
        if (message.from === link?.holder && message.userId === userId) deliver(message.raw)
        return
      case 'ack':
        if (message.to === tabId) onAck(message)
        return
      default:
        return
    }
  }

  /**
   * Whether this store stands below the head its holder says with its beat: the beat went after every relay up to it,
   * on the same channel, in order, so what is missing was lost on the way (a later relay would show the hole to the
   * store's gate, but the last one shows nothing). A store with no point yet has nothing to count from.
   */
  function missedRelays(head: BeatHead | null | undefined): boolean {
    if (!head || head.userId !== userId) return false
    const { offset, epoch } = resume()
    if (offset === null || epoch === null) return false
    return epoch !== head.epoch || offset < head.offset
  }

  /** An ack emit that cannot go out: it fails on the next tick (an ack never comes synchronously, nor never). */
  function failSoon(callback: AckCallback) {
    timers.setTimeout(() => callback(new Error(DISCONNECTED)), 0)
  }

  function send(event: string, args: unknown[], timeoutMs: number | null, withError: boolean): ProxySocket {
    const last = args[args.length - 1]
    const callback = typeof last === 'function' ? (last as AckCallback) : null
    const payload = callback ? args.slice(0, -1) : args
    if (event === 'session:renew') {
      // Never relayed (nor its token broadcast to every tab): the holder renews its own socket, and this tab's fresh
      // token reaches it through shared storage.
      if (callback) timers.setTimeout(() => (withError ? callback(null, RENEWED_ACK) : callback(RENEWED_ACK)), 0)
      return socket
    }
    if (link === null) {
      // Not buffered: the layer only emits on a live socket (typing aside, which is worth nothing later).
      if (callback) failSoon(callback)
      return socket
    }
    // The holder hears of a change of visibility before an emit made since (the store's listener of it may run before
    // this proxy's): a join from a tab that just showed must be joined, not answered as from a hidden tab.
    if (visibility.visible() !== saidVisible) sayAlive()
    if (!callback) {
      post({ kind: 'emit', from: tabId, to: link.holder, id: null, event, args: payload, timeoutMs: null })
      return socket
    }
    const id = nextPageId()
    const entry: PendingAck = { callback, withError, timer: null }
    if (timeoutMs !== null) {
      // Timed here too, so a hub that never answers (or a lost message) cannot leave the caller waiting.
      entry.timer = timers.setTimeout(() => {
        if (pending.get(id) !== entry) return
        pending.delete(id)
        callback(new Error(TIMED_OUT))
      }, timeoutMs)
    }
    pending.set(id, entry)
    post({ kind: 'emit', from: tabId, to: link.holder, id, event, args: payload, timeoutMs })
    return socket
  }

  const socket: ProxySocket = {
    get connected() {
      return link !== null
    },
    get id() {
      return link?.socketId
    },
    recovered: false,
    connect() {
      if (closed || link !== null) return socket
      wanted = true
      // Each call asks again (the connection machine's retries): a hub that is up answers, one that is not ignores it.
      attach()
      return socket
    },
    disconnect() {
      const wasWanted = wanted
      wanted = false
      attaching = false
      if (link === null) {
        // Also between a `down` and the next attach: the holder adopts what this tab leaves unsent in storage.
        if (wasWanted) post({ kind: 'detach', from: tabId })
        return socket
      }
      post({ kind: 'detach', from: tabId })
      drop(CLIENT_DISCONNECT_REASON)
      return socket
    },
    on(event, listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener])
      return socket
    },
    off(event, listener) {
      if (event === undefined) listeners.clear()
      else if (listener === undefined) listeners.delete(event)
      else listeners.set(event, without(listeners.get(event) ?? [], listener))
      return socket
    },
    onAny(listener) {
      anyListeners = [...anyListeners, listener]
      return socket
    },
    offAny(listener) {
      anyListeners = listener === undefined ? [] : without(anyListeners, listener)
      return socket
    },
    emit(event, ...args) {
      return send(event, args, null, false)
    },
    timeout(ms) {
      return { emit: (event, ...args) => send(event, args, ms, true) }
    },
  }

  const unsubscribe = channel.subscribe(receive)
  // Also while an attach is unanswered: the holder may have taken the tab in already, with the visibility it had.
  const unwatch = visibility.subscribe(() => {
    if ((link !== null || attaching) && !closed) sayAlive()
  })

  return {
    socket,
    holderGone(holder) {
      // Only the holder this proxy is attached to: news of another one (an older holder resigning late) cuts nothing.
      if (link !== null && (holder === undefined || holder === link.holder)) drop(HOLDER_DOWN_REASON)
      if (holder === undefined) return
      goneHolders.delete(holder)
      goneHolders.add(holder)
      for (const oldest of goneHolders) {
        if (goneHolders.size <= GONE_KEPT) break
        goneHolders.delete(oldest)
      }
    },
    holderIs(holder, head) {
      holderNow = holder
      goneHolders.delete(holder)
      if (link === null && attaching) heardSinceAttach = holder
      if (link === null || (link.holder === holder && !missedRelays(head))) return
      drop(HOLDER_DOWN_REASON)
      // `holder` may be up already: no `up` would come, so ask now (asked again each heartbeat until answered).
      if (wanted) attach()
    },
    wake() {
      if (wanted && !closed) post({ kind: 'wake', from: tabId })
    },
    close() {
      if (closed) return
      socket.disconnect()
      closed = true
      unsubscribe()
      unwatch()
      stopHeartbeat()
    },
  }
}
