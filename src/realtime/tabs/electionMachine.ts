import { HIDDEN_SILENCE_MS, ranLate, type TabMessage } from './protocol'

/** The holder a follower listens to: the last tab whose heartbeat it accepted, and that holder's term. */
export interface FollowedLeader {
  id: string
  term: number
}

/**
 * Where one tab stands in the election. A follower is always in the lock's queue (`queued`) or taking the lock from a
 * silent holder (`stealing`); `heardAt` is when it last heard its holder (or began to wait), `maxTerm` the highest term
 * it has heard (its own term, should it win, is one more). A leader knows when it last beat: a leader that has been
 * silent as long as followers wait may have had its lock stolen while it was frozen. `hidden` is the page's
 * visibility: a hidden follower waits longer before it steals, and a leader keeps it for the follower it may become.
 */
export type ElectionState =
  | { status: 'idle' }
  | {
      status: 'following'
      lock: 'queued' | 'stealing'
      leader: FollowedLeader | null
      maxTerm: number
      heardAt: number
      hidden: boolean
      /**
       * The last tab heard beating that does not outrank `leader` (a beat taken for stale), and when. A tab that took
       * the lock without having heard the holder this tab follows (opened meanwhile) beats with a term no higher.
       */
      other?: FollowedLeader & { heardAt: number }
    }
  | { status: 'leading'; term: number; lastBeatAt: number; hidden: boolean }
  /**
   * A leader that woke after a silence as long as followers wait, asking the lock whether it still holds it: no beat,
   * no socket given up, until the answer (or the loss, or a newer holder's beat) comes.
   */
  | { status: 'verifying'; term: number; lastBeatAt: number; hidden: boolean }
  /**
   * `leave` was called: this tab wants no socket (`socket/disconnect`), so it is out of the election (no lock asked for,
   * no timer) until `start` again. It keeps the highest term it hears, so a later lead of its own outranks them.
   */
  | { status: 'aside'; maxTerm: number }
  /** `stop` was called: the tab is going away; nothing more happens. */
  | { status: 'stopped' }

export const initialElectionState: ElectionState = { status: 'idle' }

/** What the runner feeds the machine; `now` is the runner's clock at that moment (ms). */
export type ElectionEvent =
  /** Take part: at the start, or again after `leave`; `hidden`: the page's visibility then. */
  | { type: 'start'; hidden: boolean; now: number }
  /** The page was hidden or shown. */
  | { type: 'visibilityChanged'; hidden: boolean; now: number }
  /** The lock request was granted (queued or stolen). */
  | { type: 'lockAcquired'; now: number }
  /** The lock was taken away while held (another tab stole it). */
  | { type: 'lockLost'; now: number }
  | { type: 'heartbeatHeard'; from: string; term: number; now: number }
  | { type: 'resignHeard'; from: string; term: number; now: number }
  /**
   * The timer the machine asked for ran out; `dueAt`: when it was due (a later `now` means the page ran it late, being
   * busy or frozen; absent: on time).
   */
  | { type: 'tick'; now: number; dueAt?: number }
  | { type: 'stop'; now: number }
  /** Stand aside until the next `start`: a leader resigns and lets the lock go (as for `stop`), a follower leaves the queue. */
  | { type: 'leave'; now: number }
  /** The lock's answer to `verifyLock`. */
  | { type: 'lockVerified'; held: boolean; now: number }
  /**
   * The tab is about to act as holder outside its beat (say its socket is up): a leader silent as long as followers
   * wait makes now the check its next tick would make (asks the lock, or steps down); otherwise nothing.
   */
  | { type: 'confirm'; now: number }

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
  /**
   * The lock was taken from a silent holder (`steal`): a hung page keeps every other lock it holds until it runs
   * again (the outbox's drain lock, in the middle of a send), which the new holder must take from it too.
   */
  | { type: 'holderRobbed' }
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
   * How long a hidden follower waits on a silent holder before it takes the lock (at least the visible wait). Default
   * `HIDDEN_SILENCE_MS` (150 s): with every tab in the background the holder's timers run about once a minute, so a
   * shorter silence is no sign of a hang; a longer one is (a blocked or frozen page keeps its lock, so nothing comes
   * through the queue), and without a steal no hidden tab would get an event again until one is shown.
   */
  hiddenWaitMs?: number
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
 * Whether a leader that last beat at `lastBeatAt` surely holds the lock at `now`: it beat within the wait a follower
 * gives it before taking the lock. Silent longer (its page hung or asleep), it may have been robbed, the news still on
 * its way: it checks before acting as holder.
 *
 * @example beatWithinWait({ heartbeatMs: 500, missedBeats: 3 }, 1000, 2400) // true
 */
