import { useId, useMemo, useState, type FormEvent } from 'react'
import { api, useCreateLessonMutation, useGetLessonsQuery, useUpdateLessonStatusMutation } from '../../api'
import { selectUser } from '../../app/authSlice'
import { useAppDispatch, useAppSelector } from '../../app/hooks'
import { MAX_LESSON_SUBJECT_LENGTH, type Lesson, type User } from '../../contract'
import { upsertById } from '../shared/cache'
import { FormError, LoadError, TutorField } from '../shared/controls'
import { formatDateTime, toDateTimeLocal } from '../shared/format'
import { usePeople } from '../shared/people'
import { lessonActions } from './transitions'

const DURATIONS = [30, 45, 60, 90, 120]

const isOpen = (l: Lesson) => l.status === 'pending' || l.status === 'confirmed'

/** Open lessons (pending, confirmed) first, soonest first; then the closed ones, most recent first. */
export function sortLessons(lessons: readonly Lesson[]): Lesson[] {
  const at = (l: Lesson) => Date.parse(l.startsAt) || 0
  return [...lessons].sort((a, b) =>
    isOpen(a) !== isOpen(b) ? (isOpen(a) ? -1 : 1) : isOpen(a) ? at(a) - at(b) : at(b) - at(a),
  )
}

/** Lessons; students book, tutors confirm and complete, either side cancels. */
export function LessonsPage() {
  const me = useAppSelector(selectUser)!
  const { data: lessons, isLoading, error, refetch } = useGetLessonsQuery()
  const sorted = useMemo(() => sortLessons(lessons ?? []), [lessons])

  return (
    <div className="page">
      <h1>Lessons</h1>
      {me.role === 'student' && <BookLesson />}
      <section aria-labelledby="lessons-list">
        <h2 id="lessons-list">{me.role === 'student' ? 'Your lessons' : 'Lessons with your students'}</h2>
        {isLoading && <p className="muted">Loading lessons…</p>}
        {error && (
          <LoadError error={error} retry={refetch} />
        )}
        {lessons && sorted.length === 0 && <p className="muted">No lessons yet.</p>}
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
  const dispatch = useAppDispatch()
  const people = usePeople()
  const [update, { isLoading, error }] = useUpdateLessonStatusMutation()
  const other = lesson.tutorId === me.id ? lesson.studentId : lesson.tutorId
  const titleId = useId()

  const change = async (status: Lesson['status']) => {
    const updated = await update({ id: lesson.id, status }).unwrap().catch(() => null)
    if (updated) dispatch(api.util.updateQueryData('getLessons', undefined, (draft) => upsertById(draft, updated)))
  }

  return (
    <li className="card" data-testid="lesson" data-lesson-id={lesson.id} aria-labelledby={titleId}>
      <div className="card-head">
        <h3 id={titleId}>{lesson.subject}</h3>
        <span className={`status status-${lesson.status}`} data-testid="lesson-status">
          {lesson.status}
        </span>
      </div>
      <p className="card-meta">
        with {people.nameOf(other)} · <time dateTime={lesson.startsAt}>{formatDateTime(lesson.startsAt)}</time> ·{' '}
        {lesson.durationMinutes} min
      </p>
      {lessonActions(lesson, me).length > 0 && (
        <div className="card-actions">
          {lessonActions(lesson, me).map((a) => (
            <button
              key={a.status}
              type="button"
              className={`btn btn-small${a.status === 'cancelled' ? '' : ' btn-primary'}`}
              disabled={isLoading}
              aria-describedby={titleId}
              onClick={() => change(a.status)}
            >
              {a.label}
            </button>
          ))}
        </div>
      )}
      <FormError error={error} />
    </li>
  )
}

function defaultStart(): string {
  const d = new Date(Date.now() + 24 * 3600_000)
  d.setHours(10, 0, 0, 0)
  return toDateTimeLocal(d)
}

function BookLesson() {
  const dispatch = useAppDispatch()
  const id = useId()
  const { tutors } = usePeople()
  const [tutorId, setTutorId] = useState('')
  const [subject, setSubject] = useState('')
  const [startsAt, setStartsAt] = useState(defaultStart)
  const [duration, setDuration] = useState(60)
  const [done, setDone] = useState<string | null>(null)
  const [create, { isLoading, error }] = useCreateLessonMutation()

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setDone(null)
    const when = new Date(startsAt)
    if (!tutorId || !subject.trim() || Number.isNaN(when.getTime())) return
    const lesson = await create({
      tutorId,
      subject: subject.trim(),
      startsAt: when.toISOString(),
      durationMinutes: duration,
    })
      .unwrap()
      .catch(() => null)
    if (!lesson) return
    dispatch(api.util.updateQueryData('getLessons', undefined, (draft) => upsertById(draft, lesson)))
    setSubject('')
    setDone(`Booked “${lesson.subject}”; waiting for the tutor to confirm.`)
  }

  return (
    <section className="panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Book a lesson</h2>
      <form className="form form-grid" onSubmit={submit}>
        <TutorField id={`${id}-tutor`} tutors={tutors} value={tutorId} onChange={setTutorId} />
        <div className="field">
          <label htmlFor={`${id}-subject`}>Subject</label>
          <input
            id={`${id}-subject`}
            value={subject}
            maxLength={MAX_LESSON_SUBJECT_LENGTH}
            onChange={(e) => setSubject(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-when`}>Date and time</label>
          <input
            id={`${id}-when`}
            type="datetime-local"
            value={startsAt}
            onChange={(e) => setStartsAt(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-duration`}>Duration</label>
          <select id={`${id}-duration`} value={duration} onChange={(e) => setDuration(Number(e.target.value))}>
            {DURATIONS.map((m) => (
              <option key={m} value={m}>
                {m} minutes
              </option>
            ))}
          </select>
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={isLoading}>
            {isLoading ? 'Booking…' : 'Book lesson'}
          </button>
        </div>
      </form>
      <FormError error={error} />
      {done && (
        <p className="form-ok" role="status">
          {done}
        </p>
      )}
    </section>
  )
}
