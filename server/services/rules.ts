import type { ContactRequestStatus, LessonStatus, Role } from '../../src/contract'

/**
 * Who may move an item from one status to another. A transition not listed is INVALID; a listed one by a role
 * not listed is FORBIDDEN.
 */
export type TransitionTable<S extends string> = Record<S, Partial<Record<S, readonly Role[]>>>

export const LESSON_TRANSITIONS: TransitionTable<LessonStatus> = {
  pending: { confirmed: ['tutor'], cancelled: ['tutor', 'student'] },
  confirmed: { completed: ['tutor'], cancelled: ['tutor', 'student'] },
  cancelled: {},
  completed: {},
}

export const CONTACT_REQUEST_TRANSITIONS: TransitionTable<ContactRequestStatus> = {
  pending: { accepted: ['tutor'], declined: ['tutor'] },
  accepted: {},
  declined: {},
}

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
