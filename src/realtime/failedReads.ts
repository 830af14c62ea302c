import { answeredStatus } from '../api/answeredStatus'

/** What of a cached read this module looks at (RTK Query's `QuerySubState`). */
export interface FailedReadView {
  status?: string
  endpointName?: string
  originalArgs?: unknown
  error?: unknown
}

/** A read to make again: the endpoint and the argument it was made with. */
export interface ReadToMakeAgain {
  endpointName: string
  originalArgs: unknown
}

/**
 * Reads whose answer only their caller uses, merging it into another entry (the thread page's "Load earlier" merges
 * `getMessagesBefore` into `getMessages`): made again later, the answer would land where nothing reads it (and clear
 * the error the page shows for it, the earlier messages never appearing). The caller asks again itself.
 */
export const READS_FOR_THEIR_CALLER: ReadonlySet<string> = new Set(['getMessagesBefore'])

/**
 * Whether a read failed for want of the server (unreachable, no answer in time, a 5xx, its rate: a gateway's HTML page
 * of one too) rather than for what it asked (a 4xx, an answer that broke the contract): only the first can succeed
 * when made again unchanged. A 408 is the first kind (the request did not reach the server in time: the server
 * answers it to a trickling client, a proxy to a slow one), as a token refresh takes it.
 */
export function failedForWantOfServer(error: unknown): boolean {
  const status = (error as { status?: unknown } | null | undefined)?.status
  if (status === 'FETCH_ERROR' || status === 'TIMEOUT_ERROR') return true
  const answered = answeredStatus(error)
  return answered !== null && (answered >= 500 || answered === 429 || answered === 408)
}

/**
 * The reads to make again now that the server is reachable: those that failed for want of it and someone still
 * `watched` (by cache key: one nobody subscribes to, made again, would only be kept in the cache, each failure setting
 * its removal back), unless `covered` (a catch-up's invalidation reads it again already) or one only its caller uses
 * (`READS_FOR_THEIR_CALLER`).
 *
 * @example failedReadsToMakeAgain({ 'getLessons(undefined)': { status: 'rejected', endpointName: 'getLessons', error: { status: 503 } } }, () => false, () => true) // [{ endpointName: 'getLessons', originalArgs: undefined }]
 */
export function failedReadsToMakeAgain(
  queries: Readonly<Record<string, FailedReadView | undefined>>,
  covered: (queryCacheKey: string) => boolean,
  watched: (queryCacheKey: string) => boolean,
): ReadToMakeAgain[] {
  const reads: ReadToMakeAgain[] = []
  for (const [key, entry] of Object.entries(queries)) {
    if (entry?.status !== 'rejected' || entry.endpointName === undefined) continue
    if (READS_FOR_THEIR_CALLER.has(entry.endpointName)) continue
    if (!failedForWantOfServer(entry.error) || covered(key) || !watched(key)) continue
    reads.push({ endpointName: entry.endpointName, originalArgs: entry.originalArgs })
  }
  return reads
}
