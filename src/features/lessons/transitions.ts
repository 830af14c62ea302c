import type { Lesson, LessonStatus, User } from '../../contract'
import type { MessageId } from '../../i18n'

export interface LessonAction {
  label: Extract<MessageId, 'lessons.confirm' | 'lessons.complete' | 'lessons.cancel'>
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
  const cancel: LessonAction = { label: 'lessons.cancel', status: 'cancelled' }
  switch (lesson.status) {
    case 'pending':
      return isTutor ? [{ label: 'lessons.confirm', status: 'confirmed' }, cancel] : [cancel]
    case 'confirmed':
      return isTutor ? [{ label: 'lessons.complete', status: 'completed' }, cancel] : [cancel]
    default:
      return []
  }
}
