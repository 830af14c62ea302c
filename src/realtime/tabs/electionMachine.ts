import type { TabMessage } from './protocol'

/** The holder a follower listens to: the last tab whose heartbeat it accepted, and that holder's term. */
export interface FollowedLeader {
  id: string
  term: number
}

/**
 * Where one tab stands in the election. A follower is always in the lock's queue (`queued`) or taking the lock from a
 * silent holder (`stealing`); `heardAt` is when it last heard its holder (or began to wait), `maxTerm` the highest term
 * it has heard (its own term, should it win, is one more). A leader knows when it last beat: a leader that has been
 * silent as long as followers wait may have had its lock stolen while it was frozen.
 */
export type ElectionState =
  | { status: 'idle' }
  | {
      status: 'following'
      lock: 'queued' | 'stealing'
      leader: FollowedLeader | null
      maxTerm: number
      heardAt: number
    }
  | { status: 'leading'; term: number; lastBeatAt: number }
  /**
   * A leader that woke after a silence as long as followers wait, asking the lock whether it still holds it: no beat,
   * no socket given up, until the answer (or the loss, or a newer holder's beat) comes.
   */
  | { status: 'verifying'; term: number; lastBeatAt: number }
  /** `stop` was called: the tab is going away; nothing more happens. */
  | { status: 'stopped' }

export const initialElectionState: ElectionState = { status: 'idle' }

/** What the runner feeds the machine; `now` is the runner's clock at that moment (ms). */
export type ElectionEvent =
  | { type: 'start'; now: number }
  /** The lock request was granted (queued or stolen). */
  | { type: 'lockAcquired'; now: number }
  /** The lock was taken away while held (another tab stole it). */
  | { type: 'lockLost'; now: number }
  | { type: 'heartbeatHeard'; from: string; term: number; now: number }
  | { type: 'resignHeard'; from: string; term: number; now: number }
  /** The timer the machine asked for ran out. */
  | { type: 'tick'; now: number }
  | { type: 'stop'; now: number }
  /** The lock's answer to `verifyLock`. */
  | { type: 'lockVerified'; held: boolean; now: number }

/** The election's own messages on the tab channel. */
export type ElectionMessage = Extract<TabMessage, { kind: 'heartbeat' | 'resign' }>

/** What the runner does for the machine, in order. */
export type ElectionEffect =
  /** Queue for the lock, or take it from its holder; a previous request is let go first by its own `releaseLock`. */
  | { type: 'requestLock'; steal: boolean }
  /** Leave the lock's queue, or let the lock go when held. */
  | { type: 'releaseLock' }
  | { type: 'post'; message: ElectionMessage }
  | { type: 'becomeLeader'; term: number }
  /** Leadership is lost: always the first effect of that transition, so the socket closes before anything else. */
  | { type: 'becomeFollower' }
  /** The holder this follower listened to is gone (resigned, silent, or replaced): its pending acks will not come. */
  | { type: 'leaderGone'; leader: string }
  /** Run one timer (replacing the one running, if any); when it runs out, `tick`. */
  | { type: 'startTimer'; delayMs: number }
  | { type: 'cancelTimer' }
  /** Ask the lock whether this tab still holds it; then `lockVerified`. */
  | { type: 'verifyLock' }

export interface ElectionConfig {
  tabId: string
  /** How often the leader beats. */
  heartbeatMs: number
  /** How many beats a follower misses before it takes the lock from a silent holder. */
  missedBeats: number
  /**
   * This tab's extra wait before stealing, in [0, heartbeatMs): followers that last heard the same beat do not all
   * steal at once (the first one's heartbeat reaches the others before their turn).
   */
  staggerMs: number
  /**
   * Whether the lock can say if it is still held (Web Locks' `query`). Then a leader that finds itself silent for as
   * long as followers wait asks first instead of stepping down at once: a lone hidden tab whose timers run once a
   * minute keeps its socket.
   */
  canVerify?: boolean
}

