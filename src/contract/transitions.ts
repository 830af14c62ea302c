import type { ContactRequestStatus, LessonStatus, Role } from './entities'

/**
 * Who may move an item from one status to another (CONTRACT.md, "Who may change what"). A transition not listed is
 * INVALID; a listed one by a role not listed is FORBIDDEN. The server checks changes against it; the browser reads
 * from it whose doing a change was.
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

/**
 * The roles that may set `status`, from whichever status.
 *
 * @example settersOf(LESSON_TRANSITIONS, 'confirmed') // ['tutor']
 */
export function settersOf<S extends string>(table: TransitionTable<S>, status: S): Role[] {
  const roles = new Set<Role>()
  for (const to of Object.values<Partial<Record<S, readonly Role[]>>>(table))
    for (const role of to[status] ?? []) roles.add(role)
  return [...roles]
}
