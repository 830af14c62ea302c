// Where a logged event stands against the offset the store has applied: pure, so it is tested as a table and the
// runner (`resumeHandler.ts`) only keeps the held list, a timer and the dispatches.

/** A logged event waiting for the ones before it. */
export interface HeldEvent<A> {
  offset: number
  action: A
}

/** What the gate decides: the events to dispatch now (in offset order) and what stays held (never changed in place). */
export interface GateResult<A> {
  release: A[]
  held: readonly HeldEvent<A>[]
}

/**
 * Takes the held events that follow `applied` without a hole off the front of `held` (sorted by offset); drops those
 * at or below it, which were applied already.
 */
function releaseFrom<A>(applied: number, held: readonly HeldEvent<A>[]): GateResult<A> {
  const release: A[] = []
  let next = applied + 1
  let i = 0
  for (; i < held.length; i++) {
    const h = held[i]!
    if (h.offset < next) continue
    if (h.offset !== next) break
    release.push(h.action)
    next++
  }
  return { release, held: held.slice(i) }
}

/**
 * A logged event arrived with `offset`. At or below `applied` (a duplicate, a replay of something applied): nothing.
 * At `applied + 1`: it, then every held event that now follows. Above: held until the hole fills. Before the first
 * `sync:*` of the store (`applied` null) everything is held: the offset to count from is not known yet.
 *
 * @example gateLogged(4, [{ offset: 6, action: e6 }], 5, e5) // { release: [e5, e6], held: [] }
 */
export function gateLogged<A>(
  applied: number | null,
  held: readonly HeldEvent<A>[],
  offset: number,
  action: A,
): GateResult<A> {
  if (applied !== null && offset <= applied) return { release: [], held }
  // The next one with nothing held: every live event but the first after a hole (a burst is thousands of them).
  if (held.length === 0 && applied !== null && offset === applied + 1) return { release: [action], held }
  if (held.some((h) => h.offset === offset)) return { release: [], held }
  const next = [...held]
  let i = next.length
  while (i > 0 && next[i - 1]!.offset > offset) i--
  next.splice(i, 0, { offset, action })
  return applied === null ? { release: [], held: next } : releaseFrom(applied, next)
}

/**
 * The store now stands at `applied` (a `sync:caughtUp` or `sync:gap` adopted): held events above it that follow
 * without a hole go out, those at or below it are dropped.
 *
 * @example gateSynced(5, [{ offset: 3, action: e3 }, { offset: 6, action: e6 }]) // { release: [e6], held: [] }
 */
export function gateSynced<A>(applied: number, held: readonly HeldEvent<A>[]): GateResult<A> {
  return releaseFrom(applied, held)
}
