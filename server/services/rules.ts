import { settersOf, type Role, type TransitionTable } from '../../src/contract'

// The tables are the contract's (`src/contract/transitions.ts`): the browser reads them too.
export { CONTACT_REQUEST_TRANSITIONS, LESSON_TRANSITIONS, type TransitionTable } from '../../src/contract'

export type TransitionCheck = 'ok' | 'invalid' | 'forbidden'

/**
 * Whether `role` may move an item from `from` to `to`. A status that another role alone ever sets is FORBIDDEN to this
 * one whatever the item's status now (a student never answers a contact request, an answered one neither): INVALID,
 * "cannot go from accepted to declined", would say it could have while it was pending.
 *
 * @example checkTransition(LESSON_TRANSITIONS, 'pending', 'confirmed', 'student') // 'forbidden'
 * @example checkTransition(CONTACT_REQUEST_TRANSITIONS, 'accepted', 'declined', 'student') // 'forbidden'
 */
export function checkTransition<S extends string>(
  table: TransitionTable<S>,
  from: S,
  to: S,
  role: Role,
): TransitionCheck {
  const setters = settersOf(table, to)
  if (setters.length > 0 && !setters.includes(role)) return 'forbidden'
  const allowed = table[from][to]
  if (!allowed) return 'invalid'
  return allowed.includes(role) ? 'ok' : 'forbidden'
}
