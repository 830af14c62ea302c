import type { UnknownAction } from '@reduxjs/toolkit'
import type { Id, Message } from '../contract'
import {
  discardMessage,
  drainStarted,
  drainStopped,
  sendConfirmed,
  sendFailed,
  sendRetryScheduled,
  type SendError,
} from './actions'
import type { BackoffOptions } from './backoff'
import { backoffDelay } from './backoff'
import { type PendingMessage, writtenBefore } from './socketSlice'

/** How one try of a send ended. */
export type SendOutcome =
  | { kind: 'sent'; message: Message }
  | { kind: 'refused'; error: SendError }
  /**
   * `everySend`: the failure is every send's, not this one's: the server did not answer for itself (a gateway's or a
   * proxy's 5xx in its place; a `NETWORK` error is so too, without the flag), or a `Retry-After` asked every request
   * to wait `retryAfterMs` (a proxy's 429). See `OutboxMachineState.outage`. Without it, `retryAfterMs` is the
   * server's: the time until the user's budget has one more send.
   */
  | { kind: 'retry'; error: SendError; retryAfterMs?: number; everySend?: true }
  /** Not tried: the user discarded it in another tab (which took it over, or showed it too). */
  | { kind: 'discardedElsewhere' }

/** One conversation's sends go one at a time, in the order they were written. No lane: nothing in flight or waiting. */
export type Lane =
  /**
   * `confirmed`: the server told every socket of the sender it stored the message (`message:sent`, sent just before
   * the ack): the conversation's next send need not wait for the ack, and the try keeps the lock until it settles.
   */
  | { status: 'sending'; clientId: string; confirmed?: true }
  /**
   * A retry timer runs for `clientId`; `rate` waits honour the server's `retryAfterMs` even when a retry trigger fires.
   * `handOver`: a wait after a failure of this send alone (not the network, not the user's rate): the user's other
   * tabs may send meanwhile (see `maybeReleaseLock`). `untilAnswered`: the wait a 503 asked for (the service
   * unavailable): it ends once the server answers anything, as a proxy's rate (a 429's) does not.
   */
  | { status: 'waiting'; rate: boolean; clientId: string; handOver?: true; untilAnswered?: true }

/**
 * The user's drain lock: one tab of a user sends at a time. `sweep`: asked for with nothing of this tab's to send, to
 * take over what the user's other tabs left in storage (see `sweep`). `handedOver`: let go while this tab's sends wait
 * out their backoffs (see `maybeReleaseLock`).
 */
export type DrainLockState =
  | { status: 'free'; handedOver?: true }
  | { status: 'requested'; sweep?: true }
  | { status: 'held' }

/**
 * The server did not answer a send (the network, a gateway's 5xx), or a proxy asked every request to wait: every send
 * would fail alike, so one conversation (`probe`) tries it after its backoff (or the wait asked for), and the others
 * wait for its answer rather than each try on a backoff of its own (100 conversations made about 25 requests a second
 * of one browser). Any answer of the server ends it, and every conversation goes again; each keeps its own order.
 * `probe` is null while none is chosen yet. After each failed probe the next conversation probes (`rotateProbe`): a
 * send the network refuses for what it says (a filter resetting its request) would otherwise hold back every other
 * conversation's, which the server would take. `failures`: probes failed in a row, which the backoff grows with
 * whichever conversation probes.
 */
export interface Outage {
  probe: Id | null
  failures: number
}

export interface OutboxMachineState {
  /** The user whose stored outbox the one in state mirrors (it was read back once), or null. */
  mirroring: Id | null
  lock: DrainLockState
  lanes: Readonly<Record<Id, Lane>>
  outage: Outage | null
}

export const initialOutboxMachineState: OutboxMachineState = {
  mirroring: null,
  lock: { status: 'free' },
  lanes: {},
  outage: null,
}

/** What the machine reads of the store, taken by the runner when an event is processed. */
export interface OutboxView {
  outbox: readonly PendingMessage[]
  userId: Id | null
  /** `unauthorized`: nothing is sent until the user logs in again (the outbox is kept). */
  paused: boolean
  /** The socket is connected right now. */
  connected: boolean
  /** A storage mirrors the outbox. */
  durable: boolean
}

