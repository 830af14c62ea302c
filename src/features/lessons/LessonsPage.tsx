import { useId, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react'
import { FormattedMessage } from 'react-intl'
import { api, serverTime } from '../../api'
import { useCreateLessonMutation, useGetLessonsQuery, useUpdateLessonStatusMutation } from '../../api/hooks'
import { selectUser } from '../../app/authSlice'
import { useAppDispatch, useAppSelector, useAppStore } from '../../app/hooks'
import {
  characterCount,
  LESSON_TRANSITIONS,
  LESSON_YEARS,
  MAX_LESSON_SUBJECT_LENGTH,
  type Lesson,
  type LessonStatus,
  type User,
} from '../../contract'
import { useDates, useT, type MessageId } from '../../i18n'
import { useMadeDespiteLostAnswer } from '../shared/answerLost'
import { byId, upsertById } from '../shared/cache'
import { ConfirmStep, useConfirmStep } from '../shared/confirmStep'
import { FieldError, FormError, LoadError, TutorField, useGoneTutor } from '../shared/controls'
import { errorCode, invalidFields } from '../shared/errors'
import { type FieldTextProblem, fieldTextProblem } from '../shared/fieldText'
import { useFieldWords } from '../shared/fieldWords'
import { toDateTimeLocal } from '../shared/format'
import { stillAt, useCardKeepsFocus } from '../shared/keepFocus'
import { usePeople } from '../shared/people'
import { readAfterUnderWay, useStatusChange } from '../shared/statusChange'
import { useStatusSaid } from '../shared/statusSaid'
import { useForgetOnReconnect } from '../shared/reconnected'
import { useSubmissionKeys } from '../shared/submissionKeys'
import { useDraftField } from '../messages/drafts'
import { lessonActions } from './transitions'

const DURATIONS = [30, 45, 60, 90, 120]

const STATUS: Record<LessonStatus, MessageId> = {
  pending: 'lessons.status.pending',
  confirmed: 'lessons.status.confirmed',
  cancelled: 'lessons.status.cancelled',
  completed: 'lessons.status.completed',
}

const SUBJECT_REFUSED: Record<FieldTextProblem, MessageId> = {
  empty: 'lessons.subjectBlank',
  control: 'lessons.subjectControl',
  tooLong: 'lessons.subjectTooLong',
}

/** Why the date field holds a booking back. */
const WHEN_REFUSED = {
  past: 'lessons.whenPast',
  outOfYears: 'lessons.whenOutOfYears',
  skipped: 'lessons.whenSkipped',
} as const satisfies Record<string, MessageId>

/** A status nothing leaves (the contract's table): a change to it cannot be undone, so the card asks once more. */
const isFinal = (status: LessonStatus): status is FinalStatus => Object.keys(LESSON_TRANSITIONS[status]).length === 0
type FinalStatus = Extract<LessonStatus, 'cancelled' | 'completed'>

/** The question asked before each final change, and its answers. */
const ASKED_FIRST: Record<FinalStatus, { ask: MessageId; yes: MessageId; no: MessageId }> = {
  cancelled: { ask: 'lessons.cancelAsk', yes: 'lessons.cancelYes', no: 'lessons.cancelNo' },
  completed: { ask: 'lessons.completeAsk', yes: 'lessons.completeYes', no: 'lessons.completeNo' },
}

const isOpen = (l: Lesson) => l.status === 'pending' || l.status === 'confirmed'

/**
 * Open lessons (pending, confirmed) first, soonest first; then the closed ones, most recent first. Lessons at the same
 * moment go by id, as the server lists them: in the cache's order, one that came by its event would swap places with
 * the other at the next read.
 */
export function sortLessons(lessons: readonly Lesson[]): Lesson[] {
  const at = (l: Lesson) => Date.parse(l.startsAt) || 0
  return [...lessons].sort(
    (a, b) =>
      (isOpen(a) !== isOpen(b) ? (isOpen(a) ? -1 : 1) : isOpen(a) ? at(a) - at(b) : at(b) - at(a)) || byId(a, b),
  )
}

/** Lessons; students book, tutors confirm and complete, either side cancels. */
export function LessonsPage() {
  const t = useT()
  const me = useAppSelector(selectUser)!
  const { data: lessons, isLoading, isFetching, error, refetch } = useGetLessonsQuery()
  const sorted = useMemo(() => sortLessons(lessons ?? []), [lessons])

  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('lessons.title')}</h1>
      {me.role === 'student' && <BookLesson />}
      <section aria-labelledby="lessons-list">
        <h2 id="lessons-list">{t(me.role === 'student' ? 'lessons.listStudent' : 'lessons.listTutor')}</h2>
        {isLoading && <p className="muted">{t('lessons.loading')}</p>}
        {error && <LoadError error={error} retry={refetch} fetching={isFetching} />}
        {lessons && sorted.length === 0 && <p className="muted">{t('lessons.empty')}</p>}
        <ul className="cards" data-testid="lesson-list">
          {sorted.map((l) => (
            <LessonCard key={l.id} lesson={l} me={me} />
          ))}
        </ul>
      </section>
    </div>
  )
}

