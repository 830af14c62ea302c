import type { Id } from '../../src/contract'
import type { Notifier, Presence } from '../services'
import type { LoggedEvent } from '../services/eventLog'
import type { LiveDelivery } from './delivery'
import { conversationRoom } from './rooms'
import type { TalemyServer } from './types'

/** The inter-node event that carries logged events to the other nodes' sockets (through the adapter). */
export const LOGGED_EVENTS = 'talemy:logged'

/**
 * Delivers to this node's sockets, and through the adapter to every other node's (`cluster`: a Redis adapter is in
 * place; the in-memory adapter has no other node to tell).
 */
export function createNotifier(io: TalemyServer, delivery: LiveDelivery, cluster: boolean): Notifier {
  if (cluster) io.on(LOGGED_EVENTS, (events: LoggedEvent[]) => delivery.deliver(events))
  return {
    deliver(events) {
      if (events.length === 0) return
      delivery.deliver(events)
      if (cluster) io.serverSideEmit(LOGGED_EVENTS, events as LoggedEvent[])
    },
  }
}

/**
 * Reads Socket.IO's own room membership. `now` is the clock tokens are checked against: a socket whose token has
 * expired while its expiry timer lags (a busy loop, a clock that jumped) is looking at nothing, or a send would mark
 * its message read for that user and tell the sender so, on the strength of a session that has ended.
 */
export function createPresence(io: TalemyServer, now: () => number): Presence {
  return {
    viewers(conversationId) {
      const namespace = io.of('/')
      const viewers = new Set<Id>()
      for (const socketId of namespace.adapter.rooms.get(conversationRoom(conversationId)) ?? []) {
        const socket = namespace.sockets.get(socketId)
        if (socket && now() < socket.data.expiresAt) viewers.add(socket.data.userId)
      }
      return viewers
    },
  }
}
