import type { Server, Socket } from 'socket.io'
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '../../src/contract'

/** No inter-server events: one process. */
type InterServerEvents = Record<string, never>

export type TalemyServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
export type TalemySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
