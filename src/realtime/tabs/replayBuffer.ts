// The holder's memory of the last logged events, and what a follower gets when it attaches from its own offset:
// pure decisions here, so they are tested as tables and the hub only keeps the buffer and posts the answer.
import type { SyncPayload } from '../../contract'
import type { RawEvent, ResumePoint } from './protocol'

/** A logged event the holder saw, at its place in the user's log. */
export interface BufferedEvent {
  offset: number
  raw: RawEvent
}

/** Where the holder's stream stands: the offset it has seen without a hole, in the log named by `epoch`. */
export interface StreamHead {
  offset: number
  epoch: string
}

/** What a follower attaching from a resume point gets: the events it missed, then the sync its handshake would get. */
export interface ResumeAnswer {
  replay: RawEvent[]
  sync: RawEvent
}

/**
 * The last `size` logged events by offset (the lowest offsets go first when it is full), sorted, one per offset.
 * Appending in offset order, the common case, is a push: evicted events are dropped from the front in batches, not
 * one by one, so a full buffer is not moved for every event (bench/README.md,
 * "Measurements behind choices in the source").
 *
 * @example const buffer = new ReplayBuffer(1000); buffer.add(7, { event: 'message:new', args: [m, { offset: 7 }] })
 */
export class ReplayBuffer {
  private readonly events: BufferedEvent[] = []
  /** Where the kept events begin in `events` (those before it are evicted, awaiting the next compaction). */
  private first = 0

  constructor(readonly size: number) {}

  /** Keeps the event at `offset` (a second event at an offset already held is the same event again: ignored). */
  add(offset: number, raw: RawEvent): void {
    const events = this.events
    const last = events[events.length - 1]
    if (last === undefined || this.first === events.length || offset > last.offset) events.push({ offset, raw })
    else {
      const i = lowerBound(events, offset, this.first)
      if (events[i]?.offset === offset) return
      events.splice(i, 0, { offset, raw })
    }
    if (events.length - this.first > this.size) this.first = events.length - this.size
    if (this.first >= this.size) {
      events.splice(0, this.first)
      this.first = 0
    }
  }

  clear(): void {
    this.events.length = 0
    this.first = 0
  }

  /** The kept events in offset order (a copy). */
  entries(): BufferedEvent[] {
    return this.events.slice(this.first)
  }

  /** The highest offset reached from `from` through kept events without a hole (`from` itself when none follows). */
  contiguousFrom(from: number): number {
    return contiguousFrom(this.events, from, this.first)
  }
}

/** The index of the first event at or above `offset` in events sorted by offset. */
function lowerBound(events: readonly BufferedEvent[], offset: number, from = 0): number {
  let lo = from
  let hi = events.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (events[mid]!.offset < offset) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * The highest offset reached from `from` through `events` (sorted by offset) without a hole.
 *
 * @example contiguousFrom([{ offset: 5, … }, { offset: 6, … }, { offset: 8, … }], 4) // 6
 */
export function contiguousFrom(events: readonly BufferedEvent[], from: number, start = 0): number {
  let head = from
  for (let i = lowerBound(events, from + 1, start); i < events.length && events[i]!.offset === head + 1; i++) head++
  return head
}

/**
 * How far below its own point a holder lowers its handshake for a tab behind it. The server replays at most `maxReplay`
 * (1,000 by default) from the handshake's point and answers a gap past it, to the holder and so to every tab: lowered
 * far (a tab that was frozen), the holder's own missed events would come as a gap and a reread for all, to spare one
 * tab its gap. Tabs that followed the same holder stand within a few events of each other.
 */
export const HANDSHAKE_LOWERS_AT_MOST = 100

/**
 * Where the holder's handshake resumes from: its own point, or a lower one a tab waiting for the socket asked for, so
 * the server replays what that tab missed and the hub has it to give (not a gap, after which that tab would read every
 * thread again and never hear of the messages it missed). Lower only in the same log and by at most `maxBelow` (the
 * hub's buffer, and `HANDSHAKE_LOWERS_AT_MOST`; the holder's store drops what it has applied already); with no point
 * of its own (a tab just opened took the socket over: its first sync starts it at the head all the same), the lowest
 * any waiting tab asked for.
 *
 * @example handshakeResume({ offset: null, epoch: null }, [{ offset: 3, epoch: 'e' }], 1000) // { offset: 3, epoch: 'e' }
 */
export function handshakeResume(own: ResumePoint, waiting: readonly ResumePoint[], maxBelow: number): ResumePoint {
  let from = own
  for (const point of waiting) {
    if (point.offset === null || point.epoch === null) continue
    if (own.offset === null || own.epoch === null) {
      if (from.offset === null || point.offset < from.offset) from = point
    } else if (point.epoch === own.epoch && point.offset < from.offset! && own.offset - point.offset <= maxBelow)
      from = point
  }
  return from
}

const syncEvent = (event: 'sync:caughtUp' | 'sync:gap', payload: SyncPayload): RawEvent => ({ event, args: [payload] })

/**
 * What a follower attaching from `resume` gets, as a handshake with that offset would get it from the server: every
 * logged event after its offset and `sync:caughtUp`, or `sync:gap` at the holder's head when the buffer cannot fill
 * the whole stretch (or the follower's offset is from another epoch, or ahead of the head). Events held above the head
 * (a hole the holder waits on) go along whenever it is caught up, a follower at the head or without an offset too:
 * they were posted before it attached, and its own offset gate holds them as the holder's does.
 *
 * @example answerResume({ offset: 4, epoch: 'e' }, { offset: 6, epoch: 'e' }, [e5, e6]) // { replay: [e5.raw, e6.raw], sync: caughtUp 6 }
 */
export function answerResume(resume: ResumePoint, head: StreamHead, events: readonly BufferedEvent[]): ResumeAnswer {
  const { epoch } = head
  // Where the follower stands once answered (a fresh page: at the head); a hole in the buffer before the head is a gap.
  const from = resume.offset ?? head.offset
  // Ahead of the head, as the server answers a handshake ahead of its log: the log may have gone back in its epoch (the
  // holder was told sync:gap), and counting on from its own offset the follower would drop the log's next events.
  if (
    (resume.epoch !== null && resume.epoch !== epoch) ||
    from > head.offset ||
    contiguousFrom(events, from) < head.offset
  )
    return { replay: [], sync: syncEvent('sync:gap', { offset: head.offset, epoch }) }
  return {
    replay: events.slice(lowerBound(events, from + 1)).map((e) => e.raw),
    sync: syncEvent('sync:caughtUp', { offset: head.offset, epoch }),
  }
}
