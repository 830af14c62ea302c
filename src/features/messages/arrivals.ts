/** What a thread showed at the last look: the lowest stored `seq` then, and every stored `seq` it held. */
export interface ThreadLook {
  floor: number
  seqs: ReadonlySet<number>
}

/**
 * Which messages are news since the last look, and the look to compare with next time. News is a stored message from
 * someone else that the last look did not hold, above the lowest one it held: older pages loaded above are not news,
 * nor is what a thread shows when it opens (`last` is `null` on the first look), nor our own messages. A message below
 * the newest seen can be news: a thread read again (a gap, a reconnect) brings what came while the stream was away,
 * and a message that came live meanwhile may already be shown.
 *
 * @example arrivedFromOthers({ floor: 1, seqs: new Set([1, 4]) }, [m1, m2FromBob, m4], me.id).fresh // [m2FromBob]
 */
export function arrivedFromOthers<M extends { seq: number; senderId: string; status?: string }>(
  last: ThreadLook | null,
  messages: readonly M[],
  me: string | null,
): { fresh: M[]; look: ThreadLook } {
  const stored = messages.filter((m) => m.status === undefined || m.status === 'sent')
  const seqs = new Set(stored.map((m) => m.seq))
  const floor = stored.reduce((min, m) => Math.min(min, m.seq), Number.POSITIVE_INFINITY)
  // A look at a thread with nothing stored yet: whatever comes next is news.
  const look = { floor: Number.isFinite(floor) ? floor : 0, seqs }
  if (last === null) return { fresh: [], look }
  return {
    fresh: stored.filter((m) => m.seq > last.floor && !last.seqs.has(m.seq) && m.senderId !== me),
    look,
  }
}
