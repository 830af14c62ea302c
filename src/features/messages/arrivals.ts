/**
 * Which messages are news since the last look, and the newest stored `seq` to compare with next time. News is a
 * stored message from someone else beyond the newest one seen before: older pages loaded above are not news, nor is
 * what a thread shows when it opens (`newestSeen` is `null` on the first look), nor our own messages.
 *
 * @example arrivedFromOthers(4, [m4, m5FromBob], me.id) // { fresh: [m5FromBob], newest: 5 }
 */
export function arrivedFromOthers<M extends { seq: number; senderId: string; status?: string }>(
  newestSeen: number | null,
  messages: readonly M[],
  me: string | null,
): { fresh: M[]; newest: number } {
  const stored = messages.filter((m) => m.status === undefined || m.status === 'sent')
  const newest = stored.reduce((max, m) => Math.max(max, m.seq), newestSeen ?? 0)
  if (newestSeen === null) return { fresh: [], newest }
  return { fresh: stored.filter((m) => m.seq > newestSeen && m.senderId !== me), newest }
}
