import type { TimerHandle, Timers } from '../timers'
import {
  beatWithinWait,
  electionTransition,
  initialElectionState,
  type ElectionEffect,
  type ElectionEvent,
  type ElectionState,
} from './electionMachine'
import type { BeatHead, TabChannel, TabLock, Visibility } from './protocol'

export interface ElectionOptions {
  /** This tab's id (unique per tab; ties between equal terms go to the smaller id). */
  tabId: string
  /** The lock's name (the browser's lock, shared by the tabs that share a socket). */
  name: string
  channel: TabChannel
  lock: TabLock
  timers: Timers
  /** The clock, in ms. */
  now: () => number
  /** How often the leader beats (default 500). */
  heartbeatMs?: number
  /** Beats a follower misses before it takes the lock from a silent holder (default 3). */
  missedBeats?: number
  /**
   * The page's visibility: hidden, a follower takes the lock from a silent holder (whose timers the browser may be
   * throttling) only after `HIDDEN_SILENCE_MS`, or once shown. Absent: always visible.
   */
  visibility?: Visibility
  /** Called synchronously when this tab's role changes; on a loss of leadership, before anything else is done. */
  onRole(role: 'leader' | 'follower'): void
  /** The holder this tab followed (its tab id) is gone (resigned, silent, or replaced): what went through it gets no answer. */
  onLeaderGone(leader: string): void
  /**
   * A follower heard the beat of the holder it follows (`leader`, its tab id): what went through another tab goes
   * through one that no longer holds the socket (taken before this one was heard, that tab then went without a word).
   */
  onLeaderHeard?(leader: string, head: BeatHead | null): void
  /** In the holder: where its stream stands, said with each heartbeat (null: nothing to say, its socket is not up). */
  beatHead?(): BeatHead | null
  /**
   * This tab took the lock from a silent holder (after its `onRole('leader')`): that page, hung or asleep, still holds
   * whatever else it held, and keeps it until it runs again.
   */
  onHolderRobbed?(): void
}

export interface Election {
  /** `'follower'` until the lock is granted. */
  role(): 'leader' | 'follower'
  /**
   * Whether this tab surely holds the lock now: it leads and has beaten within the wait a follower gives it before it
   * takes the lock. A holder silent longer (its page hung or asleep) may have been robbed, the news still on its way.
   */
  holds(): boolean
  /**
   * Calls `fn` once this tab surely holds the lock: at once if it `holds()`; a leader silent longer first makes the
   * check its next tick would make (asks the lock, Web Locks' `query`, and beats again if it still holds it). Never if
   * it steps down (the lock gone, a newer holder heard, or no lock that can tell) or stops first.
   */
  whenHeld(fn: () => void): void
  /** The tab is going away: a leader resigns and lets the lock go, a follower leaves the queue. Idempotent. */
  stop(): void
  /** The tab wants no socket for now: as `stop` (a leader becomes follower first), until `join`. Idempotent. */
  leave(): void
  /** Takes part again after `leave` (queues for the lock); nothing while taking part. */
  join(): void
}

/** An event as raised, before the runner stamps it with its clock. */
type EventBody = ElectionEvent extends infer E ? (E extends unknown ? Omit<E, 'now'> : never) : never

/** A stable spread of tab ids over [0, heartbeatMs) (FNV-1a): followers do not all steal at the same moment. */
export function staggerFor(tabId: string, heartbeatMs: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < tabId.length; i++) hash = Math.imul(hash ^ tabId.charCodeAt(i), 0x01000193)
  return (hash >>> 0) % Math.max(1, Math.floor(heartbeatMs))
}

/** A callback's error must not leave the election half done (the lock held, the timer lost): report it later. */
function callSafely(fn: () => void) {
  try {
    fn()
  } catch (error) {
    queueMicrotask(() => {
      throw error
    })
  }
}

/**
 * Runs the election of one tab (`electionTransition`) through its injected edges: the lock, the channel, the timers.
 * The tab starts as a follower queued for the lock; `onRole` tells each change.
 *
 * @example
 * const election = createElection({
 *   tabId, name: 'talemy.socket', channel: createBroadcastTabChannel('talemy.tabs'), lock: createWebTabLock(navigator.locks),
 *   timers: hostTimers, now: Date.now, onRole: (role) => …, onLeaderGone: () => …,
 * })
 * addEventListener('pagehide', () => election.stop())
 */
