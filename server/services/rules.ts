import type { Role, TransitionTable } from '../../src/contract'

// The tables are the contract's (`src/contract/transitions.ts`): the browser reads them too.
export { CONTACT_REQUEST_TRANSITIONS, LESSON_TRANSITIONS, type TransitionTable } from '../../src/contract'

export type TransitionCheck = 'ok' | 'invalid' | 'forbidden'

/** @example checkTransition(LESSON_TRANSITIONS, 'pending', 'confirmed', 'student') // 'forbidden' */
export function checkTransition<S extends string>(
  table: TransitionTable<S>,
  from: S,
  to: S,
  role: Role,
): TransitionCheck {
  const allowed = table[from][to]
  if (!allowed) return 'invalid'
  return allowed.includes(role) ? 'ok' : 'forbidden'
}
