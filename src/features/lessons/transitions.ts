import type { Lesson, LessonStatus, User } from '../../contract'

export interface LessonAction {
  label: 'Confirm' | 'Complete' | 'Cancel lesson'
  status: LessonStatus
}

/**
 * The buttons a user gets for a lesson, from the contract's table: `pending → confirmed | cancelled`,
 * `confirmed → completed | cancelled`; the tutor confirms and completes, either side cancels.
 *
 * @example lessonActions({ ...lesson, status: 'pending' }, tutor) // [Confirm, Cancel lesson]
 */
export function lessonActions(lesson: Lesson, me: User): LessonAction[] {
  const isTutor = lesson.tutorId === me.id
  const isStudent = lesson.studentId === me.id
  if (!isTutor && !isStudent) return []
  const cancel: LessonAction = { label: 'Cancel lesson', status: 'cancelled' }
  switch (lesson.status) {
    case 'pending':
      return isTutor ? [{ label: 'Confirm', status: 'confirmed' }, cancel] : [cancel]
    case 'confirmed':
      return isTutor ? [{ label: 'Complete', status: 'completed' }, cancel] : [cancel]
    default:
      return []
  }
}