export function createElection(options: ElectionOptions): Election {
  const { tabId, name, channel, lock, timers, now, onRole, onLeaderGone, onLeaderHeard, onHolderRobbed, visibility } =
    options
  const heartbeatMs = options.heartbeatMs ?? 500
  const config = {
    tabId,
    heartbeatMs,
    missedBeats: options.missedBeats ?? 3,
    staggerMs: staggerFor(tabId, heartbeatMs),
    canVerify: typeof lock.held === 'function',
  }
  const step = electionTransition(config)

  let state: ElectionState = initialElectionState
  let timer: TimerHandle | null = null
  /** Gives up the current lock request (or the held lock); null when there is none. */
  let giveUp: (() => void) | null = null
  /** The current request; callbacks of an older one are stale. */
  let requestId = 0
  const queue: EventBody[] = []
  let running = false
  /** `whenHeld` callbacks waiting for this tab to beat again as holder. */
  let confirmed: (() => void)[] = []

  const holds = () => state.status === 'leading' && beatWithinWait(config, state.lastBeatAt, now())

  // Events raised while effects run (a synchronous edge) wait their turn, so effects stay in the machine's order.
  function feed(event: EventBody) {
    queue.push(event)
    if (running) return
    running = true
    try {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const at = now()
        const [nextState, effects] = step(state, { ...next, now: at } as ElectionEvent)
        state = nextState
        for (const effect of effects) perform(effect, at)
      }
    } finally {
      running = false
    }
    if (confirmed.length === 0) return
    if (holds()) {
      const due = confirmed
      confirmed = []
      for (const fn of due) callSafely(fn)
    } else if (state.status !== 'leading' && state.status !== 'verifying') confirmed = []
  }

  function clearTimer() {
    if (timer !== null) timers.clearTimeout(timer)
    timer = null
  }

  /** `at`: the time of the event the machine answered with `effect` (what its delays count from). */
  function perform(effect: ElectionEffect, at: number) {
    switch (effect.type) {
      case 'becomeFollower':
        callSafely(() => onRole('follower'))
        return
      case 'becomeLeader':
        callSafely(() => onRole('leader'))
        return
      case 'holderRobbed':
        if (onHolderRobbed) callSafely(onHolderRobbed)
        return
      case 'leaderGone':
        callSafely(() => onLeaderGone(effect.leader))
        return
      case 'post': {
        const { message } = effect
        const head = message.kind === 'heartbeat' ? (options.beatHead?.() ?? null) : null
        channel.post(message.kind === 'heartbeat' && head !== null ? { ...message, head } : message)
        return
      }
      case 'releaseLock':
        giveUp?.()
        giveUp = null
        requestId++
        return
      case 'verifyLock': {
        const id = requestId
        const answer = (held: boolean) => {
          if (id === requestId) feed({ type: 'lockVerified', held })
        }
        lock.held!(name).then(answer, () => answer(false))
        return
      }
      case 'requestLock': {
        const id = ++requestId
        giveUp = lock.request(
          name,
          { steal: effect.steal },
          {
            onAcquired: () => {
              if (id === requestId) feed({ type: 'lockAcquired' })
            },
            onLost: () => {
              if (id !== requestId) return
              giveUp = null
              requestId++
              feed({ type: 'lockLost' })
            },
          },
        )
        return
      }
      case 'startTimer': {
        clearTimer()
        // Due when the machine reckoned, from its event: the effects before this one (a role taken, a hub closed) may
        // have kept the page busy meanwhile, and a due time counted after them would pass the deadline, taken then for
        // the beat of grace a late timer already had (`frozePast`).
        const dueAt = at + effect.delayMs
        timer = timers.setTimeout(
          () => {
            timer = null
            feed({ type: 'tick', dueAt })
          },
          Math.max(0, dueAt - now()),
        )
        return
      }
      case 'cancelTimer':
        clearTimer()
        return
    }
  }

  const unsubscribe = channel.subscribe((message) => {
    if (message.from === tabId) return
    if (message.kind === 'heartbeat') {
      feed({ type: 'heartbeatHeard', from: message.from, term: message.term })
      if (onLeaderHeard && state.status === 'following' && state.leader?.id === message.from)
        callSafely(() => onLeaderHeard(message.from, message.head ?? null))
    } else if (message.kind === 'resign') feed({ type: 'resignHeard', from: message.from, term: message.term })
  })
  const hidden = () => visibility !== undefined && !visibility.visible()
  const unwatch = visibility?.subscribe(() => feed({ type: 'visibilityChanged', hidden: hidden() }))
  feed({ type: 'start', hidden: hidden() })

  return {
    role: () => (state.status === 'leading' || state.status === 'verifying' ? 'leader' : 'follower'),
    holds,
    whenHeld(fn) {
      if (holds()) return fn()
      if (state.status !== 'leading' && state.status !== 'verifying') return
      confirmed.push(fn)
      feed({ type: 'confirm' })
    },
    leave: () => feed({ type: 'leave' }),
    join: () => feed({ type: 'start', hidden: hidden() }),
    stop() {
      if (state.status === 'stopped') return
      feed({ type: 'stop' })
      unsubscribe()
      unwatch?.()
      // Whatever the machine left (it releases and cancels itself; this is the belt to its braces).
      clearTimer()
      giveUp?.()
      giveUp = null
      requestId++
    },
  }
}
