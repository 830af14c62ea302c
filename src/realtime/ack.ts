import { ackSchema, parse, type ApiError } from '../contract'
import type { Emit } from './actionEmits'
import type { AppSocket } from './types'

/** How an emit ended: answered (`ok` with its data, or the server's error), or not answered in time. */
export type AckResult = { kind: 'ok'; data: unknown } | { kind: 'error'; error: ApiError } | { kind: 'timeout' }

type TimedEmitter = { emit(event: string, payload: unknown, ack: (err: unknown, res?: unknown) => void): void }

/**
 * Emits with an ack and a timeout (`socket.timeout(ms).emit(…)`); never rejects. The answer is validated: a
 * malformed ack counts as the server's `INTERNAL` error.
 *
 * @example const result = await emitWithAck(socket, { event: 'conversation:join', payload: 'c1' }, 5000)
 */
export function emitWithAck(socket: AppSocket, emit: Emit, timeoutMs: number): Promise<AckResult> {
  return new Promise((resolve) => {
    const timed = socket.timeout(timeoutMs) as unknown as TimedEmitter
    timed.emit(emit.event, emit.payload, (err, res) => {
      if (err) return resolve({ kind: 'timeout' })
      const parsed = parse(ackSchema, res)
      if (!parsed.ok)
        return resolve({ kind: 'error', error: { code: 'INTERNAL', message: 'The server sent a malformed answer' } })
      resolve(parsed.value.ok ? { kind: 'ok', data: parsed.value.data } : { kind: 'error', error: parsed.value.error })
    })
  })
}
