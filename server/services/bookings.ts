import { randomUUID } from 'node:crypto'
import type * as v from 'valibot'
import type { ContactRequest, Id, Lesson, Role } from '../../src/contract'
import {
  conversationIdSchema,
  createContactRequestBodySchema,
  createLessonBodySchema,
  parseRequest,
  updateContactRequestStatusBodySchema,
  updateLessonStatusBodySchema,
} from '../../src/contract/requests'
import { AppError, forbidden, invalid, notFound } from '../errors'
import type { Queryable } from '../db'
import { replayPastBudget } from '../rateLimit'
import type { ServiceContext } from './context'
import { appendEvents, lockCounters, type LoggedEvent } from './eventLog'
import {
  fingerprintOf,
  isKeyTaken,
  keepAnswer,
  keyedRequest,
  storedAnswer,
  type Answer,
  type KeyedRequest,
} from './idempotency'
import { CONTACT_REQUEST_TRANSITIONS, LESSON_TRANSITIONS, checkTransition, type TransitionTable } from './rules'
import {
  CONTACT_REQUEST_COLUMNS,
  LESSON_COLUMNS,
  toContactRequest,
  toLesson,
  type ContactRequestRow,
  type LessonRow,
} from './rows'

/** A create's request, read: its body and what its Idempotency-Key asks for (undefined without one). */
interface CreateRequest<I> {
  input: I
  keyed: KeyedRequest | undefined
}

