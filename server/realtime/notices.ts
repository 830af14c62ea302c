import type { EphemeralEventName, Id, ServerEventPayload } from '../../src/contract'
import { userRoom } from './rooms'
import type { TalemyServer, TalemySocket } from './types'

/** The inter-node event that carries notices (typing, presence changes) to the other nodes' sockets. */
export const NOTICES = 'talemy:notice'

/** A notice for every socket of `userIds`, on whichever node holds them. */
export interface Notice<E extends EphemeralEventName = EphemeralEventName> {
  userIds: Id[]
  event: E
  payload: ServerEventPayload<E>
}

/**
 * Notices of the present (typing, presence): not logged, sent to users' sockets on every node. Each node sends to its
 * own sockets one by one, asking `admits` first as logged events do (Socket.IO's rooms would send to a socket whose
 * token has expired while its expiry timer lags); the cost per notice is what a room broadcast pays, one look per
 * recipient socket. Between nodes a notice travels once, through the adapter (`cluster`), as logged events do.
 *
 * @example const notices = new Notices(io, true); notices.gate(stillValid); notices.toUsers(['bob'], 'typing', notice)
 */
export class Notices {
  private admits: (socket: TalemySocket, event: EphemeralEventName, later: () => void) => boolean = () => true

  constructor(
    private readonly io: TalemyServer,
    private readonly cluster: boolean,
  ) {
    if (cluster) io.on(NOTICES, (notice: Notice) => this.local(notice))
  }

  /**
   * `admits` is asked before each notice goes to a socket: false, and it does not go now (the gate may end the socket,
   * or keep `later`, which offers the notice to the socket again).
   */
  gate(admits: (socket: TalemySocket, event: EphemeralEventName, later: () => void) => boolean): void {
    this.admits = admits
  }

  /** To every socket of `userIds`, on every node. */
  toUsers<E extends EphemeralEventName>(userIds: readonly Id[], event: E, payload: ServerEventPayload<E>): void {
    if (userIds.length === 0) return
    const notice = { userIds: [...userIds], event, payload } as Notice
    this.local(notice)
    if (this.cluster) this.io.serverSideEmit(NOTICES, notice)
  }

  /** To one socket of this node, if it is still there and admitted. */
  toSocket<E extends EphemeralEventName>(socket: TalemySocket, event: E, payload: ServerEventPayload<E>): void {
    if (!socket.connected || !this.admits(socket, event, () => this.toSocket(socket, event, payload))) return
    ;(socket.emit as (event: string, payload: unknown) => boolean)(event, payload)
  }

  private local({ userIds, event, payload }: Notice): void {
    const namespace = this.io.of('/')
    for (const userId of new Set(userIds)) {
      // A copy: a socket the gate ends leaves its rooms at once.
      for (const socketId of [...(namespace.adapter.rooms.get(userRoom(userId)) ?? [])]) {
        const socket = namespace.sockets.get(socketId)
        if (socket) this.toSocket(socket, event, payload)
      }
    }
  }
}
