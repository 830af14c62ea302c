import { useId, useMemo, useRef, useState, type FormEvent } from 'react'
import { FormattedMessage } from 'react-intl'
import { api } from '../../api'
import {
  useCreateContactRequestMutation,
  useGetContactRequestsQuery,
  useUpdateContactRequestStatusMutation,
} from '../../api/hooks'
import { selectUser } from '../../app/authSlice'
import { useAppDispatch, useAppSelector } from '../../app/hooks'
import {
  characterCount,
  MAX_CONTACT_MESSAGE_LENGTH,
  type ContactRequest,
  type ContactRequestStatus,
  type User,
} from '../../contract'
import { useDates, useT, type MessageId } from '../../i18n'
import { useMadeDespiteLostAnswer } from '../shared/answerLost'
import { byId, upsertById } from '../shared/cache'
import { ConfirmStep, useConfirmStep } from '../shared/confirmStep'
import { errorCode, invalidFields } from '../shared/errors'
import { FieldError, FormError, LoadError, TutorField, useGoneTutor } from '../shared/controls'
import { type FieldTextProblem, fieldTextProblem } from '../shared/fieldText'
import { useFieldWords } from '../shared/fieldWords'
import { stillAt, useCardKeepsFocus } from '../shared/keepFocus'
import { usePeople } from '../shared/people'
import { readAfterUnderWay, useStatusChange } from '../shared/statusChange'
import { useStartConversation } from '../shared/startConversation'
import { useStatusSaid } from '../shared/statusSaid'
import { useDraftField } from '../messages/drafts'
import { useForgetOnReconnect } from '../shared/reconnected'
import { useSubmissionKeys } from '../shared/submissionKeys'

const STATUS: Record<ContactRequestStatus, MessageId> = {
  pending: 'requests.status.pending',
  accepted: 'requests.status.accepted',
  declined: 'requests.status.declined',
}

const MESSAGE_REFUSED: Record<FieldTextProblem, MessageId> = {
  empty: 'requests.messageBlank',
  control: 'requests.messageControl',
  tooLong: 'requests.messageTooLong',
}