export const beatWithinWait = (
  config: Pick<ElectionConfig, 'heartbeatMs' | 'missedBeats'>,
  lastBeatAt: number,
  now: number,
): boolean => now - lastBeatAt < config.missedBeats * config.heartbeatMs

/**
 * The election's transitions: pure, `(state, event) → [state, effects]` (like `connectionTransition`). A tab queues
 * for the lock at start and leads when granted, beating every `heartbeatMs`; a follower that hears nothing for
 * `missedBeats` beats (plus its stagger) steals the lock (one beat later when its own timer ran late past that: its
 * page was frozen, the beats queued meanwhile still to come); one whose page is hidden waits `hiddenWaitMs` instead (or
 * until the page shows, and one beat more); a leader that loses the lock, hears a newer leader, or finds itself silent
 * for as long as followers wait, becomes a follower first (`becomeFollower` leads the effects) and queues again.
 * `leave` takes a tab out until the next `start` (a leader resigns, `becomeFollower` first).
 *
 * @example
 * const step = electionTransition({ tabId: 'a', heartbeatMs: 500, missedBeats: 3, staggerMs: 0 })
 * step({ status: 'idle' }, { type: 'start', hidden: false, now: 0 }) // [{ status: 'following', lock: 'queued', … }, [requestLock, startTimer 1500]]
 */
