import type { Id } from '../../src/contract'
import type { LoggedEvent } from '../services/eventLog'
import type { TalemySocket } from './types'

/**
 * What a socket was sent: every offset up to `upTo`, and those in `above` (events from other nodes may come out of
 * order). A user's offsets have no gaps, so `upTo` is where a replay must start for nothing to be missing.
 */
interface Sent {
  upTo: number
  above: Set<number>
}

/**
 * A socket's stream: replaying (live events held) or live (events above the replayed ones pass). A replaying one is
 * `stale` when notifications were lost during its replay: its log read may predate events nobody here heard of; it
 * `wasLive` when it is a live socket's resync, not its handshake's replay, and then holds the `notices` deferred to
 * its end, each with how many events were held when it came (`heldBefore`).
 */
type Stream = Replaying | { kind: 'live'; replayedUpTo: number; sent: Sent }
interface Replaying {
  kind: 'replaying'
  held: LoggedEvent[]
  sent: Sent
  stale: boolean
  wasLive: boolean
  notices: { heldBefore: number; send: () => void }[]
}

/** `offset` was sent (or, with `all`, everything up to it). */
function markSent(sent: Sent, offset: number, all = false): void {
  if (offset <= sent.upTo) return
  if (all) {
    sent.upTo = offset
    for (const above of sent.above) if (above <= offset) sent.above.delete(above)
  } else {
    sent.above.add(offset)
  }
  while (sent.above.delete(sent.upTo + 1)) sent.upTo += 1
}

/**
 * Delivers logged events to this node's sockets, each with its trailing `{ offset }`, and hands a resuming socket over
 * from its replay to the live stream: while it replays, live events are held; when the replay ends at offset `n`,
 * the held ones above `n` go out in offset order and those at or below it (already replayed) are dropped, as are any
 * that arrive later (a notification can lag its commit).
 *
 * Every node delivers to its own sockets: an event written on another node reaches this one through `deliver` too.
 *
 * @example delivery.add(socket); const r = await log.resume(…); replay(r.events); delivery.goLive(socket, r.offset)
 */
export class LiveDelivery {
  private readonly byUser = new Map<Id, Set<TalemySocket>>()
  private readonly streams = new WeakMap<TalemySocket, Stream>()
  private admits: (socket: TalemySocket) => boolean = () => true
  /** A deferred notice is being given back: it goes now, not deferred again. */
  private releasing = false

  /**
   * `admits` is asked before each event goes to a socket: false, and the event does not go (the gate ends that socket:
   * it is left to resume from what it was sent). The handlers refuse a socket whose token has expired.
   */
  gate(admits: (socket: TalemySocket) => boolean): void {
    this.admits = admits
  }

  /** From now on, the socket's user's events are held for it until `goLive`. */
  add(socket: TalemySocket): void {
    const userId = socket.data.userId
    let sockets = this.byUser.get(userId)
    if (!sockets) this.byUser.set(userId, (sockets = new Set()))
    sockets.add(socket)
    this.streams.set(socket, {
      kind: 'replaying',
      held: [],
      sent: { upTo: 0, above: new Set() },
      stale: false,
      wasLive: false,
      notices: [],
    })
  }

  /** Each live socket with the offset up to which it was sent everything. */
  live(): [TalemySocket, number][] {
    const live: [TalemySocket, number][] = []
    for (const sockets of this.byUser.values())
      for (const socket of sockets) {
        const stream = this.streams.get(socket)
        if (stream?.kind === 'live') live.push([socket, stream.sent.upTo])
      }
    return live
  }

  /** The users with a socket here. */
  users(): Id[] {
    return [...this.byUser.keys()]
  }

  /**
   * The users with a socket here that has gone live (a resync's replay included): one still in its handshake's replay
   * may go before it ends, and then its user was never there (presence counts a socket from its `sync:caughtUp`).
   */
  liveUsers(): Id[] {
    const users: Id[] = []
    for (const [userId, sockets] of this.byUser)
      for (const socket of sockets)
        if (this.hasGoneLive(socket)) {
          users.push(userId)
          break
        }
    return users
  }

  /** Whether the socket's handshake replay has ended (it is live, or replaying again as a live socket's resync). */
  hasGoneLive(socket: TalemySocket): boolean {
    const stream = this.streams.get(socket)
    return stream?.kind === 'live' || stream?.wasLive === true
  }

  /**
   * A notice for a live socket's resync waits for its replay: `replay` or `goLive` gives it back (`send`) right before
   * the first logged event heard after it (replayed or held), or after them all. A typing notice sent at once would
   * reach the client ahead of older messages the resync replays, and one from its sender would end it; sent after them
   * all, it would follow its sender's next message and stand under it. True when kept; false when the socket is in no
   * resync.
   */
  deferToResyncEnd(socket: TalemySocket, send: () => void): boolean {
    const stream = this.streams.get(socket)
    if (this.releasing || stream?.kind !== 'replaying' || !stream.wasLive) return false
    stream.notices.push({ heldBefore: stream.held.length, send })
    return true
  }

  /**
   * A live socket back to replaying (its live events held), for a replay from the offset up to which it was sent
   * everything: some notifications may have been lost on the way here. Returns that offset; undefined when not live.
   */
  pause(socket: TalemySocket): number | undefined {
    const stream = this.streams.get(socket)
    if (stream?.kind !== 'live') return undefined
    this.streams.set(socket, {
      kind: 'replaying',
      held: [],
      sent: stream.sent,
      stale: false,
      wasLive: true,
      notices: [],
    })
    return stream.sent.upTo
  }

