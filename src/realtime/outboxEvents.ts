import type { UnknownAction } from '@reduxjs/toolkit'
import { api } from '../api'
import type { Id } from '../contract'
import {
  connect,
  connected,
  discardMessage,
  followerGone,
  outboxRestored,
  retryMessage,
  retryNow,
  roleChanged,
  sendConfirmed,
  sendFailed,
  sendMessage,
  serverEventActions,
  sessionEnded,
  sessionExpired,
  sessionStarted,
  shutdown,
} from './actions'
import { sendMessageProblem } from './sendCheck'
import type { OutboxEventBody } from './outboxMachine'
import type { PendingMessage, SocketRootState } from './socketSlice'

/** The drain lock holder takes in the other tabs' stored sends before it goes again (see `adopt`). */
export const GATHER: OutboxEventBody = { type: 'adopt', holdingOnly: true }

/**
 * The events when a conversation's wait (a backoff, or the server's `retryAfterMs`) ends: as after any wait, the lock
 * holder first takes in what the user's other tabs wrote meanwhile, then the conversation goes again.
 *
 * @example outboxEventsOfWaitEnd('c1') // [GATHER, { type: 'timerFired', conversationId: 'c1' }]
 */
export function outboxEventsOfWaitEnd(conversationId: Id): readonly OutboxEventBody[] {
  return [GATHER, { type: 'timerFired', conversationId }]
}

/** Every conversation goes again: the server answered (see `drain`). */
const SERVER_ANSWERED: OutboxEventBody = { type: 'drain', onlyNetworkWaits: true, answered: true }

/**
 * Most actions: one shared answer (the hot path of a burst: bench/README.md,
 * "Measurements behind choices in the source").
 */
const NONE: readonly OutboxEventBody[] = Object.freeze([])

/**
 * A thunk's fulfilled action (RTK documents `meta.requestStatus` on them): checked before RTK's matchers, which a
 * burst's actions then never reach (the hot path of a burst: bench/README.md,
 * "Measurements behind choices in the source").
 */
const settledRequest = (action: UnknownAction): boolean =>
  (action.meta as { requestStatus?: unknown } | undefined)?.requestStatus === 'fulfilled'

/**
 * The outbox entry of `clientId`. Its own function, not a closure over `action` inside `outboxEventsOf`, which every
 * action calls (the hot path of a burst: bench/README.md, "Measurements behind choices in the source").
 */
const entryOf = (outbox: readonly PendingMessage[], clientId: string): PendingMessage | null =>
  outbox.find((m) => m.clientId === clientId) ?? null

/**
 * Whether a logout keeps the user's unsent sends for their next login (`meta.keepOutbox`): a logout nobody asked for
 * here. Without it, the user's "Log out" drops them.
 */
export const keepsOutbox = (action: UnknownAction): boolean =>
  (action.meta as { keepOutbox?: unknown } | undefined)?.keepOutbox === true

/** What the mapping reads of the middleware's options. */
export interface OutboxEventOptions<S> {
  loggedOut: { match(action: unknown): boolean }
  selectUserId?: (state: S) => Id | null | undefined
}

/**
 * The outbox machine's events for one action, in order (none for most actions): the one place an action becomes
 * outbox work. `prevState`: the state before the action was reduced (a discarded entry is read from it).
 *
 * @example outboxEventsOf(retryNow({ reason: 'online' }), prev, options) // [{ type: 'drain', onlyNetworkWaits: true }]
 */
export function outboxEventsOf<S extends SocketRootState>(
  action: UnknownAction,
  prevState: S,
  options: OutboxEventOptions<S>,
): readonly OutboxEventBody[] {
  // A send the lock holder writes may go at once (its conversation idle): the holder first takes in what the user's
  // other tabs wrote meanwhile (they wait for its lock), so theirs, written before it, go before it.
  if (sendMessage.match(action))
    return [
      { type: 'restore' },
      GATHER,
      { type: 'queued', clientId: action.payload.clientId, problem: sendMessageProblem(action.payload) },
    ]
  if (outboxRestored.match(action)) return [{ type: 'restored', entries: action.payload.entries }]
  // A conversation's next send goes after waiting for an answer: as after any wait, the lock holder first takes in
  // what the user's other tabs wrote meanwhile, so a send written there before this tab's next goes before it.
  if (sendConfirmed.match(action))
    return [
      GATHER,
      {
        type: 'confirmed',
        conversationId: action.payload.message.conversationId,
        clientId: action.payload.message.clientId,
      },
    ]
  // A confirmation that came on its own (ahead of the send's answer, or that answer was lost, or it waits to retry):
  // its entry has left the outbox, so the conversation's next send may go, and the lock may be held for nothing.
  if (serverEventActions['message:sent'].match(action))
    return [
      GATHER,
      { type: 'confirmed', conversationId: action.payload.conversationId, clientId: action.payload.clientId },
    ]
  if (sendFailed.match(action)) return [GATHER, { type: 'failed', clientId: action.payload.clientId }]
  if (retryMessage.match(action)) return [{ type: 'retried', clientId: action.payload.clientId }]
  if (discardMessage.match(action))
    return [{ type: 'discarded', entry: entryOf(prevState.socket.outbox, action.payload.clientId) }]
  // Going again after a wait: the lock holder first takes in what the user's other tabs wrote meanwhile. A wait the
  // server asked for (RATE_LIMITED) goes on: a new connection leaves the user's budget as it was.
  // A socket connected, or the API answering over HTTP, says the server is there: every conversation goes, not only
  // the one that probed it while it was out of reach.
  if (connected.match(action)) return [GATHER, SERVER_ANSWERED]
  if (retryNow.match(action))
    return [GATHER, action.payload.reason === 'reachable' ? SERVER_ANSWERED : { type: 'drain', onlyNetworkWaits: true }]
  if (connect.match(action)) return [{ type: 'restore' }, GATHER, { type: 'drain', onlyNetworkWaits: true }]
  if (sessionStarted.match(action))
    return [{ type: 'reset' }, { type: 'restore' }, { type: 'drain', onlyNetworkWaits: false }]
  if (sessionEnded.match(action) || shutdown.match(action)) return [{ type: 'reset' }]
  if (sessionExpired.match(action)) return [{ type: 'sessionExpired' }]
  if (options.loggedOut.match(action)) {
    return [
      {
        type: 'loggedOut',
        userId: options.selectUserId?.(prevState) ?? null,
        keepOutbox: keepsOutbox(action),
        outbox: prevState.socket.outbox,
      },
    ]
  }
  // This tab took the socket over from another, or a tab that sent through it left.
  if (
    (roleChanged.match(action) &&
      action.payload.role === 'leader' &&
      prevState.socket.connection.role === 'follower') ||
    followerGone.match(action)
  )
    return [{ type: 'adopt', holdingOnly: false }]
  if (settledRequest(action) && api.endpoints.getMessages.matchFulfilled(action))
    return [{ type: 'threadFetched', conversationId: action.meta.arg.originalArgs, thread: action.payload }]
  return NONE
}
