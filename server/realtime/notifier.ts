import type { Logger } from '../logger'
import type { Id } from '../../src/contract'
import type { Notifier, Presence } from '../services'
import type { LoggedEvent } from '../services/eventLog'
import type { LiveDelivery } from './delivery'
import { conversationRoom } from './rooms'
import type { TalemyServer } from './types'

/**
 * The inter-node event that carries logged events to the other nodes' sockets (through the adapter), with the epoch
 * they were logged in. The epoch goes as a second argument: a node of an earlier version reads the first alone.
 */
export const LOGGED_EVENTS = 'talemy:logged'

/**
 * Delivers to this node's sockets, and through the adapter to every other node's (`cluster`: a Redis adapter is in
 * place; the in-memory adapter has no other node to tell). `eventLog.epoch` is the epoch the events delivered count in.
 *
 * A batch heard from another node in another epoch than this node's is dropped: its offsets name other events in this
 * node's timeline. Late (a publish held up while the database failed over), one logged on the old primary would reach
 * a socket resumed on the promoted standby, whose client took it as that offset there and then dropped the real one as
 * a duplicate. One logged in an epoch this node has not taken yet (another node renewed first) is dropped too: every
 * socket here streams the old epoch's offsets, and is dropped at this node's renewal to resume across a gap.
 */
export function createNotifier(
  io: TalemyServer,
  delivery: LiveDelivery,
  eventLog: { readonly epoch: string },
  cluster: boolean,
  logger: Logger,
): Notifier {
  if (cluster)
    io.on(LOGGED_EVENTS, (events: LoggedEvent[], epoch?: string) => {
      // Without an epoch: a node of an earlier version (a rolling deploy), heard as it was then.
      if (epoch === undefined || epoch === eventLog.epoch) return delivery.deliver(events)
      logger.warn(
        { epoch, current: eventLog.epoch, events: events.length },
        'logged events of another event log epoch heard from another node: dropped',
      )
    })
  return {
    deliver(events) {
      if (events.length === 0) return
      delivery.deliver(events)
      // Read right after the commit (no wait comes between): the epoch this node's sockets count in, as above.
      if (cluster) io.serverSideEmit(LOGGED_EVENTS, events as LoggedEvent[], eventLog.epoch)
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
