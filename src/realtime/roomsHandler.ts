import type { UnknownAction } from '@reduxjs/toolkit'
import { api } from '../api'
import { isRefusal, type Id } from '../contract'
import {
  connected,
  joined,
  joinFailed,
  leaveConversation,
  sessionEnded,
  shutdown,
  syncCaughtUp,
  syncGap,
} from './actions'
import { emitWithAck } from './ack'
import { keyedRetries } from './backoff'
import { catchUpTagsAt, queryKey } from './cacheWork'
import type { SocketRootState } from './socketSlice'
import type { Context, Handler } from './context'
import { emitFor, joinEmit } from './actionEmits'

const { getMessages } = api.endpoints
const { removeQueryResult } = api.internalActions

/**
 * Joins and leaves rooms with an ack and a timeout, and joins every wanted room again after each (re)connect (the
 * wanted rooms are in state; a join sent while offline would only sit in Socket.IO's buffer). A store with a socket of
 * its own looks at them only while the page is visible: hidden, it leaves them (they stay wanted) and joins them again
 * when it shows. With tabs sharing a socket, the hub does that for every tab. A join that failed without a refusal (no
 * answer in time, the server's `INTERNAL`, `RATE_LIMITED`) is tried again after a full-jitter backoff while the room is
 * wanted and the connection and the session last: until it is in, this user's messages in that thread would count as
 * unread.
 *
 * Joining marks the thread read and tells the other person "Seen", so after a (re)connect the rooms are joined once the
 * connection has synced, not at connect: a thread the catch-up reads again (a `sync:gap`, or a session's first sync
 * after the page has read) is joined only once that read has landed. Should it fail, the reader has not seen what came
 * meanwhile: the room waits for the read made again (`readsHandler`, the page's "Try again").
 */
export function buildRoomsHandler<S extends SocketRootState>(ctx: Context<S>): Handler<S> {
  const { dispatch, getState } = ctx.mwApi
  const { visibility } = ctx
  const solo = () => getState().socket.connection.role === 'solo'
  /** Whether a join may go now: a shared socket's hub judges visibility itself. */
  const looking = () => !solo() || visibility.visible()

  /** Per room, on this connection: its failed joins' retry, and its latest join (only that one's answer counts). */
  const retries = keyedRetries<Id>(ctx.timers, ctx.backoff, ctx.random)
  const latest = new Map<Id, object>()
  /** This connection has not synced yet: its joins wait for it. */
  let awaitingSync = false
  /** Per room whose thread the catch-up reads again: that read's request, once it is made (it alone releases it). */
  const rereading = new Map<Id, string | null>()

  function join(conversationId: Id) {
    const socket = ctx.socket
    retries.cancel(conversationId)
    if (!socket?.connected || !looking() || awaitingSync || rereading.has(conversationId)) return
    const session = ctx.session
    // Only the latest join of a room decides: an older one's answer (a join, a leave and a join again) comes too late.
    const attempt = {}
    latest.set(conversationId, attempt)
    void emitWithAck(socket, joinEmit(conversationId), ctx.ackTimeoutMs).then((result) => {
      if (session !== ctx.session || socket !== ctx.socket || latest.get(conversationId) !== attempt) return
      if (result.kind === 'ok') {
        retries.forget(conversationId)
        dispatch(joined({ conversationId }))
        return
      }
      const code = result.kind === 'timeout' ? 'NETWORK' : result.error.code
      dispatch(joinFailed({ conversationId, code }))
      if (isRefusal(code)) retries.forget(conversationId)
      else if (socket.connected && getState().socket.rooms.includes(conversationId))
        retries.later(conversationId, result.kind === 'error' ? (result.error.retryAfterMs ?? 0) : 0, () => {
          if (getState().socket.rooms.includes(conversationId)) join(conversationId)
        })
    })
  }

  function forgetAll() {
    retries.clear()
    latest.clear()
    rereading.clear()
    awaitingSync = false
  }

  /** The connection's first sync: the rooms whose thread it reads again wait for that read, the others join now. */
  function synced(gap: boolean, offsetBefore: number | null) {
    awaitingSync = false
    const tags = catchUpTagsAt(gap, offsetBefore, ctx.view().queries) ?? []
    for (const tag of tags) {
      if (tag.type === 'Message' && getState().socket.rooms.includes(tag.id as Id)) rereading.set(tag.id as Id, null)
    }
    for (const conversationId of getState().socket.rooms) join(conversationId)
  }

  /**
   * A thread's read: the catch-up's re-read made (noted), or landed (its room joins). A thread RTK Query drops instead
   * (nobody subscribes to it: it reads an invalidated entry again only for a subscriber) gets no re-read: its room
   * joins, as one whose thread is not cached does.
   */
  function threadRead(action: UnknownAction) {
    if (removeQueryResult.match(action)) {
      for (const id of [...rereading.keys()]) {
        if (action.payload.queryCacheKey !== queryKey({ endpointName: 'getMessages', arg: id })) continue
        rereading.delete(id)
        if (getState().socket.rooms.includes(id)) join(id)
      }
    } else if (getMessages.matchPending(action)) {
      const id = action.meta.arg.originalArgs
      if (rereading.has(id)) rereading.set(id, action.meta.requestId)
    } else if (getMessages.matchFulfilled(action)) {
      const id = action.meta.arg.originalArgs
      if (!rereading.has(id) || rereading.get(id) !== action.meta.requestId) return
      rereading.delete(id)
      if (getState().socket.rooms.includes(id)) join(id)
    }
  }

  let shown = visibility.visible()
  let unsubscribe: (() => void) | null = visibility.subscribe(() => {
    if (visibility.visible() === shown) return
    shown = visibility.visible()
    if (!ctx.socket?.connected) return
    for (const conversationId of getState().socket.rooms) {
      // A shared socket's hub joins and leaves for the tab as it shows and hides; asked again on showing, it answers
      // with that join's outcome (a room it is in, at once), which this store would not hear of otherwise.
      if (shown) join(conversationId)
      else if (solo())
        void emitWithAck(ctx.socket, { event: 'conversation:leave', payload: conversationId }, ctx.ackTimeoutMs)
    }
  })

  return (action, prevState) => {
    if (connected.match(action)) {
      // A new connection: earlier failures say nothing about it, and its joins (at its sync) replace any retry waiting.
      forgetAll()
      awaitingSync = true
      return
    }
    if (syncGap.match(action) || syncCaughtUp.match(action)) {
      if (awaitingSync) synced(syncGap.match(action), prevState.socket.connection.offset)
      return
    }
    if (rereading.size > 0) threadRead(action)
    if (leaveConversation.match(action)) {
      retries.forget(action.payload.conversationId)
      rereading.delete(action.payload.conversationId)
    }
    // A logout (or another user's login): that session's retries go with it.
    if (sessionEnded.match(action)) forgetAll()
    if (shutdown.match(action)) {
      forgetAll()
      unsubscribe?.()
      unsubscribe = null
      return
    }
    const emit = emitFor(action)
    // Sends go out through the outbox (`outboxSend`, with the same `sendEmit`).
    if (!emit || emit.event === 'message:send') return
    if (emit.event === 'conversation:join') join(emit.payload)
    else if (ctx.socket?.connected) void emitWithAck(ctx.socket, emit, ctx.ackTimeoutMs)
  }
}