export const electionTransition = (config: ElectionConfig) => {
  const waitMs = config.missedBeats * config.heartbeatMs
  const hiddenWaitMs = Math.max(waitMs, config.hiddenWaitMs ?? HIDDEN_SILENCE_MS)
  const stealAt = (state: Following) => state.heardAt + (state.hidden ? hiddenWaitMs : waitMs) + config.staggerMs
  /**
   * Whether a visible follower's timer, due at its deadline or before, ran more than a tenth of a beat past it: its
   * page was busy or frozen, and the holder's beats queued meanwhile may be delivered after this tick (timers and
   * messages are different task sources). A timer due after the deadline is the beat of grace this gave already. A
   * hidden page's timers run late anyway (the browser throttles them), no sign of a freeze.
   */
  const frozePast = (state: Following, event: { now: number; dueAt?: number }, due: number) =>
    !state.hidden &&
    event.dueAt !== undefined &&
    event.dueAt <= due &&
    ranLate(event.dueAt, event.now, config.heartbeatMs)
  /** The followed holder's `leaderGone`, when there is one. */
  const gone = (state: Following): ElectionEffect[] =>
    state.leader ? [{ type: 'leaderGone', leader: state.leader.id }] : []

  /**
   * The followed holder has been silent for the whole wait: the lock is taken from it, the queued request going first.
   * Unless another tab has beaten within that wait, taken for stale: that tab holds the lock now (it took it from the
   * holder followed here, having never heard it, so with a term no higher), and is followed instead of robbed.
   */
  function steal(state: Following, now: number): Result {
    const { other, ...rest } = state
    if (other && other.id !== state.leader?.id && now - other.heardAt < (state.hidden ? hiddenWaitMs : waitMs)) {
      const next: Following = { ...rest, leader: { id: other.id, term: other.term }, heardAt: other.heardAt }
      return [next, [...gone(state), { type: 'startTimer', delayMs: stealAt(next) - now }]]
    }
    return [
      { ...rest, lock: 'stealing', leader: null },
      [...gone(state), { type: 'releaseLock' }, { type: 'requestLock', steal: true }],
    ]
  }

  /** In the queue for the lock (no steal), waiting afresh from `now`; `first` goes before the request. */
  function queue(
    now: number,
    maxTerm: number,
    leader: FollowedLeader | null,
    hidden: boolean,
    first: ElectionEffect[],
  ): Result {
    return [
      { status: 'following', lock: 'queued', leader, maxTerm, heardAt: now, hidden },
      [...first, { type: 'requestLock', steal: false }, { type: 'startTimer', delayMs: waitMs + config.staggerMs }],
    ]
  }

  /** A holder back in the queue, as hidden as its page. `lockHeld`: let the held lock go first. */
  const stepDown = (
    now: number,
    holder: Leading | Verifying,
    maxTerm: number,
    leader: FollowedLeader | null,
    lockHeld: boolean,
  ): Result =>
    queue(
      now,
      maxTerm,
      leader,
      holder.hidden,
      lockHeld ? [{ type: 'becomeFollower' }, { type: 'releaseLock' }] : [{ type: 'becomeFollower' }],
    )

  /** Leading `term` from `now`: a beat goes out at once, the next one after `heartbeatMs`. */
  const beating = (term: number, now: number, hidden: boolean, first: ElectionEffect[] = []): Result => [
    { status: 'leading', term, lastBeatAt: now, hidden },
    [
      ...first,
      { type: 'post', message: { kind: 'heartbeat', from: config.tabId, term } },
      { type: 'startTimer', delayMs: config.heartbeatMs },
    ],
  ]

  /** A holder (leading, or verifying its lock) that learns its lock is gone, or hears a newer holder, steps down. */
  function hold(state: Leading | Verifying, event: ElectionEvent): Result {
    if (event.type === 'lockLost') return stepDown(event.now, state, state.term, null, false)
    if (event.type === 'heartbeatHeard') {
      const beat = { id: event.from, term: event.term }
      if (outranks(beat, { id: config.tabId, term: state.term }))
        return stepDown(event.now, state, event.term, beat, true)
    }
    // start, lockAcquired (already held), resignHeard (another tab's old news), a tick left over while verifying, a
    // confirm while beating or already verifying: nothing to do.
    return [state, []]
  }

  function lead(state: Leading, event: ElectionEvent): Result {
    // Kept for the follower it may become. Not an act as holder, so no freeze check here: the next tick makes it (a
    // throttled page's overdue timers run as it shows).
    if (event.type === 'visibilityChanged') return [{ ...state, hidden: event.hidden }, []]
    if (event.type === 'stop' || event.type === 'leave') {
      const left: ElectionEffect[] = [
        { type: 'post', message: { kind: 'resign', from: config.tabId, term: state.term } },
        { type: 'releaseLock' },
        { type: 'cancelTimer' },
      ]
      return event.type === 'stop'
        ? [{ status: 'stopped' }, left]
        : [{ status: 'aside', maxTerm: state.term }, [{ type: 'becomeFollower' }, ...left]]
    }
    // Frozen for as long as followers wait: the lock may be gone without our knowing yet (its loss is still on its
    // way). Step down before doing anything else, so this tab never acts as holder on a stolen lock.
    if (event.type !== 'lockLost' && !beatWithinWait(config, state.lastBeatAt, event.now)) {
      const newer =
        event.type === 'heartbeatHeard' &&
        outranks({ id: event.from, term: event.term }, { id: config.tabId, term: state.term })
      if (!config.canVerify || newer) return stepDown(event.now, state, state.term, null, true)
      return [{ ...state, status: 'verifying' }, [{ type: 'verifyLock' }]]
    }
    if (event.type === 'tick') return beating(state.term, event.now, state.hidden)
    return hold(state, event)
  }

  function verify(state: Verifying, event: ElectionEvent): Result {
    if (event.type === 'lockVerified')
      return event.held
        ? beating(state.term, event.now, state.hidden)
        : stepDown(event.now, state, state.term, null, true)
    if (event.type === 'visibilityChanged') return [{ ...state, hidden: event.hidden }, []]
    if (event.type === 'stop' || event.type === 'leave') return lead({ ...state, status: 'leading' }, event)
    // The lock's grant again: nothing until the answer.
    return hold(state, event)
  }

  function follow(state: Following, event: ElectionEvent): Result {
    switch (event.type) {
      case 'heartbeatHeard': {
        const beat = { id: event.from, term: event.term }
        const maxTerm = Math.max(state.maxTerm, event.term)
        // A beat older than the holder we follow is a stale one (a holder that lost the lock and does not know yet).
        if (state.leader && beat.id !== state.leader.id && !outranks(beat, state.leader)) {
          return [{ ...state, maxTerm, other: { ...beat, heardAt: event.now } }, []]
        }
        if (state.leader && beat.id === state.leader.id && beat.term < state.leader.term) {
          return [{ ...state, maxTerm }, []]
        }
        const replaced = state.leader !== null && state.leader.id !== beat.id
        return [{ ...state, leader: beat, maxTerm, heardAt: event.now }, replaced ? gone(state) : []]
      }
      case 'resignHeard': {
        const maxTerm = Math.max(state.maxTerm, event.term)
        if (state.leader?.id !== event.from) return [{ ...state, maxTerm }, []]
        // The browser hands the lock to a queued tab; wait for its first beat afresh.
        return [{ ...state, leader: null, maxTerm, heardAt: event.now }, gone(state)]
      }
      case 'tick': {
        if (state.lock === 'stealing') return [state, []]
        // Hidden, the wait is `hiddenWaitMs`: a shorter one would move the socket every minute while every tab is in
        // the background (a closed or crashed holder's lock comes to the queue without a steal anyway).
        const due = stealAt(state)
        // Visible, it looks at least every beat: a freeze that spans the silence then shows as a late timer, even
        // one that ends just past the deadline.
        const rest = state.hidden ? due - event.now : Math.min(due - event.now, config.heartbeatMs)
        if (event.now < due) return [state, [{ type: 'startTimer', delayMs: rest }]]
        // Woken late past the deadline: the channel gets one beat to deliver what queued meanwhile (a live holder's
        // beats, the next one at the latest); a holder still silent then is robbed.
        if (frozePast(state, event, due)) return [state, [{ type: 'startTimer', delayMs: config.heartbeatMs }]]
        return steal(state, event.now)
      }
      case 'visibilityChanged': {
        if (event.hidden === state.hidden) return [state, []]
        const next = { ...state, hidden: event.hidden }
        // Hidden: its timer runs on, and its tick waits out the rest of the hidden wait.
        if (event.hidden || state.lock === 'stealing') return [next, []]
        // Shown: the wait it may have sat out hidden counts (its timer may be late in a throttled page). Past it, one
        // beat more: a page the browser froze in the background may run its visibilitychange before the beats queued
        // meanwhile (as a late tick, `frozePast`); that timer is due after the deadline, so a holder still silent is
        // robbed then.
        const due = stealAt(next)
        return [next, [{ type: 'startTimer', delayMs: event.now < due ? due - event.now : config.heartbeatMs }]]
      }
      case 'lockAcquired': {
        const term = state.maxTerm + 1
        const lead: ElectionEffect[] = [...gone(state), { type: 'becomeLeader', term }]
        if (state.lock === 'stealing') lead.push({ type: 'holderRobbed' })
        return beating(term, event.now, state.hidden, lead)
      }
      case 'stop':
      case 'leave':
        return [
          event.type === 'stop' ? { status: 'stopped' } : { status: 'aside', maxTerm: state.maxTerm },
          [{ type: 'releaseLock' }, { type: 'cancelTimer' }],
        ]
      default:
        // start (already started), lockLost (a request we no longer hold): nothing to do.
        return [state, []]
    }
  }

  return (state: ElectionState, event: ElectionEvent): Result => {
    switch (state.status) {
      case 'idle':
        if (event.type === 'start') return queue(event.now, 0, null, event.hidden, [])
        if (event.type === 'stop') return [{ status: 'stopped' }, []]
        return [state, []]
      case 'following':
        return follow(state, event)
      case 'leading':
        return lead(state, event)
      case 'verifying':
        return verify(state, event)
      case 'aside':
        // Its visibility meanwhile is not kept: `start` says it.
        if (event.type === 'start') return queue(event.now, state.maxTerm, null, event.hidden, [])
        if (event.type === 'stop') return [{ status: 'stopped' }, []]
        if (event.type === 'heartbeatHeard' || event.type === 'resignHeard')
          return [{ status: 'aside', maxTerm: Math.max(state.maxTerm, event.term) }, []]
        return [state, []]
      case 'stopped':
        return [state, []]
    }
  }
}
