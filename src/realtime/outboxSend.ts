import { api } from '../api'
import { emitWithAck } from './ack'
import { sendEmit } from './actionEmits'
import type { Context } from './context'
import type { SendOutcome } from './outboxMachine'
import { outcomeOfAck, outcomeOfHttpError, storedMessage } from './sendOutcome'
import type { PendingMessage } from './socketSlice'

/** The edges one try goes through; the session and the socket are read when the try needs them, not before. */
export type SendEdges = Pick<Context, 'mwApi' | 'socket' | 'session' | 'ackTimeoutMs'>

async function viaHttp(edges: SendEdges, entry: PendingMessage): Promise<SendOutcome> {
  const { conversationId, content, clientId } = entry
  const thunk = api.endpoints.postMessage.initiate({ conversationId, content, clientId }, { track: false })
  const result = await (edges.mwApi.dispatch as unknown as (t: typeof thunk) => ReturnType<typeof thunk>)(thunk)
  return 'data' in result ? storedMessage(result.data, entry) : outcomeOfHttpError(result.error)
}

async function tryOnce(edges: SendEdges, entry: PendingMessage): Promise<SendOutcome> {
  const session = edges.session
  const socket = edges.socket
  // A socket known to be down is not waited for: HTTP at once. A silent one is given the ack timeout; a drop
  // while the ack is awaited fails it at once (Socket.IO clears pending acks on disconnect), so HTTP follows at once.
  if (socket?.connected) {
    const result = await emitWithAck(socket, sendEmit(entry), edges.ackTimeoutMs)
    if (result.kind !== 'timeout') return outcomeOfAck(result, entry)
    // A logout (or another user's login) closed the socket under the ack: the entry belongs to the old session
    // and must never go out over HTTP with the next one's token. Its stored copy waits for its own user.
    if (session !== edges.session) return { kind: 'retry', error: { code: 'NETWORK', message: 'the session ended' } }
  }
  return viaHttp(edges, entry)
}

/**
 * One try of one send (the outbox machine's `attempt`): the socket with an ack and a timeout, else the HTTP
 * `postMessage` with the same `clientId`. Never rejects: a try that throws is a `retry`.
 *
 * @example sendOnce(ctx, entry).then((outcome) => …) // { kind: 'sent', message } | { kind: 'refused', … } | …
 */
export function sendOnce(edges: SendEdges, entry: PendingMessage): Promise<SendOutcome> {
  return tryOnce(edges, entry).catch(
    (error: unknown): SendOutcome => ({
      kind: 'retry',
      error: { code: 'NETWORK', message: error instanceof Error ? error.message : String(error) },
    }),
  )
}
