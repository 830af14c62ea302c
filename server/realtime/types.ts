import type { Server, Socket } from 'socket.io'
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '../../src/contract'

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type InterServerEvents = {}

export type TalemyServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
export type TalemySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
