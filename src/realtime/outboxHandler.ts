import type { UnknownAction } from '@reduxjs/toolkit'
import type { Id } from '../contract'
import { type sendMessage, shutdown } from './actions'
import { outboxWithSend, type PendingMessage, type SocketRootState } from './socketSlice'
import type { Context, Handler } from './context'
import {
  gatherDue,
  initialOutboxMachineState,
  outboxTransition,
  restoreDue,
  type OutboxEffect,
  type OutboxEvent,
  type OutboxEventBody,
  type OutboxMachineState,
  type OutboxView,
} from './outboxMachine'
import { keepsOutbox, outboxEventsOf, outboxEventsOfWaitEnd } from './outboxEvents'
import { durableOutbox } from './outboxDurable'
import { drainLockName, outboxLock } from './outboxLock'
import { sendOnce } from './outboxSend'
import { patchThread } from './outboxThread'
import { sendMessageProblem } from './sendCheck'
import type { TimerHandle } from './timers'

import type { SendOutcome } from './outboxMachine'

export type { SendOutcome }

/**
 * Sends (the outbox machine's runner): actions become events of the pure `outboxTransition`, and its effects are
 * performed here through the context's edges — the socket (with an ack and a timeout, or the HTTP `postMessage` with
 * the same `clientId` when the socket is down or silent: `outboxSend`), the timers, the drain lock (`outboxLock`), the
 * cache (`outboxThread`) and storage (`outboxDurable`).
 *
 * Durable: every change of the outbox is mirrored in `storage` under the user's key, entry by entry, in the same task
 * as the action that made it (so before any answer can arrive), read back at the next page (or the next login of that
 * user, e.g. after `unauthorized`) and cleared at logout.
 */
