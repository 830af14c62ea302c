import type { Socket as NetSocket } from 'node:net'
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'
import { nowNs, waitFor, withTimeout } from './stats'

type Options = Partial<ManagerOptions & SocketOptions>

/**
 * A bare socket.io-client with socket.io-client's defaults (HTTP long-polling first, then the upgrade), like the
 * layer and the docs' peer. Resolves once connected and upgraded to WebSocket, so every figure times WebSocket.
 */
export async function rawSocket(url: string, token: string | null, options: Options = {}): Promise<Socket> {
  const socket = io(url, { ...(token ? { auth: { token } } : {}), ...options })
  await withTimeout(nextConnect(socket), 15_000, `a socket to ${url}`)
  await onWebsocket(socket)
  return socket
}

/**
 * Resolves on the socket's next `connect`, rejects on its next `connect_error`; either way the other listener is
 * removed, so waiting on every reconnect of a long-lived socket leaves nothing behind on it.
 *
 * @example
 * const back = nextConnect(socket)
 * socket.connect()
 * await back
 */
export function nextConnect(socket: Socket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const connected = () => {
      socket.off('connect_error', failed)
      resolve()
    }
    const failed = (error: Error) => {
      socket.off('connect', connected)
      reject(error)
    }
    socket.once('connect', connected)
    socket.once('connect_error', failed)
  })
}

/** Resolves once the socket's engine runs on WebSocket (the upgrade from polling has finished). */
export async function onWebsocket(socket: Socket): Promise<void> {
  await waitFor(
    () => socket.connected && socket.io.engine?.transport?.name === 'websocket',
    'the WebSocket upgrade',
    15_000,
  )
}

/**
 * The server's Engine.IO ping (`2`) alone in one unmasked, uncompressed WebSocket text frame: a read holding only that
 * is not where a message's receiving begins (one arrives every `pingInterval`, 25 s by default, between some arm and
 * its message). A ping read together with the message is the message's read.
 */
const isPingFrame = (chunk: Buffer) => chunk.length === 3 && chunk[0] === 0x81 && chunk[1] === 0x01 && chunk[2] === 0x32

/**
 * The time of the first read on a socket's TCP connection after `arm()` (0 until then), a read of the server's ping
 * alone aside: where the receiver's own work begins.
 */
export function firstRead(socket: Socket) {
  const transport = socket.io.engine?.transport as unknown as { ws?: { _socket?: NetSocket } }
  const tcp = transport?.ws?._socket
  if (!tcp) throw new Error('firstRead: the socket is not on WebSocket')
  let at = 0
  const onData = (chunk: Buffer) => {
    if (at === 0 && !isPingFrame(chunk)) at = nowNs()
  }
  tcp.prependListener('data', onData)
  return {
    arm: () => void (at = 0),
    at: () => at,
    off: () => void tcp.off('data', onData),
  }
}

/**
 * Counts the event-loop tasks in which data reached this socket: every read callback of its TCP connection is one
 * task (the `ws` parser emits all frames of a read synchronously, within it). Returns a reader and a detach.
 * Reaches into `ws`'s `_socket` (ws 8), the only place the read callbacks are visible.
 */
export function countReadTasks(socket: Socket): { count: () => number; detach: () => void } {
  const transport = socket.io.engine?.transport as unknown as { name: string; ws?: { _socket?: NetSocket } }
  const tcp = transport?.name === 'websocket' ? transport.ws?._socket : undefined
  if (!tcp) throw new Error('countReadTasks: the socket is not on WebSocket')
  let reads = 0
  const onData = () => {
    reads++
  }
  tcp.prependListener('data', onData)
  return { count: () => reads, detach: () => tcp.off('data', onData) }
}

/**
 * Opens a conversation on a bare socket as a client showing its thread does (the layer's stores join the thread they
 * show): the server marks each new message read for it and sends the receipts. Resolves on the ack; throws on a refusal.
 *
 * @example await joinConversation(socket, conversationId)
 */
export async function joinConversation(socket: Socket, conversationId: string): Promise<void> {
  const ack = await withTimeout(
    new Promise<{ ok: boolean; error?: { code: string } }>((resolve) =>
      socket.emit('conversation:join', conversationId, resolve),
    ),
    15_000,
    'conversation:join',
  )
  if (!ack.ok) throw new Error(`conversation:join refused: ${ack.error?.code}`)
}

export async function closeSocket(socket: Socket): Promise<void> {
  if (!socket.connected) {
    socket.close()
    return
  }
  const gone = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()))
  socket.close()
  await gone
}

/** Every listener registered on a component-emitter (socket.io-client's Socket, Manager, engine): exact, by event. */
export function listenerCounts(emitter: unknown): Record<string, number> {
  const callbacks = (emitter as { _callbacks?: Record<string, unknown[]> })._callbacks ?? {}
  const counts: Record<string, number> = {}
  for (const [key, list] of Object.entries(callbacks)) if (list.length > 0) counts[key.replace(/^\$/, '')] = list.length
  return counts
}

export const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0)

/** Web Storage in memory, for stores outside a browser. */
export function memoryStorage(): Storage {
  const map = new Map<string, string>()
  return {
    get length() {
      return map.size
    },
    clear: () => map.clear(),
    getItem: (key) => map.get(key) ?? null,
    key: (index) => [...map.keys()][index] ?? null,
    removeItem: (key) => void map.delete(key),
    setItem: (key, value) => void map.set(key, String(value)),
  }
}
