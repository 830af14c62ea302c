import type { Server, Socket } from 'socket.io'
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '../../src/contract'
import type { LoggedEvent } from '../services/eventLog'
import type { Notice } from './notices'

/**
 * Between nodes (through the Redis adapter): the logged events just committed, for each node's own sockets, and the
 * event log epoch they count in (none from a node of an earlier version).
 */
interface InterServerEvents {
  'talemy:logged': (events: LoggedEvent[], epoch?: string) => void
  /** A session revoked on one node: the others stop trusting what they remembered of it. */
  'talemy:revoked': (sessionId: string) => void
  /** Typing and presence changes, for each node's own sockets. */
  'talemy:notice': (notice: Notice) => void
  /** A node's publisher connection is back: what it published while away may have been lost, or come late. */
  'talemy:publisherBack': () => void
}

export type TalemyServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
export type TalemySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