/** An event as raised, before the runner adds the view it reads at its turn. */
export type OutboxEventBody =
  /** Read the user's stored outbox back, once per session and user. */
  | { type: 'restore' }
  /**
   * Take in the pending sends the user's other tabs left in storage that this tab does not have. Not `holdingOnly`:
   * this tab now sends for tabs that went away (it took the socket over, or a follower of it left). `holdingOnly`:
   * this tab, holding the drain lock, is about to go again after a wait, and what the other tabs wrote meanwhile goes
   * in the order it was written, not after this tab's sends.
   */
  | { type: 'adopt'; holdingOnly: boolean }
  /**
   * The drain lock this tab waited for is about to be granted (`lockGranted` follows): what the user's other tabs
   * wrote meanwhile comes in first, read only when another tab wrote since, so the drain the grant starts sends a
   * conversation's sends in the order they were written. So too a grant of a free lock when another tab wrote since:
   * that tab may have let the lock go while its sends wait out a backoff (`handOver`). A tab that waited for the lock
   * since an earlier send wrote the next of a conversation after a tab waiting behind it had written one there:
   * draining at once, it sent its own first.
   */
  | { type: 'granting' }
  /**
   * This tab let the lock go with nothing left of its own while the user's other tabs had written to storage since it
   * last gathered (`leftBehind`): it asks for the lock again to take over what they left there. A tab closed while it
   * waited for the lock left its sends there, and with one socket per tab nothing else tells the survivor. Asked for
   * again, not kept: a tab still waiting is queued first (Web Locks, the memory lock) and sends its own.
   */
  | { type: 'sweep' }
  /** `sendMessage` was queued by the reducer; `problem` when the browser's own check refused it. */
  | { type: 'queued'; clientId: string; problem: string | null }
  | { type: 'restored'; entries: readonly PendingMessage[] }
  /** `sendConfirmed` or `message:sent` reached the store (the entry is gone from the outbox), confirming `clientId`. */
  | { type: 'confirmed'; conversationId: Id; clientId?: string | null }
  | { type: 'failed'; clientId: string }
  | { type: 'retried'; clientId: string }
  /** `discardMessage`: the entry as it was before the reducer removed it. */
  | { type: 'discarded'; entry: PendingMessage | null }
  /**
   * The socket connected, `connect`, a retry trigger: every conversation goes again; `onlyNetworkWaits` keeps rate
   * waits. `answered`: the server answered (the socket connected, the API over HTTP), so an outage is over.
   */
  | { type: 'drain'; onlyNetworkWaits: boolean; answered?: true }
  /** A new session, a logout elsewhere, `shutdown`: forget every lane and let the lock go. */
  | { type: 'reset' }
  /** `unauthorized`: nothing goes until the next login, so the lock (or the request) goes to the user's other tabs. */
  | { type: 'sessionExpired' }
  /** `outbox`: what the user left unsent, as the logout found it (the session's end has emptied the store's since). */
  | { type: 'loggedOut'; userId: Id | null; keepOutbox: boolean; outbox: readonly PendingMessage[] }
  /** A (re)fetched thread replaced the cached one. */
  | {
      type: 'threadFetched'
      conversationId: Id
      thread: readonly { clientId: string | null; senderId: Id; status?: unknown }[]
    }
  | { type: 'lockGranted' }
  /** The lock this tab held was taken away (a lease its frozen timers let expire, another tab holding it now). */
  | { type: 'lockLost' }
  /** A try ended; `jitter` is the runner's random draw in [0, 1) for the backoff. */
  | { type: 'settled'; conversationId: Id; clientId: string; outcome: SendOutcome; jitter: number }
  | { type: 'timerFired'; conversationId: Id }

export type OutboxEvent = OutboxEventBody & { view: OutboxView }

/** A change to a cached thread's pending copies. */
export type ThreadChange =
  | { kind: 'add'; entry: PendingMessage }
  | { kind: 'status'; clientId: string; status: 'pending' | 'failed'; error?: SendError }
  | { kind: 'remove'; clientId: string }