type Result = [ElectionState, ElectionEffect[]]
type Following = Extract<ElectionState, { status: 'following' }>
type Leading = Extract<ElectionState, { status: 'leading' }>
type Verifying = Extract<ElectionState, { status: 'verifying' }>

/** A heartbeat replaces the followed holder when it is newer: a higher term, or the same term from a smaller tab id. */
const outranks = (beat: FollowedLeader, current: FollowedLeader) =>
  beat.term > current.term || (beat.term === current.term && beat.id < current.id)

/**
 * The election's transitions: pure, `(state, event) → [state, effects]` (like `connectionTransition`). A tab queues
 * for the lock at start and leads when granted, beating every `heartbeatMs`; a follower that hears nothing for
 * `missedBeats` beats (plus its stagger) steals the lock; a leader that loses the lock, hears a newer leader, or finds
 * itself silent for as long as followers wait, becomes a follower first (`becomeFollower` leads the effects) and
 * queues again.
 *
 * @example
 * const step = electionTransition({ tabId: 'a', heartbeatMs: 500, missedBeats: 3, staggerMs: 0 })
 * step({ status: 'idle' }, { type: 'start', now: 0 }) // [{ status: 'following', lock: 'queued', … }, [requestLock, startTimer 1500]]
 */
export const electionTransition = (config: ElectionConfig) => {
  const waitMs = config.missedBeats * config.heartbeatMs
  const leaderOf = (state: { term: number }): FollowedLeader => ({ id: config.tabId, term: state.term })
  const stealAt = (state: Following) => state.heardAt + waitMs + config.staggerMs
  const heartbeat = (term: number): ElectionEffect => ({
    type: 'post',
    message: { kind: 'heartbeat', from: config.tabId, term },
  })

  /** Back in the queue (no steal), waiting afresh from `now`. `lockHeld`: let the held lock go first. */
  function stepDown(now: number, maxTerm: number, leader: FollowedLeader | null, lockHeld: boolean): Result {
    return [
      { status: 'following', lock: 'queued', leader, maxTerm, heardAt: now },
      [
        { type: 'becomeFollower' },
        ...(lockHeld ? [{ type: 'releaseLock' } as const] : []),
        { type: 'requestLock', steal: false },
        { type: 'startTimer', delayMs: waitMs + config.staggerMs },
      ],
    ]
  }

  function lead(state: Leading, event: ElectionEvent): Result {
    // Frozen for as long as followers wait: the lock may be gone without our knowing yet (its loss is still on its
    // way). Step down before doing anything else, so this tab never acts as holder on a stolen lock.
    if (event.type !== 'lockLost' && event.type !== 'stop' && event.now - state.lastBeatAt >= waitMs) {
      const newer = event.type === 'heartbeatHeard' && outranks({ id: event.from, term: event.term }, leaderOf(state))
      if (!config.canVerify || newer) return stepDown(event.now, state.term, null, true)
      return [{ status: 'verifying', term: state.term, lastBeatAt: state.lastBeatAt }, [{ type: 'verifyLock' }]]
    }
    switch (event.type) {
      case 'tick':
        return [
          { ...state, lastBeatAt: event.now },
          [heartbeat(state.term), { type: 'startTimer', delayMs: config.heartbeatMs }],
        ]
      case 'lockLost':
        return stepDown(event.now, state.term, null, false)
      case 'heartbeatHeard': {
        const beat = { id: event.from, term: event.term }
        if (!outranks(beat, { id: config.tabId, term: state.term })) return [state, []]
        return stepDown(event.now, event.term, beat, true)
      }
      case 'stop':
        return [
          { status: 'stopped' },
          [
            { type: 'post', message: { kind: 'resign', from: config.tabId, term: state.term } },
            { type: 'releaseLock' },
            { type: 'cancelTimer' },
          ],
        ]
      default:
        // start, lockAcquired (already held), resignHeard (another tab's old news): nothing to do.
        return [state, []]
    }
  }

  function verify(state: Verifying, event: ElectionEvent): Result {
    switch (event.type) {
      case 'lockVerified':
        if (!event.held) return stepDown(event.now, state.term, null, true)
        return [
          { status: 'leading', term: state.term, lastBeatAt: event.now },
          [heartbeat(state.term), { type: 'startTimer', delayMs: config.heartbeatMs }],
        ]
      case 'lockLost':
        return stepDown(event.now, state.term, null, false)
      case 'heartbeatHeard': {
        const beat = { id: event.from, term: event.term }
        if (!outranks(beat, leaderOf(state))) return [state, []]
        return stepDown(event.now, event.term, beat, true)
      }
      case 'stop':
        return lead({ status: 'leading', term: state.term, lastBeatAt: event.now }, event)
      default:
        // A tick left over, the lock's grant again: nothing until the answer.
        return [state, []]
    }
  }

  function follow(state: Following, event: ElectionEvent): Result {
    switch (event.type) {
      case 'heartbeatHeard': {
        const beat = { id: event.from, term: event.term }
        const maxTerm = Math.max(state.maxTerm, event.term)
        // A beat older than the holder we follow is a stale one (a holder that lost the lock and does not know yet).
        if (state.leader && beat.id !== state.leader.id && !outranks(beat, state.leader)) {
          return [{ ...state, maxTerm }, []]
        }
        if (state.leader && beat.id === state.leader.id && beat.term < state.leader.term) {
          return [{ ...state, maxTerm }, []]
        }
        const replaced = state.leader !== null && state.leader.id !== beat.id
        return [
          { ...state, leader: beat, maxTerm, heardAt: event.now },
          replaced ? [{ type: 'leaderGone', leader: state.leader!.id }] : [],
        ]
      }
      case 'resignHeard': {
        const maxTerm = Math.max(state.maxTerm, event.term)
        if (state.leader?.id !== event.from) return [{ ...state, maxTerm }, []]
        // The browser hands the lock to a queued tab; wait for its first beat afresh.
        return [{ ...state, leader: null, maxTerm, heardAt: event.now }, [{ type: 'leaderGone', leader: event.from }]]
      }
      case 'tick': {
        if (state.lock === 'stealing') return [state, []]
        const due = stealAt(state)
        if (event.now < due) return [state, [{ type: 'startTimer', delayMs: due - event.now }]]
        return [
          { ...state, lock: 'stealing', leader: null },
          [
            ...(state.leader ? [{ type: 'leaderGone', leader: state.leader.id } as const] : []),
            { type: 'releaseLock' },
            { type: 'requestLock', steal: true },
          ],
        ]
      }
      case 'lockAcquired': {
        const term = state.maxTerm + 1
        return [
          { status: 'leading', term, lastBeatAt: event.now },
          [
            ...(state.leader ? [{ type: 'leaderGone', leader: state.leader.id } as const] : []),
            { type: 'becomeLeader', term },
            heartbeat(term),
            { type: 'startTimer', delayMs: config.heartbeatMs },
          ],
        ]
      }
      case 'stop':
        return [{ status: 'stopped' }, [{ type: 'releaseLock' }, { type: 'cancelTimer' }]]
      default:
        // start (already started), lockLost (a request we no longer hold): nothing to do.
        return [state, []]
    }
  }

  return (state: ElectionState, event: ElectionEvent): Result => {
    switch (state.status) {
      case 'idle':
        if (event.type === 'start') {
          return [
            { status: 'following', lock: 'queued', leader: null, maxTerm: 0, heardAt: event.now },
            [
              { type: 'requestLock', steal: false },
              { type: 'startTimer', delayMs: waitMs + config.staggerMs },
            ],
          ]
        }
        if (event.type === 'stop') return [{ status: 'stopped' }, []]
        return [state, []]
      case 'following':
        return follow(state, event)
      case 'leading':
        return lead(state, event)
      case 'verifying':
        return verify(state, event)
      case 'stopped':
        return [state, []]
    }
  }
}
