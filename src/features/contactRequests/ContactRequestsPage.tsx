import { useId, useMemo, useState, type FormEvent } from 'react'
import {
  api,
  useCreateContactRequestMutation,
  useGetContactRequestsQuery,
  useUpdateContactRequestStatusMutation,
} from '../../api'
import { selectUser } from '../../app/authSlice'
import { useAppDispatch, useAppSelector } from '../../app/hooks'
import { MAX_CONTACT_MESSAGE_LENGTH, type ContactRequest, type User } from '../../contract'
import { upsertById } from '../shared/cache'
import { FormError, LoadError, TutorField } from '../shared/controls'
import { formatDateTime } from '../shared/format'
import { usePeople } from '../shared/people'

/** Contact requests, newest first: students send them to tutors, tutors accept or decline. */
export function ContactRequestsPage() {
  const me = useAppSelector(selectUser)!
  const { data: requests, isLoading, error, refetch } = useGetContactRequestsQuery()
  const sorted = useMemo(
    () => [...(requests ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)),
    [requests],
  )

  return (
    <div className="page">
      <h1>Contact requests</h1>
      {me.role === 'student' && <SendRequest />}
      <section aria-labelledby="requests-list">
        <h2 id="requests-list">{me.role === 'student' ? 'Requests you sent' : 'Requests from students'}</h2>
        {isLoading && <p className="muted">Loading requests…</p>}
        {error && (
          <LoadError error={error} retry={refetch} />
        )}
        {requests && sorted.length === 0 && <p className="muted">No contact requests yet.</p>}
        <ul className="cards" data-testid="contact-request-list">
          {sorted.map((r) => (
            <RequestCard key={r.id} request={r} me={me} />
          ))}
        </ul>
      </section>
    </div>
  )
}

function RequestCard({ request, me }: { request: ContactRequest; me: User }) {
  const dispatch = useAppDispatch()
  const people = usePeople()
  const [update, { isLoading, error }] = useUpdateContactRequestStatusMutation()
  const isTutor = request.tutorId === me.id
  const titleId = useId()

  const change = async (status: ContactRequest['status']) => {
    const updated = await update({ id: request.id, status }).unwrap().catch(() => null)
    if (updated) dispatch(api.util.updateQueryData('getContactRequests', undefined, (draft) => upsertById(draft, updated)))
  }

  return (
    <li className="card" data-testid="contact-request" data-request-id={request.id} aria-labelledby={titleId}>
      <div className="card-head">
        <h3 id={titleId}>{isTutor ? `From ${people.nameOf(request.studentId)}` : `To ${people.nameOf(request.tutorId)}`}</h3>
        <span className={`status status-${request.status}`} data-testid="contact-request-status">
          {request.status}
        </span>
      </div>
      {request.message && <p className="card-body">{request.message}</p>}
      <p className="card-meta">
        Sent <time dateTime={request.createdAt}>{formatDateTime(request.createdAt)}</time>
      </p>
      {isTutor && request.status === 'pending' && (
        <div className="card-actions">
          <button type="button" className="btn btn-small btn-primary" disabled={isLoading} aria-describedby={titleId} onClick={() => change('accepted')}>
            Accept
          </button>
          <button type="button" className="btn btn-small" disabled={isLoading} aria-describedby={titleId} onClick={() => change('declined')}>
            Decline
          </button>
        </div>
      )}
      <FormError error={error} />
    </li>
  )
}

function SendRequest() {
  const dispatch = useAppDispatch()
  const id = useId()
  const { tutors } = usePeople()
  const [tutorId, setTutorId] = useState('')
  const [message, setMessage] = useState('')
  const [done, setDone] = useState<string | null>(null)
  const [create, { isLoading, error }] = useCreateContactRequestMutation()

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setDone(null)
    if (!tutorId) return
    const request = await create({ tutorId, message: message.trim() }).unwrap().catch(() => null)
    if (!request) return
    dispatch(api.util.updateQueryData('getContactRequests', undefined, (draft) => upsertById(draft, request)))
    setMessage('')
    setDone('Request sent.')
  }

  return (
    <section className="panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Contact a tutor</h2>
      <form className="form" onSubmit={submit}>
        <TutorField id={`${id}-tutor`} tutors={tutors} value={tutorId} onChange={setTutorId} />
        <div className="field">
          <label htmlFor={`${id}-message`}>Message</label>
          <textarea
            id={`${id}-message`}
            rows={3}
            value={message}
            maxLength={MAX_CONTACT_MESSAGE_LENGTH}
            onChange={(e) => setMessage(e.target.value)}
            placeholder="What would you like to learn?"
            required
          />
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={isLoading}>
            {isLoading ? 'Sending…' : 'Send request'}
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