function LessonCard({ lesson, me }: { lesson: Lesson; me: User }) {
  const t = useT()
  const dates = useDates()
  const cardRef = useRef<HTMLLIElement>(null)
  const dispatch = useAppDispatch()
  const people = usePeople()
  const [update, { isLoading }] = useUpdateLessonStatusMutation()
  const other = lesson.tutorId === me.id ? lesson.studentId : lesson.tutorId
  const titleId = useId()

  // Every change of the status is said once it is drawn, the user's own and the other person's.
  const statusDrawn = useStatusSaid(
    lesson.status,
    t('toast.lessonStatus', { subject: lesson.subject, name: people.nameInSentence(other), status: lesson.status }),
  )
  // The status as the server has it now, read again after a refusal.
  const rereadStatus = async () =>
    (
      await readAfterUnderWay(
        () => dispatch(api.util.getRunningQueryThunk('getLessons', undefined)),
        // A failed read rejects: the card's status is then not known.
        () => dispatch(api.endpoints.getLessons.initiate(undefined, { subscribe: false, forceRefetch: true })).unwrap(),
      )
    ).find((x) => x.id === lesson.id)?.status
  const { attempt, forget, error, changedMeanwhile, gone, unread } = useStatusChange(
    lesson.status,
    rereadStatus,
    t('lessons.changedMeanwhile'),
  )
  const change = async (status: Lesson['status']) => {
    // A second press while the first change runs (the button is only aria-disabled) changes nothing.
    if (isLoading) return
    const updated = await attempt(status, () => update({ id: lesson.id, status }).unwrap())
    if (!updated) return
    // The button pressed is gone (the status changed): the card itself keeps the keyboard user's place, once the list
    // has its new order (focusing it before the re-sort moves it would lose focus in a browser).
    focusAfterChange.current = updated.status
    dispatch(api.util.updateQueryData('getLessons', undefined, (draft) => upsertById(draft, updated)))
    // Drawn with it already (the socket's event came before the answer): no new drawing will come for it.
    if (statusDrawn.current === updated.status) {
      focusAfterChange.current = null
      if (stillAt(cardRef.current)) cardRef.current?.focus()
    }
  }
  /** The status a change of this card's is waiting to see drawn, before it focuses the card. */
  const focusAfterChange = useRef<LessonStatus | null>(null)
  useLayoutEffect(() => {
    if (focusAfterChange.current !== lesson.status) return
    focusAfterChange.current = null
    if (stillAt(cardRef.current)) cardRef.current?.focus()
  }, [lesson.status])
  // Cancelling and completing cannot be undone: asked once more (before the card's focus keeping, see
  // `useConfirmStep`).
  const confirmStep = useConfirmStep(lesson.status, cardRef)
  const asking = confirmStep.asking !== null && isFinal(confirmStep.asking) ? confirmStep.asking : null
  // A button the keyboard user is on that goes for another cause (the other person's change, another tab's) hands
  // focus to the card too.
  const keepFocus = useCardKeepsFocus(cardRef)

  return (
    <li
      className="card"
      data-testid="lesson"
      data-lesson-id={lesson.id}
      aria-labelledby={titleId}
      tabIndex={-1}
      ref={cardRef}
    >
      <div className="card-head">
        <h3 id={titleId} dir="auto">
          {lesson.subject}
        </h3>
        <span className={`status status-${lesson.status}`} data-testid="lesson-status">
          {t(STATUS[lesson.status])}
        </span>
      </div>
      <p className="card-meta">
        <FormattedMessage
          id="lessons.meta"
          values={{
            name: <bdi>{people.nameInSentence(other)}</bdi>,
            when: <time dateTime={lesson.startsAt}>{dates.dateTime(lesson.startsAt)}</time>,
            minutes: lesson.durationMinutes,
          }}
        />
      </p>
      {/* Gone from the server: nothing left to change (the buttons' going hands focus to the card). */}
      {gone ? null : asking !== null ? (
        <ConfirmStep
          question={
            <FormattedMessage
              id={ASKED_FIRST[asking].ask}
              values={{ subject: <bdi>{lesson.subject}</bdi>, name: <bdi>{people.nameInSentence(other)}</bdi> }}
            />
          }
          yes={t(ASKED_FIRST[asking].yes)}
          no={t(ASKED_FIRST[asking].no)}
          busy={isLoading}
          onYes={() => change(asking)}
          onNo={() => {
            confirmStep.back()
            forget()
          }}
          keepFocus={keepFocus}
        />
      ) : (
        lessonActions(lesson, me).length > 0 && (
          <div className="card-actions">
            {lessonActions(lesson, me).map((a) => (
              <button
                key={a.status}
                ref={keepFocus}
                type="button"
                className={`btn btn-small${a.status === 'cancelled' ? '' : ' btn-primary'}`}
                data-action={a.status}
                // aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>, and a
                // refused change (the other person's came first) would leave the keyboard user nowhere.
                aria-disabled={isLoading || undefined}
                aria-describedby={titleId}
                onClick={() => {
                  if (!isFinal(a.status)) return change(a.status)
                  // A refusal of another change, left under the question, would read as its answer.
                  forget()
                  confirmStep.ask(a.status)
                }}
              >
                {t(a.label)}
              </button>
            ))}
          </div>
        )
      )}
      <FormError error={error} words={gone ? t('lessons.gone') : unread ? t('lessons.notChangedUnread') : undefined} />
      {/* Refused because the other side's change came first: the card shows the new status, and why the user's did not
          happen. */}
      {changedMeanwhile && (
        <p className="muted" data-testid="changed-meanwhile">
          {t('lessons.changedMeanwhile')}
        </p>
      )}
    </li>
  )
}

