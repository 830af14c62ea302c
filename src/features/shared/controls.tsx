import { useMemo, useRef, type RefObject } from 'react'
import { focusAfterRemoval } from '../../app/focus'
import { useGetUsersQuery } from '../../api/hooks'
import type { User } from '../../contract'
import { useT } from '../../i18n'
import { errorMessageId } from './errors'
import { useFieldWords } from './fieldWords'

/**
 * A failed load, said in words, with a way to try again. The button goes with the error once the read succeeds: if it
 * had keyboard focus, `focusTo` takes it (the field the read fills), else the page's main region, where the list now
 * is (a removed focused element leaves focus on <body>, and the next Tab would start again from the top of the page).
 */
export function LoadError({
  error,
  retry,
  className = '',
  focusTo,
}: {
  error: unknown
  retry: () => void
  className?: string
  focusTo?: RefObject<HTMLElement | null>
}) {
  const t = useT()
  const keepFocus = useMemo(() => focusAfterRemoval(() => focusTo?.current ?? null), [focusTo])
  return (
    <p className={`form-error ${className}`.trim()} role="alert">
      {t(errorMessageId(error))}{' '}
      <button ref={keepFocus} type="button" className="btn btn-quiet" onClick={() => retry()}>
        {t('controls.tryAgain')}
      </button>
    </p>
  )
}

/**
 * Why a people picker lists nobody: the read of `/api/users` failed (and nothing was read before), said beside the
 * picker with a way to read them again; `focusTo` (the picker) takes focus from "Try again" once they are read.
 *
 * @example <select ref={whoRef}>…</select><PeopleLoadError focusTo={whoRef} />
 */
export function PeopleLoadError({ focusTo }: { focusTo: RefObject<HTMLElement | null> }) {
  const { data, error, refetch } = useGetUsersQuery()
  if (!error || data !== undefined) return null
  return <LoadError error={error} retry={refetch} focusTo={focusTo} />
}

/** A failed action, said in words (nothing when there is no error). */
export function FormError({ error }: { error: unknown }) {
  const t = useT()
  if (!error) return null
  return (
    <p className="form-error" role="alert">
      {t(errorMessageId(error))}
    </p>
  )
}

/**
 * What is wrong with one field, said beside it: give the field `aria-invalid` and `aria-describedby={id}`, and move
 * focus to it. An alert too, as focus may already be on the field (Enter pressed in it) and then nothing is re-read.
 */
export function FieldError({ id, message }: { id: string; message: string }) {
  return (
    <p id={id} className="form-error field-error" role="alert">
      {message}
    </p>
  )
}

/** The labelled tutor picker of the booking and contact forms. */
export function TutorField({
  id,
  tutors,
  value,
  onChange,
}: {
  id: string
  tutors: User[]
  value: string
  onChange: (tutorId: string) => void
}) {
  const t = useT()
  const ref = useRef<HTMLSelectElement>(null)
  useFieldWords(ref)
  return (
    <div className="field">
      <label htmlFor={id}>{t('controls.tutor')}</label>
      <select id={id} ref={ref} value={value} onChange={(e) => onChange(e.target.value)} required>
        <option value="">{t('controls.chooseTutor')}</option>
        {tutors.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name}
          </option>
        ))}
      </select>
      <PeopleLoadError focusTo={ref} />
    </div>
  )
}
