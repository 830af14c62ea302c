import { useEffect, useMemo, useRef, useState, type RefObject } from 'react'
import { focusAfterRemoval, LOG_IN_AGAIN_ID } from '../../app/focus'
import { useAppSelector } from '../../app/hooks'
import { useGetUsersQuery } from '../../api/hooks'
import type { User } from '../../contract'
import { useT } from '../../i18n'
import { selectConnection } from '../../realtime'
import { errorCode, errorMessageId } from './errors'
import { useFieldWords } from './fieldWords'

const FINAL_REFUSALS: ReadonlySet<string> = new Set(['NOT_FOUND', 'FORBIDDEN'])

/**
 * A failed load, said in words, with a way to try again (none after NOT_FOUND or FORBIDDEN: refused the same way).
 * The button goes with the error once the read succeeds: if it had keyboard focus, `focusTo` takes it (the field the
 * read fills), else the page's main region, where the list now is (a removed focused element leaves focus on <body>,
 * and the next Tab would start again from the top of the page).
 * While the read the user asked for is on its way the words go and the button says so: words left standing would
 * change nothing when it fails the same way again, and a screen reader would say nothing (WCAG 4.1.3); put back into
 * the alert, which stays in the page, they are said again. A read the layer makes again by itself (`fetching`
 * without a press) changes nothing here: each of its tries would be said, unasked.
 * Once the session is over (the header's "Log in again") no read can succeed, whatever this one failed with: every
 * request goes with the token that ended, and its refresh is refused again. The words say so, with no "Try again";
 * a "Try again" that had keyboard focus hands it to "Log in again", the one button left that can help (from the main
 * region a keyboard user would go back past the navigation, the languages and "Log out" to find it).
 */
export function LoadError({
  error,
  retry,
  fetching = false,
  className = '',
  focusTo,
}: {
  error: unknown
  retry: () => void
  /** A read of what failed is on its way (the query's `isFetching`), the user's or the layer's. */
  fetching?: boolean
  className?: string
  focusTo?: RefObject<HTMLElement | null>
}) {
  const t = useT()
  // "Log in again" comes in the commit that takes "Try again" away; React commits in the tree's order and the header
  // comes before the main region, so it is in the page when this button goes (were it not, main takes focus as before).
  // It is there only while the session is over.
  const keepFocus = useMemo(
    () => focusAfterRemoval(() => focusTo?.current ?? document.getElementById(LOG_IN_AGAIN_ID)),
    [focusTo],
  )
  /** "Try again" was pressed, and the read it made has not ended: `fetching` has not been seen back to false since. */
  const [asked, setAsked] = useState(false)
  const sawFetching = useRef(false)
  useEffect(() => {
    if (!asked) return
    if (fetching) sawFetching.current = true
    else if (sawFetching.current) {
      sawFetching.current = false
      setAsked(false)
    }
  }, [asked, fetching])
  const sessionOver = useAppSelector((state) => selectConnection(state).status === 'unauthorized')
  const retrying = asked && fetching
  // Final answers (a made-up or stale link, what is someone else's): a read again is refused the same way.
  if (FINAL_REFUSALS.has(errorCode(error)) || sessionOver)
    return (
      <p className={`form-error ${className}`.trim()} role="alert">
        {t(FINAL_REFUSALS.has(errorCode(error)) ? errorMessageId(error) : 'error.UNAUTHORIZED')}
      </p>
    )
  return (
    <p className={`form-error ${className}`.trim()} role="alert">
      {retrying ? null : <>{t(errorMessageId(error))} </>}
      {/* aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>. */}
      <button
        ref={keepFocus}
        type="button"
        className="btn btn-quiet"
        aria-disabled={retrying || undefined}
        onClick={() => {
          // A second press while the read is on its way asks for nothing more.
          if (retrying) return
          setAsked(true)
          retry()
        }}
      >
        {retrying ? t('controls.retrying') : t('controls.tryAgain')}
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
  const { data, error, isFetching, refetch } = useGetUsersQuery()
  if (!error || data !== undefined) return null
  return <LoadError error={error} retry={refetch} fetching={isFetching} focusTo={focusTo} />
}

/**
 * A failed action, said in words (nothing when there is no error): `words` when the page can say more than the
 * error's code does (what is gone, who cannot be written to), else the code's own.
 *
 * @example const gone = errorCode(error) === 'NOT_FOUND'
 *   <FormError error={error} words={gone ? t('requests.personGone', { name }) : undefined} />
 */
export function FormError({ error, words }: { error: unknown; words?: string }) {
  const t = useT()
  if (!error) return null
  return (
    <p className="form-error" role="alert">
      {words ?? t(errorMessageId(error))}
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

/** The labelled tutor picker of the booking and contact forms; `error` is said on it (the form's refusal of it). */
export function TutorField({
  id,
  tutors,
  value,
  onChange,
  error,
  selectRef,
}: {
  id: string
  tutors: User[]
  value: string
  onChange: (tutorId: string) => void
  error?: string
  /** For a form that moves the user's place to this field when it refuses it. */
  selectRef?: RefObject<HTMLSelectElement | null>
}) {
  const t = useT()
  const ownRef = useRef<HTMLSelectElement>(null)
  const ref = selectRef ?? ownRef
  useFieldWords(ref)
  return (
    <div className="field">
      <label htmlFor={id}>{t('controls.tutor')}</label>
      <select
        id={id}
        ref={ref}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        required
        aria-invalid={error !== undefined || undefined}
        aria-describedby={error !== undefined ? `${id}-error` : undefined}
      >
        <option value="">{t('controls.chooseTutor')}</option>
        {tutors.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name}
          </option>
        ))}
      </select>
      {error !== undefined && <FieldError id={`${id}-error`} message={error} />}
      <PeopleLoadError focusTo={ref} />
    </div>
  )
}

/**
 * The tutor a booking or a contact request was refused NOT_FOUND for (their account gone, a restore from an earlier
 * copy: the only thing either names that can be gone), to say on the tutor field (`selectRef`, where the user's place
 * goes) until another tutor is chosen or the form is sent again (`clear`). The messages page's "Write to" picker says
 * a person gone so too.
 *
 * @example const goneTutor = useGoneTutor() // …create(…).unwrap().catch((refusal) => goneTutor.refused(refusal, tutorId))
 */
export function useGoneTutor() {
  const [gone, setGone] = useState<string | null>(null)
  const selectRef = useRef<HTMLSelectElement>(null)
  return {
    gone,
    selectRef,
    refused(refusal: unknown, tutorId: string) {
      if (errorCode(refusal) !== 'NOT_FOUND') return
      setGone(tutorId)
      selectRef.current?.focus()
    },
    clear: () => setGone(null),
  }
}