/**
 * The last moment the booking form can send (its field is to the minute): the contract's last year ends in UTC, which
 * west of UTC is the evening of its last day, east of it the morning after. Said on the user's clock, as typed.
 */
const LAST_LESSON_MINUTE = new Date(Date.UTC(LESSON_YEARS.max, 11, 31, 23, 59)).toISOString()

function defaultStart(): string {
  const d = new Date(Date.now() + 24 * 3600_000)
  d.setHours(10, 0, 0, 0)
  return toDateTimeLocal(d)
}

const selectCachedLessons = api.endpoints.getLessons.select()

/** What the booking form asks the server for. */
interface Booking {
  tutorId: string
  subject: string
  startsAt: string
  durationMinutes: number
}

/** Whether `lesson` is what `booking` asked for (the server writes the instant its own way). */
const sameBooking = (lesson: Lesson, booking: Booking) =>
  lesson.tutorId === booking.tutorId &&
  lesson.subject === booking.subject &&
  lesson.durationMinutes === booking.durationMinutes &&
  Date.parse(lesson.startsAt) === Date.parse(booking.startsAt)

function BookLesson() {
  const t = useT()
  const dispatch = useAppDispatch()
  const id = useId()
  const dates = useDates()
  const { tutors, nameInSentence } = usePeople()
  // What the student chose and typed waits while they are on another page, and through "Log in again".
  const [tutorId, setTutorId] = useDraftField('booking.tutorId', '')
  const goneTutor = useGoneTutor()
  const [subject, setSubject] = useDraftField('booking.subject', '')
  const [startsAt, setStartsAt] = useDraftField('booking.startsAt', defaultStart)
  const [duration, setDuration] = useDraftField('booking.duration', 60)
  const [booked, setBooked] = useState<{ id: string; subject: string } | null>(null)
  // "Waiting for the tutor" holds while the lesson is pending: once answered (or cancelled) the card says what it is.
  const bookedNow = useAppSelector((state) =>
    booked ? selectCachedLessons(state).data?.find((l) => l.id === booked.id) : undefined,
  )
  const stillWaiting = booked !== null && (bookedNow === undefined || bookedNow.status === 'pending')
  const [create, { isLoading, error, reset }] = useCreateLessonMutation()
  useForgetOnReconnect(error, isLoading, reset)
  const keys = useSubmissionKeys()
  const store = useAppStore()
  const lessons = useAppSelector((state) => selectCachedLessons(state).data)
  // A booking made whose answer was lost: its event brought the lesson, and it was booked, not out of reach.
  const lostAnswer = useMadeDespiteLostAnswer(lessons, (lesson, asked: Booking) => sameBooking(lesson, asked), {
    busy: isLoading,
    made: (lesson, asked) => {
      keys.succeeded(asked)
      reset()
      setSubject((now) => (now.trim() === asked.subject ? '' : now))
      setBooked({ id: lesson.id, subject: lesson.subject })
    },
  })
  /**
   * A subject the server would refuse, by its own rule: only spaces or characters nobody sees (the browser's `required`
   * lets them through), or a control character pasted in.
   */
  const [subjectRefused, setSubjectRefused] = useState<FieldTextProblem | null>(null)
  const subjectRef = useRef<HTMLInputElement>(null)
  /**
   * A moment already gone, past the contract's last year, or in the hour the clocks skip, said on the date field
   * rather than as the form's "Check what you entered" (or booked at another time).
   */
  const [whenRefused, setWhenRefused] = useState<keyof typeof WHEN_REFUSED | null>(null)
  const whenRef = useRef<HTMLInputElement>(null)
  /**
   * Each refusal said on a field, counted: its alert is drawn anew at each, so that Enter pressed again in the field
   * (focus already there, nothing changed) is answered aloud, as the composer's is.
   */
  const [refusals, setRefusals] = useState(0)
  useFieldWords(subjectRef)
  useFieldWords(whenRef)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (isLoading) return
    setBooked(null)
    const subjectProblem = fieldTextProblem(subject.trim(), MAX_LESSON_SUBJECT_LENGTH)
    if (subjectProblem) {
      // Said on the field, and nothing sent: the user's place goes to what needs fixing.
      setSubjectRefused(subjectProblem)
      setRefusals((n) => n + 1)
      subjectRef.current?.focus()
      return
    }
    if (!tutorId || startsAt === '') return
    // The tutor just refused as gone: sent again, it would be refused the same way. The place goes to the field that
    // says so, and names another choice.
    if (tutorId === goneTutor.gone) {
      goneTutor.selectRef.current?.focus()
      return
    }
    const when = new Date(startsAt)
    // "Past" by the server's clock, which judges it: this browser's may be minutes off. The year the server reads is
    // the sent instant's, in UTC. A year of five digits, which the date field takes (up to 275760) and `new Date`
    // cannot read, is past the last one too.
    const refused = Number.isNaN(when.getTime())
      ? 'outOfYears'
      : when.getTime() <= dispatch(serverTime())
        ? 'past'
        : when.getUTCFullYear() > LESSON_YEARS.max
          ? 'outOfYears'
          : // The hour the clocks skip (02:30 the night they go forward): read as an hour later, it would be booked so.
            toDateTimeLocal(when) !== startsAt.slice(0, 16)
            ? 'skipped'
            : null
    if (refused) {
      setWhenRefused(refused)
      setRefusals((n) => n + 1)
      whenRef.current?.focus()
      return
    }
    const instant = when.toISOString()
    const booking: Booking = { tutorId, subject: subject.trim(), startsAt: instant, durationMinutes: duration }
    goneTutor.clear()
    lostAnswer.forget()
    const listedBefore = selectCachedLessons(store.getState()).data
    const lesson = await create({ ...booking, idempotencyKey: keys.keyFor(booking) })
      .unwrap()
      .catch((refusal: unknown) => {
        lostAnswer.failed(refusal, booking, listedBefore)
        // Gone by the server's clock, which a browser's behind it cannot tell (nor a moment that passed on the way).
        // The years were checked above as the server reads them, so the past is all it can mean.
        if (invalidFields(refusal).includes('startsAt')) {
          setWhenRefused('past')
          setRefusals((n) => n + 1)
          whenRef.current?.focus()
        }
        goneTutor.refused(refusal, booking.tutorId)
        return null
      })
    if (!lesson) return
    keys.succeeded(booking)
    dispatch(api.util.updateQueryData('getLessons', undefined, (draft) => upsertById(draft, lesson)))
    // Typed since it went (the field stays open while the request is out): the user's next booking, kept.
    setSubject((now) => (now.trim() === booking.subject ? '' : now))
    setBooked({ id: lesson.id, subject: lesson.subject })
  }

  return (
    <section className="panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t('lessons.bookTitle')}</h2>
      <form className="form form-grid" onSubmit={submit}>
        <TutorField
          id={`${id}-tutor`}
          tutors={tutors}
          value={tutorId}
          onChange={(tutor) => {
            setTutorId(tutor)
            goneTutor.clear()
          }}
          error={goneTutor.gone === null ? undefined : t('lessons.tutorGone', { name: nameInSentence(goneTutor.gone) })}
          selectRef={goneTutor.selectRef}
        />
        <div className="field">
          <label htmlFor={`${id}-subject`}>{t('lessons.subject')}</label>
          <input
            id={`${id}-subject`}
            ref={subjectRef}
            // In the text's own direction, as the card's title it becomes (an RTL subject in an LTR page otherwise
            // shows its punctuation and Latin words on the other side).
            dir="auto"
            value={subject}
            onChange={(e) => {
              setSubject(e.target.value)
              setSubjectRefused(null)
            }}
            required
            aria-invalid={subjectRefused !== null || undefined}
            aria-describedby={subjectRefused ? `${id}-subject-error` : undefined}
          />
          {subjectRefused && (
            <FieldError
              key={refusals}
              id={`${id}-subject-error`}
              message={t(SUBJECT_REFUSED[subjectRefused], {
                length: characterCount(subject.trim()),
                max: MAX_LESSON_SUBJECT_LENGTH,
              })}
            />
          )}
        </div>
        <div className="field">
          <label htmlFor={`${id}-when`}>{t('lessons.when')}</label>
          <input
            id={`${id}-when`}
            ref={whenRef}
            type="datetime-local"
            value={startsAt}
            onChange={(e) => {
              setStartsAt(e.target.value)
              setWhenRefused(null)
            }}
            required
            aria-invalid={whenRefused !== null || undefined}
            aria-describedby={whenRefused ? `${id}-when-error` : undefined}
          />
          {whenRefused && (
            <FieldError
              key={refusals}
              id={`${id}-when-error`}
              message={t(WHEN_REFUSED[whenRefused], {
                day: dates.day(LAST_LESSON_MINUTE),
                time: dates.time(LAST_LESSON_MINUTE),
              })}
            />
          )}
        </div>
        <div className="field">
          <label htmlFor={`${id}-duration`}>{t('lessons.duration')}</label>
          <select id={`${id}-duration`} value={duration} onChange={(e) => setDuration(Number(e.target.value))}>
            {DURATIONS.map((m) => (
              <option key={m} value={m}>
                {t('lessons.minutes', { count: m })}
              </option>
            ))}
          </select>
        </div>
        <div className="form-actions">
          {/* aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>. */}
          <button
            type="submit"
            className="btn btn-primary"
            aria-disabled={isLoading || tutorId === goneTutor.gone || undefined}
          >
            {isLoading ? t('lessons.booking') : t('lessons.book')}
          </button>
        </div>
      </form>
      {/* Said on the date field instead, until another booking is tried. */}
      {/* Said on its field instead: the start time, or the tutor gone. */}
      <FormError error={invalidFields(error).includes('startsAt') || errorCode(error) === 'NOT_FOUND' ? null : error} />
      {/* The region is there, empty, before the words come: one inserted with its words is not read. */}
      <div role="status">
        {booked !== null && stillWaiting && (
          <p className="form-ok">
            {/* The subject is the user's own text: it keeps its direction inside our sentence. */}
            <FormattedMessage id="lessons.booked" values={{ subject: <bdi>{booked.subject}</bdi> }} />
          </p>
        )}
      </div>
    </section>
  )
}
