import type { UnknownAction } from '@reduxjs/toolkit'
import type { SyncEventName, SyncPayload } from '../contract'
import {
  connected,
  ephemeralEventActions,
  resumeStalled,
  sessionEnded,
  sessionStarted,
  shutdown,
  syncCaughtUp,
  syncGap,
} from './actions'
import type { Context, Handler } from './context'
import { gateLogged, gateSynced, type HeldEvent } from './resumeGate'
import type { SocketRootState } from './socketSlice'
import type { TimerHandle } from './timers'

/** What `bindSocket` hands logged and sync events to. */
export interface ResumeSink {
  /** A validated logged event's action (or its `eventRejected`), with its offset. */
  logged(action: UnknownAction, offset: number): void
  sync(event: SyncEventName, payload: SyncPayload): void
  /** A validated notice's action (typing, presence), or its `eventRejected`. */
  notice(action: UnknownAction): void
}

/** Without the middleware (bindSocket on its own): every event is dispatched as it comes. */
export const directSink = (dispatch: (action: UnknownAction) => unknown): ResumeSink => ({
  logged: (action) => void dispatch(action),
  sync: (event, payload) =>
    void dispatch(event === 'sync:gap' ? syncGap(payload) : syncCaughtUp({ ...payload, recovered: false })),
  notice: (action) => void dispatch(action),
})

/** How long events above a hole wait for the missing ones before the socket resumes from its offset. */
export const DEFAULT_RESUME_HOLD_MS = 2_000

/**
 * The offset gate's runner: logged events go out in offset order, once (the pure `gateLogged`/`gateSynced` decide);
 * events above a hole are held, and when the hole does not fill within the hold time `socket/resumeStalled` makes the
 * connection reconnect and resume from the applied offset. The applied offset and epoch live in the slice
 * (`selectConnection`), advanced by the actions' `meta.offset` and the sync actions. A typing notice that comes while
 * events are held waits for those that came before it: released after it, a message from its sender would end it.
 */
export function buildResumeHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch, getState } = ctx.mwApi
  const holdMs = ctx.options.resumeHoldMs ?? DEFAULT_RESUME_HOLD_MS
  let held: readonly HeldEvent<UnknownAction>[] = []
  /** Typing notices that came while events were held, each with the offset it follows (the highest held then). */
  let notices: { after: number; action: UnknownAction }[] = []
  let timer: TimerHandle | null = null

  const applied = () => getState().socket.connection.offset

  function stopTimer() {
    if (timer !== null) ctx.timers.clearTimeout(timer)
    timer = null
  }

  function forget() {
    held = []
    notices = []
    stopTimer()
  }

  /** Dispatches the notices whose events before them have gone out (`all`: nothing is held any more). */
  function releaseNotices(all: boolean) {
    if (notices.length === 0) return
    const now = applied()
    let i = 0
    while (i < notices.length && (all || (now !== null && notices[i]!.after <= now))) i++
    if (i === 0) return
    const ready = notices.slice(0, i)
    notices = notices.slice(i)
    for (const { action } of ready) dispatch(action)
  }

  /** Dispatches what the gate released, then keeps a timer running exactly while something is held. */
  function settle(result: { release: UnknownAction[]; held: readonly HeldEvent<UnknownAction>[] }) {
    held = result.held
    for (const action of result.release) {
      dispatch(action)
      releaseNotices(false)
    }
    releaseNotices(held.length === 0)
    // A hole filled: what is still held waits on a later one, which gets the whole hold time from now.
    if (held.length === 0 || result.release.length > 0) stopTimer()
    if (held.length > 0 && timer === null && applied() !== null) {
      const handle = ctx.timers.setTimeout(() => {
        if (timer !== handle) return
        timer = null
        const count = held.length
        held = []
        // Of the present: the resume replays what was held, and the sender says it again while still typing.
        notices = []
        dispatch(resumeStalled({ offset: applied(), held: count }))
      }, holdMs)
      timer = handle
    }
  }

  ctx.resume = {
    notice(action) {
      const last = held[held.length - 1]
      if (last === undefined || !ephemeralEventActions.typing.match(action)) dispatch(action)
      else notices.push({ after: last.offset, action })
    },
    logged(action, offset) {
      settle(gateLogged(applied(), held, offset, action))
    },
    sync(event, payload) {
      if (event === 'sync:gap') dispatch(syncGap(payload))
      else {
        const { offset, epoch } = getState().socket.connection
        // The handshake carried this offset and epoch (read at the handshake from the same state).
        dispatch(syncCaughtUp({ ...payload, recovered: offset !== null && epoch === payload.epoch }))
      }
      const now = applied()
      if (now !== null) settle(gateSynced(now, held))
    },
  }

  return (action) => {
    // A new socket replays everything after the applied offset: what this one held comes again, in order.
    if (connected.match(action) || sessionStarted.match(action) || sessionEnded.match(action) || shutdown.match(action))
      forget()
  }
}
