/**
 * Puts an entity into a cached list by id, keeping the newer of two versions (by `updatedAt`). Used after our own
 * mutations so the page is right even when the socket is down; the socket event that follows is then a no-op.
 */
export function upsertById<T extends { id: string; updatedAt: string }>(list: T[], item: T): void {
  const i = list.findIndex((x) => x.id === item.id)
  if (i === -1) list.push(item)
  else if (Date.parse(item.updatedAt) >= Date.parse(list[i]!.updatedAt)) list[i] = item
}

/** Orders by id as the server's `order by …, id` does (ids are ASCII, compared by code unit). */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
