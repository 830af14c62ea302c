import type { ApiError } from '../../../src/contract'

export type * from '../../../src/contract'
export type { Session } from '../../../server/services'

/** The body of every HTTP error (`errorBodySchema` in the contract): `{ error: { code, message } }`. */
export interface ErrorBody {
  error: ApiError
}