export type OutboxEffect =
  /** One try: the socket with an ack (HTTP when it is down or silent), then `settled`. */
  | { type: 'attempt'; entry: PendingMessage }
  | { type: 'startTimer'; conversationId: Id; delayMs: number }
  | { type: 'cancelTimer'; conversationId: Id }
  /** Ask for the drain lock, then `lockGranted`. */
  | { type: 'requestLock' }
  /** Let the lock (or the request for it) go. */
  | { type: 'releaseLock' }
  /**
   * The lock went with nothing of this tab's left: if the user's other tabs wrote to storage since this tab last
   * gathered (known from this action's own storage write, which reads storage to merge: no read of its own), `sweep`.
   */
  | { type: 'leftBehind'; userId: Id }
  | { type: 'patchThread'; conversationId: Id; change: ThreadChange }
  /** Read the user's stored outbox (it comes back as `outboxRestored` when it holds anything). */
  | { type: 'loadStored'; userId: Id }
  /**
   * Read the user's stored outbox for the pending sends this tab does not have (as `outboxRestored`). `onlyNews`: read
   * only if another tab wrote it since this tab last gathered (a cheap check), for a holder's gather; a tab taking
   * over for tabs that went away reads it whole. `onlyBeforeOwn`: only what must go before a send of this tab's
   * (`goesBeforeOwn`); the rest stays with the tabs that wrote it, which wait for the lock to send it themselves.
   */
  | { type: 'adoptStored'; userId: Id; onlyNews: boolean; onlyBeforeOwn: boolean }
  | { type: 'clearStored'; userId: Id }
  /**
   * The user's stored outbox goes if a logout elsewhere dropped it (`clearStored` there): what this tab wrote back
   * before it heard of that logout goes with it.
   */
  | { type: 'clearIfDropped'; userId: Id }
  /**
   * A logout nobody asked for here: the user's unsent sends that storage does not hold (it refused them, full or
   * disabled) wait in this page's memory for the user's next session in it, as the stored ones wait in storage.
   */
  | { type: 'keepUnstored'; userId: Id; entries: readonly PendingMessage[] }
  /** Tell the user's other tabs that the user discarded this send: none of them may send it after this. */
  | { type: 'storeDiscard'; userId: Id; clientId: string }
  | { type: 'dispatch'; action: UnknownAction }

export interface OutboxMachineConfig {
  backoff: BackoffOptions
}

/** The working copy of one transition: helpers change it and add effects; the caller's state is never touched. */
interface Step {
  state: { mirroring: Id | null; lock: DrainLockState; lanes: Record<Id, Lane>; outage: Outage | null }
  effects: OutboxEffect[]
  view: OutboxView
}

/**
 * `restore` would read the user's stored outbox now (it has not been read back for this user yet): the stored sends
 * are older than any this page queues, so they come first.
 *
 * @example restoreDue(initialOutboxMachineState, { ...view, durable: true, userId: 'u1' }) // true
 */
export const restoreDue = (state: OutboxMachineState, view: OutboxView): boolean =>
  view.durable && Boolean(view.userId) && state.mirroring !== view.userId

const hasPending = (view: OutboxView) => view.outbox.some((m) => m.status === 'pending')

/**
 * The lock holder takes in what the user's other tabs wrote (`adopt` with `holdingOnly`) before it goes again: those
 * tabs wait for its lock, so a send written there before this tab's next one would otherwise go after it. Only while
 * it has something of its own to send: with nothing left, the lock goes to them and they send their own (what a tab
 * that closed meanwhile left is taken over by asking for the lock again, behind them: `sweep`).
 *
 * @example gatherDue(held, { ...view, durable: true, userId: 'u1', outbox: [pendingK1] }) // true
 */
export const gatherDue = (state: OutboxMachineState, view: OutboxView): boolean =>
  view.durable && Boolean(view.userId) && state.lock.status === 'held' && hasPending(view)

/**
 * Whether another tab's stored send must go before a send of this tab's: written earlier (`writtenBefore`) in a
 * conversation where this tab has one waiting. Taking over the others would leave their own tab, alive and waiting for
 * the lock, without its confirmation for nothing; what a tab that closed left goes with the next sweep.
 *
 * @example goesBeforeOwn(b1At12h01InC1, [a2At12h02InC1]) // true; goesBeforeOwn(b3At12h03InC1, [a2At12h02InC1]) // false
 */
export const goesBeforeOwn = (
  entry: PendingMessage,
  own: readonly PendingMessage[],
  storedOrder: readonly string[] = [],
): boolean =>
  own.some(
    (m) => m.status === 'pending' && m.conversationId === entry.conversationId && writtenBefore(entry, m, storedOrder),
  )