  /**
   * Notifications may have been lost on their way here. The replaying sockets are marked stale (see `takeStale`); the
   * live ones are returned, each to be resynced (`pause`, then a replay).
   */
  notificationsLost(): TalemySocket[] {
    const live: TalemySocket[] = []
    for (const sockets of this.byUser.values())
      for (const socket of sockets) {
        const stream = this.streams.get(socket)
        if (stream?.kind === 'live') live.push(socket)
        else if (stream) stream.stale = true
      }
    return live
  }

  /**
   * Whether notifications were lost since the socket's replay began (and forgets it): an event committed after its
   * log was read is then neither in the replay nor held, so the log is read again from the replay's end before
   * `goLive`. Its held events wait meanwhile, so nothing goes out of offset order.
   */
  takeStale(socket: TalemySocket): boolean {
    const stream = this.streams.get(socket)
    if (stream?.kind !== 'replaying' || !stream.stale) return false
    stream.stale = false
    return true
  }

  /**
   * Of a replay's events, those the socket was not sent yet. A live socket's resync replays from where it was sent
   * everything, and above that it may have been sent some already (out of offset order, its node's own before another
   * node's): sent again, they would reach a listener that reads no offset twice.
   */
  unsent(socket: TalemySocket, events: readonly LoggedEvent[]): LoggedEvent[] {
    const sent = this.streams.get(socket)?.sent
    return sent ? events.filter((event) => event.offset > sent.upTo && !sent.above.has(event.offset)) : [...events]
  }

  /**
   * Sends a replay's events the socket was not sent yet (see `unsent`), in offset order, and the deferred notices whose
   * place comes among them (see `deferToResyncEnd`).
   */
  replay(socket: TalemySocket, events: readonly LoggedEvent[]): void {
    const stream = this.streams.get(socket)
    const notices = stream?.kind === 'replaying' ? placed(stream) : []
    let next = 0
    for (const event of this.unsent(socket, events)) {
      for (; next < notices.length && notices[next]!.place <= event.offset; next += 1) this.release(notices[next]!.send)
      emitLogged(socket, event)
    }
    if (stream?.kind === 'replaying') stream.notices.splice(0, next)
  }

  private release(send: () => void): void {
    this.releasing = true
    try {
      send()
    } finally {
      this.releasing = false
    }
  }

  remove(socket: TalemySocket): void {
    const sockets = this.byUser.get(socket.data.userId)
    if (!sockets) return
    sockets.delete(socket)
    if (sockets.size === 0) this.byUser.delete(socket.data.userId)
    this.streams.delete(socket)
  }

  /**
   * The replay has sent everything up to `replayedUpTo`: the held events above it go out, in offset order, and the
   * deferred notices left, each in its place (see `deferToResyncEnd`).
   */
  goLive(socket: TalemySocket, replayedUpTo: number): void {
    const stream = this.streams.get(socket)
    if (stream?.kind !== 'replaying') return
    // The replay sent everything up to `replayedUpTo` (for a first one, from the client's own offset: the same).
    const { sent } = stream
    markSent(sent, replayedUpTo, true)
    this.streams.set(socket, { kind: 'live', replayedUpTo, sent })
    const notices = placed(stream)
    const held = stream.held.filter((event) => event.offset > replayedUpTo).sort((a, b) => a.offset - b.offset)
    let next = 0
    let last = replayedUpTo
    for (const event of held) {
      if (event.offset === last) continue // the same event heard twice (two paths)
      for (; next < notices.length && notices[next]!.place <= event.offset; next += 1) this.release(notices[next]!.send)
      if (!this.admits(socket)) return
      last = event.offset
      markSent(sent, event.offset)
      emitLogged(socket, event)
    }
    for (; next < notices.length; next += 1) this.release(notices[next]!.send)
  }

  deliver(events: readonly LoggedEvent[]): void {
    for (const event of events) {
      const sockets = this.byUser.get(event.userId)
      if (!sockets) continue
      for (const socket of sockets) {
        const stream = this.streams.get(socket)
        if (!stream) continue
        if (stream.kind === 'replaying') stream.held.push(event)
        // Sent already: the same event heard twice (ioredis sends a publish again when its reply was lost in a drop).
        else if (stream.sent.above.has(event.offset) || event.offset <= stream.sent.upTo) continue
        else if (event.offset > stream.replayedUpTo && this.admits(socket)) {
          markSent(stream.sent, event.offset)
          emitLogged(socket, event)
        }
      }
    }
  }
}

/**
 * A resync's deferred notices, each with its place: the lowest offset held after it came (Infinity: none). In the order
 * they came, so their place only grows.
 */
function placed(stream: Replaying): { place: number; send: () => void }[] {
  // lowestFrom[i]: the lowest offset held from the i-th event on.
  const lowestFrom: number[] = []
  let lowest = Number.POSITIVE_INFINITY
  for (let i = stream.held.length - 1; i >= 0; i -= 1) lowestFrom[i] = lowest = Math.min(lowest, stream.held[i]!.offset)
  return stream.notices.map(({ heldBefore, send }) => ({
    place: lowestFrom[heldBefore] ?? Number.POSITIVE_INFINITY,
    send,
  }))
}

/** `socket.emit(event, payload, { offset })`. */
export function emitLogged(socket: TalemySocket, { event, payload, offset }: LoggedEvent): void {
  ;(socket.emit as (event: string, ...args: unknown[]) => boolean)(event, payload, { offset })
}