export function buildOutboxHandler<S extends SocketRootState>(
  ctx: Context<S>,
): Handler<S> & {
  sendAhead(action: ReturnType<typeof sendMessage>, prevState: S): void
  showAhead(action: ReturnType<typeof sendMessage>, prevState: S): void
  logoutAhead(action: UnknownAction, prevState: S): void
} {
  const { dispatch, getState } = ctx.mwApi
  const transition = outboxTransition({ backoff: ctx.backoff })
  let state: OutboxMachineState = initialOutboxMachineState
  const timers = new Map<Id, TimerHandle>()
  const lock = outboxLock(ctx)
  /**
   * While a send goes ahead of its reducer (`sendAhead`): the outbox as the reducer will leave it (what the machine
   * reads meanwhile), the effects held back until the action is reduced, and the action.
   */
  let ahead: {
    outbox: readonly PendingMessage[]
    heldBack: OutboxEffect[]
    action: ReturnType<typeof sendMessage>
  } | null = null

  const userId = () => ctx.options.selectUserId?.(getState()) ?? null
  const durable = ctx.options.storage
    ? durableOutbox(ctx.options.storage, ctx.mwApi, userId, () => state.mirroring)
    : null
  const view = (): OutboxView => {
    const current = getState()
    return {
      // Once the send is reduced (a store listener dispatching meanwhile), the store's own outbox is the newer one.
      outbox:
        ahead && !current.socket.outbox.some((m) => m.clientId === ahead!.action.payload.clientId)
          ? ahead.outbox
          : current.socket.outbox,
      userId: ctx.options.selectUserId?.(current) ?? null,
      paused: current.socket.connection.status === 'unauthorized',
      connected: ctx.socket?.connected === true,
      durable: durable !== null,
    }
  }

  // Run to completion (like an actor's mailbox): an event raised while effects run (a dispatched action coming back,
  // a timer, an ack) waits for them, and reads the store only when its turn comes. One exception: a lock granted
  // inside `request` (it was free) is taken at once, before the rest of the effects of the event that asked for it,
  // so a send's emit goes before its pending copy's cache patch whether the lock was held already or free.
  const queue: OutboxEventBody[] = []
  let running = false
  function send(event: OutboxEventBody) {
    queue.push(event)
    if (!running) runToCompletion(() => {})
  }

  function runToCompletion(first: () => void) {
    running = true
    durable?.markRun()
    try {
      first()
      for (let next = queue.shift(); next; next = queue.shift()) process(next)
    } finally {
      running = false
      queue.length = 0
    }
  }

  function process(event: OutboxEventBody) {
    const before = state
    const [after, effects] = transition(state, { ...event, view: view() } as OutboxEvent)
    state = after
    // A new mirror starts from nothing written: what the outbox holds then is written at the next persist.
    if (before.mirroring !== after.mirroring) durable?.restart()
    for (const effect of effects) {
      // A throwing reducer or store listener (inside a `dispatch` effect) is reported; the effects and events after it
      // still go, or a conversation's next send would wait for the next drain.
      try {
        perform(effect)
      } catch (error) {
        ctx.report('outbox', error)
      }
    }
  }

  function perform(effect: OutboxEffect) {
    // Ahead of the reducer only the emit goes (and the lock it needs): everything the store or the cache is told
    // waits until the send is in the store, in the order the machine gave.
    if (ahead && effect.type !== 'attempt' && effect.type !== 'requestLock') return void ahead.heldBack.push(effect)
    switch (effect.type) {
      case 'attempt':
        return attemptSend(effect.entry)
      case 'startTimer': {
        const { conversationId } = effect
        const handle = ctx.timers.setTimeout(() => {
          if (timers.get(conversationId) !== handle) return
          timers.delete(conversationId)
          for (const event of outboxEventsOfWaitEnd(conversationId)) send(event)
        }, effect.delayMs)
        timers.set(conversationId, handle)
        return
      }
      case 'cancelTimer': {
        const handle = timers.get(effect.conversationId)
        if (handle !== undefined) ctx.timers.clearTimeout(handle)
        timers.delete(effect.conversationId)
        return
      }
      case 'requestLock':
        return lock.request(drainLockName(userId()), takeGrant, () => send({ type: 'lockLost' }))
      case 'releaseLock':
        return lock.release()
      case 'patchThread':
        return patchThread(ctx, userId, effect.conversationId, effect.change, getState().socket.outbox)
      case 'loadStored':
        return durable?.load(effect.userId)
      case 'adoptStored':
        return durable?.adopt(effect.userId, effect.onlyNews, effect.onlyBeforeOwn)
      case 'leftBehind':
        // This action's own change first: its write reads what storage holds to merge into, so another tab's write
        // is known without a read of its own (a lone tab's sends pay nothing here). With no read of storage in this
        // run (the answer of a send its message:sent had already confirmed changes nothing, so writes nothing), what
        // this tab knows is as of an earlier task: another tab may have written since (and closed), so it looks once.
        // With one socket per browser the tabs' hub takes over what a closed tab left (`followerGone`), and knows
        // which tabs are alive: a sweep there would take live tabs' sends away from them.
        durable?.persist()
        if (!ctx.options.tabs && durable?.othersWroteThisRun(effect.userId)) send({ type: 'sweep' })
        return
      case 'clearStored':
        return durable?.clear(effect.userId)
      case 'clearIfDropped':
        return durable?.clearIfDropped(effect.userId)
      case 'keepUnstored':
        return durable?.keepUnstored(effect.userId, effect.entries)
      case 'storeDiscard':
        return durable?.recordDiscard(effect.userId, effect.clientId)
      case 'dispatch':
        dispatch(effect.action)
        return
    }
  }

  /** A grant of the drain lock goes to the machine: `lockGranted`, after a gather (`granting`) when one is due. */
  function takeGrant(waited: boolean, ours: () => boolean) {
    // Granted inside `request` (a free lock), the grant is taken now, even amid a run (see `send`).
    const take = !waited && running ? process : send
    // Waited for: other tabs may have written while this one waited (see `granting`). A sweep takes in what the other
    // tabs left first, as a grant waited for does (it has nothing else to drain). A free lock may have been let go by
    // a tab whose sends wait out a backoff (`handOver`): one look at storage says whether another tab wrote (a send
    // going ahead has looked already, and its storage write reuses that look: `sendAhead`).
    const sweep = state.lock.status === 'requested' && state.lock.sweep === true
    if (waited || sweep || (!ahead && durable?.othersWrote() === true)) {
      take({ type: 'granting' })
      // Its gather dispatches: a store listener may have started a new session there. Run at once, that session's reset
      // has let this grant go (and may have asked for the lock again): taken now, it would count for that new request,
      // not yet granted. Waiting behind this event (the runner is busy), its reset lets this grant go then: taken
      // before it, the old session's grant would drain beside the new session's own.
      if (!ours()) return
    }
    take({ type: 'lockGranted' })
  }

  function attemptSend(entry: PendingMessage) {
    const session = ctx.session
    const { conversationId, clientId } = entry
    // Another tab may have shown it too (it wrote it, or took it over) and the user discarded it there. Not for the send
    // going ahead of its reducer: just written here, no other tab has seen it yet (others its run drains are looked up).
    // Settled as a try would be (a later task, for this session only), not inside the run that asked for it.
    const user = userId()
    const discardedElsewhere =
      ahead?.action.payload.clientId !== clientId && user !== null && durable?.discarded(user, clientId) === true
    const tried: Promise<SendOutcome> = discardedElsewhere
      ? Promise.resolve({ kind: 'discardedElsewhere' })
      : sendOnce(ctx, entry)
    tried
      .then((outcome) => {
        if (session === ctx.session) send({ type: 'settled', conversationId, clientId, outcome, jitter: ctx.random() })
      })
      .catch((error: unknown) => ctx.report('send', error))
  }

  /**
   * A send goes on the socket before its reducer runs (called by the middleware before `next`): the machine takes
   * `queued` against the outbox as the reducer will leave it, the emit goes at once, and every other effect (the
   * pending copy's patch, actions such as `drainStarted` or `sendFailed`) is held back until `handle` sees the
   * reduced action. The storage write follows in that same task, so a page that dies after the dispatch has it
   * stored as before: nothing can end a page inside one task. Not taken when the stored outbox is still to be read
   * back first (those older sends go before), when the lock holder has sends another tab wrote to take in first
   * (idem), when the lock is free and another tab wrote since (its sends may wait out a backoff, the lock let go: idem;
   * the look's read serves this send's storage write), when the socket is down (HTTP's request is an action of its
   * own), or while the runner is busy (the event would wait its turn). One of the store's hot-path shortcuts, guarded
   * by `tests/unit/durableOutbox.test.ts` ("the emit goes first", and "a lone tab reads its stored outbox no more for
   * it"; bench/README.md, "What the store does for these figures").
   */
  function sendAhead(action: ReturnType<typeof sendMessage>, prevState: S) {
    // A send dispatched while another is ahead (by a store listener, inside the first one's dispatch) goes the
    // ordinary way: its effects wait behind the first one's, in order.
    if (running || ahead || stopped) return
    const outbox = outboxWithSend(prevState.socket.outbox, action)
    ahead = { outbox, heldBack: [], action }
    try {
      const current = view()
      // A gather first goes the ordinary way: it dispatches, which must wait until this send is reduced.
      const gatherFirst = gatherDue(state, current) || (state.lock.status === 'free' && current.durable)
      if (!current.connected || restoreDue(state, current) || (gatherFirst && durable?.othersWrote()))
        return void (ahead = null)
      send({ type: 'queued', clientId: action.payload.clientId, problem: sendMessageProblem(action.payload) })
    } catch (error) {
      ahead = null
      throw error
    }
  }

  /**
   * The user's "Log out" (the app's logout action without `keepOutbox`) is marked in storage before its reducers run
   * (called by the middleware before `next`). A store subscriber removes the stored session inside the reducers'
   * dispatch, before the handlers drop the sends (`clearStored`, which marks it again), and another tab acts on that
   * removal as it hears it, before this dispatch's later writes reach it: reading no mark, it kept the sends storage
   * had refused (`keepUnstored`), and sent them in the user's next session there.
   */
  function logoutAhead(action: UnknownAction, prevState: S) {
    if (stopped || keepsOutbox(action)) return
    const user = ctx.options.selectUserId?.(prevState)
    if (user) durable?.markDropped(user)
  }

  /** A send not gone ahead whose pending copy went into its thread before its reducer ran (`showAhead`). */
  let shown: ReturnType<typeof sendMessage> | null = null

  /**
   * A new send's pending copy goes into its cached thread just before the send's reducer runs (after its emit, when it
   * goes ahead), so no store subscriber is told of a state whose outbox holds the send while its thread does not show
   * it: the patch is auto-batched, and the send's own notification, right after it, tells of both. Added after the
   * reducer (as the machine's `queued` does, which then finds it there), it reached subscribers only a task later,
   * after the send's notification and any action the send's effects dispatched (`drainStarted`).
   * A send the reducer does not take takes its copy back (`dropUntaken`).
   */
  function showAhead(action: ReturnType<typeof sendMessage>, prevState: S) {
    if (stopped || prevState.socket.outbox.some((m) => m.clientId === action.payload.clientId)) return
    const outbox = outboxWithSend(prevState.socket.outbox, action)
    const entry = outbox[outbox.length - 1]!
    shown = ahead?.action === action ? null : action
    patchThread(ctx, userId, entry.conversationId, { kind: 'add', entry }, outbox)
  }

  /**
   * What a send that went ahead held back is performed now, in order, once its action has been through the reducers
   * (`handle`; the middleware calls the handlers even when that dispatch threw), so its lock, timers and answers are
   * never dropped.
   */
  function settleAhead() {
    if (!ahead) return
    const { heldBack } = ahead
    ahead = null
    runToCompletion(() => {
      for (const effect of heldBack) perform(effect)
    })
  }

  function handle(action: Parameters<Handler<S>>[0], prevState: S) {
    if (ahead && action === ahead.action) return settleAhead()
    const events = outboxEventsOf(action, prevState, ctx.options)
    // Indexed, not `for…of`: every action comes here (the hot path of a burst:
    // bench/README.md, "Measurements behind choices in the source").
    for (let i = 0; i < events.length; i++) send(events[i]!)
  }

  /**
   * After `socket/shutdown` (the store disposed, the page gone) the outbox is over: an action after it (a `connect`, a
   * send) would read the stored outbox back, take the drain lock and send over HTTP, the socket being gone.
   */
  let stopped = false

  const handler: Handler<S> = (action, prevState) => {
    reactTo(action, prevState)
    if (shown && action === shown) dropUntaken(shown)
  }

  /**
   * A send its reducer did not take (it threw: someone else's reducer) is not in the outbox, and nothing will send it:
   * its pending copy, put in its thread ahead of it (`showAhead`), goes again. Not one that went ahead: emitted, it
   * is answered, and its copy shows until then, as what it held back shows it.
   */
  function dropUntaken(action: ReturnType<typeof sendMessage>) {
    shown = null
    const { clientId, conversationId } = action.payload
    if (getState().socket.outbox.some((m) => m.clientId === clientId)) return
    patchThread(ctx, userId, conversationId, { kind: 'remove', clientId })
  }

  function reactTo(action: Parameters<Handler<S>>[0], prevState: S) {
    // A send gone ahead whose dispatch held the shutdown (a store listener disposing the store) still performs what it
    // held back, the shutdown's own among it: its lock, taken for the emit, would otherwise stay held for no one.
    if (stopped) return void (ahead && action === ahead.action && settleAhead())
    handle(action, prevState)
    if (shutdown.match(action)) stopped = true
    else durable?.persist()
  }
  return Object.assign(handler, { sendAhead, showAhead, logoutAhead })
}