const isSending = (lane: Lane | undefined, clientId: string) => lane?.status === 'sending' && lane.clientId === clientId
const sending = (step: Step) => Object.values(step.state.lanes).some((lane) => lane.status === 'sending')

function releaseLock(step: Step) {
  const wasHeld = step.state.lock.status === 'held'
  if (step.state.lock.status !== 'free') step.effects.push({ type: 'releaseLock' })
  step.state.lock = { status: 'free' }
  if (wasHeld) step.effects.push({ type: 'dispatch', action: drainStopped() })
}

function wantLock(step: Step) {
  if (step.state.lock.status !== 'free' || step.view.paused || !hasPending(step.view)) return
  step.state.lock = { status: 'requested' }
  step.effects.push({ type: 'requestLock' })
}

/** Every pending send of this tab waits out a backoff that lets the lock go (`handOver`), none in flight. */
const onlyHandOverWaits = (step: Step) =>
  step.view.outbox.every((m) => {
    const lane = step.state.lanes[m.conversationId]
    return m.status !== 'pending' || (lane?.status === 'waiting' && lane.handOver === true)
  })

/**
 * Nothing in flight, and nothing to send (or nothing may go while paused): the lock goes to the user's other tabs.
 * With nothing left and free to send, this tab then looks whether another tab left sends behind (`leftBehind`), also
 * when its last send ends while it had let the lock go for its backoffs. Those backoffs let it go too (`handOver`): a
 * failure of one send (up to 30 s) must not hold back the sends the user's other tabs write meanwhile, in any
 * conversation. Whoever gets the lock takes in first what must go before its own (`granting`, a free lock too: the
 * runner looks whether another tab wrote), and this tab asks again when a wait ends; a send another tab sent for it
 * is confirmed here by its `message:sent`, which ends that wait (`endStaleWait`).
 */
function maybeReleaseLock(step: Step) {
  const { lock } = step.state
  const handedOverDone = lock.status === 'free' && lock.handedOver === true && !hasPending(step.view)
  if (handedOverDone) step.state.lock = { status: 'free' }
  else if (lock.status !== 'held' || sending(step)) return
  else if (step.view.paused) return releaseLock(step)
  else if (hasPending(step.view)) {
    if (!onlyHandOverWaits(step)) return
    releaseLock(step)
    step.state.lock = { status: 'free', handedOver: true }
    return
  } else releaseLock(step)
  const { durable, userId } = step.view
  if (durable && userId && !step.view.paused) step.effects.push({ type: 'leftBehind', userId })
}

/**
 * The conversation's oldest pending message goes, unless one is in flight or waiting (or the lock is not ours), or
 * another conversation probes a server that did not answer (`outage`): then it waits for that probe's answer.
 */
function pump(step: Step, conversationId: Id) {
  const lane = step.state.lanes[conversationId]
  if ((lane && !(lane.status === 'sending' && lane.confirmed)) || step.view.paused) return
  const entry = step.view.outbox.find((m) => m.conversationId === conversationId && m.status === 'pending')
  if (!entry) return
  if (step.state.lock.status !== 'held') return wantLock(step)
  const { outage } = step.state
  if (outage && outage.probe !== null && outage.probe !== conversationId) return
  if (outage) step.state.outage = { ...outage, probe: conversationId }
  step.state.lanes[conversationId] = { status: 'sending', clientId: entry.clientId }
  step.effects.push({ type: 'attempt', entry })
}

/** A try whose message the server confirmed (see `Lane`): the conversation's next send may go. */
function markConfirmedTry(step: Step, conversationId: Id, clientId: string | null | undefined) {
  const lane = step.state.lanes[conversationId]
  if (lane?.status !== 'sending' || lane.clientId !== clientId || lane.confirmed) return
  if (step.view.outbox.some((m) => m.clientId === clientId && m.status === 'pending')) return
  step.state.lanes[conversationId] = { ...lane, confirmed: true }
}

/**
 * A retry that waits for a message no longer pending (confirmed by a late `message:sent` or a fetched thread, or
 * discarded) holds nothing back: it ends, so the conversation's next message need not wait for its timer.
 */
function endStaleWait(step: Step, conversationId: Id) {
  const lane = step.state.lanes[conversationId]
  if (lane?.status !== 'waiting') return
  if (step.view.outbox.some((m) => m.clientId === lane.clientId && m.status === 'pending')) return
  delete step.state.lanes[conversationId]
  step.effects.push({ type: 'cancelTimer', conversationId })
}