/** Contact requests, newest first: students send them to tutors, tutors accept or decline. */
export function ContactRequestsPage() {
  const t = useT()
  const me = useAppSelector(selectUser)!
  const { data: requests, isLoading, isFetching, error, refetch } = useGetContactRequestsQuery()
  const sorted = useMemo(
    // Sent in the same millisecond: by id, as the server lists them (see `sortLessons`).
    () => [...(requests ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || byId(a, b)),
    [requests],
  )

  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('requests.title')}</h1>
      {me.role === 'student' && <SendRequest requests={requests} />}
      <section aria-labelledby="requests-list">
        <h2 id="requests-list">{t(me.role === 'student' ? 'requests.listStudent' : 'requests.listTutor')}</h2>
        {isLoading && <p className="muted">{t('requests.loading')}</p>}
        {error && <LoadError error={error} retry={refetch} fetching={isFetching} />}
        {requests && sorted.length === 0 && <p className="muted">{t('requests.empty')}</p>}
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
  const t = useT()
  const dates = useDates()
  const cardRef = useRef<HTMLLIElement>(null)
  const dispatch = useAppDispatch()
  const people = usePeople()
  const [update, { isLoading }] = useUpdateContactRequestStatusMutation()
  const isTutor = request.tutorId === me.id
  const titleId = useId()

  const otherId = isTutor ? request.studentId : request.tutorId
  const other = people.nameInSentence(otherId)
  // Accepted: the two may talk, and the card opens their conversation (before, each had to start it on Messages).
  const conversation = useStartConversation()
  // Every change of the status is said once it is drawn, the user's own and the other person's, with whom it is: a
  // student's requests to several tutors (or a tutor's from several students) are told apart by that alone.
  useStatusSaid(request.status, t('requests.statusSaid', { name: other, status: request.status }))
  // The status as the server has it now, read again after a refusal.
  const rereadStatus = async () =>
    (
      await readAfterUnderWay(
        () => dispatch(api.util.getRunningQueryThunk('getContactRequests', undefined)),
        // A failed read rejects: the card's status is then not known.
        () =>
          dispatch(
            api.endpoints.getContactRequests.initiate(undefined, { subscribe: false, forceRefetch: true }),
          ).unwrap(),
      )
    ).find((x) => x.id === request.id)?.status
  const { attempt, forget, error, changedMeanwhile, gone, unread } = useStatusChange(
    request.status,
    rereadStatus,
    t('requests.changedMeanwhile'),
  )
  const change = async (status: ContactRequest['status']) => {
    // A second press while the first answer runs (the buttons are only aria-disabled) changes nothing.
    if (isLoading) return
    const updated = await attempt(status, () => update({ id: request.id, status }).unwrap())
    if (!updated) return
    dispatch(api.util.updateQueryData('getContactRequests', undefined, (draft) => upsertById(draft, updated)))
    // Accept and Decline are gone once answered: the card itself keeps the keyboard user's place, if they are still
    // there.
    if (stillAt(cardRef.current)) cardRef.current?.focus()
  }
  // Declining cannot be undone: asked once more (before the card's focus keeping, see `useConfirmStep`).
  const confirmStep = useConfirmStep(request.status, cardRef)
  // Answered elsewhere (the tutor's other tab): the buttons go too, and the card keeps the place as well.
  const keepFocus = useCardKeepsFocus(cardRef)
  // The other person gone from the server (their account, a restore from an earlier copy): each press would be refused
  // the same way, so the card no longer offers to write to them (said by `personGone` below).
  const otherGone = errorCode(conversation.error) === 'NOT_FOUND'

  return (
    <li
      className="card"
      data-testid="contact-request"
      data-request-id={request.id}
      aria-labelledby={titleId}
      tabIndex={-1}
      ref={cardRef}
    >
      <div className="card-head">
        <h3 id={titleId}>
          <FormattedMessage id={isTutor ? 'requests.from' : 'requests.to'} values={{ name: <bdi>{other}</bdi> }} />
        </h3>
        <span className={`status status-${request.status}`} data-testid="contact-request-status">
          {t(STATUS[request.status])}
        </span>
      </div>
      {request.message && (
        <p className="card-body" dir="auto">
          {request.message}
        </p>
      )}
      <p className="card-meta">
        <FormattedMessage
          id="requests.sent"
          values={{ when: <time dateTime={request.createdAt}>{dates.dateTime(request.createdAt)}</time> }}
        />
      </p>
      {/* Gone from the server: nothing left to answer (the buttons' going hands focus to the card). */}
      {isTutor && !gone && request.status === 'pending' && confirmStep.asking === 'declined' && (
        <ConfirmStep
          question={<FormattedMessage id="requests.declineAsk" values={{ name: <bdi>{other}</bdi> }} />}
          yes={t('requests.declineYes')}
          no={t('requests.declineNo')}
          busy={isLoading}
          onYes={() => change('declined')}
          onNo={() => {
            confirmStep.back()
            forget()
          }}
          keepFocus={keepFocus}
        />
      )}
      {isTutor && !gone && request.status === 'pending' && confirmStep.asking === null && (
        <div className="card-actions">
          <button
            ref={keepFocus}
            type="button"
            className="btn btn-small btn-primary"
            data-action="accepted"
            // aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>, and a
            // refused answer (given already elsewhere) would leave the keyboard user nowhere.
            aria-disabled={isLoading || undefined}
            aria-describedby={titleId}
            onClick={() => change('accepted')}
          >
            {t('requests.accept')}
          </button>
          <button
            ref={keepFocus}
            type="button"
            className="btn btn-small"
            data-action="declined"
            aria-disabled={isLoading || undefined}
            aria-describedby={titleId}
            onClick={() => {
              // A refusal of the Accept, left under the question, would read as its answer.
              forget()
              confirmStep.ask('declined')
            }}
          >
            {t('requests.decline')}
          </button>
        </div>
      )}
      {request.status === 'accepted' && !otherGone && (
        <div className="card-actions">
          {/* aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>. */}
          <button
            ref={keepFocus}
            type="button"
            className="btn btn-small btn-primary"
            data-action="message"
            aria-disabled={conversation.busy || undefined}
            onClick={() => void conversation.start(otherId)}
          >
            <FormattedMessage
              id={conversation.busy ? 'requests.messageOpening' : 'requests.messageOther'}
              values={{ name: <bdi>{other}</bdi> }}
            />
          </button>
        </div>
      )}
      {/* The other person gone from the server (their account, a restore from an earlier copy): said by name. */}
      <FormError error={conversation.error} words={otherGone ? t('requests.personGone', { name: other }) : undefined} />
      <FormError
        error={error}
        words={gone ? t('requests.gone') : unread ? t('requests.notChangedUnread') : undefined}
      />
      {/* Refused because it had been answered first (another tab or device): why the user's answer did not happen. */}
      {changedMeanwhile && (
        <p className="muted" data-testid="changed-meanwhile">
          {t('requests.changedMeanwhile')}
        </p>
      )}
    </li>
  )
}

