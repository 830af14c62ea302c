import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client'
import type { ClientToServerEvents, ServerToClientEvents } from '../contract'

/** The client socket, typed by the contract's event maps. */
export type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>

export type SocketFactoryOptions = Partial<ManagerOptions & SocketOptions>

/**
 * socket.io-client's `io(url, options)` signature; injectable so tests can hand in a fake socket.
 *
 * @example const createSocket: CreateSocket = (url, options) => io(url, options)
 */
export type CreateSocket = (url: string, options: SocketFactoryOptions) => AppSocket | Socket
