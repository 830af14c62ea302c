import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors'
import type { Answer } from '../services/idempotency'

/** Printable ASCII, space to tilde: a UUID fits with room to spare, and the key is stored as it is sent. */
const KEY = /^[\x20-\x7e]{1,100}$/

/**
 * The request's `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header), or undefined without one. A key that
 * cannot be one is refused rather than ignored: the client relies on it to book once, and must hear that it did not.
 *
 * @example idempotencyKeyOf(request) // '8e03978e-40d5-43e8-bc93-6894a57f9324'
 */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const values = request.raw.headersDistinct['idempotency-key']
  if (values === undefined) return undefined
  // Node would join two with ", ": a key neither client meant.
  if (values.length > 1) throw new AppError('INVALID', 'Idempotency-Key: given twice')
  if (!KEY.test(values[0] ?? '')) {
    throw new AppError('INVALID', 'Idempotency-Key: must be 1 to 100 printable ASCII characters')
  }
  return values[0]
}

/** Sends a create's answer; a repeat's says so (`Idempotent-Replayed`, as Stripe's do) for whoever reads the logs. */
export function sendAnswer<T>(reply: FastifyReply, answer: Answer<T>): FastifyReply {
  if (answer.replayed) reply.header('idempotent-replayed', 'true')
  return reply.status(answer.status).send(answer.body)
}