/** The student's form; `requests` are those the page shows, to tell a tutor already asked before sending. */
function SendRequest({ requests }: { requests: ContactRequest[] | undefined }) {
  const t = useT()
  const dispatch = useAppDispatch()
  const id = useId()
  const { tutors, nameInSentence } = usePeople()
  // What the student chose and typed waits while they are on another page, and through "Log in again".
  const [tutorId, setTutorId] = useDraftField('request.tutorId', '')
  /**
   * The tutor this student's pending request already goes to (the server keeps one per student and tutor), with her
   * requests to them answered by then: one answered since is the one she waited on, and the refusal no longer holds.
   */
  const [refused, setRefused] = useState<{ tutorId: string; answered: ReadonlySet<string> } | null>(null)
  const alreadyAsked =
    refused !== null &&
    !requests?.some((r) => r.tutorId === refused.tutorId && r.status !== 'pending' && !refused.answered.has(r.id))
      ? refused.tutorId
      : null
  const goneTutor = useGoneTutor()
  const tutorRef = goneTutor.selectRef
  const [message, setMessage] = useDraftField('request.message', '')
  const [done, setDone] = useState(false)
  const [create, { isLoading, error, reset }] = useCreateContactRequestMutation()
  useForgetOnReconnect(error, isLoading, reset)
  const keys = useSubmissionKeys()
  // A request made whose answer was lost: its event brought it into the list, and it was sent, not out of reach.
  const lostAnswer = useMadeDespiteLostAnswer(
    requests,
    (request, asked: { tutorId: string; message: string }) =>
      request.tutorId === asked.tutorId && request.message === asked.message,
    {
      busy: isLoading,
      made: (_request, asked) => {
        keys.succeeded(asked)
        reset()
        setMessage((now) => (now.trim() === asked.message ? '' : now))
        setDone(true)
      },
    },
  )
  /**
   * A message the server would refuse (INVALID), by its own rule: only spaces or characters nobody sees (the browser's
   * `required` lets them through), or a control character pasted in.
   */
  const [messageRefused, setMessageRefused] = useState<FieldTextProblem | null>(null)
  const messageRef = useRef<HTMLTextAreaElement>(null)
  useFieldWords(messageRef)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (isLoading) return
    setDone(false)
    const messageProblem = fieldTextProblem(message.trim(), MAX_CONTACT_MESSAGE_LENGTH)
    if (messageProblem) {
      // Said on the field, and nothing sent: the user's place goes to what needs fixing.
      setMessageRefused(messageProblem)
      messageRef.current?.focus()
      return
    }
    if (!tutorId) return
    // The tutor just refused as gone: sent again, it would be refused the same way. The place goes to the field that
    // says so, and names another choice.
    if (tutorId === goneTutor.gone) {
      tutorRef.current?.focus()
      return
    }
    const refuseTutor = () => {
      const answered = requests?.filter((r) => r.tutorId === tutorId && r.status !== 'pending').map((r) => r.id)
      setRefused({ tutorId, answered: new Set(answered) })
      tutorRef.current?.focus()
    }
    if (requests?.some((r) => r.tutorId === tutorId && r.status === 'pending')) {
      refuseTutor()
      return
    }
    const asked = { tutorId, message: message.trim() }
    goneTutor.clear()
    lostAnswer.forget()
    const listedBefore = requests
    const request = await create({ ...asked, idempotencyKey: keys.keyFor(asked) })
      .unwrap()
      .catch((refusal: unknown) => {
        lostAnswer.failed(refusal, asked, listedBefore)
        // Asked meanwhile from another tab or device, which this list may not show yet.
        if (invalidFields(refusal).includes('tutorId')) refuseTutor()
        goneTutor.refused(refusal, asked.tutorId)
        return null
      })
    if (!request) return
    keys.succeeded(asked)
    dispatch(api.util.updateQueryData('getContactRequests', undefined, (draft) => upsertById(draft, request)))
    // Typed since it went (the field stays open while the request is out): the user's next request, kept.
    setMessage((now) => (now.trim() === asked.message ? '' : now))
    setDone(true)
  }

  return (
    <section className="panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t('requests.sendTitle')}</h2>
      <form className="form" onSubmit={submit}>
        <TutorField
          id={`${id}-tutor`}
          selectRef={tutorRef}
          tutors={tutors}
          value={tutorId}
          onChange={(tutor) => {
            setTutorId(tutor)
            setRefused(null)
            goneTutor.clear()
          }}
          error={
            goneTutor.gone !== null
              ? t('requests.tutorGone', { name: nameInSentence(goneTutor.gone) })
              : alreadyAsked === null
                ? undefined
                : t('requests.alreadyPending', { name: nameInSentence(alreadyAsked) })
          }
        />
        <div className="field">
          <label htmlFor={`${id}-message`}>{t('requests.message')}</label>
          <textarea
            id={`${id}-message`}
            ref={messageRef}
            rows={3}
            // In the text's own direction, as the card's body it becomes (`.card-body` has dir="auto").
            dir="auto"
            value={message}
            onChange={(e) => {
              setMessage(e.target.value)
              setMessageRefused(null)
            }}
            placeholder={t('requests.placeholder')}
            required
            aria-invalid={messageRefused !== null || undefined}
            aria-describedby={messageRefused ? `${id}-message-error` : undefined}
          />
          {messageRefused && (
            <FieldError
              id={`${id}-message-error`}
              message={t(MESSAGE_REFUSED[messageRefused], {
                length: characterCount(message.trim()),
                max: MAX_CONTACT_MESSAGE_LENGTH,
              })}
            />
          )}
        </div>
        <div className="form-actions">
          {/* aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>. */}
          <button
            type="submit"
            className="btn btn-primary"
            aria-disabled={isLoading || tutorId === goneTutor.gone || undefined}
          >
            {isLoading ? t('requests.sending') : t('requests.send')}
          </button>
        </div>
      </form>
      {/* Said on the tutor field instead, until another request is tried. */}
      <FormError error={invalidFields(error).includes('tutorId') || errorCode(error) === 'NOT_FOUND' ? null : error} />
      {/* The region is there, empty, before the words come: one inserted with its words is not read. */}
      <div role="status">{done && <p className="form-ok">{t('requests.done')}</p>}</div>
    </section>
  )
}
