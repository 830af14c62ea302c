import type { User } from '../../contract'
import { errorMessage } from './errors'

/** A failed load, said in words, with a way to try again. */
export function LoadError({ error, retry, className = '' }: { error: unknown; retry: () => void; className?: string }) {
  return (
    <p className={`form-error ${className}`.trim()} role="alert">
      {errorMessage(error)}{' '}
      <button type="button" className="btn btn-quiet" onClick={() => retry()}>
        Try again
      </button>
    </p>
  )
}

/** A failed action, said in words (nothing when there is no error). */
export function FormError({ error }: { error: unknown }) {
  if (!error) return null
  return (
    <p className="form-error" role="alert">
      {errorMessage(error)}
    </p>
  )
}

/** The labelled tutor picker of the booking and contact forms. */
export function TutorField({ id, tutors, value, onChange }: { id: string; tutors: User[]; value: string; onChange: (tutorId: string) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>Tutor</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required>
        <option value="">Choose a tutor…</option>
        {tutors.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name}
          </option>
        ))}
      </select>
    </div>
  )
}