/**
 * Every conversation with pending messages goes again now (waiting retries cut short; not a rate wait with
 * `onlyNetworkWaits`, nor a `handOver` wait with `keepHandOver`).
 */
function drainAll(step: Step, onlyNetworkWaits = false, keepHandOver = false) {
  for (const [conversationId, lane] of Object.entries(step.state.lanes)) {
    if (lane.status !== 'waiting' || (onlyNetworkWaits && lane.rate) || (keepHandOver && lane.handOver)) continue
    delete step.state.lanes[conversationId]
    step.effects.push({ type: 'cancelTimer', conversationId })
  }
  for (const conversationId of new Set(step.view.outbox.map((m) => m.conversationId))) pump(step, conversationId)
  maybeReleaseLock(step)
}

/**
 * The server answered (a send, a refusal, a confirmation): the outage is over. The probe's backoff ends (not a wait it
 * was asked for), and every conversation goes again, but `answered`'s, whose answer takes it on (its confirmation or
 * its failure reaching the outbox, or its own wait).
 */
function serverAnswered(step: Step, answered?: Id) {
  const { outage } = step.state
  if (!outage) return
  step.state.outage = null
  const probe = outage.probe === null ? undefined : step.state.lanes[outage.probe]
  if (outage.probe !== null && probe?.status === 'waiting' && (!probe.rate || probe.untilAnswered)) {
    delete step.state.lanes[outage.probe]
    step.effects.push({ type: 'cancelTimer', conversationId: outage.probe })
  }
  for (const conversationId of new Set(step.view.outbox.map((m) => m.conversationId)))
    if (conversationId !== answered) pump(step, conversationId)
}

/**
 * During an outage some conversation probes while this tab holds the lock: when the probe's lane ended otherwise than
 * by its answer (its send discarded, or confirmed by another tab with nothing after it), the next conversation probes:
 * in the outbox's order, or from the one after `after` on (its turn just ended), `after` last.
 */
function keepProbing(step: Step, after?: Id) {
  const { outage } = step.state
  if (!outage || step.state.lock.status !== 'held' || step.view.paused) return
  if (outage.probe !== null && step.state.lanes[outage.probe]) return
  step.state.outage = { ...outage, probe: null }
  const conversations = [...new Set(step.view.outbox.map((m) => m.conversationId))]
  const from = after === undefined ? 0 : conversations.indexOf(after) + 1
  for (const conversationId of [...conversations.slice(from), ...conversations.slice(0, from)]) {
    pump(step, conversationId)
    if (step.state.outage.probe !== null) return
  }
}

/**
 * The probe's wait ended: the next conversation with a send probes, this one last (see `Outage`). Its send may be the
 * only one the network refuses; the next probe's answer, or its own turn again, takes it on.
 */
function rotateProbe(step: Step, conversationId: Id) {
  if (step.state.outage?.probe !== conversationId || step.state.lock.status !== 'held') return
  step.state.outage = { ...step.state.outage, probe: null }
  keepProbing(step, conversationId)
}

function reset(step: Step) {
  for (const [conversationId, lane] of Object.entries(step.state.lanes)) {
    if (lane.status === 'waiting') step.effects.push({ type: 'cancelTimer', conversationId })
  }
  step.state.lanes = {}
  step.state.outage = null
  releaseLock(step)
  step.state.mirroring = null
}

/** The server did not answer for itself: every send would fail alike (see `Outage`). */
const unanswered = (outcome: Extract<SendOutcome, { kind: 'retry' }>) =>
  outcome.error.code === 'NETWORK' || outcome.everySend === true

/** During an outage, another conversation than `conversationId` probes the server. */
const otherProbe = (step: Step, conversationId: Id) => {
  const probe = step.state.outage?.probe
  return probe != null && probe !== conversationId && step.state.lanes[probe] !== undefined
}

