import type { AppSocket, CreateSocket, SocketFactoryOptions } from '../../../src/realtime'

type Listener = (...args: unknown[]) => void

/** Just enough of component-emitter: `on`/`off` and a way for the test to fire events. */
export class FakeEmitter {
  private readonly listeners = new Map<string, Listener[]>()

  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener])
    return this
  }

  off(event: string, listener: Listener): this {
    const list = this.listeners.get(event) ?? []
    const i = list.indexOf(listener)
    if (i !== -1) this.listeners.set(event, [...list.slice(0, i), ...list.slice(i + 1)])
    return this
  }

  fire(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) listener(...args)
  }

  /** All listeners, or those of one event. */
  listenerCount(event?: string): number {
    if (event !== undefined) return this.listeners.get(event)?.length ?? 0
    let n = 0
    for (const list of this.listeners.values()) n += list.length
    return n
  }
}

export interface EmittedPacket {
  event: string
  args: unknown[]
  timeoutMs: number | null
  /** Answers the emit as the server would (ignored after the timeout fired, like Socket.IO). */
  ack: (response: unknown) => void
}

/**
 * A stand-in for socket.io-client's Socket, driven by the test: `serverConnect`, `serverDrop`, `serverEmit`, …
 * Emits are logged in `emitted` with their ack; `timeout(ms)` fires the ack with an error after `ms`, as Socket.IO does.
 */
export class FakeSocket extends FakeEmitter {
  id: string | undefined = undefined
  connected = false
  active = false
  recovered = false
  readonly io = new FakeEmitter()
  readonly emitted: EmittedPacket[] = []
  connectCalls = 0
  disconnectCalls = 0
  /** The timeout-acks of packets sent on the live connection, failed when it closes (socket.io-client's `_clearAcks`). */
  private readonly awaitingAck = new Set<(error: Error | null, response?: unknown) => void>()

  constructor(
    readonly url: string,
    readonly options: SocketFactoryOptions,
  ) {
    super()
  }

  connect(): this {
    this.connectCalls++
    this.active = true
    return this
  }

  disconnect(): this {
    this.disconnectCalls++
    this.active = false
    if (this.connected) {
      this.connected = false
      this.id = undefined
      this.fire('disconnect', 'io client disconnect')
      this.clearAcks()
    }
    return this
  }

  timeout(ms: number) {
    return { emit: (event: string, ...args: unknown[]) => this.record(event, args, ms) }
  }

  emit(event: string, ...args: unknown[]): this {
    this.record(event, args, null)
    return this
  }

  private record(event: string, args: unknown[], timeoutMs: number | null) {
    const last = args[args.length - 1]
    const callback = typeof last === 'function' ? (args.pop() as (...a: unknown[]) => void) : null
    let done = false
    const timer =
      timeoutMs !== null && callback ? setTimeout(() => finish(new Error('operation has timed out')), timeoutMs) : null
    const finish = (error: Error | null, response?: unknown) => {
      if (done || !callback) return
      done = true
      this.awaitingAck.delete(finish)
      if (timer) clearTimeout(timer)
      if (timeoutMs !== null) callback(error, response)
      else callback(response)
    }
    // Sent, so its ack is failed when the connection closes; an emit while disconnected is buffered and kept.
    if (timeoutMs !== null && callback && this.connected) this.awaitingAck.add(finish)
    this.emitted.push({ event, args, timeoutMs, ack: (response) => finish(null, response) })
  }

  /** As socket.io-client's `onclose`: after the `disconnect` event, every ack still awaited fails at once. */
  private clearAcks(): void {
    for (const fail of [...this.awaitingAck]) fail(new Error('socket has been disconnected'))
  }

  /** The emits of one event, in order. */
  sent(event: string): EmittedPacket[] {
    return this.emitted.filter((p) => p.event === event)
  }

  /** The token the handshake would carry now (calls the `auth` callback like Socket.IO does). */
  handshakeToken(): unknown {
    let data: unknown
    const auth = this.options.auth
    if (typeof auth === 'function') auth((d: object) => (data = d))
    else data = auth
    return (data as { token?: unknown } | undefined)?.token
  }

  // --- The server's side --------------------------------------------------------------------------------------

  serverConnect(id = 'sock-1', recovered = false): void {
    this.id = id
    this.connected = true
    this.active = true
    this.recovered = recovered
    this.fire('connect')
  }

  /** The transport closed; the manager keeps trying (`active` stays true). */
  serverDrop(reason = 'transport close'): void {
    this.connected = false
    this.id = undefined
    this.fire('disconnect', reason)
    this.clearAcks()
  }

  /** `socket.disconnect()` on the server: Socket.IO does not reconnect by itself. */
  serverKick(): void {
    this.connected = false
    this.active = false
    this.id = undefined
    this.fire('disconnect', 'io server disconnect')
    this.clearAcks()
  }

  /** A handshake refused by the server's middleware (`next(new Error(code))`): no automatic retry. */
  serverRefuse(code = 'UNAUTHORIZED'): void {
    this.active = false
    this.fire('connect_error', new Error(code))
  }

  /** The server could not be reached; the manager will retry. */
  networkError(): void {
    this.fire('connect_error', new Error('xhr poll error'))
  }

  reconnectAttempt(attempt: number): void {
    this.io.fire('reconnect_attempt', attempt)
  }

  serverEmit(event: string, ...args: unknown[]): void {
    for (const listener of [...this.anyListeners]) listener(event, ...args)
    this.fire(event, ...args)
  }

  private readonly anyListeners: Listener[] = []

  onAny(listener: Listener): this {
    this.anyListeners.push(listener)
    return this
  }

  offAny(listener: Listener): this {
    const i = this.anyListeners.indexOf(listener)
    if (i !== -1) this.anyListeners.splice(i, 1)
    return this
  }

  override listenerCount(event?: string): number {
    return super.listenerCount(event) + (event === undefined ? this.anyListeners.length : 0)
  }
}

/** A `createSocket` that records the fakes it makes. */
export function fakeSockets() {
  const sockets: FakeSocket[] = []
  const createSocket: CreateSocket = (url, options) => {
    const socket = new FakeSocket(url, options)
    sockets.push(socket)
    return socket as unknown as AppSocket
  }
  return {
    sockets,
    createSocket,
    get last(): FakeSocket {
      const socket = sockets[sockets.length - 1]
      if (!socket) throw new Error('no socket was created')
      return socket
    },
  }
}
