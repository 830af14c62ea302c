export type * from '../../../src/contract'
export type { Session } from '../../../server/services'