function settle(step: Step, event: Extract<OutboxEvent, { type: 'settled' }>, config: OutboxMachineConfig) {
  const { conversationId, clientId, outcome } = event
  delete step.state.lanes[conversationId]
  const current = step.view.outbox.find((m) => m.clientId === clientId)
  if (outcome.kind === 'sent') {
    // Even when discarded meanwhile: the server has it and the other side sees it, so our thread shows it too. The
    // next send of the conversation goes once the confirmation has left the outbox (`confirmed`).
    step.effects.push({ type: 'dispatch', action: sendConfirmed({ message: outcome.message }) })
    return serverAnswered(step, conversationId)
  }
  if (outcome.kind === 'discardedElsewhere') {
    // Its removal goes the way of a discard here (`discarded`), which sends the conversation's next one.
    if (current) return void step.effects.push({ type: 'dispatch', action: discardMessage({ clientId }) })
  } else if (outcome.kind === 'refused') {
    serverAnswered(step, conversationId)
    // The next one goes once the failure is in the outbox (`failed`).
    if (current)
      return void step.effects.push({ type: 'dispatch', action: sendFailed({ clientId, error: outcome.error }) })
  } else if (current?.status === 'pending' && step.view.paused) {
    // The session expired: kept (here and in storage) until the user logs in again; the lock goes back meanwhile.
  } else if (current?.status === 'pending' && outcome.error.code === 'NETWORK' && step.view.connected) {
    // HTTP failed but the socket came up meanwhile: go again now, over it (an ack timeout bounds any loop).
  } else if (current?.status === 'pending' && unanswered(outcome) && otherProbe(step, conversationId)) {
    // Another conversation probes the server: this one waits for its answer (`outage`), keeping the lock.
    return maybeReleaseLock(step)
  } else if (current?.status === 'pending') {
    const attempt = current.attempts + 1
    // The user's budget is one for all their conversations: the sends it refused together (an outbox flushed at once)
    // would come back together, each but one refused again, and again. Each rate wait goes behind those already
    // waiting, so they come back about one per `retryAfterMs`, as the budget refills. Not a wait asked of every
    // request (a proxy's `Retry-After`): when it ends all may go, and the probe's answer sends them (`Outage`).
    const rateWaits = Object.values(step.state.lanes).filter((lane) => lane.status === 'waiting' && lane.rate).length
    // A probe's backoff grows with the probes failed in a row, whichever conversation each was (see `Outage`).
    const failures = unanswered(outcome) ? (step.state.outage?.failures ?? 0) + 1 : 0
    const delayMs =
      outcome.retryAfterMs === undefined
        ? backoffDelay(Math.max(attempt, failures), config.backoff, () => event.jitter)
        : outcome.retryAfterMs * (unanswered(outcome) ? 1 : 1 + rateWaits)
    const rate = outcome.retryAfterMs !== undefined
    // This conversation probes the server for every other one (see `Outage`).
    if (unanswered(outcome)) step.state.outage = { probe: conversationId, failures }
    else serverAnswered(step, conversationId)
    // The user's rate and the server out of reach are every tab's: their waits keep the lock.
    const handOver = !rate && !unanswered(outcome)
    // A 503's Retry-After says how long the service expects to be away; once it answers, it is back.
    const untilAnswered = rate && unanswered(outcome) && outcome.error.code !== 'RATE_LIMITED'
    step.state.lanes[conversationId] = {
      status: 'waiting',
      rate,
      clientId,
      ...(handOver ? { handOver: true as const } : {}),
      ...(untilAnswered ? { untilAnswered: true as const } : {}),
    }
    step.effects.push(
      { type: 'dispatch', action: sendRetryScheduled({ clientId, attempt, delayMs, error: outcome.error }) },
      { type: 'startTimer', conversationId, delayMs },
    )
    return maybeReleaseLock(step)
  }
  pump(step, conversationId)
  maybeReleaseLock(step)
}

