import { randomUUID } from 'node:crypto'
import {
  conversationIdSchema,
  createContactRequestBodySchema,
  createLessonBodySchema,
  parse,
  updateContactRequestStatusBodySchema,
  updateLessonStatusBodySchema,
  type ContactRequest,
  type Id,
  type Lesson,
  type Role,
} from '../../src/contract'
import { AppError, forbidden, invalid, notFound } from '../errors'
import type { ServiceContext } from './context'
import { CONTACT_REQUEST_TRANSITIONS, LESSON_TRANSITIONS, checkTransition, type TransitionTable } from './rules'
import {
  CONTACT_REQUEST_COLUMNS,
  LESSON_COLUMNS,
  toContactRequest,
  toLesson,
  type ContactRequestRow,
  type LessonRow,
} from './rows'

/** Lessons and contact requests: both link a student and a tutor and move through a status table. */
export function createBookings({ db, limiter, notifier, now }: ServiceContext) {
  async function roleOf(userId: Id): Promise<Role | undefined> {
    const rows = await db.query<{ role: Role }>('select role from users where id = $1', [userId])
    return rows[0]?.role
  }

  /** The student asking, and a tutor that exists: the common checks of both "create" operations. */
  async function checkStudentAndTutor(userId: Id, tutorId: Id, what: string): Promise<void> {
    if ((await roleOf(userId)) !== 'student') throw forbidden(`only students can create ${what}`)
    if ((await roleOf(tutorId)) !== 'tutor') throw notFound('tutor')
  }

  /** Applies a status change with the table's rules, row-locked so concurrent changes cannot both pass. */
  async function changeStatus<S extends string, R extends { tutor_id: string; student_id: string; status: S }>(
    table: 'lessons' | 'contact_requests',
    columns: string,
    rules: TransitionTable<S>,
    userId: Id,
    id: Id,
    status: S,
  ): Promise<R> {
    return db.transaction(async (tx) => {
      const rows = await tx.query<R>(`select ${columns} from ${table} where id = $1 for update`, [id])
      const row = rows[0]
      if (!row) throw notFound(table === 'lessons' ? 'lesson' : 'contact request')
      const role: Role | undefined = row.tutor_id === userId ? 'tutor' : row.student_id === userId ? 'student' : undefined
      if (!role) throw forbidden('not yours to change')
      const check = checkTransition(rules, row.status, status, role)
      if (check === 'invalid') throw new AppError('INVALID', `status: cannot go from ${row.status} to ${status}`)
      if (check === 'forbidden') throw forbidden(`the ${role} cannot set status ${status}`)
      const updated = await tx.query<R>(
        `update ${table} set status = $2, updated_at = $3 where id = $1 returning ${columns}`,
        [id, status, now().toISOString()],
      )
      return updated[0]!
    })
  }

  function pathId(value: unknown, what: string): Id {
    const id = parse(conversationIdSchema, value)
    if (!id.ok) throw notFound(what)
    return id.value
  }

  return {
    async listLessons(userId: Id): Promise<Lesson[]> {
      const rows = await db.query<LessonRow>(
        `select ${LESSON_COLUMNS} from lessons where tutor_id = $1 or student_id = $1 order by starts_at, id`,
        [userId],
      )
      return rows.map(toLesson)
    },

    async createLesson(userId: Id, body: unknown): Promise<Lesson> {
      const input = parse(createLessonBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      limiter.take(userId)
      const { tutorId, subject, startsAt, durationMinutes } = input.value
      if (Date.parse(startsAt) <= now().getTime()) throw new AppError('INVALID', 'startsAt: must be in the future')
      await checkStudentAndTutor(userId, tutorId, 'lessons')
      const at = now().toISOString()
      const rows = await db.query<LessonRow>(
        `insert into lessons (id, tutor_id, student_id, subject, starts_at, duration_minutes, status, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) returning ${LESSON_COLUMNS}`,
        [randomUUID(), tutorId, userId, subject, new Date(startsAt).toISOString(), durationMinutes, at],
      )
      const lesson = toLesson(rows[0]!)
      notifier.lesson('lesson:created', lesson)
      return lesson
    },

    async updateLessonStatus(userId: Id, lessonId: unknown, body: unknown): Promise<Lesson> {
      const input = parse(updateLessonStatusBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      const id = pathId(lessonId, 'lesson')
      limiter.take(userId)
      const row = await changeStatus<Lesson['status'], LessonRow>(
        'lessons', LESSON_COLUMNS, LESSON_TRANSITIONS, userId, id, input.value.status,
      )
      const lesson = toLesson(row)
      notifier.lesson('lesson:statusUpdated', lesson)
      return lesson
    },

    async listContactRequests(userId: Id): Promise<ContactRequest[]> {
      const rows = await db.query<ContactRequestRow>(
        `select ${CONTACT_REQUEST_COLUMNS} from contact_requests where tutor_id = $1 or student_id = $1
         order by created_at desc, id`,
        [userId],
      )
      return rows.map(toContactRequest)
    },

    async createContactRequest(userId: Id, body: unknown): Promise<ContactRequest> {
      const input = parse(createContactRequestBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      limiter.take(userId)
      const { tutorId, message } = input.value
      await checkStudentAndTutor(userId, tutorId, 'contact requests')
      const at = now().toISOString()
      const rows = await db.query<ContactRequestRow>(
        `insert into contact_requests (id, student_id, tutor_id, message, status, created_at, updated_at)
         values ($1, $2, $3, $4, 'pending', $5, $5) returning ${CONTACT_REQUEST_COLUMNS}`,
        [randomUUID(), userId, tutorId, message, at],
      )
      const request = toContactRequest(rows[0]!)
      notifier.contactRequest('contactRequest:created', request)
      return request
    },

    async updateContactRequestStatus(userId: Id, requestId: unknown, body: unknown): Promise<ContactRequest> {
      const input = parse(updateContactRequestStatusBodySchema, body)
      if (!input.ok) throw invalid(input.issues)
      const id = pathId(requestId, 'contact request')
      limiter.take(userId)
      const row = await changeStatus<ContactRequest['status'], ContactRequestRow>(
        'contact_requests', CONTACT_REQUEST_COLUMNS, CONTACT_REQUEST_TRANSITIONS, userId, id, input.value.status,
      )
      const request = toContactRequest(row)
      notifier.contactRequest('contactRequest:statusUpdated', request)
      return request
    },
  }
}

export type Bookings = ReturnType<typeof createBookings>