/** Lessons and contact requests: both link a student and a tutor and move through a status table. */
export function createBookings({ db, limiter, replayLookups, notifier, now }: ServiceContext) {
  /** The tutor's and the student's log entries for `event`, appended in the transaction of the change. */
  function logForBoth(tx: Queryable, event: LoggedEvent['event'], item: { tutorId: Id; studentId: Id }, at: string) {
    return appendEvents(
      tx,
      [item.tutorId, item.studentId].map((userId) => ({ userId, event, payload: item })),
      at,
    )
  }

  async function roleOf(userId: Id): Promise<Role | undefined> {
    const rows = await db.query<{ role: Role }>('select role from users where id = $1', [userId])
    return rows[0]?.role
  }

  /** The tutor asked for exists and is a tutor. */
  async function checkTutor(tutorId: Id): Promise<void> {
    if ((await roleOf(tutorId)) !== 'tutor') throw notFound('tutor')
  }

  /**
   * Applies a status change with the table's rules, row-locked so concurrent changes cannot both pass. The status asked
   * for is read from the body (`readStatus`) only once the item is known to be there and the user's: someone else's
   * item is FORBIDDEN and a missing one NOT_FOUND whatever the body says (authorization before validation).
   */
  async function changeStatus<S extends string, R extends { tutor_id: string; student_id: string; status: S }, E>(
    table: 'lessons' | 'contact_requests',
    columns: string,
    rules: TransitionTable<S>,
    userId: Id,
    id: Id,
    readStatus: () => S,
    toEntity: (row: R) => E & { tutorId: Id; studentId: Id },
    event: LoggedEvent['event'],
  ): Promise<{ entity: E; logged: LoggedEvent[] }> {
    // Who takes part never changes: read it first, so the log counters are locked before the row (the writers' order).
    const parties = await db.query<{ tutor_id: string; student_id: string }>(
      `select tutor_id, student_id from ${table} where id = $1`,
      [id],
    )
    if (!parties[0]) throw notFound(table === 'lessons' ? 'lesson' : 'contact request')
    // Refused before any lock: someone else's item must not make its parties' writes wait (nor wait for them).
    if (parties[0].tutor_id !== userId && parties[0].student_id !== userId) throw forbidden('not yours to change')
    const status = readStatus()
    return db.transaction(async (tx) => {
      await lockCounters(tx, [parties[0]!.tutor_id, parties[0]!.student_id])
      const rows = await tx.query<R>(`select ${columns} from ${table} where id = $1 for update`, [id])
      const row = rows[0]
      if (!row) throw notFound(table === 'lessons' ? 'lesson' : 'contact request')
      const role: Role | undefined =
        row.tutor_id === userId ? 'tutor' : row.student_id === userId ? 'student' : undefined
      if (!role) throw forbidden('not yours to change')
      const check = checkTransition(rules, row.status, status, role)
      if (check === 'invalid') throw new AppError('INVALID', `status: cannot go from ${row.status} to ${status}`)
      if (check === 'forbidden') throw forbidden(`the ${role} cannot set status ${status}`)
      const at = now().toISOString()
      // Clients keep the version with the later `updatedAt`: it only grows, whatever this node's clock says (another
      // node's may be behind, or this one stepped back), or the change would be ignored everywhere.
      const updated = await tx.query<R>(
        `update ${table} set status = $2,
                updated_at = greatest($3::timestamptz, updated_at + interval '1 millisecond')
          where id = $1 returning ${columns}`,
        [id, status, at],
      )
      const entity = toEntity(updated[0]!)
      return { entity, logged: await logForBoth(tx, event, entity, at) }
    })
  }

  /** The answer kept for a repeat of a keyed request (INVALID for another request under its key); undefined if new. */
  const replayOf = <T>(keyed: KeyedRequest | undefined): Promise<Answer<T> | undefined> =>
    keyed ? storedAnswer<T>(db, keyed, now()) : Promise.resolve(undefined)

  /**
   * The start of both creates: spends the user's write budget, a repeat's too (each costs a look-up), then checks that
   * the user is a student (a query: the budget pays for it, so a spent one costs the database nothing), and only then
   * reads the request (`read`: its body and its Idempotency-Key), so that a tutor's request is refused as such
   * whatever is wrong with it besides (authorization before validation: fixing its 400 would only lead to the 403).
   * Answers the request read and the answer kept for a repeat (undefined if new). Out of budget, a repeat is still
   * answered (a lost answer retried late), within the look-ups' own budget, as a send's replay is: a student's alone
   * are kept, so it needs no role; anything else, a request that cannot be read too, is RATE_LIMITED.
   */
  async function admitCreate<I, T>(
    userId: Id,
    what: string,
    read: () => CreateRequest<I>,
  ): Promise<{ replay: Answer<T> } | (CreateRequest<I> & { replay?: undefined })> {
    const budget = await limiter.tryTake(userId)
    if (budget.ok) {
      if ((await roleOf(userId)) !== 'student') throw forbidden(`only students can create ${what}`)
      const request = read()
      const replay = await replayOf<T>(request.keyed)
      return replay ? { replay } : request
    }
    let keyed: KeyedRequest | undefined
    try {
      keyed = read().keyed
    } catch (error) {
      if (!(error instanceof AppError)) throw error
    }
    const find = keyed && (() => replayOf<T>(keyed))
    return { replay: await replayPastBudget(replayLookups, userId, find, budget.retryAfterMs) }
  }

  /**
   * Creates what `insert` makes (answered 201) and logs `event` for both sides, at most once per Idempotency-Key:
   * the answer is kept with the row, in its transaction. The log counters are taken first, the student's among them,
   * as every create of the student's does: a concurrent request with the same key waits there until this one commits,
   * then finds its answer and creates nothing (the kept answers' primary key stands behind that, should it ever not).
   */
  async function createOnce<T extends { tutorId: Id; studentId: Id }>(
    parties: { tutorId: Id; studentId: Id },
    keyed: KeyedRequest | undefined,
    event: LoggedEvent['event'],
    insert: (tx: Queryable, at: string) => Promise<T>,
  ): Promise<Answer<T>> {
    const started = now()
    const at = started.toISOString()
    let created: { answer: Answer<T>; logged: LoggedEvent[] }
    try {
      created = await db.transaction(async (tx) => {
        await lockCounters(tx, [parties.tutorId, parties.studentId])
        const earlier = keyed && (await storedAnswer<T>(tx, keyed, started))
        if (earlier) return { answer: earlier, logged: [] }
        const item = await insert(tx, at)
        const answer: Answer<T> = { status: 201, body: item, replayed: false }
        if (keyed) await keepAnswer(tx, keyed, answer, started)
        return { answer, logged: await logForBoth(tx, event, item, at) }
      })
    } catch (error) {
      // Another request with this key was kept first: nothing of this one was, and its answer is this one's too.
      const theirs = keyed && isKeyTaken(error) ? await replayOf<T>(keyed) : undefined
      if (!theirs) throw error
      return theirs
    }
    notifier.deliver(created.logged)
    return created.answer
  }

  /** The status a PATCH body asks for; INVALID naming what is wrong with it. */
  function statusIn<S>(schema: v.GenericSchema<unknown, { status: S }>, body: unknown): S {
    const input = parseRequest(schema, body)
    if (!input.ok) throw invalid(input.issues)
    return input.value.status
  }

  function pathId(value: unknown, what: string): Id {
    const id = parseRequest(conversationIdSchema, value)
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

    /** Books a lesson for the student; a repeat under the same Idempotency-Key answers the first booking again. */
    async createLesson(
      userId: Id,
      body: unknown,
      idempotencyKeyOf: () => string | undefined = () => undefined,
    ): Promise<Answer<Lesson>> {
      const admitted = await admitCreate<v.InferOutput<typeof createLessonBodySchema>, Lesson>(
        userId,
        'lessons',
        () => {
          const idempotencyKey = idempotencyKeyOf()
          const input = parseRequest(createLessonBodySchema, body)
          if (!input.ok) throw invalid(input.issues)
          const { tutorId, subject, startsAt, durationMinutes } = input.value
          const keyed = keyedRequest(userId, idempotencyKey, () =>
            fingerprintOf('createLesson', [tutorId, subject, startsAt, durationMinutes]),
          )
          return { input: input.value, keyed }
        },
      )
      if (admitted.replay) return admitted.replay
      const { tutorId, subject, startsAt, durationMinutes } = admitted.input
      const keyed = admitted.keyed
      await checkTutor(tutorId)
      if (Date.parse(startsAt) <= now().getTime()) throw new AppError('INVALID', 'startsAt: must be in the future')
      return createOnce({ tutorId, studentId: userId }, keyed, 'lesson:created', async (tx, at) => {
        const rows = await tx.query<LessonRow>(
          `insert into lessons (id, tutor_id, student_id, subject, starts_at, duration_minutes, status, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) returning ${LESSON_COLUMNS}`,
          [randomUUID(), tutorId, userId, subject, new Date(startsAt).toISOString(), durationMinutes, at],
        )
        return toLesson(rows[0]!)
      })
    },

    async updateLessonStatus(userId: Id, lessonId: unknown, body: unknown): Promise<Lesson> {
      const id = pathId(lessonId, 'lesson')
      await limiter.take(userId)
      const { entity, logged } = await changeStatus<Lesson['status'], LessonRow, Lesson>(
        'lessons',
        LESSON_COLUMNS,
        LESSON_TRANSITIONS,
        userId,
        id,
        () => statusIn(updateLessonStatusBodySchema, body),
        toLesson,
        'lesson:statusUpdated',
      )
      notifier.deliver(logged)
      return entity
    },

    async listContactRequests(userId: Id): Promise<ContactRequest[]> {
      const rows = await db.query<ContactRequestRow>(
        `select ${CONTACT_REQUEST_COLUMNS} from contact_requests where tutor_id = $1 or student_id = $1
         order by created_at desc, id`,
        [userId],
      )
      return rows.map(toContactRequest)
    },

    /** Sends a contact request to a tutor; a repeat under the same Idempotency-Key answers the first one again. */
    async createContactRequest(
      userId: Id,
      body: unknown,
      idempotencyKeyOf: () => string | undefined = () => undefined,
    ): Promise<Answer<ContactRequest>> {
      const admitted = await admitCreate<v.InferOutput<typeof createContactRequestBodySchema>, ContactRequest>(
        userId,
        'contact requests',
        () => {
          const idempotencyKey = idempotencyKeyOf()
          const input = parseRequest(createContactRequestBodySchema, body)
          if (!input.ok) throw invalid(input.issues)
          const { tutorId, message } = input.value
          const keyed = keyedRequest(userId, idempotencyKey, () =>
            fingerprintOf('createContactRequest', [tutorId, message]),
          )
          return { input: input.value, keyed }
        },
      )
      if (admitted.replay) return admitted.replay
      const { tutorId, message } = admitted.input
      const keyed = admitted.keyed
      await checkTutor(tutorId)
      return createOnce({ tutorId, studentId: userId }, keyed, 'contactRequest:created', async (tx, at) => {
        // One unanswered request per student and tutor: repeats would fill the tutor's list with the same ask. Read
        // under the counters' lock createOnce holds, the student's among them, so two at once cannot both pass.
        const pending = await tx.query(
          `select 1 from contact_requests where student_id = $1 and tutor_id = $2 and status = 'pending' limit 1`,
          [userId, tutorId],
        )
        if (pending.length > 0) throw new AppError('INVALID', 'tutorId: a request to this tutor is already pending')
        const rows = await tx.query<ContactRequestRow>(
          `insert into contact_requests (id, student_id, tutor_id, message, status, created_at, updated_at)
           values ($1, $2, $3, $4, 'pending', $5, $5) returning ${CONTACT_REQUEST_COLUMNS}`,
          [randomUUID(), userId, tutorId, message, at],
        )
        return toContactRequest(rows[0]!)
      })
    },

    async updateContactRequestStatus(userId: Id, requestId: unknown, body: unknown): Promise<ContactRequest> {
      const id = pathId(requestId, 'contact request')
      await limiter.take(userId)
      const { entity, logged } = await changeStatus<ContactRequest['status'], ContactRequestRow, ContactRequest>(
        'contact_requests',
        CONTACT_REQUEST_COLUMNS,
        CONTACT_REQUEST_TRANSITIONS,
        userId,
        id,
        () => statusIn(updateContactRequestStatusBodySchema, body),
        toContactRequest,
        'contactRequest:statusUpdated',
      )
      notifier.deliver(logged)
      return entity
    },
  }
}

export type Bookings = ReturnType<typeof createBookings>