function apply(step: Step, event: OutboxEvent, config: OutboxMachineConfig) {
  const { view } = step
  const byClientId = (clientId: string) => view.outbox.find((m) => m.clientId === clientId)
  switch (event.type) {
    case 'restore':
      if (!restoreDue(step.state, view) || !view.userId) return
      step.state.mirroring = view.userId
      return void step.effects.push({ type: 'loadStored', userId: view.userId })
    case 'adopt':
      // Entries of tabs still open come too (they keep their copies until the confirmation reaches them): the
      // server's idempotency by `clientId` keeps each message single.
      if (!view.durable || !view.userId) return
      if (event.holdingOnly && !gatherDue(step.state, view)) return
      return void step.effects.push({
        type: 'adoptStored',
        userId: view.userId,
        onlyNews: event.holdingOnly,
        onlyBeforeOwn: false,
      })
    case 'granting': {
      const { lock } = step.state
      if (!view.durable || !view.userId || lock.status !== 'requested' || !(hasPending(view) || lock.sweep)) return
      // A sweep takes over what tabs that went away left. A grant for a send of this tab's takes only what goes before
      // it: the tabs behind in the lock's queue send their own (a holder's gathers take all, see `gatherDue`).
      return void step.effects.push({
        type: 'adoptStored',
        userId: view.userId,
        onlyNews: true,
        onlyBeforeOwn: !lock.sweep,
      })
    }
    case 'sweep':
      // Raised with a lock let go, processed after what that step's dispatches raised: a reset there (a shutdown, a
      // new session) ended what it was looking for, and the session after it reads its stored outbox back itself.
      if (!view.durable || !view.userId || step.state.mirroring !== view.userId) return
      if (view.paused || step.state.lock.status !== 'free') return
      step.state.lock = { status: 'requested', sweep: true }
      return void step.effects.push({ type: 'requestLock' })
    case 'queued': {
      const entry = byClientId(event.clientId)
      if (!entry) return
      if (event.problem !== null) {
        // The browser checks the contract's limits first: a message the server would refuse fails at once.
        step.effects.push({ type: 'patchThread', conversationId: entry.conversationId, change: { kind: 'add', entry } })
        const error: SendError = { code: 'INVALID', message: event.problem }
        return void step.effects.push({ type: 'dispatch', action: sendFailed({ clientId: entry.clientId, error }) })
      }
      // The emit first (the hot path), then the pending copy in the same task: nothing renders in between.
      pump(step, entry.conversationId)
      return void step.effects.push({
        type: 'patchThread',
        conversationId: entry.conversationId,
        change: { kind: 'add', entry },
      })
    }
    case 'restored':
      for (const entry of event.entries) {
        step.effects.push({ type: 'patchThread', conversationId: entry.conversationId, change: { kind: 'add', entry } })
      }
      // What came in goes; a wait goes on (a rate wait honours the server's `retryAfterMs`, and the gathering before
      // every retry, `adopt` with `holdingOnly`, would otherwise end every wait whenever another tab wrote). Behind
      // a wait, the conversation's oldest pending send goes first when it ends.
      for (const conversationId of new Set(view.outbox.map((m) => m.conversationId))) pump(step, conversationId)
      return maybeReleaseLock(step)
    case 'confirmed':
      endStaleWait(step, event.conversationId)
      markConfirmedTry(step, event.conversationId, event.clientId)
      // A confirmation is the server's answer (a `message:sent`, a thread read): it is there.
      serverAnswered(step)
      pump(step, event.conversationId)
      return maybeReleaseLock(step)
    case 'failed': {
      const entry = byClientId(event.clientId)
      if (entry) {
        const change: ThreadChange = {
          kind: 'status',
          clientId: entry.clientId,
          status: 'failed',
          ...(entry.error ? { error: entry.error } : {}),
        }
        step.effects.push({ type: 'patchThread', conversationId: entry.conversationId, change })
        pump(step, entry.conversationId)
      }
      return maybeReleaseLock(step)
    }
    case 'retried': {
      const entry = byClientId(event.clientId)
      if (entry?.status !== 'pending') return
      step.effects.push({
        type: 'patchThread',
        conversationId: entry.conversationId,
        change: { kind: 'status', clientId: entry.clientId, status: 'pending' },
      })
      return pump(step, entry.conversationId)
    }
    case 'discarded':
      if (event.entry) {
        const { conversationId, clientId } = event.entry
        if (view.durable && view.userId) step.effects.push({ type: 'storeDiscard', userId: view.userId, clientId })
        step.effects.push({ type: 'patchThread', conversationId, change: { kind: 'remove', clientId } })
        endStaleWait(step, conversationId)
        pump(step, conversationId)
      }
      return maybeReleaseLock(step)
    case 'drain':
      // Otherwise (the browser online, the page shown) only the probe goes at once: the server may still be down.
      if (event.answered) {
        step.state.outage = null
        for (const [conversationId, lane] of Object.entries(step.state.lanes)) {
          if (lane.status !== 'waiting' || !lane.untilAnswered) continue
          delete step.state.lanes[conversationId]
          step.effects.push({ type: 'cancelTimer', conversationId })
        }
      }
      return drainAll(step, event.onlyNetworkWaits)
    case 'reset':
      return reset(step)
    case 'sessionExpired':
      // A try in flight keeps the lock until it settles; a new session's drain asks for it again.
      if (view.paused && !sending(step)) releaseLock(step)
      return
    case 'loggedOut':
      // The user asked to leave (the app warns first when sends are pending): nothing of theirs stays behind. A logout
      // nobody asked for here (another tab's, heard through storage, or one that took the session over) keeps it for
      // their next login, unless the tab where the user chose dropped it: a send of this tab's that settled before it
      // heard was written back meanwhile.
      if (!event.userId) return
      if (event.keepOutbox && view.durable && event.outbox.length > 0)
        step.effects.push({ type: 'keepUnstored', userId: event.userId, entries: event.outbox })
      return void step.effects.push({ type: event.keepOutbox ? 'clearIfDropped' : 'clearStored', userId: event.userId })
    case 'threadFetched':
      // Put our unconfirmed copies back, or confirm them when the server already has them (a send whose answer was lost).
      for (const entry of view.outbox) {
        if (entry.conversationId !== event.conversationId) continue
        // Ours only: a `clientId` is the sender's, and another participant's message may carry the same one.
        const stored = event.thread.find(
          (m) =>
            m.clientId === entry.clientId &&
            (view.userId === null || m.senderId === view.userId) &&
            m.status === undefined,
        )
        if (stored) step.effects.push({ type: 'dispatch', action: sendConfirmed({ message: stored as Message }) })
        else
          step.effects.push({
            type: 'patchThread',
            conversationId: entry.conversationId,
            change: { kind: 'add', entry },
          })
      }
      return
    case 'lockGranted': {
      if (step.state.lock.status !== 'requested') return void step.effects.push({ type: 'releaseLock' })
      // Asked for before the session expired: nothing may go, so it goes back at once.
      if (view.paused) return releaseLock(step)
      step.state.lock = { status: 'held' }
      const from = step.effects.length
      // A wait that let the lock go goes on: its own timer ends it. So does a rate wait of a lock lost and granted back
      // (`lockLost`): cut short, its send would go before the server's `retryAfterMs`, refused again.
      drainAll(step, true, true)
      // The sends go first (the hot path), then the action that tells the store; before `drainStopped` when nothing
      // was left to send.
      const started: OutboxEffect = { type: 'dispatch', action: drainStarted() }
      if (step.state.lock.status === 'held') step.effects.push(started)
      else step.effects.splice(from, 0, started)
      return
    }
    case 'lockLost':
      // Another tab drains now: a try in flight settles here, and what is left waits for the lock again.
      if (step.state.lock.status !== 'held') return
      releaseLock(step)
      return wantLock(step)
    case 'settled':
      // A try of a lane that was reset meanwhile (a new session) is nobody's.
      if (!isSending(step.state.lanes[event.conversationId], event.clientId)) return
      return settle(step, event, config)
    case 'timerFired':
      if (step.state.lanes[event.conversationId]?.status !== 'waiting') return
      delete step.state.lanes[event.conversationId]
      rotateProbe(step, event.conversationId)
      pump(step, event.conversationId)
      // Its message may have been confirmed meanwhile (a late `message:sent`): then nothing is left to hold the lock for.
      return maybeReleaseLock(step)
  }
}

/**
 * The outbox's transitions, pure: `(state, event) → [state, effects]`. One send at a time per conversation (so each
 * sender's messages reach the server in the order they were written); retryable failures wait a backoff (or the
 * server's `retryAfterMs`) and go again, sooner when the socket connects or the browser comes online; refusals mark
 * the message failed until `retryMessage`. Sends go only while this tab holds the user's drain lock, let go when
 * nothing is left to send, or nothing may go (`unauthorized`, until the next login).
 *
 * @example
 * const step = outboxTransition({ backoff: DEFAULT_BACKOFF })
 * step(state, { type: 'settled', conversationId: 'c1', clientId: 'k1', outcome, jitter: 0.5, view })
 */
export const outboxTransition =
  (config: OutboxMachineConfig) =>
  (state: OutboxMachineState, event: OutboxEvent): [OutboxMachineState, OutboxEffect[]] => {
    const step: Step = { state: { ...state, lanes: { ...state.lanes } }, effects: [], view: event.view }
    apply(step, event, config)
    keepProbing(step)
    return [step.state, step.effects]
  }
